"""Who may sign in (docs/accounts.md): accounts with a role, the dashboard's sessions and the API tokens of scripts.

What is stored never lets a reader of the database sign in: passwords are argon2id hashes, session ids and
tokens (random, 256 bits) only their SHA-256 digests — a fast digest is enough for a secret nobody can guess.
The rules of who may do what are the web edge's (monitor/web/auth.py); this module keeps the rows.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update

from monitor.store.repos import _Repo
from monitor.store.schema import accounts, api_tokens, web_sessions

ROLES = {"viewer": "查看员", "duty_officer": "值班员", "liaison": "部门联络员", "admin": "管理员"}
SCOPES = {"read": "只读", "write": "读写"}
MIN_PASSWORD, MAX_PASSWORD = 10, 1024
_NAME = re.compile(r"[\w.@-]{1,64}")  # \w takes Chinese names (张三) as well as zhang.san

# argon2id with the RFC 9106 low-memory profile (t=3, 64 MiB, p=4): about 0.3 s here, per sign-in, not per request
_hasher = PasswordHasher()
_dummy_hash: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True if `password` matches; an unknown account (stored None) costs the same time as a wrong password,
    so timing does not tell which names exist."""
    global _dummy_hash
    if stored is None:
        _dummy_hash = _dummy_hash or _hasher.hash(secrets.token_urlsafe(16))
        stored, password = _dummy_hash, password + "\x00never"
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> str | None:
    """Why a new password is refused (Chinese first), or None."""
    if len(password) < MIN_PASSWORD:
        return f"密码至少 {MIN_PASSWORD} 个字符 (the password needs at least {MIN_PASSWORD} characters)"
    if len(password) > MAX_PASSWORD:
        return f"密码最多 {MAX_PASSWORD} 个字符 (at most {MAX_PASSWORD} characters)"
    if any(ord(c) < 32 or c == "\x7f" for c in password):
        return "密码不能含控制字符 (no control characters)"
    return None


def name_problem(name: str) -> str | None:
    if not _NAME.fullmatch(name):
        return ("用户名须为 1–64 个字母、数字、汉字或 . _ - @ (a name is 1 to 64 letters, digits, Chinese characters "
                "or . _ - @)")
    return None


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    # surrogateescape: undecodable header bytes arrive as surrogates and must hash, never fail
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    """A live session with its account, or an API token with its owner (None: a token without one)."""

    name: str
    role: str | None
    department: str | None
    disabled: bool
    csrf: str = ""
    last_seen_at: datetime | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    scope: str = "write"


class AccountRepo(_Repo):
    # -- accounts
    async def get(self, name: str) -> dict | None:
        row = (await self.conn.execute(select(accounts).where(accounts.c.name == name))).first()
        return dict(row._mapping) if row else None

    async def add(self, name: str, password_hash: str, role: str, department: str | None, now: datetime) -> None:
        await self.conn.execute(accounts.insert(), {
            "name": name, "password_hash": password_hash, "role": role, "department": department,
            "disabled": False, "created_at": now, "updated_at": now})

    async def update(self, name: str, values: dict, now: datetime) -> bool:
        result = await self.conn.execute(update(accounts).where(accounts.c.name == name),
                                         {**values, "updated_at": now})
        return result.rowcount == 1

    async def list(self) -> list[dict]:
        rows = await self.conn.execute(select(accounts).order_by(accounts.c.name))
        return [{k: v for k, v in r._mapping.items() if k != "password_hash"} for r in rows]

    # -- sessions
    async def start_session(self, id_hash: str, csrf: str, name: str, now: datetime, expires_at: datetime) -> None:
        await self.conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))  # keep the table small
        await self.conn.execute(web_sessions.insert(), {
            "id_hash": id_hash, "csrf": csrf, "account": name, "created_at": now, "last_seen_at": now,
            "expires_at": expires_at})

    async def session(self, id_hash: str) -> SignedIn | None:
        row = (await self.conn.execute(
            select(web_sessions, accounts.c.role, accounts.c.department, accounts.c.disabled)
            .join(accounts, accounts.c.name == web_sessions.c.account)
            .where(web_sessions.c.id_hash == id_hash))).first()
        if row is None:
            return None
        return SignedIn(row.account, row.role, row.department, row.disabled, row.csrf, row.last_seen_at,
                        row.expires_at, row.created_at)

    async def touch_session(self, id_hash: str, now: datetime, expires_at: datetime) -> None:
        await self.conn.execute(update(web_sessions).where(web_sessions.c.id_hash == id_hash),
                                {"last_seen_at": now, "expires_at": expires_at})

    async def end_session(self, id_hash: str) -> None:
        await self.conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == id_hash))

    async def end_sessions_of(self, name: str) -> int:
        return (await self.conn.execute(delete(web_sessions).where(web_sessions.c.account == name))).rowcount

    # -- API tokens
    async def add_token(self, name: str, token_hash: str, scope: str, owner: str | None, now: datetime) -> None:
        await self.conn.execute(api_tokens.insert(), {
            "name": name, "token_hash": token_hash, "scope": scope, "owner": owner, "created_at": now})

    async def token(self, token_hash: str) -> SignedIn | None:
        row = (await self.conn.execute(
            select(api_tokens, accounts.c.role, accounts.c.department, accounts.c.disabled)
            .outerjoin(accounts, accounts.c.name == api_tokens.c.owner)
            .where(api_tokens.c.token_hash == token_hash))).first()
        if row is None:
            return None
        return SignedIn(row.name, row.role, row.department, bool(row.disabled), scope=row.scope)

    async def get_token(self, name: str) -> dict | None:
        row = (await self.conn.execute(select(api_tokens).where(api_tokens.c.name == name))).first()
        return {k: v for k, v in row._mapping.items() if k != "token_hash"} if row else None

    async def revoke_token(self, name: str) -> bool:
        return (await self.conn.execute(delete(api_tokens).where(api_tokens.c.name == name))).rowcount == 1

    async def tokens(self) -> list[dict]:
        rows = await self.conn.execute(select(api_tokens).order_by(api_tokens.c.name))
        return [{k: v for k, v in r._mapping.items() if k != "token_hash"} for r in rows]
