"""Signed, expiring tokens for the one-click action links of chat robot messages (pure: no I/O; time, nonce
and secret are passed in).

A token is `payload.mac`, both base64url without padding: the payload is compact JSON of the claims (the
incident, the rule, the action, when it expires, a random nonce and the person it was issued to), the mac is
HMAC-SHA256(secret, the payload's base64url text). Single use is not the token's business: the store keeps
the used nonces (monitor/store/tokens.py). Only `ack` and `evidence` are offered: reassigning needs a choice
of department and a reason, which the dashboard asks for better than a link can.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

ACTIONS = {"ack": "确认收到", "evidence": "登记证据"}
MAX_TOKEN = 2048  # far above what issue() makes (≈250 characters): anything longer is not ours
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_NONCE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the store's key column holds 64 characters


@dataclass(frozen=True)
class Claims:
    incident_id: int
    rule: str
    action: str
    expires_at: datetime  # aware UTC, whole seconds
    nonce: str
    user: str  # the person the link was issued to: a config user name, or the names a group message shows


class TokenError(ValueError):
    """A token that cannot be honoured; `status` is the HTTP answer the action page gives."""

    status = 400


class Malformed(TokenError):
    """Not a token of ours at all (cut short by a chat client, wrong characters, not our layout)."""


class Tampered(TokenError):
    """Well formed, but its signature does not match: changed, or signed with another secret."""

    status = 403


class Expired(TokenError):
    """Genuine but past its time; the claims still say which incident it was for."""

    status = 410

    def __init__(self, message: str, claims: Claims) -> None:
        super().__init__(message)
        self.claims = claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        data = base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError):
        raise Malformed("链接格式不对 (token is not base64url)") from None
    if _b64(data) != text:  # unused low bits set: another spelling of the same bytes is not our token
        raise Malformed("链接格式不对 (token is not canonical base64url)")
    return data


def _mac(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode("utf-8"), payload.encode("ascii"), hashlib.sha256).digest())


def issue(secret: str, incident_id: int, rule: str, action: str, expires_at: datetime, nonce: str,
          user: str = "") -> str:
    """A URL-safe token for exactly this incident, rule and action, valid until `expires_at`."""
    if not secret:
        raise ValueError("action token secret is empty")
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
    if not _NONCE.fullmatch(nonce):
        raise ValueError("nonce must be 1-64 base64url characters")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    claims = {"v": 1, "i": int(incident_id), "r": rule, "a": action, "e": int(expires_at.timestamp()),
              "n": nonce, "u": user}
    payload = _b64(json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: str, token: str, now: datetime) -> Claims:
    """The claims of a genuine, unexpired token; otherwise Malformed, Tampered or Expired. The signature is
    checked (in constant time) before anything in the payload is read."""
    if not secret:
        raise ValueError("action token secret is empty")
    if not isinstance(token, str) or len(token) > MAX_TOKEN:
        raise Malformed("链接格式不对 (token too long)")
    payload, dot, mac = token.partition(".")
    if not dot or not _B64URL.fullmatch(payload) or not _B64URL.fullmatch(mac):
        raise Malformed("链接格式不对 (token is not payload.signature)")
    _unb64(mac)
    if not hmac.compare_digest(_mac(secret, payload).encode("ascii"), mac.encode("ascii")):
        raise Tampered("链接签名不符：已被改动，或不是本系统签发 (signature does not match)")
    claims = _claims(_unb64(payload))
    if now >= claims.expires_at:
        raise Expired("链接已过期 (token expired)", claims)
    return claims


def _claims(raw: bytes) -> Claims:
    try:
        c = json.loads(raw.decode("utf-8"))
        ok = (isinstance(c, dict) and c.get("v") == 1 and type(c.get("i")) is int and type(c.get("e")) is int
              and isinstance(c.get("r"), str) and c.get("a") in ACTIONS and isinstance(c.get("u"), str)
              and isinstance(c.get("n"), str) and _NONCE.fullmatch(c["n"]) is not None)
        if ok:
            return Claims(c["i"], c["r"], c["a"], datetime.fromtimestamp(c["e"], timezone.utc), c["n"], c["u"])
    except (UnicodeDecodeError, ValueError, OverflowError, OSError):
        pass
    # signed with our secret yet not our layout: a token of a future version, or a leaked secret
    raise Malformed("链接内容无法识别 (token claims not understood)")
