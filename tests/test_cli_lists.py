"""`yuqing user list` and `yuqing token list`: JSON lines with their fixed keys, or a table in Chinese first;
never a password or a token's digest."""

from __future__ import annotations

import json

from tests.signin import add_account
from tests.test_accounts import cli


async def test_user_and_token_lists(app, db_url, capsys):
    await add_account(app, "zhang", "duty_officer")
    await add_account(app, "li", "liaison", "区应急局")
    assert await cli(["--db", db_url, "user", "disable", "li"]) == 0
    assert await cli(["--db", db_url, "token", "add", "nightly", "--scope", "read", "--owner", "zhang"]) == 0
    secret = capsys.readouterr().out.strip()

    assert await cli(["--db", db_url, "user", "list", "--json"]) == 0
    users = {u["name"]: u for u in map(json.loads, capsys.readouterr().out.splitlines())}
    assert list(users["li"]) == ["name", "role", "department", "disabled", "created_at"]
    assert users["li"]["department"] == "区应急局" and users["li"]["disabled"] is True
    assert users["zhang"]["role"] == "duty_officer" and users["zhang"]["created_at"].startswith("2026-11-23T01:00")

    assert await cli(["--db", db_url, "token", "list", "--json"]) == 0
    [token] = map(json.loads, capsys.readouterr().out.splitlines())
    assert token == {"name": "nightly", "scope": "read", "owner": "zhang", "created_at": token["created_at"]}

    assert await cli(["--db", db_url, "user", "list"]) == 0
    table = capsys.readouterr().out
    assert "值班台账号 Accounts（2）" in table and "已停用" in table and "正常" in table and "区应急局" in table
    assert await cli(["--db", db_url, "token", "list"]) == 0
    table = capsys.readouterr().out
    assert "接口令牌 API tokens（1）" in table and "nightly" in table and "zhang" in table
    assert secret not in table and "yq_" not in table
