"""Feishu (飞书) custom group robot (`kind: feishu`): a rich-text `post` (text shown literally, so scraped
titles carry no markup), signed when the robot has 签名校验 (secret_env): `timestamp` (s) and `sign` =
base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")) in the JSON body. Answers `code` != 0 on error.
Custom robots can @ only by open_id, so the responsible people are named in the text. 5 a second, 100 a
minute."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from monitor.core.model import OutboxMessage
from responders.base import register
from responders.channels.robots import Robot
from responders.render import render


def sign(secret: str, timestamp_s: int) -> str:
    return base64.b64encode(hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


class FeishuRobot(Robot):
    kind = "feishu"
    budget = ((5, 1.0), (100, 60.0))
    code_key = "code"
    # 11232 frequency limited, 9499 too many requests. 19021 sign/timestamp, 19022 IP, 19024 keyword: wrong.
    rate_limited = frozenset({11232, 9499})

    def body(self, message: OutboxMessage, now: datetime) -> dict:
        content, _ = render(message.payload, "feishu", now, self.base_url, self.mentions(message), self.rule_titles,
                            self.actions(message, now))
        return {"msg_type": "post", "content": content}

    def signed(self, url: str, body: dict, secret: str | None, wall: float) -> tuple[str, dict]:
        if not secret:
            return url, body
        ts = int(wall)
        return url, {"timestamp": str(ts), "sign": sign(secret, ts), **body}


register("feishu")(FeishuRobot)
