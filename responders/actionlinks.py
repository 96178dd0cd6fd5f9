"""The one-click action links a robot reminder carries (pure: time, secret and nonces passed in).

A robot message cannot hold a button that calls back to us, so each reminder about an open deadline links to
the action page (monitor/web/action_links.py) with a token for exactly that incident, rule and action, issued
to the message's recipient and valid for `ttl`. Tokens are made when the message is rendered, so a message
re-sent after an outage carries fresh links."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Callable

from monitor.core.actiontoken import ACTIONS, issue

MAX_USER = 60  # the audit's actor column holds 100 characters, with "（链接）" added


def new_nonce() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits, 22 characters


def link_user(recipient: str, payload: dict) -> str:
    """Whom the links are issued to: the row's own recipient (a config user name), else the names the
    reminder shows (a message to a group), else the group as a whole."""
    names = [str(n) for n in payload.get("recipients") or [] if str(n).strip()]
    user = recipient or "、".join(names) or "群成员"
    return user if len(user) <= MAX_USER else user[: MAX_USER - 1] + "…"


def action_links(payload: dict, recipient: str, now: datetime, secret: str, ttl: timedelta, base_url: str,
                 nonce: Callable[[], str] = new_nonce) -> list[tuple[str, str]]:
    """(label, URL) pairs — 确认收到, 登记证据 — for a reminder about a deadline; none for an alert without
    one, or when no secret or no base URL is configured."""
    incident_id, rule = payload.get("incident_id"), payload.get("rule")
    if not (secret and base_url and payload.get("due_at") and rule) or not isinstance(incident_id, int):
        return []
    expires_at = now + ttl
    user = link_user(recipient, payload)
    base = base_url.rstrip("/")
    return [(label, f"{base}/act/{issue(secret, incident_id, str(rule), action, expires_at, nonce(), user)}")
            for action, label in ACTIONS.items()]
