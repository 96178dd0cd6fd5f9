"""What the DingTalk, WeCom and Feishu group robots share: the URL and secret from the environment, a send
budget per robot, the @-mentions from `users[].mobile`, rendering at send time (the countdown is current even
after a wait, and the one-click action links are issued then, so a message re-sent after an outage carries
fresh ones), and the answer convention: HTTP 200 with an error code in the body.

Each kind (dingtalk.py, wecom.py, feishu.py) says how to sign, what body to send, and which codes mean "slow
down" (recoverable, retried later by the outbox) or "this request is wrong" (bad signature, keyword, URL: not
retried). A robot has no idempotency key: a crash between sending and recording re-sends with the same
outbox key, which is the outbox's at-least-once, never a second send after success.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

import aiohttp
from loguru import logger
from yarl import URL

from monitor.config.settings import ChannelConfig, Settings
from monitor.core import logs
from monitor.core.model import OutboxMessage
from responders.actionlinks import action_links
from responders.base import DeliveryError, http_status_error
from responders.ratelimit import Budget
from responders.render import Mention


def dashboard_url(settings: Settings | None) -> str:
    """The incident pages' base, as the digest links them (monitor/reports/job.py)."""
    if settings is None:
        return ""
    return (settings.digest.dashboard_url or f"http://{settings.listen}").rstrip("/")


class Robot:
    kind = ""
    budget: tuple[tuple[int, float], ...] = ()  # (messages, seconds) windows per robot
    rate_limited: frozenset[int] = frozenset()  # body codes that mean "too fast"
    busy: frozenset[int] = frozenset()  # body codes that mean "try again later"
    code_key = "errcode"
    throttle = timedelta(minutes=1)  # how long to leave a robot that said "too fast" alone

    def __init__(self, config: ChannelConfig, session: aiohttp.ClientSession, settings: Settings | None = None,
                 timeout: float = 10.0) -> None:
        if not config.url_env:
            raise ValueError(f"channel {config.name}: kind {config.kind} needs url_env")
        self.config, self.session = config, session
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.users = {u.name: u for u in settings.users} if settings else {}
        self.by_display = {(u.display or u.name): u for u in self.users.values()}
        self.base_url = dashboard_url(settings)
        self.rule_titles = {r.name: r.title for r in settings.rules if r.title} if settings else {}
        self.limiter = Budget(*self.budget)
        self.action_secret_env = settings.api.action_secret_env if settings else ""
        self.action_ttl = _ttl(settings.api.action_ttl) if settings else None
        self.now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # the countdown's "now"
        self.wall: Callable[[], float] = time.time  # signatures: the platform compares with its own clock
        logs.register_secret_envs([config.url_env, config.secret_env or "", self.action_secret_env])

    def use_clock(self, clock) -> None:
        """The delivery loop's clock (monitor.core.clock.Clock) for countdowns and send budgets."""
        self.now = clock.now
        self.limiter.set_clock(lambda: clock.now().timestamp())

    # -- configuration read at send time: an operator can fix the environment and restart; the rows wait
    def _env(self, name: str, what: str) -> str:
        value = os.environ.get(name, "").strip()
        if not value:
            raise DeliveryError(f"环境变量 {name} 未设置 (渠道 {self.config.name} 的{what}) (environment variable "
                                f"{name} is not set)")
        return value

    def url(self) -> str:
        return self._env(self.config.url_env or "", "地址")

    def secret(self) -> str | None:
        return self._env(self.config.secret_env, "签名密钥") if self.config.secret_env else None

    # -- the message
    def mentions(self, message: OutboxMessage) -> list[Mention]:
        """The row's own recipient, or (a step that names this channel) the people the reminder names."""
        if message.recipient:
            users = [self.users.get(message.recipient)]
            if users[0] is None:
                return [Mention(message.recipient)]
        else:
            users = [self.by_display.get(n) or self.users.get(n) for n in message.payload.get("recipients") or []]
        return [Mention(u.display or u.name, u.mobile or "") for u in users if u is not None]

    def actions(self, message: OutboxMessage, now: datetime) -> list[tuple[str, str]]:
        """确认收到 / 登记证据 links for a reminder, signed with the secret read now; none without a secret."""
        secret = os.environ.get(self.action_secret_env, "").strip() if self.action_secret_env else ""
        if not secret or self.action_ttl is None:
            return []
        return action_links(message.payload, message.recipient, now, secret, self.action_ttl, self.base_url)

    def body(self, message: OutboxMessage, now: datetime) -> dict:
        raise NotImplementedError

    def signed(self, url: str, body: dict, secret: str | None, wall: float) -> tuple[str, dict]:
        """The URL and body with the platform's signature (`wall`: Unix seconds now)."""
        return url, body

    # -- sending
    async def send(self, message: OutboxMessage) -> None:
        wait = self.limiter.wait()
        if wait:
            raise DeliveryError(f"{self.kind} 机器人 {self.config.name} 发送过快，{wait:.0f} 秒后再发 (send budget spent)",
                                retry_after=timedelta(seconds=wait), deferred=True)
        url, body = self.signed(self.url(), self.body(message, self.now()), self.secret(), self.wall())
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")  # ensure_ascii would triple Chinese text
        try:
            async with self.session.post(URL(url, encoded=True), data=data, timeout=self.timeout,
                                         headers={"Content-Type": "application/json; charset=utf-8"}) as r:
                text = await r.text()
                if r.status >= 300:
                    raise http_status_error(r.status, text)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        self.check(text)

    def check(self, text: str) -> None:
        try:
            answer = json.loads(text)
            code = int(answer.get(self.code_key, answer.get("StatusCode", 0)) or 0)
        except (ValueError, TypeError, AttributeError):  # e.g. a proxy's HTML page: the robot never saw it
            raise DeliveryError(f"{self.kind} 回应无法解析 (unreadable answer): {text[:200]}") from None
        if code == 0:
            return
        msg = str(answer.get("errmsg") or answer.get("msg") or "")[:200]
        if code in self.rate_limited:
            raise DeliveryError(f"{self.kind} 限流 (rate limited) {code}: {msg}", retry_after=self.throttle)
        raise DeliveryError(f"{self.kind} 错误 {code}: {msg}", recoverable=code in self.busy)


def _ttl(duration) -> timedelta | None:
    """The links' lifetime; working days have no fixed length, so such a setting sends no links."""
    try:
        ttl = duration.timedelta()
    except ValueError:
        ttl = None
    if ttl is None or ttl <= timedelta(0):
        logger.warning("api.action_ttl {} is not a positive fixed duration: robot messages carry no action links",
                       duration)
        return None
    return ttl
