"""Chat delivery figures (prints a table; not a test). Local fake servers only, never the real network.

1. Latency, real time: a real `yuqing serve` process (SQLite, or --pg URL) receives 50 incidents a second for
   30 s through the signed push API (POST /api/v1/ingest). Each is 重大 and opens a deadline due 15 s after it
   was seen, whose escalation step at 0 s reminds the duty officer in chat:
   - `tg`: a Telegram private chat through python-telegram-bot and a local Bot API (tests/fake_telegram.py),
     one message a reminder;
   - `ding` (with --dingtalk): a DingTalk group robot (signature checked as documented) with grouping on and
     its real budget of 20 messages a minute: at 50 reminders a second it must group.
   Per reminder: from the step coming due to its outbox row (fired) and to the chat API call carrying it.
2. Outage, simulated time (ManualClock, in process: the Escalator and the Deliverer of `serve` on the store):
   one incident every 2 s for 15 min, reminders to both chats; for 10 of those minutes both APIs answer
   500/429 in turn, or are unreachable (a proxy in front of them refuses connections). Lost, duplicates,
   order, and the time from recovery until every reminder got through.

    python bench/chat_delivery.py [--pg URL] [--rate 50] [--seconds 30] [--dingtalk] [--skip-latency]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import re
import signal
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fake_telegram import FakeTelegram, start as start_telegram  # noqa: E402
from tests.harness import TcpProxy, free_port, ready, scratch_pg_database, serve_logged, state  # noqa: E402

TOKEN = "7000001:AAF-bench-token_abcdefghijklmnopqrstu"
CHAT = 424242  # a private chat: Telegram's only limit there is its RetryAfter answer
DING_SECRET = "SECbench0123456789"
PUSH_SECRET = "bench-push-secret"
_ID = re.compile(r"#(\d+)")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


# --------------------------------------------------------------------------- fakes that record
class Telegram(FakeTelegram):
    """The tests' Bot API, recording when each reminder's message arrived; `down` answers 500 and 429."""

    def __init__(self, clock=None) -> None:
        super().__init__(token=TOKEN)
        self.arrived: list[tuple[float, list[int]]] = []  # (time, incident ids) per message
        self.clock = clock  # simulated time (outage) instead of the wall
        self.down = False
        self.refused = 0

    async def handle(self, request: web.Request) -> web.Response:
        if self.down and request.match_info["method"] == "sendMessage":
            self.refused += 1
            if self.refused % 2:
                return self._error(500, "Internal Server Error")
            return self._error(429, "Too Many Requests: retry after 5", {"retry_after": 5})
        return await super().handle(request)

    async def m_sendMessage(self, params: dict) -> dict:
        message = await super().m_sendMessage(params)
        now = self.clock.now().timestamp() if self.clock else time.time()
        self.arrived.append((now, [int(n) for n in _ID.findall(message["text"])]))
        return message


class DingTalk:
    """A DingTalk custom robot: checks `timestamp` and `sign` (HMAC-SHA256 of "timestamp\\nsecret") as the
    documentation says, keeps each accepted message; `down` answers 500 and 429 in turn."""

    def __init__(self, clock=None) -> None:
        self.arrived: list[tuple[float, list[int]]] = []
        self.clock = clock
        self.down = False
        self.refused = 0
        self.bad_sign = 0

    async def handle(self, request: web.Request) -> web.Response:
        ts = request.query.get("timestamp", "0")
        want = base64.b64encode(hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(request.query.get("sign", ""), want):
            self.bad_sign += 1
            return web.json_response({"errcode": 310000, "errmsg": "sign not match"})
        body = await request.json()
        if self.down:
            self.refused += 1
            return web.Response(status=500 if self.refused % 2 else 429, text="busy")
        now = self.clock.now().timestamp() if self.clock else time.time()
        self.arrived.append((now, [int(n) for n in _ID.findall(body["markdown"]["text"])]))
        return web.json_response({"errcode": 0, "errmsg": "ok"})


async def start_dingtalk(robot: DingTalk) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_post("/robot/send", robot.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def serve_role(cfg: Path, db: str, cwd: Path, env: dict, role: str) -> asyncio.subprocess.Process:
    port = free_port()
    with (cwd / f"serve-{role}.log").open("ab") as f:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", "--config", str(cfg), "--db", db, "serve", "--role", role,
            "--listen", f"127.0.0.1:{port}", cwd=cwd, stdout=asyncio.subprocess.DEVNULL, stderr=f,
            env={**os.environ, **env})
    proc.port = port  # type: ignore[attr-defined]
    return proc


# --------------------------------------------------------------------------- configuration and load
def config(tg_base: str, channels: list[str], due: str = "15s") -> dict:
    every = {"tg": {"name": "tg", "kind": "telegram", "token_env": "BENCH_TG_TOKEN", "chat_id": CHAT,
                    "base_url": tg_base},
             "ding": {"name": "ding", "kind": "dingtalk", "url_env": "BENCH_DING_URL", "secret_env": "BENCH_DING_SECRET",
                      "group_wait": "2s", "group_interval": "3s"}}
    return {
        "sources": [{"name": "push", "kind": "webhook", "secret_env": "BENCH_PUSH_SECRET"}],
        "rules": [{"name": "probe", "title": "测试期限", "applies_to": {"severity_at_least": "重大"}, "due": due,
                   "satisfied_by": "release", "escalation": "chat"}],
        "escalation_policies": {"chat": [{"at": "0s", "notify": ["duty"], "channels": channels}]},
        "users": [{"name": "duty", "display": "值班员"}],
        "channels": [every[c] for c in channels],
        "digest": {"enabled": False, "dashboard_url": "https://yuqing.example.gov.cn"},
    }


def incident(i: int, seen: datetime, rng: random.Random) -> dict:
    """A distinct 重大 event: its own company and words (near-duplicate and event grouping keep them apart)."""
    company = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(3)) + "物流公司"
    detail = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(60))
    return {"id": f"b{i}", "title": f"{company}第{i}号仓库爆炸", "body": f"{company}第{i}号仓库爆炸造成{12 + i % 10}人死亡。{detail}",
            "time": seen.isoformat()}


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(PUSH_SECRET.encode(), body, hashlib.sha256).hexdigest()


async def push_load(port: int, rate: float, seconds: float) -> tuple[int, list[float]]:
    """POST `rate` incidents a second for `seconds`, paced on the wall clock; returns (accepted, latencies)."""
    rng = random.Random(7)
    url = f"http://127.0.0.1:{port}/api/v1/ingest"
    took: list[float] = []
    ok = 0
    sem = asyncio.Semaphore(64)

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        nonlocal ok
        async with sem:
            body = json.dumps(incident(i, datetime.now(timezone.utc), rng), ensure_ascii=False).encode()
            t = time.monotonic()
            async with session.post(url, data=body, headers={"X-Yuqing-Signature": sign(body),
                                                             "Content-Type": "application/json"}) as r:
                await r.read()
                ok += r.status == 202
            took.append(time.monotonic() - t)

    n = int(rate * seconds)
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        tasks = []
        for i in range(n):
            await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(session, i)))
        await asyncio.gather(*tasks)
    return ok, took


# --------------------------------------------------------------------------- 1. latency
async def fresh_pg(url: str | None):
    """A new PostgreSQL database inside the server `url` names (dropped afterwards), or None."""
    if not url:
        return None, None
    return await scratch_pg_database(url, "yuqing_bench")


async def chat_apis(tmp: Path, dingtalk: bool, db_name: str, **config_kw):
    """The fake Telegram Bot API and DingTalk robot started, the config written for them: (tg, robot, the
    robot's runner, channels, config path, store URL, environment for `serve`)."""
    tg = Telegram()
    await start_telegram(tg)
    robot = DingTalk()
    runner, ding_port = await start_dingtalk(robot)
    channels = ["tg"] + (["ding"] if dingtalk else [])
    cfg = tmp / "chat.yaml"
    cfg.write_text(yaml.safe_dump(config(tg.base_url, channels, **config_kw), allow_unicode=True), encoding="utf-8")
    env = {"BENCH_TG_TOKEN": TOKEN, "BENCH_PUSH_SECRET": PUSH_SECRET, "BENCH_DING_SECRET": DING_SECRET,
           "BENCH_DING_URL": f"http://127.0.0.1:{ding_port}/robot/send?access_token=bench"}
    return tg, robot, runner, channels, cfg, f"sqlite:///{tmp / db_name}", env


async def latency(tmp: Path, db: str | None, rate: float, seconds: float, dingtalk: bool,
                  single: bool) -> list[tuple]:
    tg, robot, runner, channels, cfg, default_db, env = await chat_apis(tmp, dingtalk, "chat.db")
    db = db or default_db
    # one `serve` process, or (the default) a `web` process taking the pushes and a `worker` process
    # escalating and delivering, as docs/roles.md deploys a busy office
    procs = [await serve_logged(cfg, db, tmp, tmp / "serve.log", env)]
    await ready(procs[0])
    if not single:
        procs[0].send_signal(signal.SIGTERM)  # it migrated the database; now the two roles
        await procs[0].wait()
        procs = [await serve_role(cfg, db, tmp, env, role) for role in ("web", "worker")]
        for p in procs:
            await ready(p)
    t0 = time.monotonic()
    accepted, took = await push_load(procs[0].port, rate, seconds)  # type: ignore[attr-defined]
    load_s = time.monotonic() - t0
    want = accepted
    deadline = time.monotonic() + 15 + 60 + (300 if dingtalk else 0)
    while time.monotonic() < deadline:
        got_tg = len({i for _, ids in tg.arrived for i in ids})
        got_ding = len({i for _, ids in robot.arrived for i in ids})
        if got_tg >= want and (not dingtalk or got_ding >= want):
            break
        await asyncio.sleep(0.5)
    for p in procs:
        p.send_signal(signal.SIGTERM)
        await p.wait()
    await tg.server.close()
    await runner.cleanup()
    outbox, deadlines = await state(db)
    print(f"\nlatency ({'one serve process' if single else 'serve --role web + --role worker'}, "
          f"{db.split(':')[0]}): {accepted} incidents pushed in {load_s:.1f} s ({accepted / load_s:.1f}/s; "
          f"push answer p50 {pct(took, .5) * 1000:.0f} ms, p99 {pct(took, .99) * 1000:.0f} ms), "
          f"{len(deadlines)} deadlines, {len(outbox)} outbox rows")
    return measure(outbox, {"tg": tg, "ding": robot}, channels, "push")


async def due_rate(tmp: Path, db: str | None, rate: float, seconds: float, dingtalk: bool) -> list[tuple]:
    """Steps coming due at exactly `rate` a second: the incidents are imported first (`yuqing import`), first
    seen `rate` a second so that their steps fall due from ~40 s on; `serve --role worker` escalates and
    delivers them."""
    from tests.harness import yuqing

    tg, robot, runner, channels, cfg, default_db, env = await chat_apis(tmp, dingtalk, "due.db", due="60s")
    db = db or default_db
    rng = random.Random(11)
    n = int(rate * seconds)
    seen = datetime.now(timezone.utc) - timedelta(seconds=20)  # due from +40 s: import and start first
    path = tmp / "incidents.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps(incident(i, seen + timedelta(seconds=i / rate), rng), ensure_ascii=False) + "\n")
    t = time.monotonic()
    imp = await yuqing(cfg, db, "import", str(path), cwd=tmp)
    assert await imp.wait() == 0, "import failed"
    imported = time.monotonic() - t
    proc = await serve_role(cfg, db, tmp, env, "worker")
    await ready(proc)
    last_due = seen + timedelta(seconds=60 + seconds)
    if datetime.now(timezone.utc) > seen + timedelta(seconds=60):
        print("  (import and start took longer than 40 s: the first steps were already due)")
    deadline = last_due + timedelta(seconds=60 + (300 if dingtalk else 0))
    while datetime.now(timezone.utc) < deadline:
        if len({i for _, ids in tg.arrived for i in ids}) >= n and (
                not dingtalk or len({i for _, ids in robot.arrived for i in ids}) >= n):
            break
        await asyncio.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    await proc.wait()
    await tg.server.close()
    await runner.cleanup()
    outbox, deadlines = await state(db)
    print(f"\ndue at {rate:g}/s ({db.split(':')[0]}): {n} incidents imported in {imported:.1f} s, "
          f"{len(deadlines)} deadlines; `serve --role worker` escalates and delivers")
    return measure(outbox, {"tg": tg, "ding": robot}, channels, "due")


def measure(outbox, fakes: dict, channels: list[str], label: str) -> list[tuple]:
    due = {m.incident_id: datetime.fromisoformat(m.payload["due_at"]).timestamp() for m in outbox}
    rows = []
    for name in channels:
        fake = fakes[name]
        mine = [m for m in outbox if m.channel == name]
        fired = [(m.created_at.timestamp() - due[m.incident_id]) for m in mine]
        delivered = [at - due[i] for at, ids in fake.arrived for i in ids if i in due]
        ids = [i for _, got in fake.arrived for i in got]
        per_minute = max((sum(1 for a, _ in fake.arrived if s <= a < s + 60) for s, _ in fake.arrived), default=0)
        rows.append((f"{label} {name}", len(mine), pct(fired, .5), pct(fired, .99), pct(delivered, .5),
                     pct(delivered, .95), pct(delivered, .99), max(delivered, default=float("nan")),
                     len(fake.arrived), per_minute, len({m.incident_id for m in mine} - set(ids)),
                     len(ids) - len(set(ids))))
    return rows


# --------------------------------------------------------------------------- 2. outage (simulated time)
async def outage(tmp: Path, db: str | None, mode: str) -> tuple:
    from monitor.app import build
    from monitor.config.settings import Settings
    from monitor.core.clock import ManualClock
    from monitor.core.model import RawItem
    from responders.outbox import Deliverer

    start = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
    clock = ManualClock(start)
    tg, robot = Telegram(clock), DingTalk(clock)
    await start_telegram(tg)
    runner, ding_port = await start_dingtalk(robot)
    tg_proxy = await TcpProxy("127.0.0.1", tg.server.port).up()
    ding_proxy = await TcpProxy("127.0.0.1", ding_port).up()
    os.environ.update({"BENCH_TG_TOKEN": TOKEN, "BENCH_DING_SECRET": DING_SECRET,
                       "BENCH_DING_URL": f"http://127.0.0.1:{ding_proxy.port}/robot/send?access_token=bench"})
    cfg = config(f"http://127.0.0.1:{tg_proxy.port}/bot", ["tg", "ding"])
    cfg["channels"][1].update({"group_wait": "30s", "group_interval": "1m"})
    db = db or f"sqlite:///{tmp / f'outage-{mode}.db'}"
    app = await build(Settings.model_validate(cfg), db, clock)  # a fresh database
    down_at, up_at = start + timedelta(minutes=2), start + timedelta(minutes=12)
    arrivals = [start + timedelta(seconds=2 * i) for i in range(450)]  # 15 minutes
    rng = random.Random(3)
    ticks = 0
    async with aiohttp.ClientSession() as session:
        d = Deliverer(app.store, clock, app.settings, session, owner="bench")
        esc = app.escalator
        while True:
            now = clock.now()
            outage_now = down_at <= now < up_at
            tg.down = robot.down = outage_now and mode == "answers"
            for proxy in (tg_proxy, ding_proxy):
                if mode == "unreachable" and outage_now and proxy._server is not None:
                    await proxy.down()
                elif proxy._server is None and not (mode == "unreachable" and outage_now):
                    await proxy.up()
            batch = []
            while arrivals and arrivals[0] <= now:
                at = arrivals.pop(0)
                i = 450 - len(arrivals)
                raw = incident(i, at, rng)
                batch.append(RawItem("push", raw["id"], raw["title"], raw["body"], occurred_at=at))
            if batch:
                await app.pipeline.ingest(batch, "push")
            next_step = await esc.tick()
            next_send = await d.tick()
            ticks += 1
            times = [t for t in (next_step, next_send, arrivals[0] if arrivals else None,
                                 down_at if now < down_at else None, up_at if now < up_at else None) if t]
            if not times:
                break
            clock.set(max(min(times), now + timedelta(milliseconds=1)) if min(times) <= now else min(times))
            if clock.now() > start + timedelta(hours=3):
                break
    await app.close()
    await tg_proxy.down()
    await ding_proxy.down()
    await tg.server.close()
    await runner.cleanup()
    outbox, _ = await state(db)
    rows = {}
    for name, fake in (("tg", tg), ("ding", robot)):
        mine = [m for m in outbox if m.channel == name]
        ids = [i for _, got in fake.arrived for i in got]
        by_incident = {m.incident_id for m in mine}
        after = [at for at, _ in fake.arrived if at >= up_at.timestamp()]
        backlog = sum(1 for m in mine if m.created_at < up_at and (m.sent_at is None or m.sent_at >= up_at))
        order = all(a <= b for a, b in zip(ids, ids[1:]))
        rows[name] = (len(mine), len(by_incident - set(ids)), len(ids) - len(set(ids)), order,
                      sorted({m.status for m in mine}), backlog,
                      (max(after) - up_at.timestamp()) if after else float("nan"), len(fake.arrived),
                      fake.refused, max(m.attempts for m in mine))
    return mode, ticks, rows


# --------------------------------------------------------------------------- main
async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=None, help="PostgreSQL URL (default: a fresh SQLite file per run)")
    parser.add_argument("--rate", type=float, default=50.0, help="incidents a second (default 50)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long they arrive (default 30)")
    parser.add_argument("--dingtalk", action="store_true", help="also remind a DingTalk robot in the latency run")
    parser.add_argument("--single", action="store_true", help="one `serve` process instead of web + worker")
    parser.add_argument("--skip-push", action="store_true", help="skip the live-push run (ingest-bound)")
    parser.add_argument("--skip-latency", action="store_true", help="skip both latency runs")
    parser.add_argument("--skip-outage", action="store_true")
    args = parser.parse_args()
    lat: list[tuple] = []
    result: dict = {"store": "postgresql" if args.pg else "sqlite", "rate": args.rate, "seconds": args.seconds,
                    "latency": [], "outage": [], "goal_p99_s": 1.0}
    if not args.skip_latency:
        runs = [] if args.skip_push else [
            lambda tmp, db: latency(tmp, db, args.rate, args.seconds, args.dingtalk, args.single)]
        runs.append(lambda tmp, db: due_rate(tmp, db, args.rate, args.seconds, args.dingtalk))
        for run in runs:
            db, drop = await fresh_pg(args.pg)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    lat += await run(Path(tmp), db)
            finally:
                if drop:
                    await drop()
        print(f"\n{'from step due to':18s} {'rows':>5s} {'fired p50':>9s} {'p99':>6s} │ {'API call p50':>12s} "
              f"{'p95':>6s} {'p99':>6s} {'max':>6s} │ {'msgs':>5s} {'max/min':>7s} {'lost':>4s} {'dup':>4s}")
        for r in lat:
            print(f"{r[0]:18s} {r[1]:5d} {r[2]:8.3f}s {r[3]:5.2f}s │ {r[4]:11.3f}s {r[5]:5.2f}s {r[6]:5.2f}s "
                  f"{r[7]:5.1f}s │ {r[8]:5d} {r[9]:7d} {r[10]:4d} {r[11]:4d}")
            result["latency"].append({"run": r[0], "rows": r[1], "fired_p50": r[2], "fired_p99": r[3], "p50": r[4],
                                      "p95": r[5], "p99": r[6], "max": r[7], "messages": r[8],
                                      "max_per_minute": r[9], "lost": r[10], "duplicates": r[11]})
    if not args.skip_outage:
        results = []
        for mode in ("answers", "unreachable"):
            db, drop = await fresh_pg(args.pg)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    results.append(await outage(Path(tmp), db, mode))
            finally:
                if drop:
                    await drop()
        print("\noutage: 10 simulated minutes (ManualClock) of 500/429 answers or refused connections, one incident "
              "every 2 s for 15 min")
        print(f"{'outage':12s} {'chat':5s} {'rows':>5s} {'lost':>4s} {'dup':>4s} {'order':>5s} {'status':>8s} "
              f"{'backlog':>7s} {'drain':>7s} {'msgs':>5s} {'5xx/429':>7s} {'attempts':>8s}")
        for mode, ticks, rows in results:
            for name, r in rows.items():
                print(f"{mode:12s} {name:5s} {r[0]:5d} {r[1]:4d} {r[2]:4d} {str(r[3]):>5s} {','.join(r[4]):>8s} "
                      f"{r[5]:7d} {r[6]:6.0f}s {r[7]:5d} {r[8]:7d} {r[9]:8d}")
                result["outage"].append({"outage": mode, "chat": name, "rows": r[0], "lost": r[1], "duplicates": r[2],
                                         "in_order": r[3], "statuses": r[4], "backlog": r[5], "drain_s": r[6],
                                         "messages": r[7], "refused": r[8], "max_attempts": r[9]})
    from bench.result import emit

    emit(result)


if __name__ == "__main__":
    asyncio.run(main())
