"""WeCom (企业微信) group robot (`kind: wecom`): the key is in the webhook URL, nothing is signed. Markdown
(4096 bytes); a message that must @-mention someone goes as text (2048 bytes) with mentioned_mobile_list,
because WeCom's markdown can mention only by user id. 20 messages a minute per robot."""

from __future__ import annotations

from datetime import datetime

from monitor.core.model import OutboxMessage
from responders.base import register
from responders.channels.robots import Robot
from responders.render import render


class WeComRobot(Robot):
    kind = "wecom"
    budget = ((20, 60.0),)
    # 45009 api freq out of limit; -1 system busy. 93000 (bad URL/key), 40058 … : wrong.
    rate_limited = frozenset({45009})
    busy = frozenset({-1})

    def body(self, message: OutboxMessage, now: datetime) -> dict:
        mentions, actions = self.mentions(message), self.actions(message, now)
        if any(m.mobile for m in mentions):
            text, c = render(message.payload, "wecom_text", now, self.base_url, mentions, self.rule_titles, actions)
            return {"msgtype": "text", "text": {"content": text, "mentioned_mobile_list": c.mobiles}}
        text, _ = render(message.payload, "wecom", now, self.base_url, mentions, self.rule_titles, actions)
        return {"msgtype": "markdown", "markdown": {"content": text}}


register("wecom")(WeComRobot)
