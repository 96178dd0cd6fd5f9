"""Real-process helpers shared by the reliability tests and the escalation benchmark: a webhook receiver
that records what arrives and when, a config with fast escalation steps, and `yuqing` subprocesses."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp: Path, hook_url: str, steps: list[str], rules: dict[str, str]) -> Path:
    cfg = {
        "rules": [{"name": name, "applies_to": {"severity_at_least": "重大"}, "due": due, "satisfied_by": "release",
                   "escalation": "fast"} for name, due in rules.items()],
        "escalation_policies": {"fast": [{"at": at, "notify": ["duty"], "channels": ["hook"]} for at in steps]},
        "users": [{"name": "duty", "display": "值班员"}],
        "channels": [{"name": "hook", "kind": "webhook", "url": hook_url}],
    }
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


_NAMES = "华兴宏达恒泰永安鑫源长城东方瑞丰金鼎天成"  # 20 distinct characters
# 1,140 company names, no two sharing more than one character: distinct names, not spellings of one
_COMPANIES = list(itertools.combinations(_NAMES, 3))


def write_incidents(tmp: Path, n: int, spread: timedelta = timedelta(0), start: datetime | None = None) -> Path:
    """n major incidents (deaths ≥ 10), first seen from `start` (default now) over `spread`."""
    import random

    start = start or datetime.now(timezone.utc)
    rng = random.Random(n)
    path = tmp / "incidents.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            seen = start + spread * (i / max(n - 1, 1))
            # distinct events: distinct text, or near-duplicate clustering would rightly merge them, and a
            # company of its own, or event grouping would rightly take them for one explosion
            detail = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(60))
            company = "".join(_COMPANIES[i % len(_COMPANIES)]) + "物流公司"
            f.write(json.dumps({"id": f"e{i}", "title": f"{company}仓库爆炸",
                                "body": f"{company}仓库爆炸造成{12 + i % 10}人死亡。{detail}",
                                "time": seen.isoformat()}, ensure_ascii=False) + "\n")
    return path


class Receiver:
    """A webhook endpoint: records (Idempotency-Key, arrival time, payload)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.arrivals: list[tuple[str, float, dict]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.keys.append(request.headers["Idempotency-Key"])
        self.arrivals.append((request.headers["Idempotency-Key"], time.time(), body))
        return web.json_response({"ok": True})


async def start_receiver(receiver=None) -> tuple:
    """A local webhook receiver (a Receiver, or the one given, e.g. a FlakyReceiver) at /hook."""
    r = receiver or Receiver()
    app = web.Application()
    app.router.add_post("/hook", r.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return r, runner, f"http://127.0.0.1:{port}/hook"


async def yuqing(cfg: Path, db: str, *args: str, cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "--config", str(cfg), "--db", db, *args, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def serve(cfg: Path, db: str, cwd: Path) -> asyncio.subprocess.Process:
    port = free_port()
    proc = await yuqing(cfg, db, "serve", "--listen", f"127.0.0.1:{port}", cwd=cwd)
    proc.port = port  # type: ignore[attr-defined]
    return proc


async def ready(proc: asyncio.subprocess.Process, timeout: float = 30) -> float:
    """Wait until `serve` answers /healthz; returns the seconds it took."""
    import aiohttp

    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - started < timeout:
            try:
                async with session.get(f"http://127.0.0.1:{proc.port}/healthz") as r:  # type: ignore[attr-defined]
                    if r.status == 200:
                        return time.monotonic() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError("serve did not become ready")


async def state(db: str):
    from monitor.store import Store

    store = await Store(db).open()
    try:
        async with store.read() as tx:
            outbox = await tx.outbox.list(limit=1_000_000)
            deadlines = await tx.deadlines.list(state=None, limit=1_000_000)
    finally:
        await store.close()
    return outbox, deadlines


# ------------------------------------------------------------------ faults (bench/faults.py, tests/test_faults.py)
def write_config_with(tmp: Path, hook_url: str, steps: list[str], rules: dict[str, str], extra: dict) -> Path:
    """write_config plus top-level keys (sources, …) merged in."""
    path = write_config(tmp, hook_url, steps, rules)
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg.update(extra)
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


async def serve_logged(cfg: Path, db: str, cwd: Path, log: Path, env: dict | None = None) -> asyncio.subprocess.Process:
    """`serve` like serve(), its stderr appended to `log` (a crash or a store error is read there)."""
    import os

    port = free_port()
    with log.open("ab") as f:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", "--config", str(cfg), "--db", db, "serve", "--listen",
            f"127.0.0.1:{port}", cwd=cwd, stdout=asyncio.subprocess.DEVNULL, stderr=f,
            env={**os.environ, **(env or {})})
    proc.port = port  # type: ignore[attr-defined]
    return proc


class FlakyReceiver(Receiver):
    """A webhook endpoint that can fail: `status` 200 records like Receiver; 500, or 429 with Retry-After
    `retry_after`, records the attempt only. `delay` slows every answer (deliveries stay in flight longer)."""

    def __init__(self) -> None:
        super().__init__()
        self.status, self.retry_after, self.delay = 200, 0, 0.0
        self.refused: list[tuple[str, float, int]] = []  # (key, time, status)

    async def handle(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status != 200:
            self.refused.append((request.headers["Idempotency-Key"], time.time(), self.status))
            headers = {"Retry-After": str(self.retry_after)} if self.status == 429 and self.retry_after else {}
            return web.json_response({"error": "unavailable"}, status=self.status, headers=headers)
        try:
            return await super().handle(request)
        except ConnectionResetError:  # the sender was killed mid-request: nothing arrived
            return web.Response(status=400)


async def start_flaky_receiver() -> tuple:
    return await start_receiver(FlakyReceiver())


class TcpProxy:
    """A local TCP proxy to a real server (PostgreSQL). `down()` drops every open connection and refuses new
    ones (the listening socket is closed: connect gets ECONNREFUSED); `up()` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self.dropped = 0

    async def up(self) -> "TcpProxy":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        return self

    async def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for w in list(self._conns):
            w.transport.abort()
            self.dropped += 1
        self._conns.clear()
        if server is not None:  # after the aborts: from Python 3.12 this waits for open connections too
            await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer, up_writer}
        self._conns |= pair

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._conns -= pair


def sign_push(secret: str, obj: dict) -> tuple[bytes, dict[str, str]]:
    """A push body and its X-Yuqing-Signature header (monitor/web/ingest.py)."""
    import hashlib
    import hmac

    body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return body, {"X-Yuqing-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
                  "Content-Type": "application/json"}


class BoardSite:
    """A 留言板 of `n` messages, `per_page` a list page, newest first, with detail pages; counts requests.
    A path in `stall` answers its headers and then trickles one byte every `trickle` seconds, forever; a path
    in `pieces` sends its page in three parts 50 ms apart (as a slow link delivers it)."""

    def __init__(self, n: int, per_page: int = 10, stall: set[str] | None = None, trickle: float = 0.5,
                 pieces: set[str] | None = None) -> None:
        self.n, self.per_page, self.stall, self.trickle = n, per_page, stall or set(), trickle
        self.pieces = pieces or set()
        self.hits: list[str] = []
        self.stalls: list[list[float]] = []  # [start, end] of each stalled answer (end 0 while it is open)

    def selectors(self) -> dict:
        return {"item": "li.m", "next": "a.next", "title": "h1", "body": "div.body", "time": "span.time"}

    async def _stall(self, request: web.Request) -> web.StreamResponse:
        span = [time.monotonic(), 0.0]
        self.stalls.append(span)
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        try:
            await response.prepare(request)
            while True:  # never finishes; ends when the client goes away
                await response.write(b" ")
                await asyncio.sleep(self.trickle)
        except ConnectionResetError:  # the client went away (its timeout)
            return response
        finally:
            span[1] = time.monotonic()

    @property
    def open_stalls(self) -> int:
        return sum(1 for _, end in self.stalls if not end)

    async def list_page(self, request: web.Request) -> web.StreamResponse:
        page = int(request.query.get("page", "1"))
        self.hits.append(f"list{page}")
        if request.path in self.stall:
            return await self._stall(request)
        ids = list(range(self.n, 0, -1))[(page - 1) * self.per_page: page * self.per_page]
        items = "".join(f'<li class="m"><a href="{request.path[:-5]}/detail?id={i}">第{i}号留言</a></li>' for i in ids)
        nxt = (f'<a class="next" href="{request.path}?page={page + 1}">下一页</a>'
               if page * self.per_page < self.n else "")
        html = f"<html><ul>{items}</ul>{nxt}</html>".encode()
        if request.path not in self.pieces:
            return web.Response(body=html, content_type="text/html", charset="utf-8")
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        await response.prepare(request)
        third = len(html) // 3
        for part in (html[:third], html[third:2 * third], html[2 * third:]):
            await response.write(part)
            await asyncio.sleep(0.05)
        await response.write_eof()
        return response

    async def detail(self, request: web.Request) -> web.Response:
        i = int(request.query["id"])
        self.hits.append(f"detail{i}")
        import random

        rng = random.Random(i)  # distinct text per message, or near-duplicate grouping would merge them
        detail = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(40))
        html = (f"<h1>第{i}号留言：{''.join(_COMPANIES[i % len(_COMPANIES)])}小区电梯故障</h1>"
                f'<div class="body">{i}栋电梯困人，物业不管。{detail}</div>'
                f'<span class="time">留言时间：2026-11-{10 + i % 10} 09:30</span>')
        return web.Response(text=html, content_type="text/html")

    def app(self, prefixes: tuple[str, ...] = ("/a",)) -> web.Application:
        a = web.Application()
        for p in prefixes:
            a.router.add_get(f"{p}/list", self.list_page)
            a.router.add_get(f"{p}/detail", self.detail)
        return a



async def scratch_pg_database(url: str, prefix: str) -> tuple:
    """A new PostgreSQL database on the server `url` names: (its URL, a coroutine function that drops it).
    Used by the test session (tests/conftest.py) and the benches, so each run has a store of its own."""
    import uuid

    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(host=base.host, port=base.port or 5432, user=base.username,
                                     password=base.password, database=base.database)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'CREATE DATABASE "{name}"')
    return (base.set(database=name).render_as_string(hide_password=False),
            lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
