"""The Notifier protocol and the registry of channel kinds (alertmanager's notify/: one small module per
channel; `send` says whether a failure is worth retrying, the delivery loop decides when)."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Callable, Protocol

import aiohttp

from monitor.core.model import OutboxMessage
from monitor.config.settings import ChannelConfig, Settings


class DeliveryError(Exception):
    """`retry_after`: not before then (a platform's rate limit). `deferred`: nothing was sent (our own send
    budget was spent): try again after `retry_after` without counting an attempt, so waiting never drops."""

    def __init__(self, message: str, recoverable: bool = True, retry_after: timedelta | None = None,
                 deferred: bool = False) -> None:
        super().__init__(message)
        self.recoverable = recoverable or deferred
        self.retry_after = retry_after
        self.deferred = deferred


class Notifier(Protocol):
    async def send(self, message: OutboxMessage) -> None:
        """Deliver or raise DeliveryError."""
        ...


# (channel config, the HTTP session, the settings: users' addresses, the config's folder)
Factory = Callable[[ChannelConfig, aiohttp.ClientSession, Settings], Notifier]
REGISTRY: dict[str, Factory] = {}


def register(kind: str) -> Callable[[Factory], Factory]:
    def deco(factory: Factory) -> Factory:
        REGISTRY[kind] = factory
        return factory

    return deco


def http_status_error(status: int, body: str, retry_after: timedelta | None = None) -> DeliveryError:
    """408, 429 and 5xx are worth retrying; other 4xx mean the request itself is wrong."""
    recoverable = status in (408, 425, 429) or status >= 500
    return DeliveryError(f"HTTP {status}: {body[:200]}", recoverable=recoverable, retry_after=retry_after)


RETRY_AFTER_CAP = timedelta(minutes=10)  # the outbox's longest backoff: an endpoint cannot park a reminder for hours


def retry_after_header(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (RFC 9110 §10.2.3: seconds, or an HTTP date) as a wait of at most RETRY_AFTER_CAP;
    None when absent or unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        wait = timedelta(seconds=int(value[:9]))
    else:
        try:
            wait = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):  # not a date; or a date without a zone, which HTTP never sends
            return None
    return min(max(wait, timedelta(0)), RETRY_AFTER_CAP)
