"""The incident page and closing (办结), issue 18 items 3, 4 and 8: a readable timeline for every audit action,
why reports were grouped, regrade with a reason, notes, close refused while deadlines are open, a 12345
「已办结」 as the reply, automatic close and reopen, rule titles wherever a rule is taken, a liaison's 403, and
hostile text kept inert. Real HTTP (aiohttp test server) with signed-in sessions, on SQLite and PostgreSQL."""

from __future__ import annotations

import ast
import asyncio
import re
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.core.clock import SHANGHAI
from monitor.core.model import RawItem
from monitor.deadlines import closing
from monitor.deadlines.rules import UnknownRule, resolve_rule
from monitor.web import timeline
from monitor.web.server import web_application
from tests.conftest import ROOT
from tests.signin import add_account, sign_in

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
RULES = [("authoritative_release", "5小时内发布权威信息"), ("press_conference", "24小时内举行新闻发布会"),
         ("promise_7", "承诺事项：修好路灯")]
TITLES = dict(RULES)


# --------------------------------------------------------------------------- timeline wording (pure)
def _audit_actions() -> set[str]:
    """Every action name the code writes to the audit log: audit.append(…, "x.y", …), {"action": "x.y"} rows and
    the sweeper's _audit(now, "x.y", …)."""
    found: set[str] = set()

    def strings(node) -> set[str]:
        return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                and re.fullmatch(r"[a-z_]+\.[a-z_]+", n.value)}

    for package in ("monitor", "responders"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                        node.func.attr == "append" and isinstance(node.func.value, ast.Attribute) and \
                        node.func.value.attr == "audit" and len(node.args) > 2:
                    found |= strings(node.args[2])
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_audit" \
                        and len(node.args) > 1:
                    found |= strings(node.args[1])
                elif isinstance(node, ast.Dict):
                    for key, value in zip(node.keys, node.values):
                        if isinstance(key, ast.Constant) and key.value == "action" and value is not None:
                            found |= strings(value)
    return found


def test_every_audit_action_the_code_writes_has_chinese_words():
    actions = _audit_actions()
    assert {"deadline.acknowledged", "incident.closed", "incident.reopened", "incident.noted",
            "escalation.fired", "account.enabled"} <= actions  # the scan sees what it must
    assert actions - set(timeline.PHRASES) == set()
    for action in timeline.PHRASES:  # whatever the detail holds, a line never shows the event name or JSON
        [line] = timeline.lines([{"at": datetime(2026, 11, 23, 2, 13, tzinfo=timezone.utc), "actor": "zhang",
                                  "action": action, "entity_id": "1", "detail": {}}], {}, {})
        assert action not in str(line) and not re.search(r"[{}\[\]]|None", str(line)), (action, str(line))
        assert re.search(r"[\u4e00-\u9fff]", line.text), action


AT = datetime(2026, 11, 23, 2, 13, tzinfo=timezone.utc)  # 10:13 Beijing time


@pytest.mark.parametrize("action, actor, detail, expected", [
    ("deadline.acknowledged", "张三", {"rule": "authoritative_release", "step": 0},
     "10:13 区应急局 张三 确认收到（5小时内发布权威信息）"),
    ("deadline.opened", "system:pipeline", {"rule": "press_conference", "due_at": "2026-11-24T00:00:00+00:00"},
     "10:13 系统 开启期限「24小时内举行新闻发布会」，2026-11-24 08:00 到期"),
    ("evidence.recorded", "李四", {"kind": "release", "url": "https://xs.gov.cn/1", "closes": ["authoritative_release"],
                                  "late": ["authoritative_release"]},
     "10:13 值班员 李四 登记证据（权威信息发布），完成期限「5小时内发布权威信息」，其中逾期：「5小时内发布权威信息」"),
    ("evidence.recorded", "李四", {"kind": "promise_7", "closes": []}, "登记证据（承诺办结），未完成任何期限"),
    ("incident.reassigned", "api", {"from": "区应急局", "to": "区卫生健康局", "reason": "救治", "deadlines_moved": 2},
     "10:13 接口脚本 改派：区应急局 → 区卫生健康局（理由：救治）；2 个进行中的期限随之移交"),
    ("incident.regraded", "张三", {"from": "重大", "to": "一般", "reason": "核实后无人员伤亡", "opened": [],
                                  "cancelled": ["authoritative_release", "press_conference"]},
     "等级由重大调整为一般（理由：核实后无人员伤亡）；取消期限「5小时内发布权威信息」「24小时内举行新闻发布会」"),
    ("triage.accepted", "cli", {"domain": "安全生产", "department": "区应急局", "severity": 3},
     "10:13 命令行 确认研判结果（领域 安全生产，责任单位 区应急局，等级 重大）"),
    ("triage.corrected", "张三", {"severity": ["一般", "重大"], "domain": ["其他", "安全生产"], "opened": ["press_conference"]},
     "更正研判：领域 其他 → 安全生产；等级 一般 → 重大；开启期限「24小时内举行新闻发布会」"),
    ("promise.made", "张三", {"ledger_id": 7, "text": "三日内修好路灯", "due_at": "2026-11-26T10:00:00+00:00"},
     "登记承诺「三日内修好路灯」，2026-11-26 18:00 前办结"),
    ("promise.kept", "张三", {"ledger_id": 7, "on_time": False, "result": "已修复"}, "承诺（台账 #7）已办结（逾期）：已修复"),
    ("incident.split", "张三", {"from": 1, "to": 9, "items": [3, 4]}, "拆分：留言 #3、#4 移入新事件 #9"),
    ("incident.merge", "张三", {"into": 1, "merged": [5, 6], "items_moved": 3, "reason": "同一爆炸"},
     "合并：事件 #5、#6 并入本事件，移入留言 3 条（理由：同一爆炸）"),
    ("item.replied", "system:source:hotline:a.csv", {"external_id": "R1", "reply": "已安排维修"},
     "10:13 数据源 hotline:a.csv 来源答复了留言 R1：已安排维修"),
    ("item.updated", "system:source:hotline", {"external_id": "R1", "changes": {"status": ["办理中", "已办结"]}},
     "留言 R1 更新：办理状态（办理状态 办理中 → 已办结）"),
    ("escalation.fired", "system:escalator", {"rule": "authoritative_release", "step": "3r2", "missed": 0,
                                              "to": ["dashboard"]},
     "10:13 系统（提醒） 发出提醒：期限「5小时内发布权威信息」第4级第2次重复，发往 dashboard"),
    ("escalation.suppressed", "system:escalator", {"rule": "authoritative_release", "step": "1", "acked_by": "张三"},
     "期限「5小时内发布权威信息」第2级的重复提醒未发出（张三已确认收到）"),
    ("deadline.replanned", "system:calendar", {"rule": "press_conference", "from": "2027-01-02T00:00:00+08:00",
                                               "to": "2027-01-05T00:00:00+08:00", "year": 2027},
     "按2027年节假日安排重算：到期由 2027-01-02 00:00 改为 2027-01-05 00:00"),
    ("incident.noted", "张三", {"text": "已电话告知\n街道"}, "10:13 区应急局 张三 备注：已电话告知 街道"),
    ("incident.closed", "张三", {"reply": "https://xs.gov.cn/reply/1", "auto": True},
     "期限均已完成且已有答复，自动办结（答复：https://xs.gov.cn/reply/1）"),
    ("incident.reopened", "system:pipeline", {"reason": "已办结事件收到新的留言 hotline:9"},
     "10:13 系统 重新打开（理由：已办结事件收到新的留言 hotline:9）"),
    ("alert.acknowledged", "telegram:42", {"via": "telegram"}, "10:13 Telegram 用户 42 确认收到提醒（经 Telegram）"),
    ("delivery.dead", "system:outbox", {"error": "401 Unauthorized"}, "提醒发送失败，已放弃重试：401 Unauthorized"),
], ids=lambda v: v if isinstance(v, str) and "." in v and v.isascii() else "")
def test_timeline_lines_read_as_chinese_sentences_in_beijing_time(action, actor, detail, expected):
    people = {"张三": timeline.Person("张三", "区应急局", "liaison"), "李四": timeline.Person("李四", None, "duty_officer")}
    [line] = timeline.lines([{"at": AT, "actor": actor, "action": action, "entity_id": "1", "detail": detail}],
                            TITLES, people)
    assert expected in str(line), str(line)
    assert line.day == "2026-11-23（星期一）"


def test_timeline_groups_by_beijing_day_and_links_only_http():
    entries = [{"at": datetime(2026, 11, 23, 15, 59, tzinfo=timezone.utc), "actor": "a", "action": "incident.noted",
                "entity_id": "1", "detail": {"text": "x"}},
               {"at": datetime(2026, 11, 23, 16, 1, tzinfo=timezone.utc), "actor": "a", "action": "evidence.recorded",
                "entity_id": "1", "detail": {"kind": "release", "url": "javascript:alert(1)"}},
               {"at": datetime(2026, 11, 23, 16, 2, tzinfo=timezone.utc), "actor": "a", "action": "incident.closed",
                "entity_id": "1", "detail": {"reply": "https://xs.gov.cn/r"}}]
    days = timeline.by_day(timeline.lines(entries, {}, {}))
    assert [(d, [str(x) for x in lines]) for d, lines in days] == [
        ("2026-11-23（星期一）", ["23:59 a 备注：x"]),
        ("2026-11-24（星期二）", ["00:01 a 登记证据（权威信息发布），未完成任何期限", "00:02 a 办结（答复：https://xs.gov.cn/r）"])]
    assert [x.link for _, lines in days for x in lines] == ["", "", "https://xs.gov.cn/r"]


# --------------------------------------------------------------------------- rule names and titles (pure)
@pytest.mark.parametrize("typed, rule", [
    ("authoritative_release", "authoritative_release"), ("5小时内发布权威信息", "authoritative_release"),
    ("５小时内发布权威信息", "authoritative_release"), (" 「24小时内举行新闻发布会」 ", "press_conference"),
    ("Press_Conference", "press_conference"), ("承诺事项：修好路灯", "promise_7"),
], ids=range(6))
def test_a_rule_is_named_by_its_name_or_its_title(typed, rule):
    assert resolve_rule(typed, RULES) == rule


def test_an_unknown_rule_lists_what_would_be_understood():
    with pytest.raises(UnknownRule) as err:
        resolve_rule("6小时内发布", RULES)
    assert "6小时内发布" in str(err.value) and err.value.status == 400
    assert "5小时内发布权威信息（authoritative_release）" in err.value.allowed


@pytest.mark.parametrize("status, reply, replied", [
    ("已办结", "", True), ("办结", "", True), ("已回复", "", True), (" 已 办结 ", "", True), ("未办结", "", False),
    ("待办结", "已受理", False), ("办理中", "正在处理", False), ("", "已修复", True), ("", " ", False),
], ids=range(9))
def test_what_counts_as_a_reply_of_a_report(status, reply, replied):
    assert closing.item_replied(status, reply) is replied


# --------------------------------------------------------------------------- over HTTP, signed in
async def _ingest(app, clock):
    now = clock.now()
    await app.pipeline.ingest([
        RawItem("hotline", "1", f"化工厂爆炸{HOSTILE}", "马街街道化工厂爆炸造成12人死亡" + HOSTILE,
                occurred_at=now - timedelta(hours=1), reply=HOSTILE, status="办理中",
                extra={"cells": {"url": "javascript:alert(1)"}}),
        RawItem("hotline", "2", f"化工厂爆炸{HOSTILE}", "马街街道化工厂爆炸造成12人死亡" + HOSTILE,
                occurred_at=now - timedelta(minutes=50), extra={"cells": {"url": "https://xs.gov.cn/a?b=1&c=2"}}),
        RawItem("hotline", "3", "路灯不亮", "金碧街道路灯坏了", occurred_at=now, status="已办结", reply="已修复"),
        RawItem("hotline", "4", "小区噪音扰民", "碧鸡街道某小区晚上施工噪音", occurred_at=now, status="办理中"),
    ], "hotline")


@pytest.fixture
async def client(app, clock):
    await _ingest(app, clock)  # #1 重大 区应急局 (items 1, 2), #2 路灯 已办结, #3 噪音 办理中
    await add_account(app, "张三", "liaison", "区应急局")
    async with TestClient(TestServer(web_application(app))) as c:
        c.csrf = await sign_in(c, "张三")
        yield c


async def _post(c, path: str, body: dict):
    r = await c.post(path, json=body, headers={"X-CSRF-Token": c.csrf})
    return r.status, await r.json()


async def test_the_page_shows_grouping_reasons_links_and_escapes_scraped_text(client):
    r = await client.get("/incidents/1")
    assert r.status == 200 and r.headers["Content-Security-Policy"].startswith("default-src 'self'")
    html = await r.text()
    assert "归并依据：首条留言 1 条；内容相同 1 条" in html and "归并依据：与同批留言 hotline:1 内容相同" in html
    assert "<th>环节</th><th>依据</th>" in html and "重大（Ⅱ级）：死亡（含失踪）12人" in html
    assert '<a href="https://xs.gov.cn/a?b=1&amp;c=2" rel="noopener noreferrer nofollow" target="_blank">原文链接</a>' in html
    assert 'href="javascript:' not in html and "原文地址（非 http 链接，不可点击）：javascript:alert(1)" in html
    assert "<script>alert" not in html and "<img src=x" not in html and "style=" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert html.count("<script") == 1 and '<script src="/static/incident.js">' in html
    assert "开启期限「5小时内发布权威信息」，2026-11-23 13:00 到期" in html  # Beijing time, Chinese words
    assert "deadline.opened" not in html and "authoritative_release\"}" not in html


async def test_acknowledging_by_title_reads_as_a_sentence_in_the_timeline(client, clock):
    clock.advance(timedelta(hours=1, minutes=13))
    status, body = await _post(client, "/api/v1/incidents/1/ack", {"rule": "5小时内发布权威信息"})
    assert (status, body) == (200, {"acknowledged": ["authoritative_release"]})
    html = await (await client.get("/incidents/1")).text()
    assert ('<time>10:13</time> <span class="who">区应急局 张三</span> <span class="what">确认收到（5小时内发布权威信息）'
            '</span>') in html
    status, body = await _post(client, "/api/v1/incidents/1/evidence", {"rule": "6小时内发布", "url": "https://x.cn"})
    assert status == 400 and "6小时内发布" in body["error"] and "5小时内发布权威信息（authoritative_release）" in body["allowed"]


async def test_regrade_lowers_only_with_a_reason_and_says_why(client):
    status, body = await _post(client, "/api/v1/incidents/1/regrade", {"severity": "一般"})
    assert status == 400 and "需要说明理由" in body["error"]
    status, body = await _post(client, "/api/v1/incidents/1/regrade", {"severity": 9, "reason": "x"})
    assert status == 400 and body["error"].startswith("severity:")
    status, body = await _post(client, "/api/v1/incidents/1/regrade", {"severity": 1, "reason": "核实后无人员伤亡"})
    assert status == 200 and body["severity"] == "一般"
    assert sorted(body["cancelled"]) == ["authoritative_release", "press_conference"]
    html = await (await client.get("/incidents/1")).text()
    assert "等级由重大调整为一般（理由：核实后无人员伤亡）；取消期限「5小时内发布权威信息」「24小时内举行新闻发布会」" in html
    assert "已取消<small>（等级由重大调整为一般：核实后无人员伤亡）</small>" in html
    status, body = await _post(client, "/api/v1/incidents/1/regrade", {"severity": "重大"})  # raising needs none
    assert status == 200 and body["opened"] == [] and body["severity"] == "重大"


async def test_a_note_goes_into_the_timeline_escaped(client):
    status, _ = await _post(client, "/api/v1/incidents/1/note", {"text": "已电话告知街道 " + HOSTILE})
    assert status == 200
    status, body = await _post(client, "/api/v1/incidents/1/note", {"text": "  "})
    assert status == 400
    html = await (await client.get("/incidents/1")).text()
    assert '<span class="who">区应急局 张三</span> <span class="what">备注：已电话告知街道 &lt;script&gt;' in html


async def test_close_is_refused_with_the_open_deadlines_named_then_closes_itself(client, app):
    status, body = await _post(client, "/api/v1/incidents/1/close", {"note": "已答复"})
    assert status == 409 and "「5小时内发布权威信息」（到期 2026-11-23 13:00）" in body["error"]
    assert "「24小时内举行新闻发布会」（到期 2026-11-24 08:00）" in body["error"]
    for rule in ("5小时内发布权威信息", "press_conference"):
        status, body = await _post(client, "/api/v1/incidents/1/evidence", {"rule": rule, "url": "https://xs.gov.cn/1"})
        assert status == 200 and "incident_closed" not in body  # no reply yet (its report is 办理中)
    status, body = await _post(client, "/api/v1/incidents/1/close", {})
    assert status == 409 and "尚未登记答复" in body["error"]
    status, body = await _post(client, "/api/v1/incidents/1/close", {"reply_url": "https://xs.gov.cn/reply/1"})
    assert status == 200 and body["status"] == "closed" and body["reply"] == "https://xs.gov.cn/reply/1"
    listed = (await (await client.get("/api/v1/incidents?status=closed")).json())["incidents"]
    assert [(i["id"], i["closed_by"], i["reply"]) for i in listed] == [(1, "张三", "https://xs.gov.cn/reply/1")]
    html = await (await client.get("/incidents/1")).text()
    assert "状态：<b>已办结</b>" in html and 'id="reopen-form"' in html and 'id="close-form"' not in html
    assert "区应急局 张三</span> <span class=\"what\">办结（答复：https://xs.gov.cn/reply/1）" in html
    status, body = await _post(client, "/api/v1/incidents/1/close", {"note": "again"})
    assert status == 409 and "已于" in body["error"]


async def test_a_12345_status_of_done_counts_as_the_reply(app, clock):
    await _ingest(app, clock)
    with pytest.raises(Exception, match="尚未登记答复"):
        await app.service.close(3, "李四")  # 办理中, no reply: nothing to close on
    out = await app.service.close(2, "李四")  # 已办结 in the export
    assert out["reply"] == "来源记录的办理状态为「已办结」（留言 hotline:3）" and not out["auto"]
    async with app.store.read() as tx:
        incident = await tx.incidents.get(2)
    assert (incident.status, incident.closed_by, incident.closed_at) == ("closed", "李四", clock.now())


async def test_the_last_deadline_satisfied_with_a_reply_on_record_closes_by_itself(app, clock):
    await app.pipeline.ingest([RawItem("hotline", "9", "化工厂爆炸", "马街街道化工厂爆炸造成12人死亡", status="已办结",
                                       occurred_at=clock.now() - timedelta(hours=1))], "hotline")
    await app.service.add_evidence(1, "李四", url="https://xs.gov.cn/1", rule="authoritative_release")
    async with app.store.read() as tx:
        assert (await tx.incidents.get(1)).status == "open"  # the press conference is still open
    await app.service.add_evidence(1, "李四", note="发布会已举行", rule="24小时内举行新闻发布会")
    async with app.store.read() as tx:
        incident = await tx.incidents.get(1)
        trail = [e["action"] for e in await tx.audit.list(entity="incident", entity_id=1)]
    assert incident.status == "closed" and incident.closed_by == "李四"
    assert trail[-2:] == ["evidence.recorded", "incident.closed"]


async def test_a_new_report_reopens_a_closed_incident_and_says_why(app, clock):
    await _ingest(app, clock)
    await app.service.close(2, "李四")
    clock.advance(timedelta(hours=2))
    await app.pipeline.ingest([RawItem("hotline", "5", "路灯不亮", "金碧街道路灯坏了", occurred_at=clock.now())],
                              "hotline")
    async with app.store.read() as tx:
        incident = await tx.incidents.get(2)
        last = (await tx.audit.list(entity="incident", entity_id=2))[-1]
    assert (incident.status, incident.closed_at, incident.item_count) == ("open", None, 2)
    assert last["action"] == "incident.reopened"
    [line] = timeline.lines([last], {}, {})
    assert str(line) == "11:00 系统 重新打开（理由：已办结事件收到新的留言 hotline:5）"


async def test_reopen_needs_a_reason_and_a_closed_incident(client, app):
    await app.service.close(2, "李四")
    await add_account(app, "王五", "duty_officer")
    async with TestClient(TestServer(web_application(app))) as c:
        c.csrf = await sign_in(c, "王五")
        assert (await _post(c, "/api/v1/incidents/2/reopen", {}))[0] == 400
        assert (await _post(c, "/api/v1/incidents/3/reopen", {"reason": "x"}))[0] == 409
        status, body = await _post(c, "/api/v1/incidents/2/reopen", {"reason": "群众再次来电"})
        assert (status, body) == (200, {"incident_id": 2, "status": "open"})
        html = await (await c.get("/incidents/2")).text()
    assert "值班员 王五</span> <span class=\"what\">重新打开（理由：群众再次来电）" in html


async def test_a_liaison_sees_and_acts_on_its_own_department_only(client, app):
    await add_account(app, "赵六", "liaison", "区住房城乡建设局")
    async with TestClient(TestServer(web_application(app))) as c:
        csrf = await sign_in(c, "赵六")
        assert (await c.get("/incidents/1")).status == 403
        assert (await c.get("/incidents/2")).status == 200
        for action, body in (("close", {"note": "x"}), ("note", {"text": "x"}), ("regrade", {"severity": 4})):
            r = await c.post(f"/api/v1/incidents/1/{action}", json=body, headers={"X-CSRF-Token": csrf})
            assert r.status == 403, action
    async with app.store.read() as tx:
        assert [e for e in await tx.audit.list(entity="incident", entity_id=1) if e["actor"] == "赵六"] == []


async def test_actions_need_the_csrf_token_and_a_role_that_may_act(client, app):
    r = await client.post("/api/v1/incidents/2/close", json={"note": "x"})  # no X-CSRF-Token
    assert r.status == 403
    await add_account(app, "孙七", "viewer")
    async with TestClient(TestServer(web_application(app))) as c:
        csrf = await sign_in(c, "孙七")
        html = await (await c.get("/incidents/2")).text()
        assert 'id="actions"' not in html and 'class="ack"' not in html
        r = await c.post("/api/v1/incidents/2/close", json={"note": "x"}, headers={"X-CSRF-Token": csrf})
        assert r.status == 403


async def test_split_through_the_session_names_the_signed_in_user(client, app):
    status, body = await _post(client, "/api/v1/incidents/1/split", {"item_ids": [2]})
    assert status == 201 and body["new_incident_id"] == 4
    first, new = [await (await client.get(f"/incidents/{i}")).text() for i in (1, 4)]
    assert "区应急局 张三</span> <span class=\"what\">拆分：留言 #2 移入新事件 #4" in first
    assert "区应急局 张三</span> <span class=\"what\">由事件 #1 拆分而来（留言 #2）" in new
    assert "归并依据：人工拆分 1 条" in new


# --------------------------------------------------------------------------- the CLI takes titles too
def test_cli_takes_rule_titles_and_closes_with_the_open_deadlines_named(tmp_path, capsys):
    from monitor.app import build
    from monitor.cli.main import main
    from monitor.config.settings import BUNDLED_CONFIG, load_settings

    db = f"sqlite:///{tmp_path / 'c.db'}"

    async def seed():
        app = await build(load_settings(BUNDLED_CONFIG / "demo.yaml"), db)
        await app.pipeline.ingest([RawItem("hotline", "1", "化工厂爆炸", "马街街道化工厂爆炸造成12人死亡",
                                           occurred_at=datetime.now(SHANGHAI) - timedelta(hours=1))], "hotline")
        await app.service.add_evidence(1, "李四", note="发布会已举行", rule="press_conference")
        await app.close()

    asyncio.run(seed())
    cli = ["--config", str(BUNDLED_CONFIG / "demo.yaml"), "--db", db]
    assert main([*cli, "incidents", "close", "1", "--note", "已答复"]) == 2
    err = capsys.readouterr().err
    assert "还有未完成的期限：「5小时内发布权威信息」" in err and "「24小时内举行新闻发布会」" not in err
    assert main([*cli, "ack", "1", "--rule", "7小时"]) == 2
    assert "未知的期限「7小时」" in capsys.readouterr().err
    assert main([*cli, "evidence", "1", "--rule", "５小时内发布权威信息", "--url", "https://xs.gov.cn/1"]) == 0
    assert "期限已完成 (satisfied): #1 5小时内发布权威信息" in capsys.readouterr().out
    assert main([*cli, "incidents", "close", "1", "--reply-url", "https://xs.gov.cn/r/1", "--by", "张三"]) == 0
    assert "已办结 (closed): #1，答复：https://xs.gov.cn/r/1" in capsys.readouterr().out
    assert main([*cli, "incidents", "reopen", "1", "--reason", "再次来电"]) == 0
    assert "已重新打开 (reopened): #1" in capsys.readouterr().out


async def test_many_reports_are_listed_a_page_at_a_time_with_their_count_and_links(client, monkeypatch):
    from monitor.web import incident_page

    monkeypatch.setattr(incident_page, "ITEMS_PAGE", 1)  # incident #1 has two reports: two pages of one
    first = await (await client.get("/incidents/1")).text()
    assert "共 2 条，本页列出第 1–1 条：<b>第 1–1 条</b> · <a href=\"/incidents/1?items=2#items\">第 2–2 条</a>" in first
    assert "首条留言（事件由此建立）" in first and "归并依据：与同批留言 hotline:1 内容相同" not in first
    assert "归并依据：首条留言 1 条；内容相同 1 条" in first  # counted over every report, not the page's
    second = await (await client.get("/incidents/1?items=2")).text()
    assert "归并依据：与同批留言 hotline:1 内容相同" in second and "首条留言（事件由此建立）" not in second
    assert '<a href="/incidents/1?items=1#items">第 1–1 条</a> · <b>第 2–2 条</b>' in second
    for bad in ("0", "x", "999999999"):  # the first page (or the last), never an error
        assert (await client.get(f"/incidents/1?items={bad}")).status == 200
    monkeypatch.setattr(incident_page, "ITEMS_PAGE", 100)
    assert "item-pages" not in await (await client.get("/incidents/1")).text()  # one page: no links
