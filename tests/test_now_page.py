"""The now page (当前) and its API over real HTTP on both stores: what falls due first leads, the cards count every
incident (not the rows of one page), cursors walk the whole list once, filters and Chinese search narrow it, a
liaison sees its own department only, and the live stream sends changes, resumes after Last-Event-ID, beats while
idle and ends when the server stops."""

import asyncio
import json
import re
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.core.model import RawItem
from monitor.store.schema import incident_changes
from monitor.web import search, stream
from monitor.web.server import web_application
from tests.signin import add_account, sign_in

EMERGENCY, HOUSING = "区应急局", "区住房城乡建设局"


@pytest.fixture(autouse=True)
def quick_stream(monkeypatch):
    monkeypatch.setattr(stream, "POLL", 0.05)  # the feed looks every 50 ms here (0.5 s in service)


@pytest.fixture
async def client(app):
    await add_account(app, "zhang", "duty_officer")
    async with TestClient(TestServer(web_application(app))) as c:
        await sign_in(c, "zhang")
        yield c


async def add_incident(app, title, department=EMERGENCY, severity=1, status="open", seen=None, due=(),
                       satisfied=(), source="hotline") -> int:
    """An incident written as the pipeline writes it, with open deadlines due at `due` (hours from now) and
    satisfied ones; one item from `source`."""
    now = app.clock.now()
    seen = now - timedelta(hours=1) if seen is None else now + timedelta(hours=seen)
    async with app.store.write() as tx:
        [incident_id] = await tx.incidents.insert_many([{
            "title": title, "department": department, "severity": severity, "status": status,
            "first_seen_at": seen, "last_seen_at": seen, "created_at": now, "updated_at": now, "item_count": 1}])
        rows = [{"incident_id": incident_id, "rule": f"r{n}", "title": f"期限{n}", "department": department,
                 "starts_at": now - timedelta(hours=6), "due_at": now + timedelta(hours=h), "satisfied_by": "release",
                 "state": state, "created_at": now, "updated_at": now}
                for n, (h, state) in enumerate([(h, "open") for h in due] + [(h, "satisfied") for h in satisfied])]
        if rows:
            await tx.deadlines.open_many(rows)
        await tx.items.insert_many([{"source": source, "external_id": f"{source}-{incident_id}", "content_hash": "x",
                                     "title": title, "body": title, "received_at": now, "updated_at": now,
                                     "incident_id": incident_id}])
    return incident_id


def ids_in(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="[^"]*" data-id="(\d+)"', html)]


async def listed(client, query: str = "") -> list[int]:
    r = await client.get(f"/api/v1/incidents?{query}")
    assert r.status == 200, await r.text()
    return [i["id"] for i in (await r.json())["incidents"]]


async def test_what_falls_due_first_leads_and_overdue_comes_first(app, client):
    later = await add_incident(app, "五小时后到期", severity=3, due=[5])
    overdue = await add_incident(app, "已超时", severity=1, due=[-1, 20])
    soon = await add_incident(app, "一小时后到期", severity=2, due=[1])
    big = await add_incident(app, "特别重大无期限", severity=4, seen=-3)
    recent = await add_incident(app, "较大无期限新", severity=2, seen=-0.5)
    older = await add_incident(app, "较大无期限旧", severity=2, seen=-2, satisfied=[3])  # satisfied: no longer due
    closed = await add_incident(app, "已关闭", status="closed", due=[-5])
    order = [overdue, soon, later, big, recent, older]
    html = await (await client.get("/")).text()
    assert ids_in(html) == order
    assert await listed(client, "status=open") == order
    assert await listed(client) == [closed, *order]  # the API lists every status unless asked
    assert ids_in(await (await client.get("/?status=closed")).text()) == [closed]
    assert html.index('id="overdue-banner"') < html.index("最近提醒") < html.index('<table class="incidents">')
    assert "已超时 1小时" in html and 'data-due="' in html and "<meta http-equiv=\"refresh\"" not in html


async def test_cards_count_every_incident_and_the_cursor_walks_the_list_once(app, client):
    for n in range(70):
        await add_incident(app, f"事件{n}", severity=1 + n % 4, seen=-n / 10, due=[n] if n % 5 == 0 else ())
    html = await (await client.get("/?limit=20")).text()
    assert re.search(r'id="card-total"><b>70</b><span>处理中事件', html) and len(ids_in(html)) == 20
    assert 'id="more" href="/?status=open&amp;cursor=' in html
    whole = await listed(client, "status=open&limit=1000")
    assert len(whole) == 70
    walked, cursor = [], ""
    while True:
        body = await (await client.get(f"/api/v1/incidents?status=open&limit=13{cursor}")).json()
        assert body["total"] == 70
        walked += [i["id"] for i in body["incidents"]]
        if body["next_cursor"] is None:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert walked == whole  # the boundary between due and undue rows included
    assert await listed(client, "status=open&limit=9&offset=12") == whole[12:21]
    more = re.search(r'id="more" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert ids_in(await (await client.get(more)).text())[:5] == whole[20:25]


async def test_filters_department_severity_source_dates_and_state(app, client, clock):
    a = await add_incident(app, "应急", severity=3, due=[2])
    b = await add_incident(app, "住建", department=HOUSING, severity=1, source="board")
    c = await add_incident(app, "旧事", department=HOUSING, severity=3, seen=-72)
    d = await add_incident(app, "已关闭住建", department=HOUSING, status="closed")
    assert await listed(client, f"status=open&department={HOUSING}") == [c, b]
    assert await listed(client, "status=open&severity=3") == [a, c] == await listed(client, "status=open&severity=重大")
    assert await listed(client, "source=board") == [b]
    today = clock.now().date().isoformat()
    assert await listed(client, f"status=open&from={today}") == [a, b]
    three_days_ago = (clock.now() - timedelta(days=3)).date().isoformat()
    assert await listed(client, f"status=open&to={three_days_ago}") == [c]
    assert await listed(client, f"status=all&department={HOUSING}") == [c, d, b]  # same level and time: newest
    html = await (await client.get(f"/?department={HOUSING}&severity=3")).text()
    assert ids_in(html) == [c] and re.search(r'id="card-total"><b>1</b><span>处理中事件（筛选后）', html)
    summary = await (await client.get(f"/api/v1/now/summary?department={HOUSING}")).json()
    assert summary["total"] == 2


async def test_search_in_chinese_over_segmented_words(app, client):
    await app.pipeline.ingest([
        RawItem("hotline", "1", "马街街道化工厂发生爆炸", "一化工厂车间爆炸，现场浓烟", occurred_at=app.clock.now()),
        RawItem("hotline", "2", "路灯不亮", "金碧街道金碧路路灯坏了一个月", occurred_at=app.clock.now()),
        RawItem("board", "3", "小区停水", "碧鸡街道某小区停水三天，无人通知", occurred_at=app.clock.now()),
    ], "hotline")
    while await search.index_pending(app):
        pass
    found = {q: await listed(client, f"q={q}") for q in ("化工厂爆炸", "化工", "路灯 金碧", "停水", "爆炸 停水", "Ｆ5")}
    assert found == {"化工厂爆炸": [1], "化工": [1], "路灯 金碧": [2], "停水": [3], "爆炸 停水": [], "Ｆ5": []}
    html = await (await client.get("/?q=浓烟")).text()
    assert ids_in(html) == [1] and 'value="浓烟"' in html and 'data-narrowed="1"' in html
    async with app.store.write() as tx:  # a changed text is searched anew: its old words are gone
        await tx.items.update(1, {"body": "消防到场，火已扑灭"})
    assert await listed(client, "q=浓烟") == []  # its old words left the index with the old text
    await search.index_pending(app)
    assert await listed(client, "q=扑灭") == [1] and await listed(client, "q=化工厂") == [1]
    r = await client.get("/api/v1/incidents?q=！？")
    assert r.status == 400 and "没有可检索的字词" in (await r.json())["error"]


async def test_a_search_with_more_hits_than_listed_reads_the_index_as_a_subquery(app, client, monkeypatch):
    from monitor.store import dashboard

    for n in range(3):
        await add_incident(app, f"金碧街道金碧路路灯坏了一个月（{n}）", severity=1 + n, due=[n + 1] if n else ())
    while await search.index_pending(app):
        pass
    listed_ids = await listed(client, "q=路灯")
    summary = await (await client.get("/api/v1/now/summary?q=路灯")).json()
    monkeypatch.setattr(dashboard, "HITS_LISTED", 1)  # three hits: too many to list, the subquery answers
    assert await listed(client, "q=路灯") == listed_ids and len(listed_ids) == 3
    assert (await (await client.get("/api/v1/now/summary?q=路灯")).json())["total"] == summary["total"] == 3
    assert ids_in(await (await client.get("/?q=路灯")).text()) == listed_ids


BAD = ["limit=0", "limit=1001", "limit=-1", "offset=-1", "offset=x", "cursor=abc", "cursor=WyJkIiwxXQ",
       "cursor=eyJ4IjoxfQ&offset=1", "severity=9", "severity=严重", "from=2026-13-01", "to=yesterday",
       "status=bogus", "q=" + "长" * 201]


async def test_bad_paging_and_filters_are_400_in_chinese(client):
    for query in BAD:
        for path in ("/", "/api/v1/incidents", "/api/v1/now/summary"):
            r = await client.get(f"{path}?{query}")
            message = (await r.json())["error"] if path.startswith("/api/") else await r.text()
            assert r.status == 400 and re.search("须为|无效|超过|不能|无法|含有", message), (path, query, message)


async def test_a_liaison_sees_its_own_department_and_nothing_else(app, client):
    mine = await add_incident(app, "应急的事", due=[1])
    theirs = await add_incident(app, "住建的事", department=HOUSING, due=[-1])
    await add_account(app, "li", "liaison", EMERGENCY)
    async with TestClient(TestServer(web_application(app))) as c:
        await sign_in(c, "li")
        html = await (await c.get("/")).text()
        assert ids_in(html) == [mine] and "住建的事" not in html and HOUSING not in html
        assert 'id="overdue-banner" class="banner" hidden' in html  # the other department's overdue deadline
        assert await listed(c) == [mine]
        for path in (f"/?department={HOUSING}", f"/api/v1/incidents?department={HOUSING}",
                     f"/api/v1/now/summary?department={HOUSING}"):
            assert (await c.get(path)).status == 403, path
        summary = await (await c.get("/api/v1/now/summary")).json()
        assert summary["total"] == 1 and summary["banner"] is None and summary["counts"]["open"] == 1
        r = await c.get("/api/v1/stream")
        await read_events(r, 1)  # hello
        await app.service.acknowledge(theirs, "zhang")
        await app.service.reassign(mine, HOUSING, "zhang")  # it leaves the liaison's department
        [event] = await read_events(r, 1)
        assert event["data"] == {"id": mine, "gone": True}  # nothing of the other department, not even its name
        r.close()
    assert theirs != mine


async def test_banner_counts_overdue_deadlines_nobody_acknowledged(app, client, clock):
    first = await add_incident(app, "最早超时", due=[-2])
    await add_incident(app, "后超时", due=[-1, 3])
    html = await (await client.get("/")).text()
    assert re.search(r'<b class="n">2</b> 个期限已超时且无人确认', html)
    assert f'<a class="first" href="/incidents/{first}">#{first} 最早超时 · 期限0' in html
    await app.service.acknowledge(first, "zhang")
    summary = await (await client.get("/api/v1/now/summary")).json()
    assert summary["banner"]["count"] == 1 and summary["counts"]["overdue"] == 2  # acknowledged, still overdue
    await app.service.acknowledge(first + 1, "zhang")
    assert (await (await client.get("/api/v1/now/summary")).json())["banner"] is None


async def test_who_is_on_duty_now_and_next(app, client, clock):
    now = clock.now()
    async with app.store.write() as tx:
        await tx.people.add_shift({"role": "duty_officer", "user": "duty", "starts_at": now - timedelta(hours=2),
                                   "ends_at": now + timedelta(hours=6)})
        await tx.people.add_shift({"role": "duty_officer", "user": "王<b>五</b>", "starts_at": now + timedelta(hours=6),
                                   "ends_at": now + timedelta(hours=30)})
        await tx.people.add_shift({"role": "office_leader", "user": "leader", "starts_at": now + timedelta(days=1),
                                   "ends_at": now + timedelta(days=2)})
    html = await (await client.get("/")).text()
    duty = html[html.index('<section class="duty">'):html.index('<section class="alerts">')]
    assert "<th>岗位</th><th>当前值班</th><th>下一班</th>" in duty
    assert re.search(r"<td>值班员</td>\s*<td>值班员 <small>至 2026-11-23 15:00</small></td>\s*"
                     r"<td>王&lt;b&gt;五&lt;/b&gt; <small>2026-11-23 15:00 起</small>", duty), duty
    assert re.search(r"<td>办公室负责人</td>\s*<td><span class=\"nobody\">无人值班</span></td>", duty)


async def read_events(response, n: int, timeout: float = 2.0) -> list[dict]:
    """The next `n` events (or comments) of a text/event-stream response, parsed."""
    out, event = [], {}
    async with asyncio.timeout(timeout):
        while len(out) < n:
            line = (await response.content.readline()).decode("utf-8")
            if not line:
                raise EOFError("stream ended")
            line = line.rstrip("\n")
            if line.startswith(":"):
                out.append({"comment": line[1:].strip()})
            elif line.startswith("retry: "):
                assert line == "retry: 3000"  # the browser's reconnection delay, before any event
            elif line:
                key, _, value = line.partition(": ")
                event[key] = json.loads(value) if key == "data" else value
            elif event:
                out.append(event)
                event = {}
    return out


async def test_the_stream_sends_changes_and_resumes_after_last_event_id(app, client, clock):
    known = await add_incident(app, "已有事件", due=[3])
    r = await client.get("/api/v1/stream")
    assert r.headers["Content-Type"].startswith("text/event-stream") and r.headers["Cache-Control"] == "no-store"
    [hello] = await read_events(r, 1)  # the id the page is current to
    assert hello["event"] == "hello"
    await app.pipeline.ingest([RawItem("hotline", "n1", "马街街道化工厂爆炸", "造成12人死亡",
                                       occurred_at=clock.now())], "hotline")
    [new] = await read_events(r, 1)
    row = new["data"]["row"]
    assert new["event"] == "incident" and int(new["id"]) > int(hello["id"])
    assert row["title"] == "马街街道化工厂爆炸" and row["severity"] == "重大" and row["department"] == EMERGENCY
    assert [d["title"] for d in row["deadlines"]] == ["5小时内发布权威信息", "24小时内举行新闻发布会"]
    r.close()
    await app.service.acknowledge(known, "zhang")  # while nobody listens
    await app.service.add_evidence(row["id"], "zhang", url="https://xs.gov.cn/1", rule="authoritative_release")
    r = await client.get("/api/v1/stream", headers={"Last-Event-ID": new["id"]})
    missed = await read_events(r, 2)
    assert [e["data"]["row"]["id"] for e in missed] == [known, row["id"]]
    assert missed[0]["data"]["row"]["deadlines"][0]["acked_by"] == "zhang"
    assert [d["title"] for d in missed[1]["data"]["row"]["deadlines"]] == ["24小时内举行新闻发布会"]  # satisfied
    clock.advance(timedelta(hours=3, minutes=1))  # the known incident's deadline falls due
    [overdue] = await read_events(r, 1)
    assert overdue["data"]["reason"] == "overdue" and overdue["data"]["row"]["id"] == known and "id" not in overdue
    r.close()
    r = await client.get("/api/v1/stream", headers={"Last-Event-ID": "0"})  # every change is still kept: replayed
    assert [e["data"]["row"]["id"] for e in await read_events(r, 2)] == [known, row["id"]]
    r.close()


async def test_the_page_names_where_its_stream_starts_and_late_commits_are_not_lost(app, client):
    """The page's data is current to a change id (data-mark); its stream replays what came after. A change whose id
    was taken before another's but committed after it (two writers on PostgreSQL) still reaches the client."""
    first = await add_incident(app, "页面之前")
    mark = int(re.search(r'data-mark="(\d+)"', await (await client.get("/")).text()).group(1))
    second = await add_incident(app, "页面之后")
    r = await client.get(f"/api/v1/stream?after={mark}")
    [missed] = await read_events(r, 1)
    assert missed["data"]["row"]["id"] == second and first < second
    async with app.store.write() as tx:  # ids 100 and 90 commit in that order, 91–99 never
        await tx.conn.execute(incident_changes.insert(), [{"id": 100, "incident_id": first}])
    [late] = await read_events(r, 1)
    assert late["data"]["row"]["id"] == first and int(late["id"]) < 90  # the gap is not skipped…
    async with app.store.write() as tx:
        await tx.conn.execute(incident_changes.insert(), [{"id": 90, "incident_id": second}])
    [later] = await read_events(r, 1)
    assert later["data"]["row"]["id"] == second  # …so the late commit is still read
    r.close()


async def test_a_resume_from_a_pruned_change_asks_the_page_to_reload(app, client):
    for n in range(3):
        await add_incident(app, f"事件{n}")
    async with app.store.write() as tx:
        assert await tx.dashboard.prune_changes(1) > 0
    r = await client.get("/api/v1/stream", headers={"Last-Event-ID": "1"})
    [reset] = await read_events(r, 1)
    assert reset["event"] == "reset"
    assert (await r.content.read()) == b""  # and the server ends that stream


async def test_the_stream_beats_while_idle_and_ends_when_the_server_stops(app, monkeypatch):
    monkeypatch.setattr(stream, "HEARTBEAT", 0.1)
    await add_account(app, "zhang", "duty_officer")
    server = TestServer(web_application(app))
    async with TestClient(server) as c:
        await sign_in(c, "zhang")
        r = await c.get("/api/v1/stream")
        events = await read_events(r, 3)
        assert events[1:] == [{"comment": "keep-alive"}, {"comment": "keep-alive"}]
        loop = asyncio.get_running_loop()
        started = loop.time()
        await server.close()
        rest = await asyncio.wait_for(r.content.read(), 3)  # the stream ends…
        assert rest.replace(b": keep-alive", b"").strip() == b""
        assert loop.time() - started < 2  # …at once: not after aiohttp's 60 s wait for open connections


async def test_anonymous_stream_and_summary_are_refused(app):
    async with TestClient(TestServer(web_application(app))) as c:
        for path in ("/api/v1/stream", "/api/v1/now/summary"):
            r = await c.get(path)
            assert r.status == 401 and "未登录" in (await r.json())["error"]
        r = await c.get("/", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"].startswith("/login")
