"""Sign-in, roles and page safety (issue 18, items 1 and 7) over real HTTP on SQLite and PostgreSQL: every route
needs a session or a token, sessions end, CSRF is required, tokens have scopes, a liaison sees its department
only, every answer carries the safety headers, and `yuqing user add` reads its password from a pipe."""

from __future__ import annotations

import asyncio
import io
import re
import ssl
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import TCPConnector
from aiohttp.test_utils import TestClient, TestServer

from monitor.core.model import RawItem
from monitor.store.accounts import digest
from monitor.web.security import CSP
from monitor.web.server import web_application
from tests.signin import PASSWORD, add_account, form_token, page_csrf, sign_in

TOKEN = "env-token-for-accounts"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EMERGENCY, HOUSING = "区应急局", "区住房城乡建设局"
# anonymous on purpose (docs/accounts.md); every other route must refuse an anonymous caller
OPEN = {("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/readyz"), ("GET", "/login"), ("POST", "/login"),
        ("GET", "/static/style.css"), ("POST", "/api/v1/ingest"), ("GET", "/act/x"), ("POST", "/act/x")}


@pytest.fixture
async def client(app, clock, monkeypatch):
    monkeypatch.setenv("YUQING_API_TOKEN", TOKEN)
    await app.pipeline.ingest([
        RawItem("hotline", "1", "化工厂爆炸", "马街街道化工厂爆炸造成12人死亡", occurred_at=clock.now() - timedelta(hours=1)),
        RawItem("hotline", "2", "路灯不亮", "金碧街道路灯坏了", occurred_at=clock.now()),
    ], "hotline")
    async with TestClient(TestServer(web_application(app))) as c:
        yield c


async def cli(argv: list[str]) -> int:
    """`yuqing ARGV` in-process, in a thread: the command runs its own event loop beside the test's."""
    from monitor.cli.main import main

    return await asyncio.to_thread(main, argv)


SAMPLE = {"id": "1", "action": "ack", "token": "x"}


def _sample_path(canonical: str) -> str:
    """A concrete path for a route pattern: {id} → 1, {action} → ack, /static → a real file."""
    if canonical == "/static":
        return "/static/style.css"
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], canonical)


async def test_every_route_refuses_an_anonymous_caller_but_the_open_ones(client):
    routes = {(r.method, _sample_path(r.resource.canonical)) for r in client.server.app.router.routes()
              if r.method != "HEAD"}
    assert ("GET", "/") in routes and ("POST", "/api/v1/incidents/1/ack") in routes and len(routes) > 15
    opened = set()
    for method, path in sorted(routes):
        r = await client.request(method, path, allow_redirects=False, json={})
        if path.startswith("/api/"):
            if r.status != 401 or "未登录" not in (await r.json())["error"]:
                opened.add((method, path))
        elif r.status == 302:
            target = urlsplit(r.headers["Location"])
            assert target.path == "/login", (path, r.headers["Location"])
            assert parse_qs(target.query).get("next") == (None if path == "/logout" else [path]), path
        else:
            opened.add((method, path))
    assert opened == OPEN
    for path in ("/healthz?detail=1", "/api/v1/incidents?limit=-1", "/no/such/page"):  # no detail, no 404 hints
        assert (await client.get(path, allow_redirects=False)).status in (401, 302), path


async def test_sign_in_and_out(client, app):
    await add_account(app, "zhang", "duty_officer")
    page = await client.get("/incidents/1")  # anonymous: the login page, which brings the officer back
    assert page.status == 200 and "登录值班台" in await page.text() and page.url.path == "/login"
    token = form_token(await page.text())
    r = await client.post("/login", data={"name": "zhang", "password": PASSWORD, "csrf": token,
                                          "next": "/incidents/1"}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/incidents/1"
    cookie = r.cookies["yuqing_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"] and cookie["path"] == "/"
    html = await (await client.get("/incidents/1")).text()
    assert "化工厂爆炸" in html and "zhang（值班员）" in html and "退出登录" in html
    async with app.store.read() as tx:  # the store keeps a digest of the session id, never the id
        assert (await tx.accounts.session(digest(cookie.value))).name == "zhang"
        assert (await tx.accounts.session(cookie.value)) is None
    r = await client.post("/logout", data={"csrf": page_csrf(html)}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login"
    assert (await client.get("/", allow_redirects=False)).status == 302  # the session is gone
    async with app.store.read() as tx:
        actions = [(e["actor"], e["action"]) for e in await tx.audit.list(entity="account")]
    assert actions == [("zhang", "account.signed_in"), ("zhang", "account.signed_out")]


async def test_wrong_password_unknown_name_and_a_foreign_login_form(client, app):
    await add_account(app, "zhang", "duty_officer")
    token = form_token(await (await client.get("/login")).text())
    for name, password in (("zhang", "wrong-password-1"), ("nobody", PASSWORD)):
        r = await client.post("/login", data={"name": name, "password": password, "csrf": token, "next": "/"},
                              allow_redirects=False)
        assert r.status == 401 and "用户名或密码错误" in await r.text() and "yuqing_session" not in r.cookies
    # a form posted from elsewhere carries no login token of ours: no sign-in under someone else's account
    client.session.cookie_jar.clear()
    r = await client.post("/login", data={"name": "zhang", "password": PASSWORD, "csrf": token, "next": "/"},
                          allow_redirects=False)
    assert r.status == 403 and "yuqing_session" not in r.cookies


@pytest.mark.parametrize("target, lands", [("//evil.example/x", "/"), ("https://evil.example/", "/"),
                                           ("/\\evil.example", "/"), ("/incidents/2?x=1", "/incidents/2?x=1")])
async def test_after_sign_in_only_a_path_of_this_site(client, app, target, lands):
    await add_account(app, "zhang", "duty_officer")
    token = form_token(await (await client.get("/login")).text())
    r = await client.post("/login", data={"name": "zhang", "password": PASSWORD, "csrf": token, "next": target},
                          allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == lands


async def test_failed_sign_ins_are_throttled(client, app, clock):
    for name in ("zhang", "a0", "a1", "a2", "a3", "other"):
        await add_account(app, name, "duty_officer")
    token = form_token(await (await client.get("/login")).text())

    async def attempt(name="zhang", password="wrong-password-1"):
        return await client.post("/login", data={"name": name, "password": password, "csrf": token, "next": "/"},
                                 allow_redirects=False)

    assert [(await attempt()).status for _ in range(5)] == [401] * 5
    r = await attempt(password=PASSWORD)  # even the right password waits: the guesser must not learn it
    assert r.status == 429 and "登录失败次数过多" in await r.text() and int(r.headers["Retry-After"]) > 800
    clock.advance(timedelta(minutes=15, seconds=1))
    assert (await attempt(password=PASSWORD)).status == 303
    client.session.cookie_jar.clear()  # signed out, on a fresh form (the used one is spent)
    token = form_token(await (await client.get("/login")).text())
    # per address: 20 failures over several names lock the address out, for every name
    for i in range(20):
        assert (await attempt(name=f"a{i % 4}")).status == 401
    assert (await attempt(name="other", password=PASSWORD)).status == 429


async def test_a_session_ends_after_12_idle_hours_and_after_a_day(client, app, clock):
    await add_account(app, "zhang", "duty_officer")
    await sign_in(client, "zhang")

    async def status() -> int:
        return (await client.get("/", allow_redirects=False)).status

    async def touched(at) -> None:  # the last-seen write runs beside the request
        for _ in range(200):
            async with app.store.read() as tx:
                if (await _session_of(tx, "zhang")).last_seen_at == at:
                    return
            await asyncio.sleep(0.01)
        raise AssertionError("last-seen never written")

    clock.advance(timedelta(hours=11))
    assert await status() == 200
    await touched(clock.now())
    clock.advance(timedelta(hours=11))  # 22 h after sign-in, 11 h idle: still on shift
    assert await status() == 200
    await touched(clock.now())
    clock.advance(timedelta(hours=2, seconds=1))  # 2 h idle, but a day since sign-in
    assert await status() == 302

    client.session.cookie_jar.clear()
    await sign_in(client, "zhang")
    clock.advance(timedelta(hours=12))
    r = await client.get("/api/v1/incidents")
    assert r.status == 401  # idle 12 h: ended


async def _session_of(tx, name):
    from sqlalchemy import select  # test-side read of the one row

    from monitor.store.schema import web_sessions

    row = (await tx.conn.execute(select(web_sessions.c.id_hash).where(web_sessions.c.account == name))).first()
    return await tx.accounts.session(row[0]) if row else None


async def test_disabling_an_account_or_changing_its_password_ends_its_sessions(client, app, db_url, monkeypatch):
    await add_account(app, "zhang", "duty_officer")
    await sign_in(client, "zhang")
    assert await cli(["--db", db_url, "user", "disable", "zhang"]) == 0
    assert (await client.get("/", allow_redirects=False)).status == 302
    token = form_token(await (await client.get("/login")).text())
    r = await client.post("/login", data={"name": "zhang", "password": PASSWORD, "csrf": token, "next": "/"},
                          allow_redirects=False)
    assert r.status == 403 and "账号已停用" in await r.text()
    assert await cli(["--db", db_url, "user", "enable", "zhang"]) == 0
    await sign_in(client, "zhang")
    monkeypatch.setattr("sys.stdin", io.StringIO("another-password-2\n"))
    assert await cli(["--db", db_url, "user", "passwd", "zhang"]) == 0
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_csrf_is_required_for_every_change_made_in_a_session(client, app):
    await add_account(app, "zhang", "duty_officer")
    csrf = await sign_in(client, "zhang")
    url = "/api/v1/incidents/1/ack"
    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": csrf[:-1]}, {"X-CSRF-Token": "令牌"}):
        r = await client.post(url, json={"rule": "authoritative_release"}, headers=headers)
        assert r.status == 403 and "CSRF" in (await r.json())["error"], headers
    assert (await client.post("/logout", data={"csrf": "forged"})).status == 403
    async with app.store.read() as tx:
        assert all(d.acked_by is None for d in await tx.deadlines.for_incident(1))
    # with the token: the actor is the signed-in user, whatever the body claims
    r = await client.post(url, json={"rule": "authoritative_release", "actor": "someone-else"},
                          headers={"X-CSRF-Token": csrf})
    assert r.status == 200, await r.text()
    async with app.store.read() as tx:
        acked = {d.rule: d.acked_by for d in await tx.deadlines.for_incident(1)}
        timeline = await tx.audit.list(entity="incident", entity_id=1)
    assert acked["authoritative_release"] == "zhang" and timeline[-1]["actor"] == "zhang"
    # a bearer script needs no CSRF token and names its actor
    r = await client.post("/api/v1/incidents/1/ack", json={"actor": "script-1"}, headers=AUTH)
    assert r.status == 200


async def test_token_scopes_owners_and_revocation(client, app, db_url, capsys):
    await add_account(app, "li", "liaison", EMERGENCY)
    tokens = {}
    for name, args in (("reader", ["--scope", "read"]), ("writer", ["--scope", "write"]),
                       ("li-script", ["--scope", "write", "--owner", "li"])):
        assert await cli(["--db", db_url, "token", "add", name, *args]) == 0
        out = capsys.readouterr()
        tokens[name] = out.out.strip()
        assert out.out.count("\n") == 1 and "只显示这一次" in out.err and tokens[name].startswith("yq_")

    def bearer(name):
        return {"Authorization": f"Bearer {tokens[name]}"}

    assert (await client.get("/api/v1/incidents", headers=bearer("reader"))).status == 200
    assert (await client.get("/incidents/1", headers=bearer("reader"))).status == 200
    r = await client.post("/api/v1/incidents/1/ack", json={"actor": "x"}, headers=bearer("reader"))
    assert r.status == 403 and "只读令牌" in (await r.json())["error"]
    r = await client.post("/api/v1/incidents/1/ack", json={"actor": "nightly"}, headers=bearer("writer"))
    assert r.status == 200
    # a token owned by a liaison has the liaison's rights: its department only
    listed = (await (await client.get("/api/v1/incidents", headers=bearer("li-script"))).json())["incidents"]
    assert {i["department"] for i in listed} == {EMERGENCY}
    assert (await client.get("/api/v1/incidents/2", headers=bearer("li-script"))).status == 403
    assert await cli(["--db", db_url, "user", "disable", "li"]) == 0  # the owner's disabling stops the token
    assert (await client.get("/api/v1/incidents", headers=bearer("li-script"))).status == 401
    assert await cli(["--db", db_url, "token", "revoke", "writer"]) == 0
    assert (await client.get("/api/v1/incidents", headers=bearer("writer"))).status == 401
    assert (await client.get("/api/v1/incidents", headers=AUTH)).status == 200  # the env token: full scope


async def test_a_viewer_reads_but_cannot_act(client, app):
    await add_account(app, "wang", "viewer")
    csrf = await sign_in(client, "wang")
    html = await (await client.get("/incidents/1")).text()
    assert "化工厂爆炸" in html and 'class="ack"' not in html and 'id="evidence-form"' not in html
    r = await client.post("/api/v1/incidents/1/ack", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status == 403 and "查看员" in (await r.json())["error"]
    assert (await client.post("/logout", data={"csrf": csrf}, allow_redirects=False)).status == 303  # may sign out


async def test_a_liaison_sees_and_acts_on_its_own_department_only(client, app):
    async with app.store.read() as tx:
        departments = {i.id: i.department for i in await tx.incidents.list()}
    assert departments == {1: EMERGENCY, 2: HOUSING}
    await add_account(app, "li", "liaison", EMERGENCY)
    csrf = await sign_in(client, "li")
    index = await (await client.get("/")).text()
    assert "化工厂爆炸" in index and "路灯不亮" not in index and HOUSING not in index
    listed = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    assert [i["id"] for i in listed] == [1]
    assert (await (await client.get("/api/v1/triage")).json())["incidents"] == []  # 路灯不亮 waits, not theirs
    assert (await client.get("/incidents/1")).status == 200
    for path in ("/incidents/2", "/api/v1/incidents/2"):
        r = await client.get(path)
        assert r.status == 403 and "其他部门" in (await r.text()).encode().decode("unicode_escape" if "api" in path
                                                                                else "utf-8"), path
    csrf_h = {"X-CSRF-Token": csrf}
    for action, body in (("ack", {}), ("reassign", {"department": EMERGENCY}), ("triage/accept", {}),
                         ("split", {"item_ids": [2]})):
        assert (await client.post(f"/api/v1/incidents/2/{action}", json=body, headers=csrf_h)).status == 403
    r = await client.post("/api/v1/incidents/1/merge", json={"incident_ids": [2]}, headers=csrf_h)
    assert r.status == 403  # its own incident in the path, another department's in the body
    r = await client.post("/api/v1/incidents/1/ack", json={"rule": "authoritative_release"}, headers=csrf_h)
    assert r.status == 200
    async with app.store.read() as tx:
        assert (await tx.incidents.get(2)).department == HOUSING
        assert all(d.acked_by is None for d in await tx.deadlines.for_incident(2))


async def test_safety_headers_on_pages_api_errors_and_files(client, app):
    await add_account(app, "zhang", "duty_officer")
    anonymous = [await client.get(p, allow_redirects=False) for p in ("/login", "/healthz", "/api/v1/incidents", "/",
                                                                      "/static/incident.js")]
    await sign_in(client, "zhang")
    signed_in = [await client.get(p) for p in ("/", "/incidents/1", "/incidents/999", "/api/v1/incidents/1",
                                               "/api/v1/incidents?limit=0", "/no/such/page")]
    signed_in.append(await client.post("/api/v1/incidents/1/ack", json={}))  # 403: no CSRF token
    statuses = [r.status for r in anonymous + signed_in]
    assert statuses == [200, 200, 401, 302, 200, 200, 200, 404, 200, 400, 404, 403]
    for r in anonymous + signed_in:
        assert r.headers["Content-Security-Policy"] == CSP, r.url
        assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Referrer-Policy"] == "same-origin"
        assert r.headers["Server"] == "yuqing-sentinel"  # no "Python/3.x aiohttp/3.x"
    assert all(r.headers["Cache-Control"] == "no-store" for r in signed_in)
    for r in signed_in[:2]:  # no inline script, handler or style left for the policy to break
        html = await r.text()
        assert not re.search(r"<script>|<script [^>]*>[^<]|\son[a-z]+=|style=", html), r.url


async def test_bidi_controls_are_neutralised_on_pages_and_kept_in_json(client, app, clock):
    spoof = "区应急局\u202e局建住\u202c\u2066隔离\u2069\u200f"
    await app.pipeline.ingest([RawItem("hotline", "3", f"停水{spoof}", f"马街街道停水{spoof}",
                                       occurred_at=clock.now())], "hotline")
    await add_account(app, "zhang", "duty_officer")
    await sign_in(client, "zhang")
    html = await (await client.get("/incidents/3")).text()
    assert "停水区应急局局建住隔离" in html
    assert not re.search("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", html)
    detail = await (await client.get("/api/v1/incidents/3")).json()
    assert detail["items"][0]["title"] == f"停水{spoof}"  # data is data: the API returns it as received


async def test_list_pages_refuse_bad_paging(client, app):
    await add_account(app, "zhang", "duty_officer")
    await sign_in(client, "zhang")
    for path in ("/", "/api/v1/incidents", "/api/v1/triage"):
        for query in ("limit=0", "limit=1001", "limit=-1", "offset=-1", "offset=x"):
            r = await client.get(f"{path}?{query}")
            message = (await r.json())["error"] if path.startswith("/api/") else await r.text()
            assert r.status == 400 and "须为" in message, (path, query)
    r = await client.get("/?limit=1&offset=1")
    assert r.status == 200 and "路灯不亮" in await r.text() and "#1 化工厂爆炸" not in await r.text()


async def test_the_session_cookie_is_secure_over_tls(app, monkeypatch):
    import trustme

    ca = trustme.CA()
    server_ctx, client_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH), ssl.create_default_context()
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca.configure_trust(client_ctx)
    await add_account(app, "zhang", "duty_officer")
    server = TestServer(web_application(app), scheme="https")
    await server.start_server(ssl=server_ctx)
    async with TestClient(server, connector=TCPConnector(ssl=client_ctx)) as c:
        token = form_token(await (await c.get("/login")).text())
        r = await c.post("/login", data={"name": "zhang", "password": PASSWORD, "csrf": token, "next": "/"},
                         allow_redirects=False)
        assert r.status == 303 and r.cookies["yuqing_session"]["secure"]


async def test_user_add_reads_the_password_from_a_pipe_and_it_signs_in(client, app, db_url, monkeypatch, capsys):
    """The real command with the production argon2 parameters; the password never appears in an argument."""
    async def add(stdin: str, *args: str) -> tuple[int, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = await cli(["--db", db_url, "user", "add", *args])
        return code, capsys.readouterr().err

    assert await add("short\n", "zhao", "--role", "viewer") == (2, "错误 (error): 密码至少 10 个字符 (the password needs "
                                                              "at least 10 characters)\n")
    assert (await add("first-password\nsecond-password\n", "zhao", "--role", "viewer"))[0] == 2
    code, err = await add("liaison-pass-1\n", "zhao", "--role", "liaison")
    assert code == 2 and "--department" in err
    code, err = await add("liaison-pass-1\n", "zhao", "--role", "liaison", "--department", "<b>区城管局</b>")
    assert code == 2 and "未知的部门" in err and len(err.splitlines()) == 1
    assert (await add("liaison-pass-1\nliaison-pass-1\n", "zhao", "--role", "liaison", "--department", EMERGENCY))[0] == 0
    assert (await add("liaison-pass-1\n", "zhao", "--role", "viewer"))[0] == 2  # exists
    async with app.store.read() as tx:
        account = await tx.accounts.get("zhao")
    assert account["department"] == EMERGENCY and account["password_hash"].startswith("$argon2id$v=19$m=65536,t=3")
    await sign_in(client, "zhao", "liaison-pass-1")
    assert [i["id"] for i in (await (await client.get("/api/v1/incidents")).json())["incidents"]] == [1]
