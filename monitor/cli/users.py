"""yuqing user add|passwd|disable|enable|list and yuqing token add|revoke|list: who may sign in to the dashboard
and which scripts may call the API (docs/accounts.md). Whoever may run these on the database is the admin.

A password is read from stdin: twice on a terminal (the two must match), once or twice from a pipe (a second
line, if any, must match the first) — never from an argument, which `ps` and the shell history would show."""

from __future__ import annotations

import getpass
import json
import os
import sys
from typing import Callable

from monitor.cli.common import InputError, load_config, run
from monitor.store.accounts import ROLES, SCOPES, digest, hash_password, name_problem, new_secret, password_problem


def register(sub) -> None:
    p = sub.add_parser("user", help="值班台账号：新建、改密码、停用、列出 / dashboard accounts",
                       description="管理值班台登录账号。角色：viewer 查看员（只读）、duty_officer 值班员、"
                       "liaison 部门联络员（只看本部门事件，须 --department）、admin 管理员。密码从标准输入读取。\n"
                       "Manage dashboard accounts. Roles: viewer (read only), duty_officer, liaison (own department "
                       "only; needs --department), admin. The password is read from stdin.")
    us = p.add_subparsers(dest="user_command", metavar="ACTION", required=True,
                          help="add 新建 / passwd 改密码 / disable 停用 / enable 启用 / list 列出")
    a = us.add_parser("add", help="新建账号 / create an account",
                      description="新建账号；密码从标准输入读取（终端上输入两次，管道中一行或两行），至少 "
                      "10 个字符。\nCreate an account; the password comes from stdin (twice on a terminal, once or "
                      "twice from a pipe), at least 10 characters.")
    a.add_argument("name", help="用户名 / account name")
    a.add_argument("--role", required=True, choices=list(ROLES), help="角色 / role")
    a.add_argument("--department", help="所属部门（联络员必填，须为辖区已知部门）/ department (required for liaison)")
    a.set_defaults(func=lambda args: run(_add(args)))
    pw = us.add_parser("passwd", help="修改密码（其现有登录全部失效）/ set a new password (ends its sessions)",
                       description="为账号设置新密码（从标准输入读取），其所有已登录的会话随之失效。\n"
                       "Set an account's password (from stdin); every session it has ends.")
    pw.add_argument("name", help="用户名 / account name")
    pw.set_defaults(func=lambda args: run(_passwd(args)))
    d = us.add_parser("disable", help="停用账号（立即退出登录）/ disable an account (signs it out)",
                      description="停用账号：不能再登录，已登录的会话立即失效，其名下的接口令牌也不再可用。\n"
                      "Disable an account: no sign-in, its sessions end now, and tokens it owns stop working.")
    d.add_argument("name", help="用户名 / account name")
    d.set_defaults(func=lambda args: run(_set_disabled(args, True)))
    e = us.add_parser("enable", help="重新启用账号 / enable a disabled account",
                      description="重新启用被停用的账号。\nEnable a disabled account again.")
    e.add_argument("name", help="用户名 / account name")
    e.set_defaults(func=lambda args: run(_set_disabled(args, False)))
    ls = us.add_parser("list", help="列出账号 / list accounts",
                       description="列出账号、角色、部门和状态（不显示密码）。\nList accounts, roles, departments, "
                       "state (never a password).")
    ls.add_argument("--json", action="store_true", help="输出 JSON 行 / JSON lines")
    ls.set_defaults(func=lambda args: run(_list_users(args)))

    t = sub.add_parser("token", help="接口令牌：新建、吊销、列出 / API tokens for scripts",
                       description="脚本调用 JSON API 用的令牌（Authorization: Bearer <令牌>）。read 只读，write 可操作；"
                       "令牌只在新建时显示一次，库中只存其摘要。\n"
                       "Tokens for scripts (Authorization: Bearer <token>): read may only read, write may act; "
                       "a token is shown once when made, the store keeps only its digest.")
    ts = t.add_subparsers(dest="token_command", metavar="ACTION", required=True,
                          help="add 新建 / revoke 吊销 / list 列出")
    ta = ts.add_parser("add", help="新建令牌并显示一次 / make a token (printed once)",
                       description="新建令牌，令牌本身只输出这一次（标准输出的唯一一行）。--owner 指定账号时，令牌的权限"
                       "不超过该账号（如联络员只看本部门），账号停用则令牌失效。\n"
                       "Make a token; it is printed once (the only line on stdout). With --owner the token has at "
                       "most that account's rights and stops when the account is disabled.")
    ta.add_argument("name", help="令牌名称，如 report-script / a name for the token")
    ta.add_argument("--scope", required=True, choices=list(SCOPES), help="read 只读 / write 可操作")
    ta.add_argument("--owner", help="所属账号 / the account it acts for")
    ta.set_defaults(func=lambda args: run(_add_token(args)))
    tr = ts.add_parser("revoke", help="吊销令牌 / revoke a token",
                       description="吊销令牌，立即失效。\nRevoke a token; it stops working at once.")
    tr.add_argument("name", help="令牌名称 / token name")
    tr.set_defaults(func=lambda args: run(_revoke_token(args)))
    tl = ts.add_parser("list", help="列出令牌（不显示令牌本身）/ list tokens (never the token)",
                       description="列出令牌名称、范围、所属账号与创建时间。\nList token names, scopes, owners, "
                       "creation times.")
    tl.add_argument("--json", action="store_true", help="输出 JSON 行 / JSON lines")
    tl.set_defaults(func=lambda args: run(_list_tokens(args)))


def read_password(stream=None) -> str:
    """The new password from stdin: twice on a terminal, once or twice from a pipe; InputError if refused."""
    stream = stream or sys.stdin
    if stream.isatty():
        first = getpass.getpass("新密码 (new password): ")
        second = getpass.getpass("再输一次 (again): ")
    else:
        first = stream.readline().rstrip("\r\n")
        second = stream.readline()
        second = second.rstrip("\r\n") if second else first
        if not first:
            raise InputError("没有从标准输入读到密码 (no password on stdin: echo it in, one line)")
    if first != second:
        raise InputError("两次输入的密码不一致 (the two passwords differ)")
    problem = password_problem(first)
    if problem:
        raise InputError(problem)
    return first


def _who() -> str:
    """The audit log's actor for an account change made from the command line."""
    return "cli:" + (os.environ.get("YUQING_USER") or os.environ.get("USER") or "admin")


async def _store(args):
    from monitor.config.settings import database_url
    from monitor.store import Store

    return await Store(database_url(load_config(args), args.db)).open()


def _check_name(name: str) -> None:
    problem = name_problem(name)
    if problem:
        raise InputError(f"{name[:64]!r}: {problem}")


def _department(args) -> str | None:
    """The account's department, checked against the jurisdiction (an alias gives its name)."""
    if args.department is None:
        if args.role == "liaison":
            raise InputError("部门联络员须用 --department 指定部门 (a liaison needs --department)")
        return None
    from monitor.core.errors import ServiceError
    from monitor.understanding.jurisdiction import load_jurisdiction
    from monitor.understanding.names import check_department

    try:
        return check_department(load_jurisdiction(load_config(args).jurisdiction_path), args.department)
    except ServiceError as exc:
        raise InputError(str(exc)) from None


async def ensure_account(store, name: str, role: str, password: str, now, department: str | None = None) -> None:
    """Create the account, or give an existing one this role and password (the demo's sign-in)."""
    hashed = hash_password(password)
    async with store.write() as tx:
        if await tx.accounts.get(name) is None:
            await tx.accounts.add(name, hashed, role, department, now)
        else:
            await tx.accounts.update(name, {"password_hash": hashed, "role": role, "department": department,
                                            "disabled": False}, now)
            await tx.accounts.end_sessions_of(name)


async def _add(args) -> int:
    from monitor.core.clock import SystemClock

    _check_name(args.name)
    department = _department(args)
    password = read_password()
    store = await _store(args)
    try:
        async with store.read() as tx:
            exists = await tx.accounts.get(args.name) is not None
        if exists:  # (checked again below, in the transaction that adds it)
            raise InputError(f"用户 {args.name} 已存在；改密码请用 yuqing user passwd (account exists: use user passwd)")
        hashed = hash_password(password)
        now = SystemClock().now()
        async with store.write() as tx:
            if await tx.accounts.get(args.name) is not None:
                raise InputError(f"用户 {args.name} 已存在；改密码请用 yuqing user passwd (account exists: use user passwd)")
            await tx.accounts.add(args.name, hashed, args.role, department, now)
            await tx.audit.append(now, _who(), "account.created", "account", args.name,
                                  {"role": args.role, "department": department})
    finally:
        await store.close()
    print(f"已创建账号 (account created): {args.name}（{ROLES[args.role]}"
          + (f"，{department}" if department else "") + "）")
    return 0


async def _passwd(args) -> int:
    from monitor.core.clock import SystemClock

    password = read_password()
    store = await _store(args)
    try:
        hashed, now = hash_password(password), SystemClock().now()
        async with store.write() as tx:
            if not await tx.accounts.update(args.name, {"password_hash": hashed}, now):
                raise InputError(f"没有账号 {args.name} (no such account)")
            ended = await tx.accounts.end_sessions_of(args.name)
            await tx.audit.append(now, _who(), "account.password_changed", "account", args.name, {"sessions_ended": ended})
    finally:
        await store.close()
    print(f"已修改密码 (password changed): {args.name}；已退出 {ended} 个登录会话 (sessions ended)")
    return 0


async def _set_disabled(args, disabled: bool) -> int:
    from monitor.core.clock import SystemClock

    store = await _store(args)
    try:
        now = SystemClock().now()
        async with store.write() as tx:
            if not await tx.accounts.update(args.name, {"disabled": disabled}, now):
                raise InputError(f"没有账号 {args.name} (no such account)")
            ended = await tx.accounts.end_sessions_of(args.name) if disabled else 0
            await tx.audit.append(now, _who(), "account.disabled" if disabled else "account.enabled", "account",
                                  args.name, {"sessions_ended": ended} if disabled else {})
    finally:
        await store.close()
    print(f"已停用账号 (disabled): {args.name}；已退出 {ended} 个登录会话 (sessions ended)" if disabled
          else f"已启用账号 (enabled): {args.name}")
    return 0


async def _list_users(args) -> int:
    from monitor.core.clock import fmt_local

    return await _list(args, lambda tx: tx.accounts.list(), "值班台账号 Accounts", [
        ("name", "用户名 name", lambda r: r["name"]),
        ("role", "角色 role", lambda r: ROLES.get(r["role"], r["role"])),
        ("department", "部门 department", lambda r: r["department"] or "—"),
        ("disabled", "状态 state", lambda r: "已停用" if r["disabled"] else "正常"),
        ("created_at", "创建（北京时间）created", lambda r: fmt_local(r["created_at"]))])


async def _add_token(args) -> int:
    from monitor.core.clock import SystemClock

    _check_name(args.name)
    store = await _store(args)
    token = "yq_" + new_secret()
    try:
        now = SystemClock().now()
        async with store.write() as tx:
            if args.owner is not None and await tx.accounts.get(args.owner) is None:
                raise InputError(f"没有账号 {args.owner} (no such account for --owner)")
            if await tx.accounts.get_token(args.name) is not None:
                raise InputError(f"令牌 {args.name} 已存在；先 yuqing token revoke {args.name} (token exists)")
            await tx.accounts.add_token(args.name, digest(token), args.scope, args.owner, now)
            await tx.audit.append(now, _who(), "token.created", "token", args.name,
                                  {"scope": args.scope, "owner": args.owner})
    finally:
        await store.close()
    print(f"已创建令牌 {args.name}（{SCOPES[args.scope]}）；令牌只显示这一次，请妥善保存 "
          "(token created: it is shown once, keep it safe)", file=sys.stderr)
    print(token)
    return 0


async def _revoke_token(args) -> int:
    from monitor.core.clock import SystemClock

    store = await _store(args)
    try:
        now = SystemClock().now()
        async with store.write() as tx:
            if not await tx.accounts.revoke_token(args.name):
                raise InputError(f"没有令牌 {args.name} (no such token)")
            await tx.audit.append(now, _who(), "token.revoked", "token", args.name)
    finally:
        await store.close()
    print(f"已吊销令牌 (revoked): {args.name}")
    return 0


async def _list_tokens(args) -> int:
    from monitor.core.clock import fmt_local

    return await _list(args, lambda tx: tx.accounts.tokens(), "接口令牌 API tokens", [
        ("name", "名称 name", lambda r: r["name"]),
        ("scope", "范围 scope", lambda r: SCOPES.get(r["scope"], r["scope"])),
        ("owner", "所属账号 owner", lambda r: r["owner"] or "—"),
        ("created_at", "创建（北京时间）created", lambda r: fmt_local(r["created_at"]))])


async def _list(args, read, title: str, columns: list[tuple[str, str, Callable[[dict], str]]]) -> int:
    """A list command: the rows `read(tx)` returns, as JSON lines (`--json`: each column's key, times in ISO
    8601) or as a table (each column's header and cell)."""
    from monitor.cli.render import console
    from rich.table import Table

    store = await _store(args)
    try:
        async with store.read() as tx:
            rows = await read(tx)
    finally:
        await store.close()
    if args.json:
        for r in rows:
            print(json.dumps({k: r[k].isoformat() if k == "created_at" else r[k] for k, _, _ in columns},
                             ensure_ascii=False))
        return 0
    table = Table(title=f"{title}（{len(rows)}）")
    for _, header, _ in columns:
        table.add_column(header)
    for r in rows:
        table.add_row(*(cell(r) for _, _, cell in columns))
    console.print(table)
    return 0
