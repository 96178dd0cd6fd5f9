"""Regressions of the faults bench/faults.py measures (docs/faults.md), each cheap enough for every run: a board
page that never finishes, one that arrives in pieces, a webhook's Retry-After, PostgreSQL dropping every
connection under a push, and an import onto a full disk."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.config.settings import Settings
from monitor.sources.registry import make_collector
from monitor.sources.runner import SourceRunner
from responders.outbox import Deliverer
from tests.harness import ROOT, BoardSite, TcpProxy, sign_push


def boards(server: TestServer, site: BoardSite, **kw) -> Settings:
    return Settings.model_validate({"sources": [
        {"name": name, "kind": "board", "url": str(server.make_url(f"{prefix}/list?page=1")), "delay": "0s",
         "retries": 0, "timeout": "1s", "robots": False, "recheck": 0, "selectors": site.selectors(),
         "id_pattern": r"id=(\d+)", **kw} for name, prefix in (("stalled", "/stall"), ("healthy", "/a"))]})


def runner(app, settings: Settings, name: str) -> SourceRunner:
    app.settings = settings
    cfg = settings.source(name)
    return SourceRunner(app, cfg, make_collector(cfg, settings))


async def timed(coro):
    started = time.monotonic()
    result = await coro
    return result, time.monotonic() - started


async def test_a_board_page_that_never_finishes_times_out_and_the_other_board_carries_on(app):
    site = BoardSite(6, per_page=3, stall={"/stall/list"}, trickle=0.1)
    async with TestServer(site.app(("/a", "/stall"))) as server:
        settings = boards(server, site)
        stalled, healthy = runner(app, settings, "stalled"), runner(app, settings, "healthy")
        (bad, bad_s), (good, _) = await asyncio.gather(timed(stalled.poll()), timed(healthy.poll()))
        await asyncio.sleep(0.2)  # the server notices the client has gone at its next write
        assert 0.9 < bad_s < 3, bad_s  # the configured 1 s timeout cut the request that kept trickling
        assert "TimeoutError" in bad.error and good.error is None
        assert site.open_stalls == 0  # the stalled connection was closed, not left to trickle
        async with app.store.read() as tx:
            row = await tx.sources.get("stalled")
            counts = await tx.items.counts_by_source()
        assert row["failures"] == 1 and "TimeoutError" in row["last_error"] and row["next_poll_at"] > app.clock.now()
        assert counts == {"healthy": 6}
        for r in (stalled, healthy):
            await r.close()


async def test_a_board_page_that_arrives_in_pieces_is_read_whole(app):
    """One read() of aiohttp's stream returns what has arrived so far: a list page in three network reads was
    taken whole after the first, and the messages further down were never seen."""
    site = BoardSite(9, per_page=9, pieces={"/a/list"})
    async with TestServer(site.app(("/a",))) as server:
        r = runner(app, boards(server, site), "healthy")
        ctx = await r.poll()
        await r.close()
    async with app.store.read() as tx:
        counts = await tx.items.counts_by_source()
    assert ctx.error is None and counts == {"healthy": 9}


async def test_a_webhooks_retry_after_is_honoured(store, clock):
    """A 429 (or 503) asks for a wait: the reminder is not sent again sooner, whatever the backoff says; the
    date form is read on the delivery loop's clock."""
    got: list[str] = []
    answers = [(429, lambda: "120"), (503, lambda: format_datetime(clock.now() + timedelta(seconds=90), usegmt=True))]

    async def hook(request: web.Request) -> web.Response:
        got.append(request.headers["Idempotency-Key"])
        if answers:
            status, wait = answers.pop(0)
            return web.Response(status=status, headers={"Retry-After": wait()})
        return web.Response(text="ok")

    a = web.Application()
    a.router.add_post("/hook", hook)
    payload = {"incident_id": 7, "rule": "authoritative_release", "step": "0", "due_at": clock.now().isoformat(),
               "severity": "重大", "department": "区应急局", "text": "测试"}
    async with store.write() as tx:
        await tx.outbox.enqueue([{"key": "7:authoritative_release:0:hook", "channel": "hook", "payload": payload,
                                  "next_attempt_at": clock.now(), "created_at": clock.now()}])
    async with TestServer(a) as server, aiohttp.ClientSession() as session:
        settings = Settings.model_validate({"channels": [{"name": "hook", "kind": "webhook",
                                                          "url": str(server.make_url("/hook"))}]})
        d = Deliverer(store, clock, settings, session, owner="test")
        waits = []
        for _ in range(2):
            assert await d.deliver_due() == 0
            async with store.read() as tx:
                [m] = await tx.outbox.list()
            waits.append((m.next_attempt_at - clock.now()).total_seconds())
            clock.advance(timedelta(seconds=waits[-1] - 1))
            assert await d.deliver_due() == 0  # a second early: nothing goes
            clock.advance(timedelta(seconds=1))
        assert await d.deliver_due() == 1
    assert waits[0] >= 120 and 90 <= waits[1] < 100  # not the 5 s and 10 s of the backoff
    assert got == ["7:authoritative_release:0:hook"] * 3


@pytest.mark.skipif(not os.environ.get("YUQING_TEST_PG_URL"), reason="needs PostgreSQL (CI sets YUQING_TEST_PG_URL)")
async def test_a_push_while_postgresql_drops_every_connection_is_refused_then_stored_once(
        pg_database, settings, clock, monkeypatch):
    from sqlalchemy.engine import make_url

    from monitor.app import build
    from monitor.web.server import web_application
    from tests.conftest import _truncate

    monkeypatch.setenv("YUQING_WEBHOOK_SECRET", "s3cret")
    url = make_url(pg_database)
    proxy = await TcpProxy(url.host or "127.0.0.1", url.port or 5432).up()
    app = await build(settings, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                      clock)
    await _truncate(app.store)
    client = TestClient(TestServer(web_application(app)))
    await client.start_server()

    async def push(ext: str) -> int:
        body, headers = sign_push("s3cret", {"id": ext, "title": "路灯不亮", "body": f"金碧街道路灯坏了（{ext}）",
                                             "time": "2026-11-23T08:00:00+08:00"})
        r = await client.post("/api/v1/ingest", data=body, headers=headers)
        return r.status

    try:
        assert await push("p-1") == 202
        await proxy.down()  # every pooled connection dropped, new ones refused
        (status, seconds) = await timed(push("p-2"))
        assert status == 503 and seconds < 2  # refused at once (503, Retry-After): the sender sends it again
        assert (await client.get("/healthz")).status == 503
        await proxy.up()
        assert (await client.get("/healthz")).status == 200
        assert [await push("p-2"), await push("p-2")] == [202, 202]
        async with app.store.read() as tx:
            assert await tx.items.counts_by_source() == {"push": 2}
    finally:
        await client.close()
        await app.close()
        await proxy.down()


def test_full_disk_detection_reads_real_errors(tmp_path):
    """SQLite's own SQLITE_FULL (a page limit stands in for the disk) and the kernel's ENOSPC."""
    from monitor.cli.main import disk_full

    conn = sqlite3.connect(tmp_path / "small.db")
    conn.execute("PRAGMA max_page_count = 2")
    with pytest.raises(sqlite3.OperationalError) as full:
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 50)
        conn.commit()
    conn.close()
    with pytest.raises(OSError) as nospace:
        with open("/dev/full", "wb") as f:
            f.write(b"x")
    assert nospace.value.errno == errno.ENOSPC
    try:
        raise RuntimeError("wrapped") from full.value  # as SQLAlchemy wraps the driver's error
    except RuntimeError as wrapped:
        assert disk_full(wrapped) and disk_full(nospace.value)
    assert not disk_full(sqlite3.OperationalError("database is locked")) and not disk_full(None)


def _namespace_mount() -> bool:
    """Can this process mount a tmpfs in a mount namespace of its own (root, or unprivileged user namespaces)?"""
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
                          capture_output=True).returncode == 0


@pytest.mark.skipif(not _namespace_mount(), reason="mounting a tmpfs needs root or unprivileged user namespaces")
def test_import_onto_a_full_disk_ends_with_one_chinese_line(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    export = tmp_path / "export.jsonl"
    with export.open("w", encoding="utf-8") as f:
        for i in range(30):  # ≈1.3 MB once stored: more than the disk holds
            f.write(json.dumps({"id": f"r{i}", "title": f"第{i}号：路灯不亮", "body": f"金碧街道{i}号路灯坏了。" * 400,
                                "time": "2026-11-20T08:00:00+08:00"}, ensure_ascii=False) + "\n")
    # a 512 KB tmpfs, in a mount namespace of its own: it goes away with the process
    script = 'mount -t tmpfs -o size=512k tmpfs "$0" && exec "$@"'
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, str(folder), sys.executable, "-m", "monitor", "--db",
         f"sqlite:///{folder / 'y.db'}", "import", str(export)],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误 (error): 磁盘已满"), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
