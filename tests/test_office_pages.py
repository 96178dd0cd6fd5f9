"""The duty office's pages beside the now page (issue 18 items 5 and 6) over real HTTP, signed in through the login
form: the triage queue, the roster editor and its 7-day warning (page, check-config, serve's log), the response
ledger and its XLSX, sources health, statistics and their JSON, and the OpenAPI document against the router. Each
page keeps a liaison to its own department; scraped text is escaped."""

from __future__ import annotations

import asyncio
import io
import re
from argparse import Namespace
from datetime import datetime, timedelta

import openpyxl
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from monitor.config.settings import BUNDLED_CONFIG, load_settings
from monitor.core.clock import SHANGHAI
from monitor.core.model import RawItem
from monitor.web.server import web_application
from tests.conftest import ROOT
from tests.signin import PASSWORD, add_account, form_token, page_csrf

HOSTILE = "<script>alert(1)</script>"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)  # the conftest clock
HEALTH = "区卫生健康局"  # where the understanding sends the unsure 你好 (a liaison's department below)


def office_config(tmp_path, roster=None) -> dict:
    """The demo config with a duty officer who holds no standing role: the roster alone says who is on duty."""
    cfg = yaml.safe_load((BUNDLED_CONFIG / "demo.yaml").read_text(encoding="utf-8"))
    cfg["jurisdiction"] = str(BUNDLED_CONFIG / "jurisdictions" / "xishan.yaml")
    cfg["sources"].append({"name": "board", "kind": "feed", "url": "http://127.0.0.1:9/feed.xml"})
    cfg["users"] = [{"name": "zhang", "display": "张值班", "channels": ["dashboard"]},
                    {"name": "li", "display": "李值班", "channels": ["dashboard"]},
                    {"name": "leader", "display": "办公室负责人", "roles": ["office_leader"], "channels": ["dashboard"]}]
    cfg["roster"] = roster if roster is not None else [
        {"role": "duty_officer", "user": "zhang", "from": "2026-11-23T08:00+08:00", "to": "2026-11-23T20:00+08:00"}]
    return cfg


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "office.yaml"
    path.write_text(yaml.safe_dump(office_config(tmp_path), allow_unicode=True), encoding="utf-8")
    return load_settings(path)


@pytest.fixture
async def seeded(app, clock):
    """A: an explosion 30 h ago, released late and no press conference (late, missing); B: a warehouse explosion
    2 h ago released on time; C, D, F: messages waiting for triage (F's title hostile); E: a street light."""
    now = clock.now()
    await app.pipeline.ingest([
        RawItem("hotline", "a", "化工厂爆炸", "马街街道化工厂爆炸造成12人死亡", occurred_at=now - timedelta(hours=30)),
        RawItem("hotline", "b", "仓库爆炸", "仓库爆炸造成15人死亡", occurred_at=now - timedelta(hours=2)),
        RawItem("hotline", "c", "你好", "你好", occurred_at=now),
        RawItem("hotline", "d", "噪音扰民", "请问", occurred_at=now),
        RawItem("hotline", "f", "你好" + HOSTILE, "你好", occurred_at=now),
        RawItem("hotline", "e", "路灯不亮", "金碧街道路灯坏了", occurred_at=now),
    ], "hotline")
    await app.service.add_evidence(1, "zhao", url="https://xs.gov.cn/a", rule="authoritative_release")
    await app.service.add_evidence(2, "zhao", url="https://xs.gov.cn/b", rule="authoritative_release")
    await app.service.accept_triage(2, "zhao")  # the understanding was unsure of B too: a person agreed
    async with app.store.read() as tx:
        return {i.title: i for i in await tx.incidents.list(limit=50)}


@pytest.fixture
async def clients(app):
    """make(name, role, department=None) → (a client signed in as a new account, its CSRF token)."""
    made: list[TestClient] = []

    async def make(name: str, role: str, department: str | None = None):
        await add_account(app, name, role, department)
        c = TestClient(TestServer(web_application(app)))
        await c.start_server()
        made.append(c)
        return c, await _sign_in(c, name)

    yield make
    for c in made:
        await c.close()


async def _sign_in(client, name: str) -> str:
    """The login form, then the session's CSRF token from one of these pages (not the now page: another's)."""
    token = form_token(await (await client.get("/login")).text())
    r = await client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token, "next": "/sources"},
                          allow_redirects=False)
    assert r.status == 303, (r.status, await r.text())
    return page_csrf(await (await client.get("/sources")).text())


def post(client, url, csrf, body):
    return client.post(url, json=body, headers={"X-CSRF-Token": csrf})


# --------------------------------------------------------------------------- sign-in
async def test_every_page_and_endpoint_needs_sign_in(app):
    async with TestClient(TestServer(web_application(app))) as c:
        for path in ("/triage", "/roster", "/ledger", "/ledger.xlsx", "/sources", "/stats"):
            r = await c.get(path, allow_redirects=False)
            assert r.status == 302 and r.headers["Location"].startswith("/login?next="), path
        for path in ("/api/v1/roster", "/api/v1/ledger", "/api/v1/sources", "/api/v1/stats", "/api/openapi.json"):
            assert (await c.get(path)).status == 401, path
        assert (await c.post("/api/v1/roster", json={})).status == 401
        vendor = await c.get("/static/vendor/echarts.common.min.js")  # static: served to anyone, from the app
        assert vendor.status == 200 and "echarts" in (await vendor.text())[:5000].lower()


# --------------------------------------------------------------------------- triage
async def test_triage_queue_lists_reasons_and_a_liaison_sees_its_department(seeded, clients):
    duty, _ = await clients("duty", "duty_officer")
    html = await (await duty.get("/triage")).text()
    assert "待分诊（3）" in html and "分办不明确：待人工研判" in html and "低于 0.35：待人工研判" in html
    assert html.count('class="accept"') == 3 and html.count('<form class="correct"') == 3
    assert "<th>事件</th><th>系统研判</th><th>待研判原因</th><th>操作</th>" in html
    assert HOSTILE not in html and "你好&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "style=" not in html and "<script>" not in html  # CSP: no inline script or style
    assert '<script src="/static/office.js" defer></script>' in html
    liaison, _ = await clients("health", "liaison", HEALTH)
    own = await (await liaison.get("/triage")).text()
    assert "待分诊（2）" in own and "#%d 你好<" % seeded["你好"].id in own and "噪音扰民" not in own
    viewer, _ = await clients("view", "viewer")
    read_only = await (await viewer.get("/triage")).text()
    assert "（只读）" in read_only and 'class="accept"' not in read_only
    assert (await duty.get("/triage?limit=0")).status == 400 and (await duty.get("/triage?offset=-1")).status == 400
    paged = await (await duty.get("/triage?limit=1&offset=1")).text()
    assert "第 2–2 条，共 3 条" in paged and "上一页" in paged and "下一页" in paged


async def test_triage_correction_from_the_page_records_its_reason(app, seeded, clients):
    duty, csrf = await clients("duty", "duty_officer")
    target = seeded["你好"].id
    r = await post(duty, f"/api/v1/incidents/{target}/triage/correct", csrf,
                   {"severity": "较大", "department": "区应急局", "reason": "核实为燃气泄漏"})
    body = await r.json()
    assert r.status == 200, body
    assert body["changes"] == {"department": [HEALTH, "区应急局"], "severity": ["一般", "较大"]}
    async with app.store.read() as tx:
        audit = (await tx.audit.list(entity="incident", entity_id=target))[-1]
    assert audit["action"] == "triage.corrected" and audit["actor"] == "duty" and audit["detail"]["reason"] == "核实为燃气泄漏"
    assert (await post(duty, f"/api/v1/incidents/{target}/triage/correct", csrf,
                       {"domain": "城乡建设", "reason": 5})).status == 400
    liaison, lcsrf = await clients("health", "liaison", HEALTH)
    other = seeded["噪音扰民"].id
    assert (await post(liaison, f"/api/v1/incidents/{other}/triage/accept", lcsrf, {})).status == 403


# --------------------------------------------------------------------------- roster
def test_gaps_are_the_hours_nobody_holds_a_role():
    from monitor.deadlines.coverage import Shift, gaps

    now = NOW.astimezone(SHANGHAI)
    shifts = [Shift("duty_officer", "zhang", now - timedelta(hours=1), now + timedelta(hours=11)),
              Shift("duty_officer", "li", now + timedelta(hours=10), now + timedelta(days=1)),  # overlaps zhang's
              Shift("duty_officer", "li", now + timedelta(days=3), now + timedelta(days=9))]
    [g] = gaps(["duty_officer", "office_leader", "night"], shifts, {"office_leader", "night"}, now)
    assert g.holes == ((now + timedelta(days=1), now + timedelta(days=3)),)
    assert g.uncovered == timedelta(days=2) and not g.nobody
    assert "未来 7 天内有 2天 无人值班（最早 2026-11-24 09:00 至 2026-11-26 09:00）" in g.zh()
    [empty] = gaps(["duty_officer"], [], set(), now)
    assert empty.nobody and "未来 7 天无人值班" in empty.text() and "warning: nobody holds role duty_officer" in empty.text()
    rest = Shift("duty_officer", "li", now + timedelta(days=1), now + timedelta(days=8))
    assert gaps(["duty_officer"], shifts[:2] + [rest], set(), now) == []


def test_watched_roles_are_the_policies_roster_roles(settings):
    from monitor.deadlines.coverage import watched_roles

    assert watched_roles(settings.rules, settings.escalation_policies) == ["duty_officer", "office_leader"]
    # responsible is a department's liaisons and a user named in a step is that user: neither is a roster role
    assert watched_roles(settings.rules, settings.escalation_policies, ["office_leader"]) == ["duty_officer"]
    assert watched_roles([], {"routine": settings.escalation_policies["routine"]}) == ["duty_officer"]


async def test_roster_page_shows_14_days_per_role_and_warns_of_the_gap(app, clients):
    viewer, _ = await clients("view", "viewer")
    html = await (await viewer.get("/roster")).text()
    assert '<section class="warning" role="alert" id="roster-warnings">' in html
    assert "角色「值班员」（duty_officer）未来 7 天内有 6天13小时 无人值班（最早 2026-11-23 20:00 至 2026-11-30 09:00）" in html
    assert "office_leader" not in html.split('id="roster-warnings"')[1].split("</section>")[0]  # standing: covered
    assert html.count('<th scope="col">11-') == 8 and '<th scope="col">12-06<br><small>周日</small></th>' in html
    assert "张值班 <small>08:00–20:00</small>" in html and "缺 4小时" in html  # today: nobody from 20:00
    assert html.count('<div class="gap">无人</div>') == 13  # and nobody on the 13 days after
    assert "办公室负责人" in html and "（在配置中修改）" in html
    assert 'id="shift-form"' not in html and "style=" not in html  # a viewer cannot edit


async def test_manual_shifts_close_the_gap_survive_a_restart_and_only_they_can_be_removed(app, settings, clock,
                                                                                        clients):
    from monitor.app import sync_people

    duty, csrf = await clients("duty", "duty_officer")
    assert 'id="shift-form"' in await (await duty.get("/roster")).text()
    r = await post(duty, "/api/v1/roster", csrf, {"role": "duty_officer", "user": "li",
                                                  "starts_at": "2026-11-23T20:00", "ends_at": "2026-11-30T12:00"})
    shift = await r.json()
    assert r.status == 201, shift
    assert shift["starts_at"] == "2026-11-23T12:00:00+00:00" and shift["origin"] == "manual"  # no offset: Beijing
    html = await (await duty.get("/roster")).text()
    assert 'id="roster-ok"' in html and 'id="roster-warnings"' not in html and "李值班 <small>20:00–24:00</small>" in html
    await sync_people(app.store, settings, clock)  # what every start does: the config's shifts are loaded again
    listed = await (await duty.get("/api/v1/roster")).json()
    assert sorted((s["user"], s["origin"]) for s in listed["shifts"]) == [("li", "manual"), ("zhang", "config")]
    assert listed["gaps"] == [] and listed["standing"] == {"office_leader": ["办公室负责人"]}
    async with app.store.read() as tx:
        audit = await tx.audit.list(entity="roster")
    assert [(a["action"], a["actor"], a["detail"]["user"]) for a in audit] == [("roster.shift_added", "duty", "li")]
    config_id = next(s["id"] for s in listed["shifts"] if s["origin"] == "config")
    refused = await duty.delete(f"/api/v1/roster/{config_id}", headers={"X-CSRF-Token": csrf})
    assert refused.status == 409 and "配置" in (await refused.json())["error"]
    gone = await duty.delete(f"/api/v1/roster/{shift['id']}", headers={"X-CSRF-Token": csrf})
    assert gone.status == 200 and (await gone.json())["removed"]["user"] == "li"
    assert (await duty.delete(f"/api/v1/roster/{shift['id']}", headers={"X-CSRF-Token": csrf})).status == 404
    assert len((await (await duty.get("/api/v1/roster")).json())["gaps"]) == 1  # the gap is back


@pytest.mark.parametrize("body, status, words", [
    ({"role": "duty_officer", "user": "li", "starts_at": "2026-11-24T08:00", "ends_at": "2026-11-24T07:00"}, 400, "晚于"),
    ({"role": "duty_officer", "user": "nobody", "starts_at": "2026-11-24T08:00", "ends_at": "2026-11-24T20:00"}, 400,
     "未知人员"),
    ({"role": "duty_officer", "user": "li", "starts_at": "明天", "ends_at": "2026-11-24T20:00"}, 400, "ISO 8601"),
    ({"role": "<b>x</b>", "user": "li", "starts_at": "2026-11-24T08:00", "ends_at": "2026-11-24T20:00"}, 400, "角色名"),
    ({"role": "duty_officer", "user": "li", "starts_at": "2026-11-01T08:00", "ends_at": "2026-11-02T08:00"}, 400,
     "已经结束"),
    ({"role": "duty_officer", "user": "li", "starts_at": "2026-11-24T08:00", "ends_at": "2027-01-24T08:00"}, 400,
     "最长 31 天"),
])
async def test_a_shift_that_makes_no_sense_is_refused(app, clients, body, status, words):
    duty, csrf = await clients("duty", "duty_officer")
    r = await post(duty, "/api/v1/roster", csrf, body)
    assert r.status == status and words in (await r.json())["error"]


async def test_only_duty_officers_and_admins_edit_the_roster(app, clients):
    shift = {"role": "duty_officer", "user": "li", "starts_at": "2026-11-24T08:00", "ends_at": "2026-11-24T20:00"}
    viewer, vcsrf = await clients("view", "viewer")
    liaison, lcsrf = await clients("health", "liaison", HEALTH)
    admin, acsrf = await clients("boss", "admin")
    assert (await post(viewer, "/api/v1/roster", vcsrf, shift)).status == 403
    refused = await post(liaison, "/api/v1/roster", lcsrf, shift)
    assert refused.status == 403 and "值班员或管理员" in (await refused.json())["error"]
    assert (await post(admin, "/api/v1/roster", acsrf, shift)).status == 201
    assert (await admin.post("/api/v1/roster", json=shift)).status == 403  # no CSRF token: refused


def test_check_config_warns_of_roster_gaps(settings, capsys):
    from monitor.cli.config import check_config, roster_warnings

    lines = roster_warnings(settings, settings.path, NOW)
    assert lines == [f"{settings.path}:{_line(settings.path, 'roster:')}: roster: 警告：角色「值班员」（duty_officer）"
                     "未来 7 天内有 6天13小时 无人值班（最早 2026-11-23 20:00 至 2026-11-30 09:00），其间升级提醒无人接收 / "
                     "warning: role duty_officer has nobody for 157 h of the next 7 days (first from 2026-11-23 20:00 "
                     "Beijing time): its reminders then reach nobody"]
    example = ROOT / "config" / "yuqing.example.yaml"  # its roster covers 23–24 November 2026 only
    assert check_config(Namespace(path=str(example))) == 0
    out = capsys.readouterr().out
    [line] = [x for x in out.splitlines() if ": roster: " in x]
    assert line.startswith(f"{example}:{_line(example, 'roster:')}: roster: 警告：角色「值班员」（duty_officer）未来 7 天")
    assert "office_leader" not in out.split(": roster: ")[1]  # wang holds it as a standing role
    assert roster_warnings(load_settings(BUNDLED_CONFIG / "demo.yaml"), BUNDLED_CONFIG / "demo.yaml", NOW) == []


def _line(path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.startswith(text))


async def test_serve_logs_roster_gaps_at_start_and_every_morning(app, clock):
    from loguru import logger

    from monitor.web.server import serve

    clock.set(datetime(2026, 11, 23, 7, 59, 59, 500_000, tzinfo=SHANGHAI))  # half a second before the daily check
    seen: list[str] = []
    sink = logger.add(lambda m: seen.append(m.record["message"]), level="WARNING")
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, None, stop=stop, role="worker"))
    try:
        await _until(lambda: any("值班表 roster" in m for m in seen))
        [first] = [m for m in seen if "值班表 roster" in m]
        assert "duty_officer" in first and "无人值班" in first and "warning:" in first
        clock.advance(timedelta(seconds=1))  # 08:00:00.5: the morning's check
        await _until(lambda: sum("值班表 roster" in m for m in seen) == 2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        logger.remove(sink)


def test_the_daily_check_is_at_eight_beijing_time():
    from monitor.deadlines.roster_watch import next_check

    assert next_check(NOW) == datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI)
    assert next_check(datetime(2026, 11, 23, 7, 0, tzinfo=SHANGHAI)) == datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI)


async def _until(check, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


# --------------------------------------------------------------------------- ledger
async def test_ledger_page_filters_and_liaison(seeded, clients):
    duty, _ = await clients("duty", "duty_officer")
    html = await (await duty.get("/ledger?month=2026-11")).text()
    assert "<th scope=\"col\">是否按时</th>" in html and "<th scope=\"col\">按时率</th>" in html
    assert "化工厂爆炸" in html and "仓库爆炸" in html and "未按时回应" in html and "权威信息发布" in html
    assert '<a class="download" href="/ledger.xlsx?month=2026-11" download>' in html
    missing = await (await duty.get("/ledger?month=2026-11&state=missing")).text()
    assert "化工厂爆炸" in missing and "仓库爆炸" not in missing
    assert "路灯" not in html  # no deadline, no response: not in the ledger
    other = await (await duty.get("/ledger?month=2026-11&department=区教育体育局")).text()
    assert "本月没有符合条件的台账记录" in other
    for bad in ("month=2026-13", "month=11-2026", "state=done"):
        assert (await duty.get(f"/ledger?{bad}")).status == 400, bad
    liaison, _ = await clients("health", "liaison", HEALTH)
    own = await (await liaison.get("/ledger?month=2026-11")).text()
    assert "化工厂爆炸" not in own and f"责任单位：{HEALTH}" in own
    assert (await liaison.get("/ledger?month=2026-11&department=区应急局")).status == 400
    assert (await liaison.get("/api/v1/ledger?month=2026-11")).status == 200


async def test_ledger_xlsx_download_has_the_rows(seeded, clients):
    duty, _ = await clients("duty", "duty_officer")
    r = await duty.get("/ledger.xlsx?month=2026-11&department=区应急局")
    assert r.status == 200 and r.content_type.endswith("spreadsheetml.sheet")
    assert "filename*=UTF-8''%E5%9B%9E%E5%BA%94%E5%8F%B0%E8%B4%A6-2026-11.xlsx" in r.headers["Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(await r.read()))
    sheet = wb["回应台账"]
    assert sheet["A1"].value == "舆情回应台账（2026-11·区应急局）"
    assert [c.value for c in sheet[2]] == ["时间", "事件", "责任单位", "等级", "回应方式", "发布时间", "是否按时", "承诺事项", "办理结果"]
    rows = {row[1]: row for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert set(rows) == {"化工厂爆炸", "仓库爆炸"}
    assert rows["化工厂爆炸"][6] == "未按时回应" and rows["仓库爆炸"][6] == "进行中"
    stats = list(wb["月度统计"].iter_rows(min_row=3, values_only=True))
    assert stats == [("区应急局", 1, 1, 1, 1, 4, "33%")]  # on time B, late A, missing A's conference, pending B's


async def test_ledger_api_pages_with_a_cursor(seeded, clients):
    duty, _ = await clients("duty", "duty_officer")
    first = await (await duty.get("/api/v1/ledger?month=2026-11&limit=1")).json()
    assert [r["事件"] for r in first["rows"]] == ["化工厂爆炸"] and first["next_cursor"]
    second = await (await duty.get(f"/api/v1/ledger?month=2026-11&limit=1&cursor={first['next_cursor']}")).json()
    assert [r["事件"] for r in second["rows"]] == ["仓库爆炸"] and second["next_cursor"] is None
    assert second["stats"][-1] == {"责任单位": "合计", "按时": 1, "逾期": 1, "缺失": 1, "进行中": 1, "合计": 4, "按时率": "33%"}
    for bad in ("limit=0", "limit=1001", "cursor=abc", "limit=-1"):
        assert (await duty.get(f"/api/v1/ledger?month=2026-11&{bad}")).status == 400, bad


# --------------------------------------------------------------------------- sources
async def test_sources_health_shows_polls_errors_items_and_quarantine(app, seeded, clock, clients):
    now = clock.now()
    async with app.store.write() as tx:
        await tx.sources.save("board", "feed", now - timedelta(minutes=2), failures=3, last_error="连接超时" + HOSTILE,
                              last_ok_at=now - timedelta(hours=2), next_poll_at=now + timedelta(minutes=3))
        await tx.items.quarantine([{"source": "hotline", "file": "export.csv", "row_no": 7, "reason": "缺少标题" + HOSTILE,
                                    "raw": {"a": "b"}, "created_at": now}])
    duty, _ = await clients("duty", "duty_officer")
    html = await (await duty.get("/sources")).text()
    board = html.split('<th scope="row">board</th>')[1].split("</tr>")[0]
    assert "异常 unhealthy" in board and "2026-11-23 08:58" in board and "2026-11-23 07:00" in board
    assert "2026-11-23 09:03" in board and "<td>3</td>" in board and "连接超时&lt;script&gt;" in board
    hotline = html.split('<th scope="row">hotline</th>')[1].split("</tr>")[0]
    assert "<td>6</td>" in hotline and "<td>1</td>" in hotline  # six reports stored, one row quarantined
    assert "export.csv" in html and "缺少标题&lt;script&gt;" in html and HOSTILE not in html
    api = {s["name"]: s for s in (await (await duty.get("/api/v1/sources")).json())["sources"]}
    assert api["board"]["failures"] == 3 and not api["board"]["healthy"] and api["hotline"]["items"] == 6
    assert api["board"]["last_poll_at"] == (now - timedelta(minutes=2)).isoformat()
    liaison, _ = await clients("health", "liaison", HEALTH)
    own = await (await liaison.get("/sources")).text()
    assert "board" in own and "export.csv" not in own  # rows not yet routed are the duty office's


# --------------------------------------------------------------------------- statistics
async def test_stats_json_counts_the_seeded_store(seeded, clients):
    duty, _ = await clients("duty", "duty_officer")
    s = await (await duty.get("/api/v1/stats?period=2026-11")).json()
    assert s["period"]["label"] == "2026年11月" and len(s["days"]) == 23  # 1–23 November: no future days
    days = {d["date"]: d for d in s["days"]}
    assert days["2026-11-22"] == {"date": "2026-11-22", "incidents": 1, "reports": 1}  # A, 30 hours ago
    assert days["2026-11-23"] == {"date": "2026-11-23", "incidents": 5, "reports": 5}
    assert s["totals"]["incidents"] == 6 and s["totals"]["reports"] == 6
    assert {r["severity"]: r["incidents"] for r in s["severity"]} == {"特别重大": 0, "重大": 2, "较大": 0, "一般": 4}
    departments = {d["department"]: d for d in s["departments"]}
    assert departments["区应急局"] == {"department": "区应急局", "rank": 1, "incidents": 2, "deadlines": 4, "on_time": 1,
                                   "late": 1, "missing": 1, "pending": 1, "on_time_rate": 0.3333}
    assert departments[HEALTH]["incidents"] == 2 and departments[HEALTH]["rank"] is None  # no deadline: no rank
    rules = {r["rule"]: r for r in s["rules"]}
    assert rules["authoritative_release"] == {"rule": "authoritative_release", "title": "5小时内发布权威信息",
                                              "deadlines": 2, "on_time": 1, "late": 1, "missing": 0, "pending": 0,
                                              "on_time_rate": 0.5}
    assert rules["press_conference"]["missing"] == 1 and rules["press_conference"]["pending"] == 1
    assert s["totals"]["on_time_rate"] == round(1 / 3, 4) and s["totals"]["deadlines"] == 4
    quarter = await (await duty.get("/api/v1/stats?period=2026Q4")).json()
    assert quarter["period"]["label"] == "2026年第四季度" and quarter["totals"]["incidents"] == 6
    for bad in ("2026-13", "26Q4", "2026Q5", "abc", "0000"):
        assert (await duty.get(f"/api/v1/stats?period={bad}")).status == 400, bad
    liaison, _ = await clients("health", "liaison", HEALTH)
    own = await (await liaison.get("/api/v1/stats?period=2026-11")).json()
    assert own["department"] == HEALTH and own["totals"]["incidents"] == 2 and own["rules"] == []


async def test_stats_page_has_tables_with_headers_and_chart_slots(seeded, clients):
    duty, _ = await clients("duty", "duty_officer")
    html = await (await duty.get("/stats?period=2026-11")).text()
    assert "统计 · 2026年11月" in html and 'data-period="2026-11"' in html
    for chart in ("days", "departments", "severity", "rules"):
        assert f'<div class="chart" id="chart-{chart}" role="img"' in html and f'<table id="table-{chart}">' in html
    assert "<th scope=\"col\">按时率</th>" in html and "<td>5小时内发布权威信息</td><td>2</td><td>1</td><td>1</td>" in html
    assert '<script src="/static/vendor/echarts.common.min.js" defer></script>' in html and "style=" not in html
    assert "http://" not in html.split("<main>")[1] and "cdn" not in html.lower()  # nothing from outside
    assert (await duty.get("/stats?period=bad")).status == 400


# --------------------------------------------------------------------------- OpenAPI
async def test_openapi_documents_exactly_the_routes_of_the_router(app, clients):
    """Both ways: each /api/ route of the router (each alternative of a {action:a|b} route) is in the document,
    and each documented operation reaches a route. Other engineers' new endpoints must add their entry."""
    from monitor.web.openapi import document

    doc = document()
    assert doc["openapi"].startswith("3.1")
    documented = {(m.upper(), re.sub(r"\{\w+\}", "1", p)) for p, ops in doc["paths"].items() for m in ops}
    routes = [r for r in web_application(app).router.routes()
              if r.method not in ("HEAD", "*") and (r.resource.canonical or "").startswith("/api/")]
    routed = {(r.method, sample) for r in routes for sample in _samples(r.resource)}
    assert sorted(routed - documented) == [], "add these to monitor/web/openapi.py OPERATIONS"
    stale = [(m, p) for m, p in documented if not any(r.method == m and _reaches(r.resource, p) for r in routes)]
    assert stale == [], f"documented but not routed: {stale}"
    for ref in {v for v in _walk(doc) if isinstance(v, str) and v.startswith("#/")}:
        node = doc
        for part in ref[2:].split("/"):  # every $ref points into the document
            node = node[part]
    duty, _ = await clients("duty", "duty_officer")
    served = await duty.get("/api/openapi.json")
    assert served.status == 200 and (await served.json())["paths"].keys() == doc["paths"].keys()


def _samples(resource) -> list[str]:
    """The concrete paths a route answers: each {name:a|b} alternative spelled out, any other {param} as 1."""
    info = resource.get_info()
    if "path" in info:
        return [info["path"]]
    choices = {name: alts.split("|") for name, alts in re.findall(r"\(\?P<(\w+)>([\w|]+)\)", info["pattern"].pattern)}
    paths = [info["formatter"]]
    for name in re.findall(r"\{(\w+)\}", info["formatter"]):
        paths = [p.replace("{%s}" % name, alt) for p in paths for alt in choices.get(name, ["1"])]
    return paths


def _reaches(resource, path: str) -> bool:
    info = resource.get_info()
    return info["path"] == path if "path" in info else info["pattern"].fullmatch(path) is not None


def _walk(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "$ref":
                yield v
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)
