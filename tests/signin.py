"""Accounts and signed-in clients for the web tests: an account in the store, then the real login form.

Test accounts are hashed with cheap argon2 parameters (8 MiB, one pass) so that a sign-in costs milliseconds
rather than the production 0.3 s; verification reads the parameters from the hash itself, so the server code
is the same. The production parameters are exercised by `yuqing user add` in tests/test_accounts.py."""

from __future__ import annotations

import re

from argon2 import PasswordHasher

PASSWORD = "correct-horse-battery"
_CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
_HASH: dict[str, str] = {}


async def add_account(app, name: str, role: str, department: str | None = None, password: str = PASSWORD) -> None:
    hashed = _HASH.get(password) or _HASH.setdefault(password, _CHEAP.hash(password))
    async with app.store.write() as tx:
        await tx.accounts.add(name, hashed, role, department, app.clock.now())


def form_token(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def page_csrf(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)


async def sign_in(client, name: str, password: str = PASSWORD) -> str:
    """Sign `client` in through GET/POST /login; returns the session's CSRF token (from a page's meta tag)."""
    token = form_token(await (await client.get("/login")).text())
    r = await client.post("/login", data={"name": name, "password": password, "csrf": token, "next": "/"},
                          allow_redirects=False)
    assert r.status == 303, (r.status, await r.text())
    return page_csrf(await (await client.get("/")).text())
