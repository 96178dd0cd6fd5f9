"""`yuqing serve --role all|web|collector|worker`: any number of each on one database share the work with
no duplicates. Source polls are claimed with leases (one poller at a time; a crashed holder's lease runs out),
the outbox and the digest are keyed; each role runs only its own loops (docs/roles.md)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.config.settings import Settings
from monitor.core.clock import ManualClock
from monitor.sources.registry import make_collector
from monitor.sources.runner import SourceRunner
from monitor.store import Store
from responders.outbox import Deliverer
from tests.harness import free_port, start_receiver

LEASE = timedelta(seconds=60)


# --------------------------------------------------------------------------- a board that counts its readers
class Board:
    """A 领导信箱 (list page + detail pages) that records each request and how many polls overlap. `hang`:
    the next list request waits until released (a poll that stalls)."""

    def __init__(self) -> None:
        self.messages: dict[int, str] = {}
        self.hits: list[str] = []
        self.in_list = 0
        self.max_in_list = 0
        self.hang: asyncio.Event | None = None

    def add(self, n: int = 1) -> None:
        for _ in range(n):
            i = len(self.messages) + 1
            self.messages[i] = f"第{i}号留言：小区{i}栋电梯故障"

    async def list_page(self, request):
        self.hits.append("list")
        self.in_list += 1
        self.max_in_list = max(self.max_in_list, self.in_list)
        try:
            if self.hang is not None:
                hang, self.hang = self.hang, None
                await hang.wait()
            await asyncio.sleep(0.05)  # long enough for a second poller to overlap, were it let in
            items = "".join(f'<li class="m"><a href="/detail?id={i}">{t}</a></li>'
                            for i, t in sorted(self.messages.items(), reverse=True))
            return web.Response(text=f"<html><ul>{items}</ul></html>", content_type="text/html")
        finally:
            self.in_list -= 1

    async def detail(self, request):
        i = int(request.query["id"])
        self.hits.append(f"detail{i}")
        return web.Response(text=f'<h1>{self.messages[i]}</h1><div class="body">{i}栋电梯困人，物业不管。</div>'
                                 '<span class="time">留言时间：2026-11-20 09:30</span>', content_type="text/html")

    def app(self) -> web.Application:
        a = web.Application()
        a.router.add_get("/list", self.list_page)
        a.router.add_get("/detail", self.detail)
        return a

    def details(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for h in self.hits:
            if h.startswith("detail"):
                out[h] = out.get(h, 0) + 1
        return out


def board_settings(url: str) -> Settings:
    return Settings.model_validate({"sources": [{
        "name": "xinxiang", "kind": "board", "url": url, "delay": "0s", "retries": 0, "timeout": "5s",
        "max_pages": 1, "recheck": 0, "robots": False, "interval": "5m",
        "selectors": {"item": "li.m", "title": "h1", "body": "div.body", "time": "span.time"},
        "id_pattern": r"id=(\d+)"}]})


@pytest.fixture
async def board():
    b = Board()
    async with TestServer(b.app()) as server:
        b.url = str(server.make_url("/list"))
        yield b


@pytest.fixture
async def second_app(app, db_url):
    """A second collector process on the same database, with a clock of its own."""
    from monitor.app import build

    other = await build(app.settings, db_url, ManualClock(app.clock.now()), migrate=False)
    yield other
    await other.close()


def runner(app, settings, owner: str, lease: timedelta = LEASE) -> SourceRunner:
    app.settings = settings
    cfg = settings.source("xinxiang")
    return SourceRunner(app, cfg, make_collector(cfg, settings), owner=owner, lease=lease)


async def stored(app) -> int:
    async with app.store.read() as tx:
        return (await tx.items.counts_by_source()).get("xinxiang", 0)


async def source_row(app) -> dict:
    async with app.store.read() as tx:
        return await tx.sources.get("xinxiang")


# --------------------------------------------------------------------------- leases in the store
async def test_a_source_lease_has_one_holder_until_it_runs_out(store, clock):
    now = clock.now()

    async def claim(owner, at=now, due_only=True):
        async with store.write() as tx:
            return await tx.sources.claim("s", "feed", owner, at, at + LEASE, due_only)

    # eight processes race for a new source: the row is created once and exactly one holds it
    assert sorted(await asyncio.gather(*(claim(f"p{i}") for i in range(8)))) == [False] * 7 + [True]
    async with store.read() as tx:
        holder = (await tx.sources.get("s"))["lease_owner"]
    assert await claim(holder) and not await claim("other")  # the holder may claim again, nobody else
    async with store.write() as tx:
        assert not await tx.sources.renew("s", "other", now + LEASE)
        assert await tx.sources.renew("s", holder, now + 2 * LEASE)  # a long poll keeps its lease
    assert not await claim("other", now + LEASE * 1.5)
    assert await claim("other", now + LEASE * 2 + timedelta(seconds=1))  # it ran out: taken over
    async with store.write() as tx:
        assert not await tx.sources.finish("s", holder, now, last_ok_at=now)  # the old holder records nothing
        assert await tx.sources.finish("s", "other", now, next_poll_at=now + timedelta(minutes=5))
        row = await tx.sources.get("s")
    assert row["last_ok_at"] is None and row["lease_owner"] is None and row["lease_until"] is None
    assert not await claim("third")  # not due: nobody polls it before its time
    assert await claim("third", due_only=False)  # `yuqing sources poll` may, when nobody else is polling


# --------------------------------------------------------------------------- two collectors, one board
async def test_two_collectors_poll_a_board_one_at_a_time_and_store_each_message_once(app, second_app, board):
    settings = board_settings(board.url)
    a, b = runner(app, settings, "collector-a"), runner(second_app, settings, "collector-b")
    try:
        for rnd in range(4):
            board.add(3)
            polled = await asyncio.gather(a.poll_if_due(), b.poll_if_due())
            assert sorted(polled) == [False, True], rnd
            for c in (app.clock, second_app.clock):
                c.advance(timedelta(minutes=5))
    finally:
        await a.close()
        await b.close()
    assert board.hits.count("list") == 4 and board.max_in_list == 1
    assert board.details() == {f"detail{i}": 1 for i in range(1, 13)}  # each message fetched once
    assert await stored(app) == 12
    row = await source_row(app)
    assert row["lease_owner"] is None and row["failures"] == 0


async def test_a_crashed_collectors_lease_runs_out_and_another_takes_over(app, board):
    settings = board_settings(board.url)
    board.add(2)
    now = app.clock.now()
    async with app.store.write() as tx:  # what a collector on another host leaves when it is killed mid-poll
        assert await tx.sources.claim("xinxiang", "board", "host-b:4242", now, now + LEASE)
    r = runner(app, settings, "collector-a")
    try:
        assert not await r.poll_if_due() and board.hits == []
        ctx = await r.poll()  # `yuqing sources poll` does not barge in either
        assert "another process" in ctx.error and board.hits == []
        assert 0 < await r.due_in() <= LEASE.total_seconds()  # it sleeps until the lease ends, not in a spin
        app.clock.advance(LEASE + timedelta(seconds=1))
        assert await r.poll_if_due()
        assert await stored(app) == 2

        # killed on this host: a process that has ended needs no waiting for
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        now = app.clock.advance(timedelta(minutes=10))
        async with app.store.write() as tx:
            assert await tx.sources.claim("xinxiang", "board", f"{socket.gethostname()}:{dead.pid}", now,
                                          now + LEASE)
        board.add(1)
        assert await r.poll_if_due()
        assert await stored(app) == 3
    finally:
        await r.close()


async def test_a_stalled_collector_loses_its_lease_and_stops(app, second_app, board):
    """A poll that hangs keeps its lease by renewing it; once another process has taken the source over (the
    holder stalled past its lease), the next renewal fails and the stalled poll stops without recording."""
    settings = board_settings(board.url)
    board.add(2)
    a = runner(app, settings, "collector-a", lease=timedelta(seconds=0.3))  # renews every 0.1 s
    b = runner(second_app, settings, "collector-b", lease=timedelta(seconds=0.3))
    board.hang = asyncio.Event()
    release = board.hang
    try:
        first = asyncio.create_task(a.poll())
        while "list" not in board.hits:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.25)  # a few renewals: b, on the same time, still finds it held
        assert not await b.poll_if_due()
        second_app.clock.advance(timedelta(minutes=1))  # b's time: a's last renewal has long run out
        assert await b.poll_if_due()
        ctx = await asyncio.wait_for(first, 2)
        assert ctx.error and "took the source over" in ctx.error
    finally:
        release.set()
        await a.close()
        await b.close()
    row = await source_row(app)
    assert row["next_poll_at"] == second_app.clock.now() + timedelta(minutes=5)  # b's record stands
    assert row["lease_owner"] is None and await stored(app) == 2
    assert board.details() == {"detail1": 1, "detail2": 1}


# --------------------------------------------------------------------------- workers share the outbox
async def test_two_deliverers_send_each_outbox_row_once(store, clock, db_url):
    receiver, server, url = await start_receiver()
    other = await Store(db_url).open(migrate_schema=False)
    now = clock.now()
    rows = [{"key": f"{i}:authoritative_release:0:hook", "channel": "hook", "next_attempt_at": now, "created_at": now,
             "payload": {"incident_id": i, "rule": "authoritative_release", "step": "0", "text": f"提醒 {i}"}}
            for i in range(60)]
    async with store.write() as tx:
        await tx.outbox.enqueue(rows)
    settings = Settings.model_validate({"channels": [{"name": "hook", "kind": "webhook", "url": url}]})
    try:
        async with aiohttp.ClientSession() as session:
            ds = [Deliverer(s, clock, settings, session, owner=f"worker-{n}", batch=4)
                  for n, s in enumerate((store, other))]
            sent = await asyncio.gather(*(d.deliver_due(max_batches=100) for d in ds))
    finally:
        await other.close()
        await server.cleanup()
    assert sum(sent) == 60
    assert sorted(receiver.keys) == sorted(r["key"] for r in rows)  # each once


async def test_two_workers_queue_and_send_the_daily_digest_once(tmp_path, db_url):
    from monitor.reports.job import DigestJob
    from tests.test_digest_mail import Server, bj, make_app, write_config

    with Server() as smtp:
        clock = ManualClock(bj(6, 0))
        first = await make_app(write_config(tmp_path, smtp.port), db_url, clock)
        second = await make_app(write_config(tmp_path, smtp.port), db_url, clock, truncate=False)
        try:
            clock.set(bj(7, 8))
            jobs = [first.digest, DigestJob(second.store, clock, second.settings)]
            await asyncio.gather(*(j.tick() for j in jobs))
            async with aiohttp.ClientSession() as session:
                sent = await asyncio.gather(*(Deliverer(a.store, clock, a.settings, session, owner=f"w{n}")
                                              .deliver_due() for n, a in enumerate((first, second))))
            async with first.store.read() as tx:
                queued = await tx.reports.outbox_with_prefix("digest:")
        finally:
            await second.close()
            await first.close()
        assert sum(sent) == 2 and len(queued) == 2  # two recipients, one mail each
        assert sorted(a for m in smtp.inbox.mails for a in m["to"]) == ["leader@xs.gov.cn", "zhang@xs.gov.cn"]


# --------------------------------------------------------------------------- what each role runs
JSON_FEED = {"version": "https://jsonfeed.org/version/1.1", "items": [
    {"id": "f1", "title": "西山区马街街道停水", "content_text": "居民反映停水三天", "date_published": "2026-11-23T08:00:00+08:00"}]}


@pytest.mark.parametrize("role", ["web", "collector", "worker", "all"])
async def test_each_role_runs_only_its_own_work(app, role):
    """web: pages, no loops; collector: polls the feed; worker: delivers the outbox; all: everything.
    Collector and worker answer /healthz on --listen and no page."""
    from monitor.web.server import serve

    hits = []

    async def feed(request):
        hits.append(1)
        return web.json_response(JSON_FEED, content_type="application/feed+json")

    feed_app = web.Application()
    feed_app.router.add_get("/feed", feed)
    receiver, hook, hook_url = await start_receiver()
    async with TestServer(feed_app) as feed_server:
        app.settings = Settings.model_validate({
            "sources": [{"name": "news", "kind": "feed", "url": str(feed_server.make_url("/feed")), "delay": "0s",
                         "retries": 0}],
            "channels": [{"name": "hook", "kind": "webhook", "url": hook_url}]})
        now = app.clock.now()
        async with app.store.write() as tx:
            await tx.outbox.enqueue([{"key": "9:authoritative_release:0:hook", "channel": "hook", "next_attempt_at": now,
                                      "created_at": now, "payload": {"incident_id": 9, "text": "提醒"}}])
        port = free_port()
        ready, stop = asyncio.get_running_loop().create_future(), asyncio.Event()
        task = asyncio.create_task(serve(app, f"127.0.0.1:{port}", ready=ready.set_result, stop=stop, role=role))
        try:
            assert await asyncio.wait_for(ready, 10) == f"http://127.0.0.1:{port}"
            polls, delivers = role in ("collector", "all"), role in ("worker", "all")
            end = time.monotonic() + 5
            while time.monotonic() < end and (polls and not hits or delivers and not receiver.keys):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.4)  # what must not happen would have happened by now
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                    assert r.status == 200 and await r.json() == {"status": "ok"}
                async with session.get(f"http://127.0.0.1:{port}/", allow_redirects=False) as r:
                    page = r.status
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
            await hook.cleanup()
    assert (page != 404) == (role in ("web", "all"))  # the dashboard (or its sign-in) only where HTTP is served
    assert bool(hits) == polls
    assert receiver.keys == (["9:authoritative_release:0:hook"] if delivers else [])
    async with app.store.read() as tx:
        assert ((await tx.items.counts_by_source()).get("news", 0) == 1) == polls


def test_a_bad_role_is_a_usage_error(capsys):
    from monitor.cli.main import build_parser
    from monitor.cli.serve import ROLES
    from monitor.web import server

    assert ROLES == server.ROLES
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["serve", "--role", "boss"])
    assert exc.value.code == 2 and "invalid choice: 'boss'" in capsys.readouterr().err


# --------------------------------------------------------------------------- the roles as processes
async def _start(cfg, db: str, role: str, cwd, env: dict, *extra: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "--config", str(cfg), "--db", db, "serve", "--role", role, *extra,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    proc.role = role  # type: ignore[attr-defined]
    return proc


async def _ready(proc) -> str:
    while True:
        line = (await proc.stdout.readline()).decode()
        if not line:
            raise AssertionError(f"{proc.role} exited: {await proc.wait()}")
        if "舆情哨兵已启动" in line:
            return line


async def test_web_collectors_and_workers_as_processes_carry_an_item_to_one_reminder(tmp_path, pg_database):
    """On one PostgreSQL database (SQLite when none is configured): a collector polls a local feed, a web
    process takes a signed push, a worker escalates and delivers. Each incident's reminder arrives once.
    (Several of one role at once: the in-process tests above; five processes took 11 s to start here.)"""
    import hashlib
    import hmac

    db = pg_database or f"sqlite:///{tmp_path / 'roles.db'}"
    if pg_database:
        from tests.conftest import _truncate

        store = await Store(db).open()
        await _truncate(store)
        await store.close()
    now = datetime.now(timezone.utc)
    feed_hits = []

    async def feed(request):
        feed_hits.append(time.monotonic())
        return web.json_response({"version": "https://jsonfeed.org/version/1.1", "items": [{
            "id": "n1", "title": "宏达物流公司仓库爆炸", "content_text": "宏达物流公司仓库爆炸造成12人死亡。",
            "date_published": now.isoformat()}]}, content_type="application/feed+json")

    feed_app = web.Application()
    feed_app.router.add_get("/feed", feed)
    receiver, hook, hook_url = await start_receiver()
    feed_server = TestServer(feed_app)
    await feed_server.start_server()
    cfg = tmp_path / "roles.yaml"
    cfg.write_text(yaml.safe_dump({
        "rules": [{"name": "authoritative_release", "applies_to": {"severity_at_least": "重大"}, "due": "5h",
                   "satisfied_by": "release", "escalation": "now"}],
        "escalation_policies": {"now": [{"at": "-5h", "notify": ["duty"], "channels": ["hook"]}]},
        "users": [{"name": "duty", "display": "值班员"}],
        "channels": [{"name": "hook", "kind": "webhook", "url": hook_url}],
        "sources": [{"name": "news", "kind": "feed", "url": str(feed_server.make_url("/feed")), "delay": "0s",
                     "retries": 0, "interval": "10m"},
                    {"name": "push", "kind": "webhook", "secret_env": "YUQING_WEBHOOK_SECRET"}],
    }, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "YUQING_WEBHOOK_SECRET": "roles-secret",
           "YUQING_API_TOKEN": "roles-token"}
    web_port, worker_port = free_port(), free_port()
    procs = []
    try:
        procs = [await _start(cfg, db, "web", tmp_path, env, "--listen", f"127.0.0.1:{web_port}"),
                 await _start(cfg, db, "worker", tmp_path, env, "--listen", f"127.0.0.1:{worker_port}"),
                 await _start(cfg, db, "collector", tmp_path, env)]
        lines = await asyncio.wait_for(asyncio.gather(*(_ready(p) for p in procs)), 30)
        assert "no HTTP listener" in lines[2] and f"127.0.0.1:{worker_port}" in lines[1]
        body = json.dumps({"id": "p1", "title": "恒泰化工厂爆炸", "body": "恒泰化工厂爆炸造成15人死亡。",
                           "time": now.isoformat()}, ensure_ascii=False).encode()
        signature = "sha256=" + hmac.new(b"roles-secret", body, hashlib.sha256).hexdigest()
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{web_port}/api/v1/ingest", data=body,
                                    headers={"X-Yuqing-Signature": signature}) as r:
                assert r.status == 202
            async with session.get(f"http://127.0.0.1:{worker_port}/healthz") as r:
                assert r.status == 200
            async with session.get(f"http://127.0.0.1:{worker_port}/api/v1/incidents") as r:
                assert r.status == 404  # a worker serves no API
            end = time.monotonic() + 20
            while time.monotonic() < end and len(receiver.keys) < 2:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # would a second copy still come?
            async with session.get(f"http://127.0.0.1:{web_port}/api/v1/incidents",
                                   headers={"Authorization": "Bearer roles-token"}) as r:
                titles = {i["title"] for i in (await r.json())["incidents"]}
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(p.wait(), 30) for p in procs]
        await feed_server.close()
        await hook.cleanup()
    assert codes == [0] * 3
    assert {"宏达物流公司仓库爆炸", "恒泰化工厂爆炸"} <= titles
    assert len(feed_hits) == 1
    assert len(receiver.keys) == len(set(receiver.keys)) == 2  # one reminder per incident, each once
    assert {k.split(":")[1] for k in receiver.keys} == {"authoritative_release"}
