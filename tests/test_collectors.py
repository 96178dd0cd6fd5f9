"""Collectors against real local HTTP servers (aiohttp test servers): boards, feeds with ETag/304, failing
hosts, the signed webhook; restart in the middle of a crawl; health."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.config.settings import Settings
from monitor.sources.runner import SourceRunner
from monitor.sources.registry import make_collector
from monitor.web.ingest import sign


# --------------------------------------------------------------------------- a message board
class Board:
    """A 领导信箱: list pages of 2 messages, newest first, detail pages; counts requests."""

    def __init__(self, n: int) -> None:
        self.messages = {i: {"title": f"第{i}号留言：小区{i}栋电梯故障", "body": f"{i}栋电梯困人{i}次，物业不管。"}
                         for i in range(1, n + 1)}
        self.hits: list[str] = []
        self.fail_page: int | None = None

    async def list_page(self, request):
        page = int(request.query.get("page", "1"))
        self.hits.append(f"list{page}")
        if page == self.fail_page:
            return web.Response(status=500)
        ids = sorted(self.messages, reverse=True)[(page - 1) * 2 : page * 2]
        items = "".join(f'<li class="m"><a href="/detail?id={i}">{self.messages[i]["title"]}</a></li>' for i in ids)
        nxt = f'<a class="next" href="/list?page={page + 1}">下一页</a>' if page * 2 < len(self.messages) else ""
        return web.Response(text=f"<html><ul>{items}</ul>{nxt}</html>", content_type="text/html")

    async def detail(self, request):
        i = int(request.query["id"])
        self.hits.append(f"detail{i}")
        m = self.messages[i]
        reply = (f'<div class="reply">{m["reply"]}</div><span class="rt">答复时间：2026-11-22 10:00</span>'
                 if m.get("reply") else "")
        html = (f'<h1>{m["title"]}</h1><div class="body">{m["body"]}<script>alert(1)</script></div>'
                f'<span class="time">留言时间：2026-11-{10 + i % 10} 09:30</span>{reply}')
        return web.Response(body=html.encode("gb18030"), content_type="text/html", charset="gbk")

    def app(self) -> web.Application:
        a = web.Application()
        a.router.add_get("/list", self.list_page)
        a.router.add_get("/detail", self.detail)
        return a


def board_settings(url: str, **kw) -> Settings:
    return Settings.model_validate({"sources": [{
        "name": "xinxiang", "kind": "board", "url": url, "delay": "0s", "retries": 1, "timeout": "5s",
        "max_pages": 10, "selectors": {"item": "li.m", "next": "a.next", "title": "h1", "body": "div.body",
                                        "time": "span.time", "reply": "div.reply", "reply_time": "span.rt"},
        "id_pattern": r"id=(\d+)", **kw}]})


async def runner_for(app, settings, name):
    app.settings = settings
    cfg = settings.source(name)
    return SourceRunner(app, cfg, make_collector(cfg, settings))


async def items_of(app, source):
    async with app.store.read() as tx:
        counts = await tx.items.counts_by_source()
    return counts.get(source, 0)


async def test_board_crawls_pages_until_seen_and_records_replies(app, clock):
    board = Board(5)
    async with TestServer(board.app()) as server:
        runner = await runner_for(app, board_settings(str(server.make_url("/list?page=1"))), "xinxiang")
        ctx = await runner.poll()
        assert ctx.error is None and await items_of(app, "xinxiang") == 5
        assert [h for h in board.hits if h.startswith("list")] == ["list1", "list2", "list3"]
        async with app.store.read() as tx:
            item = (await tx.items.by_external_ids("xinxiang", ["3"]))["3"]
        assert "alert" not in item["body"] and item["body"].startswith("3栋电梯困人")  # script text dropped
        assert item["occurred_at"] is not None

        # Two new messages and a reply to an old one: only page 1 is read, the reply is picked up.
        board.messages[6] = {"title": "第6号留言：路灯不亮", "body": "金碧街道路灯坏了一个月"}
        board.messages[7] = {"title": "第7号留言：噪音", "body": "工地夜间施工"}
        board.messages[1]["reply"] = "已转物业公司处理，电梯已修复。"
        board.hits.clear()
        clock.advance(timedelta(minutes=10))
        assert await runner.poll_if_due() is True
        assert await items_of(app, "xinxiang") == 7
        assert [h for h in board.hits if h.startswith("list")] == ["list1", "list2"]  # page 2 holds seen ids
        async with app.store.read() as tx:
            old = (await tx.items.by_external_ids("xinxiang", ["1"]))["1"]
            history = await tx.items.history(old["id"])
            audit = await tx.audit.list(entity="incident", entity_id=old["incident_id"])
        assert old["reply"] == "已转物业公司处理，电梯已修复。" and old["replied_at"] is not None
        assert "reply" in history[-1]["changes"]
        assert any(a["action"] == "item.replied" for a in audit)
        await runner.close()


async def test_board_crawl_resumes_after_a_failure_mid_crawl(app, clock):
    board = Board(6)
    board.fail_page = 2
    async with TestServer(board.app()) as server:
        settings = board_settings(str(server.make_url("/list?page=1")), recheck=0)
        runner = await runner_for(app, settings, "xinxiang")
        ctx = await runner.poll()
        assert ctx.error and "HTTP 500" in ctx.error
        assert await items_of(app, "xinxiang") == 2  # page 1 was committed with its cursor
        async with app.store.read() as tx:
            row = await tx.sources.get("xinxiang")
        assert row["failures"] == 1 and row["cursor"]["crawl"]["page"] == 2
        # a new process (restart): a fresh runner reads the cursor from the store and resumes at page 2
        board.fail_page = None
        board.hits.clear()
        clock.advance(timedelta(minutes=1))
        runner2 = await runner_for(app, settings, "xinxiang")
        assert await runner2.poll_if_due() is True
        assert await items_of(app, "xinxiang") == 6
        assert [h for h in board.hits if h.startswith("list")] == ["list2", "list3"]
        assert sorted(board.hits) == sorted(["list2", "detail4", "detail3", "list3", "detail2", "detail1"])
        await runner.close()
        await runner2.close()


async def test_board_obeys_robots_txt_and_its_crawl_delay(app, clock):
    """A disallowed detail page is never requested; a disallowed list page fails the poll with a clear reason;
    Crawl-delay spaces requests; robots.txt answering 5xx stops the crawl (RFC 9309), 404 means no rules."""
    import time

    from monitor.sources.http import Fetcher

    board = Board(4)
    robots = {"status": 200, "text": "User-agent: *\nDisallow: /detail?id=3\n\nUser-agent: other-bot\nDisallow: /\n"}
    robots_hits: list[str] = []
    times: list[float] = []

    async def robots_txt(request):
        robots_hits.append(request.headers.get("User-Agent", ""))
        return web.Response(status=robots["status"], text=robots["text"])

    @web.middleware
    async def note_time(request, handler):
        times.append(time.monotonic())
        return await handler(request)

    a = board.app()
    a.router.add_get("/robots.txt", robots_txt)
    a.middlewares.append(note_time)
    async with TestServer(a) as server:
        settings = board_settings(str(server.make_url("/list?page=1")), recheck=0)
        runner = await runner_for(app, settings, "xinxiang")
        ctx = await runner.poll()
        assert ctx.error is None
        assert "detail3" not in board.hits and {"detail1", "detail2", "detail4"} <= set(board.hits)
        assert await items_of(app, "xinxiang") == 3
        assert len(robots_hits) == 1 and robots_hits[0].startswith("yuqing-sentinel/")  # asked once, cached
        await runner.close()

        # the whole board disallowed for our agent: the poll fails and says why
        robots["text"] = "User-agent: yuqing-sentinel\nDisallow: /list\n"
        runner = await runner_for(app, settings, "xinxiang")
        board.hits.clear()
        ctx = await runner.poll()
        assert "robots.txt" in ctx.error and board.hits == []
        await runner.close()

        # robots.txt unreachable (5xx): assume everything is disallowed, and ask again next time
        robots["status"], robots["text"] = 503, ""
        runner = await runner_for(app, settings, "xinxiang")
        ctx = await runner.poll()
        assert "robots.txt" in ctx.error and board.hits == []
        await runner.close()

        # no robots.txt (404): no rules
        robots["status"] = 404
        runner = await runner_for(app, settings, "xinxiang")
        ctx = await runner.poll()
        assert ctx.error is None and "list1" in board.hits
        await runner.close()

        # Crawl-delay: requests to the host are spaced by it even when the source's own delay is 0
        robots["status"], robots["text"] = 200, "User-agent: *\nCrawl-delay: 1\n"
        fetcher = Fetcher(delay=0, retries=0, robots=True)
        times.clear()
        for _ in range(3):
            await fetcher.get(str(server.make_url("/list?page=1")))
        await fetcher.close()
        gaps = [b - a for a, b in zip(times[1:], times[2:])]  # times[0] is robots.txt itself
        assert len(gaps) == 2 and min(gaps) >= 0.95


# --------------------------------------------------------------------------- feeds
RSS = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>新闻</title>
<item><guid>n1</guid><title>西山区马街街道一小区停水三天</title><description>&lt;p&gt;居民反映停水&lt;/p&gt;</description>
<pubDate>Fri, 20 Nov 2026 10:00:00 +0800</pubDate></item>
<item><guid>n2</guid><title>外省某市举办马拉松</title><description>与本辖区无关</description></item>
<item><guid>n3</guid><title>西山区广告：楼盘促销</title><description>西山区楼盘</description></item>
</channel></rss>"""


async def test_feed_conditional_get_and_keyword_filters(app, clock):
    hits = []

    async def feed(request):
        hits.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(text=RSS, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    a = web.Application()
    a.router.add_get("/rss", feed)
    async with TestServer(a) as server:
        settings = Settings.model_validate({"sources": [{
            "name": "news", "kind": "feed", "url": str(server.make_url("/rss")), "delay": "0s", "retries": 0,
            "include": ["西山区"], "exclude": ["广告"]}]})
        runner = await runner_for(app, settings, "news")
        ctx = await runner.poll()
        assert ctx.error is None and ctx.stats.read == 1 and await items_of(app, "news") == 1
        clock.advance(timedelta(minutes=6))
        await runner.poll_if_due()
        assert hits == [None, '"v1"']  # the second poll was conditional and got 304
        async with app.store.read() as tx:
            row = await tx.sources.get("news")
            [item] = (await tx.items.by_external_ids("news", ["n1"])).values()
        assert row["etag"] == '"v1"' and row["cursor"]["last_status"] == 304
        assert item["body"] == "居民反映停水" and item["occurred_at"].hour == 2  # 10:00 +08:00 in UTC
        await runner.close()


def test_json_feed_is_decoded():
    from monitor.sources.feed import decode

    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
        {"id": "j1", "title": "通报", "content_text": "内容", "date_published": "2026-11-20T10:00:00+08:00"}]})
    [entry] = decode(body.encode(), "application/feed+json")
    assert entry["id"] == "j1" and entry["published"].isoformat() == "2026-11-20T02:00:00+00:00"


def test_keyword_filter_matches_whole_words():
    from monitor.sources.feed import keep, term_tokens

    include = term_tokens(["西山区"])
    assert keep("西山区发布通知", "", include, [])
    assert not keep("东山区发布通知", "", include, [])


async def test_failing_source_becomes_unhealthy_and_others_carry_on(app, clock):
    from monitor.sources.health import health_report

    async def broken(request):
        return web.Response(status=503)

    async def slow(request):
        import asyncio

        await asyncio.sleep(3)
        return web.Response(text=RSS)

    async def ok(request):
        return web.Response(text=RSS, content_type="application/rss+xml")

    a = web.Application()
    a.router.add_get("/broken", broken)
    a.router.add_get("/slow", slow)
    a.router.add_get("/ok", ok)
    async with TestServer(a) as server:
        settings = Settings.model_validate({"sources": [
            {"name": "bad", "kind": "feed", "url": str(server.make_url("/broken")), "delay": "0s", "retries": 1},
            {"name": "slow", "kind": "feed", "url": str(server.make_url("/slow")), "delay": "0s", "retries": 0,
             "timeout": "1s"},
            {"name": "good", "kind": "feed", "url": str(server.make_url("/ok")), "delay": "0s"}]})
        runners = [await runner_for(app, settings, n) for n in ("bad", "slow", "good")]
        for _ in range(3):
            for r in runners:
                await r.poll()
        report = {r["name"]: r for r in await health_report(settings, app.store, clock.now())}
        assert not report["bad"]["healthy"] and report["bad"]["failures"] == 3 and "503" in report["bad"]["last_error"]
        assert not report["slow"]["healthy"] and "Timeout" in report["slow"]["last_error"]
        assert report["good"]["healthy"] and await items_of(app, "good") == 3
        async with app.store.read() as tx:
            bad = await tx.sources.get("bad")
        assert bad["next_poll_at"] > clock.now()  # the retry is a row, not a sleeping task
        for r in runners:
            await r.close()


# --------------------------------------------------------------------------- webhook
@pytest.fixture
def push_secret(monkeypatch):
    monkeypatch.setenv("YUQING_WEBHOOK_SECRET", "s3cret-for-tests")
    return "s3cret-for-tests"


async def test_webhook_signature_validation_and_idempotency(app, push_secret, aiohttp_client=None):
    from aiohttp.test_utils import TestClient

    from monitor.web.server import web_application

    client = TestClient(TestServer(web_application(app)))
    await client.start_server()
    try:
        body = json.dumps({"id": "p-1", "title": "化工厂冒黑烟", "body": "马街街道化工厂冒黑烟，气味刺鼻",
                           "time": "2026-11-23T08:00:00+08:00"}, ensure_ascii=False).encode()
        r = await client.post("/api/v1/ingest", data=body)
        assert r.status == 401 and "X-Yuqing-Signature" in (await r.json())["error"]
        r = await client.post("/api/v1/ingest", data=body, headers={"X-Yuqing-Signature": sign("wrong", body)})
        assert r.status == 401
        ok = {"X-Yuqing-Signature": sign(push_secret, body)}
        r1 = await client.post("/api/v1/ingest", data=body, headers=ok)
        first = await r1.json()
        assert r1.status == 202 and first["item_id"] and first["incident_id"]
        r2 = await client.post("/api/v1/ingest", data=body, headers=ok)
        second = await r2.json()
        assert r2.status == 202 and (second["item_id"], second["incident_id"]) == (first["item_id"], first["incident_id"])
        assert await items_of(app, "push") == 1
        bad = json.dumps({"id": "p-2", "title": "x", "body": "y", "time": "昨天"}).encode()
        r = await client.post("/api/v1/ingest", data=bad, headers={"X-Yuqing-Signature": sign(push_secret, bad)})
        assert r.status == 400 and (await r.json())["error"].startswith("time:")
        big = b'{"id": "3", "body": "' + b"x" * 300_000 + b'"}'
        r = await client.post("/api/v1/ingest", data=big, headers={"X-Yuqing-Signature": sign(push_secret, big)})
        assert r.status == 413
    finally:
        await client.close()


async def test_webhook_same_id_pushed_to_two_instances_at_once_is_stored_once(app, push_secret, settings, db_url, clock):
    """Two `serve` processes on one database (two stores, two web apps): the same id pushed to both at the
    same moment is one item, and both answers name it (ingests are serialised in the database)."""
    import asyncio

    from aiohttp.test_utils import TestClient

    from monitor.app import build
    from monitor.web.server import web_application

    other = await build(settings, db_url, clock)
    clients = [TestClient(TestServer(web_application(a))) for a in (app, other)]
    for c in clients:
        await c.start_server()
    try:
        for n in range(5):
            body = json.dumps({"id": f"race-{n}", "title": "小区停水", "body": f"马街街道某小区停水第{n}天，无人通知",
                               "time": "2026-11-23T08:00:00+08:00"}, ensure_ascii=False).encode()
            headers = {"X-Yuqing-Signature": sign(push_secret, body)}
            answers = await asyncio.gather(*(c.post("/api/v1/ingest", data=body, headers=headers) for c in clients))
            assert [r.status for r in answers] == [202, 202]
            ids = [await r.json() for r in answers]
            assert ids[0]["item_id"] == ids[1]["item_id"] and ids[0]["incident_id"] == ids[1]["incident_id"]
            assert sorted(i["duplicate"] for i in ids) == [False, True]
        assert await items_of(app, "push") == 5
    finally:
        for c in clients:
            await c.close()
        await other.close()


# --------------------------------------------------------------------------- split
async def test_split_moves_items_to_a_new_incident(app, clock, monkeypatch):
    from aiohttp.test_utils import TestClient

    from monitor.core.model import RawItem
    from monitor.regroup import SplitError, split_incident
    from monitor.web.server import web_application

    text = "尊敬的领导：A区某小区电梯经常故障，困人多次，物业公司一直不修，居民出行困难，请尽快处理。"
    await app.pipeline.ingest([RawItem("hotline", str(i), "电梯故障", text, occurred_at=clock.now(),
                                       reporter=f"u{i}") for i in range(3)], "hotline")
    async with app.store.read() as tx:
        [incident] = await tx.incidents.list()
        members = await tx.items.for_incident(incident.id)
    with pytest.raises(SplitError):
        await split_incident(app.pipeline, incident.id, [m["id"] for m in members], "tester")
    new_id = await split_incident(app.pipeline, incident.id, [members[2]["id"]], "tester")
    async with app.store.read() as tx:
        old, new = await tx.incidents.get(incident.id), await tx.incidents.get(new_id)
        moved = await tx.items.for_incident(new_id)
    assert (old.item_count, new.item_count) == (2, 1) and "人工拆分" in moved[0]["group_reason"]

    monkeypatch.setenv("YUQING_API_TOKEN", "tok-123")
    client = TestClient(TestServer(web_application(app)))
    await client.start_server()
    try:
        url = f"/api/v1/incidents/{incident.id}/split"
        r = await client.post(url, json={"item_ids": [members[1]["id"]]})
        assert r.status == 401
        r = await client.post(url, json={"item_ids": [members[1]["id"]]}, headers={"Authorization": "Bearer tok-123"})
        assert r.status == 201 and (await r.json())["new_incident_id"] > new_id
        r = await client.post(url, json={"item_ids": "x"}, headers={"Authorization": "Bearer tok-123"})
        assert r.status == 400 and "item_ids" in (await r.json())["error"]
    finally:
        await client.close()
