"""The generic JSON webhook channel (docs/design.md §5)."""

from __future__ import annotations

import asyncio

import aiohttp
from monitor.core.model import OutboxMessage
from monitor.config.settings import ChannelConfig
from monitor.core.clock import SystemClock
from responders.base import DeliveryError, http_status_error, register, retry_after_header

_PAYLOAD_KEYS = ("idempotency_key", "incident_id", "rule", "step", "due_at", "severity", "department", "text")


class WebhookNotifier:
    """POST {"idempotency_key", "incident_id", "rule", "step", "due_at", "severity", "department", "text"}
    with header Idempotency-Key, so a receiver can drop a repeat after a crash between send and record."""

    def __init__(self, config: ChannelConfig, session: aiohttp.ClientSession, settings=None,
                 timeout: float = 10.0) -> None:
        if not config.url:
            raise ValueError(f"channel {config.name}: url is required for kind webhook")
        self.url, self.session = config.url, session
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.now = SystemClock().now

    def use_clock(self, clock) -> None:
        """The delivery loop's clock, for a Retry-After given as a date."""
        self.now = clock.now

    async def send(self, message: OutboxMessage) -> None:
        body = {k: message.payload.get(k) for k in _PAYLOAD_KEYS}
        body["idempotency_key"] = message.key
        try:
            async with self.session.post(self.url, json=body, timeout=self.timeout,
                                         headers={"Idempotency-Key": message.key}) as r:
                if r.status >= 300:  # a 429's or 503's Retry-After is honoured (bench/faults.py, webhook_outage)
                    raise http_status_error(r.status, await r.text(),
                                            retry_after_header(r.headers.get("Retry-After"), self.now()))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


register("webhook")(WebhookNotifier)
