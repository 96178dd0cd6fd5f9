"""DingTalk (钉钉) custom group robot (`kind: dingtalk`): markdown with at.atMobiles, signed when the robot has
加签 (secret_env): `timestamp` (ms) and `sign` = urlencode(base64(HMAC-SHA256(key=secret,
msg=f"{timestamp}\\n{secret}"))) as query parameters. 20 messages a minute per robot, or it is muted for 10
minutes: the send budget waits before that happens."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import quote_plus

from monitor.core.model import OutboxMessage
from responders.base import register
from responders.channels.robots import Robot
from responders.render import render


def sign(secret: str, timestamp_ms: int) -> str:
    """The base64 signature, before URL-encoding."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkRobot(Robot):
    kind = "dingtalk"
    budget = ((20, 60.0),)
    # 130101 send too fast (muted 10 min), 410100 限流; -1 系统繁忙. 310000 (sign, keyword, IP) and the rest: wrong.
    rate_limited = frozenset({130101, 410100})
    busy = frozenset({-1})
    throttle = timedelta(minutes=10)

    def body(self, message: OutboxMessage, now: datetime) -> dict:
        text, c = render(message.payload, "dingtalk", now, self.base_url, self.mentions(message), self.rule_titles,
                         self.actions(message, now))
        return {"msgtype": "markdown", "markdown": {"title": c.title, "text": text},
                "at": {"atMobiles": c.mobiles, "isAtAll": False}}

    def signed(self, url: str, body: dict, secret: str | None, wall: float) -> tuple[str, dict]:
        if not secret:
            return url, body
        ts = int(wall * 1000)
        return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={quote_plus(sign(secret, ts))}", body


register("dingtalk")(DingTalkRobot)
