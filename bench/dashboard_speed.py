"""The now page's speed with 100,000 incidents (issue 18, "Speed"; prints a table, not a test).

1. Seeds a store (SQLite file, or a fresh PostgreSQL database with --pg) with `--incidents` incidents as a year of a
   district's 12345 data looks: mostly 一般 complaints, 4.5 % 重大 and 0.5 % 特别重大 with their two legal deadlines
   (older ones satisfied), 2 % policy documents with a 3-working-day one, 70 % open, one item each (real texts of
   the bundled sample, varied) with its search words, 2,000 dashboard reminders and a roster. PostgreSQL is then
   vacuumed and analysed, as autovacuum keeps a store in service (SQLite is left as the program leaves it).
2. Serves it from a child process (`yuqing serve`'s web application, with a middleware that times each handler:
   from the request reaching the application to its answer being ready, sign-in included, wall and CPU time).
3. A local load generator (aiohttp) asks each URL `--requests` times, twice:
   - one request at a time: the **server time** of a request (the issue's "p99 ≤ 100 ms server time"): nothing else
     runs in the server meanwhile, so the handler's time is its own;
   - `--concurrency` requests in flight: the server is one process and one event loop, so while one request waits
     for the database another runs, and a handler's wall time then includes the others' work (queueing inside the
     server). Shown as "under load", server and client, beside the first — not the same figure.
   On a quiet store (the page's reads are shared while no incident changes: monitor/web/now_page.py `counted`), and
   for three URLs on a busy one, where another process changes an incident every 0.2 s (as an import does), so
   most requests read afresh.
4. The first live update: a client holds /api/v1/stream; an acknowledgement is posted through the API `--updates`
   times; the time from its answer to the event's arrival (p50/max).

SQLite only (a fresh file in a temporary folder):
    python bench/dashboard_speed.py [--incidents 100000] [--requests 200] [--concurrency 4] [--updates 10]
SQLite, then PostgreSQL (the URL names a database to connect to for CREATE/DROP DATABASE; the benchmark's own is
made and dropped):
    python bench/dashboard_speed.py --pg postgresql://postgres@127.0.0.1:5432/postgres
PostgreSQL only:
    python bench/dashboard_speed.py --pg postgresql://postgres@127.0.0.1:5432/postgres --no-sqlite

The last line printed is `RESULT {json}`: per store and URL the p50/p99 in ms of the server time one at a time
(`server_p50`, `server_p99`, `server_cpu_p50`, `server_cpu_p99`), under load (`load_server_p50`, `load_server_p99`,
`load_client_p50`, `load_client_p99`), the live update (`live_update_p50`, `live_update_max`) and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
from yarl import URL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness import free_port  # noqa: E402

TOKEN = "bench-token-" + uuid.uuid4().hex
NOW = datetime(2026, 12, 6, 2, 0, tzinfo=timezone.utc)  # 10:00 Beijing time
URLS = [
    ("当前页 /", "/"),
    ("当前页 第二页（游标）", None),  # filled in with the first page's cursor
    ("当前页 按部门筛选", "/?department={department}"),
    ("当前页 检索「路灯」（约千件）", "/?q=%E8%B7%AF%E7%81%AF"),
    ("当前页 全部事件", "/?status=all"),
    ("API /api/v1/incidents", "/api/v1/incidents"),
    ("API 处理中 limit=50", "/api/v1/incidents?status=open&limit=50"),
    ("API 卡片 /api/v1/now/summary", "/api/v1/now/summary"),
]
BUSY = ["/", "/api/v1/incidents", "/api/v1/incidents?status=open&limit=50"]  # measured again on a busy store


# --------------------------------------------------------------------------- seeding
def sample_texts() -> list[tuple[str, str]]:
    from monitor.config.settings import BUNDLED_CONFIG

    path = BUNDLED_CONFIG / "demo" / "hotline_sample.csv"
    rows = list(csv.reader(path.open(encoding="gb18030")))
    head = rows[0]
    title = next(i for i, h in enumerate(head) if "标题" in h or "主题" in h)
    body = next(i for i, h in enumerate(head) if "内容" in h or "诉求" in h)
    return [(r[title], r[body]) for r in rows[1:] if len(r) > max(title, body)]


async def seed(db: str, n: int) -> dict:
    from monitor.app import build
    from monitor.config.settings import BUNDLED_CONFIG, load_settings
    from monitor.core.clock import ManualClock
    from monitor.understanding.names import department_names
    from monitor.web.search import item_words

    rnd = random.Random(18)
    settings = load_settings(BUNDLED_CONFIG / "demo.yaml")
    app = await build(settings, db, ManualClock(NOW))
    departments = department_names(app.jurisdiction)[:40]
    texts = sample_texts()
    segmenter = app.understander.segmenter
    words = {i: item_words(segmenter, t, b) for i, (t, b) in enumerate(texts)}
    started = time.perf_counter()
    batch = 5000
    for start in range(0, n, batch):
        incidents, plans = [], []
        for k in range(start, min(n, start + batch)):
            r = rnd.random()
            severity = 4 if r < 0.005 else 3 if r < 0.05 else 2 if r < 0.15 else 1
            policy = severity == 1 and rnd.random() < 0.02
            seen = NOW - timedelta(minutes=rnd.randrange(0, 365 * 24 * 60))
            status = "open" if rnd.random() < 0.7 else "closed"
            t = rnd.randrange(len(texts))
            incidents.append({
                "title": f"{texts[t][0][:60]}（{k}）", "kind": "policy" if policy else "incident", "status": status,
                "department": rnd.choice(departments), "severity": severity, "domain": "其他",
                "first_seen_at": seen, "last_seen_at": seen + timedelta(minutes=rnd.randrange(0, 600)),
                "created_at": seen, "updated_at": seen, "item_count": 1, "reporter_count": 1,
                "co_departments": [], "sensitive_areas": [], "reasons": [], "triage": "none",
                "domain_confidence": 0.9, "region": "", "response_type": "实际困难", "likes": 0, "event": None,
                "transfer": "", "merged_into": None, "published_at": seen if policy else None})
            plans.append((t, seen, severity, policy, status))
        async with app.store.write() as tx:
            ids = await tx.incidents.insert_many_fast(incidents)
            items, deadlines = [], []
            for incident_id, row, (t, seen, severity, policy, status) in zip(ids, incidents, plans):
                source = "hotline" if rnd.random() < 0.8 else rnd.choice(["board", "push"])
                items.append({"source": source, "external_id": str(incident_id), "content_hash": f"{incident_id:032x}",
                              "title": row["title"], "body": texts[t][1], "received_at": seen, "updated_at": seen,
                              "incident_id": incident_id, "tokens": words[t] + f" {incident_id}",
                              "simhash": None, "minhash": None, "location": "", "reporter": "", "channel": "",
                              "handler": "", "status": "", "likes": 0, "reply": "", "replied_at": None,
                              "occurred_at": seen, "domain": "其他", "domain_confidence": 0.9, "group_reason": "",
                              "raw": {}, "facts": None})
                rules = [("authoritative_release", "5小时内发布权威信息", timedelta(hours=5)),
                         ("press_conference", "24小时内举行新闻发布会", timedelta(hours=24))] if severity >= 3 else \
                    [("policy_interpretation", "3个工作日内发布政策解读", timedelta(days=5))] if policy else []
                for rule, title, window in rules:
                    done = status == "closed" or (NOW - seen > timedelta(days=3) and rnd.random() < 0.9)
                    deadlines.append({"incident_id": incident_id, "rule": rule, "title": title,
                                      "department": row["department"], "starts_at": seen, "due_at": seen + window,
                                      "state": "satisfied" if done else "open", "satisfied_by": "release",
                                      "closed_at": seen + window / 2 if done else None,
                                      "created_at": seen, "updated_at": seen})
            await tx.items.insert_many(items)
            if deadlines:
                await tx.deadlines.open_many(deadlines)
    async with app.store.write() as tx:
        await tx.outbox.enqueue([{"key": f"bench:{k}", "channel": "dashboard", "recipient": "duty",
                                  "incident_id": rnd.randrange(1, n + 1), "payload": {"text": f"【舆情哨兵】提醒 {k}"},
                                  "status": "sent", "next_attempt_at": NOW, "created_at": NOW - timedelta(minutes=k)}
                                 for k in range(2000)])
        for role, user in (("duty_officer", "duty"), ("office_leader", "leader")):
            for day in range(-1, 7):
                await tx.people.add_shift({"role": role, "user": user, "starts_at": NOW + timedelta(days=day),
                                           "ends_at": NOW + timedelta(days=day + 1)})
        counts = await tx.dashboard.deadline_counts(NOW)
        open_incidents = await tx.dashboard.count(__import__("monitor.store.dashboard", fromlist=["_"]).NowFilter())
    if app.store.dialect == "postgresql":  # what autovacuum does to a store in service: statistics, GIN pending list
        async with app.store.engine.connect() as conn:
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).exec_driver_sql("VACUUM ANALYZE")
    seconds = time.perf_counter() - started
    await app.close()
    return {"seconds": seconds, "departments": departments, "deadlines": counts, "open": open_incidents}


# --------------------------------------------------------------------------- the server (child process)
def serve(db: str, port: int, timings: Path) -> None:
    """The web application on `db`, each handler's time recorded by path and written to `timings` at SIGTERM."""
    from aiohttp import web

    from monitor.app import build
    from monitor.config.settings import BUNDLED_CONFIG, load_settings
    from monitor.core.clock import ManualClock
    from monitor.web.server import web_application

    async def main() -> None:
        app = await build(load_settings(BUNDLED_CONFIG / "demo.yaml"), db, ManualClock(NOW))
        seen: dict[str, list[float]] = {}

        @web.middleware
        async def timing(request, handler):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return await handler(request)
            finally:
                if request.path != "/api/v1/stream":  # (the run's pass, the URL) → [(wall, CPU of the process)]
                    key = f"{request.headers.get('X-Bench-Pass', '')} {request.raw_path}"
                    seen.setdefault(key, []).append((time.perf_counter() - t0, time.process_time() - c0))

        web_app = web_application(app)
        web_app.middlewares.insert(0, timing)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("READY", flush=True)
        await stop.wait()
        timings.write_text(json.dumps(seen))
        await runner.cleanup()
        await app.close()

    asyncio.run(main())


# --------------------------------------------------------------------------- the load generator
async def load(base: str, path: str, requests: int, concurrency: int, tag: str) -> list[float]:
    """Client-side waits of `requests` GETs of `path`, `concurrency` in flight; `tag` names the pass for the
    server's timings (5 warm-up requests come first, untimed here and dropped there)."""
    waits: list[float] = []
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Bench-Pass": tag}
    queue = iter(range(requests))

    async def worker(session) -> None:
        for _ in queue:
            t0 = time.perf_counter()
            async with session.get(base + path, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{path}: {r.status} {(await r.text())[:200]}")
            waits.append(time.perf_counter() - t0)

    async with aiohttp.ClientSession() as session:
        for _ in range(5):  # warm-up: connection pool, page cache, prepared statements
            async with session.get(base + path, headers=headers) as r:
                await r.read()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return waits


async def busy_writer(db: str, stop: asyncio.Event) -> int:
    """Change one incident every 0.2 s from this process (another process than the server's), as an import does."""
    from sqlalchemy import text

    from monitor.store import Store

    store = Store(db)
    n = 0
    try:
        while not stop.is_set():
            async with store.write() as tx:
                await tx.conn.execute(text("UPDATE incidents SET item_count = item_count + 1 WHERE id = :i"),
                                      {"i": 1 + n % 1000})
            n += 1
            try:
                await asyncio.wait_for(stop.wait(), 0.2)
            except asyncio.TimeoutError:
                pass
    finally:
        await store.close()
    return n


async def live_updates(base: str, updates: int, incident_ids: list[int]) -> list[float]:
    """Seconds from an acknowledgement's answer to its event on the stream."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    out = []
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/api/v1/stream", headers=headers,
                               timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as stream:
            while not (await stream.content.readline()).startswith(b"event: hello"):
                pass
            for incident_id in incident_ids[:updates]:
                async with session.post(f"{base}/api/v1/incidents/{incident_id}/ack", headers=headers,
                                        json={"actor": "bench"}) as r:
                    if r.status != 200:
                        raise RuntimeError(f"ack {incident_id}: {r.status} {await r.text()}")
                done = time.perf_counter()
                while True:
                    line = await asyncio.wait_for(stream.content.readline(), 10)
                    if line.startswith(b"data: ") and f'"id": {incident_id},'.encode() in line:
                        out.append(time.perf_counter() - done)
                        break
                await asyncio.sleep(0.3)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run(db: str, args) -> list[tuple]:
    info = await seed(db, args.incidents)
    print(f"  seeded {args.incidents:,} incidents in {info['seconds']:.0f} s: {info['open']:,} open, "
          f"deadlines {info['deadlines']}", flush=True)
    port = free_port()
    timings = Path(tempfile.mkdtemp()) / "timings.json"
    env = {**os.environ, "YUQING_API_TOKEN": TOKEN}
    child = await asyncio.create_subprocess_exec(sys.executable, __file__, "--serve", db, "--port", str(port),
                                                 "--timings", str(timings), env=env, stdout=asyncio.subprocess.PIPE)
    try:
        assert (await asyncio.wait_for(child.stdout.readline(), 120)).strip() == b"READY"
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as s:
            async with s.get(base + "/api/v1/incidents?status=open&limit=50") as r:
                body = await r.json()
        urls = []
        for label, path in URLS:
            if path is None:
                path = f"/?cursor={body['next_cursor']}"
            urls.append((label, path.format(department=info["departments"][0])))
        waits, single = {}, {}
        for label, path in urls:
            single[path] = await load(base, path, args.requests, 1, "one")
            waits[path] = await load(base, path, args.requests, args.concurrency, "load")
        stop = asyncio.Event()
        writer = asyncio.create_task(busy_writer(db, stop))
        busy, busy_single = {}, {}
        for path in BUSY:
            busy_single[path] = await load(base, path, args.requests, 1, "busy-one")
            busy[path] = await load(base, path, args.requests, args.concurrency, "busy-load")
        stop.set()
        changes = await writer
        open_ids = [i["id"] for i in body["incidents"] if i["deadlines"]]
        updates = await live_updates(base, args.updates, open_ids or [i["id"] for i in body["incidents"]])
    finally:
        child.send_signal(signal.SIGTERM)
        await child.wait()
    seen = json.loads(timings.read_text())
    load_avg = os.getloadavg()

    def figures(tag: str, path: str, client: list[float]) -> dict:
        timed = seen[f"{tag} {URL(base + path).raw_path_qs}"][5:]  # without the warm-up
        wall, cpu = [w for w, _ in timed], [c for _, c in timed]
        if tag.endswith("one"):
            return {"server_p50": pct(wall, 0.5), "server_p99": pct(wall, 0.99), "server_cpu_p50": pct(cpu, 0.5),
                    "server_cpu_p99": pct(cpu, 0.99), "client_p50": pct(client, 0.5), "client_p99": pct(client, 0.99)}
        return {"load_server_p50": pct(wall, 0.5), "load_server_p99": pct(wall, 0.99),
                "load_client_p50": pct(client, 0.5), "load_client_p99": pct(client, 0.99)}

    rows, result = [], {}
    for label, path in urls:
        result[label] = {"path": path, **figures("one", path, single[path]), **figures("load", path, waits[path])}
    for path in BUSY:
        label = next(label for label, p in urls if p == path) + "（繁忙）"
        result[label] = {"path": path, **figures("busy-one", path, busy_single[path]),
                         **figures("busy-load", path, busy[path])}
    for label, r in result.items():
        rows.append((label, r["server_p50"], r["server_p99"], r["server_cpu_p50"], r["load_server_p50"],
                     r["load_server_p99"], r["load_client_p99"]))
    print(f"  busy store: {changes} incident changes by another process during its rows", flush=True)
    rows.append(("首次实时更新（确认收到→事件到达）", pct(updates, 0.5), max(updates) * 1000, None, None, None, None))
    result["live_update"] = {"live_update_p50": pct(updates, 0.5), "live_update_max": max(updates) * 1000}
    return rows, {"urls": result, "load_average": list(load_avg), "seconds_seeding": info["seconds"]}


def show(title: str, rows: list[tuple], concurrency: int) -> None:
    print(f"\n{title}")
    print(f"{'':36}{'— 逐个请求（服务器时间）—':^33}{f'— {concurrency} 个并发（含服务器内排队）—':^36}")
    print(f"{'':38} {'p50':>10} {'p99':>10} {'CPU p50':>10} {'服务器p50':>10} {'服务器p99':>10} {'客户端p99':>10}   (ms)")
    for label, *figures in rows:
        cells = "".join(f"{f:>11.1f}" if f is not None else f"{'':>11}" for f in figures)
        print(f"{label:<36}{cells}")


async def main(args) -> None:
    print(f"dashboard speed: {args.incidents:,} incidents, {args.requests} requests per URL, "
          f"concurrency {args.concurrency}, {os.cpu_count()} cores", flush=True)
    result = {"incidents": args.incidents, "requests": args.requests, "concurrency": args.concurrency,
              "cores": os.cpu_count(), "stores": {}}
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            rows, result["stores"]["sqlite"] = await run(f"sqlite:///{tmp}/bench.db", args)
        show(f"SQLite ({args.incidents:,} incidents; load average {result['stores']['sqlite']['load_average']})",
             rows, args.concurrency)
    if args.pg:
        from bench.roles_scaling import db_url, drop_db, new_db

        name = await new_db(args.pg)
        try:
            rows, result["stores"]["postgresql"] = await run(db_url(args.pg, name), args)
        finally:
            await drop_db(args.pg, name)
        show(f"PostgreSQL ({args.incidents:,} incidents; load average "
             f"{result['stores']['postgresql']['load_average']})", rows, args.concurrency)
    print("RESULT " + json.dumps({"bench": "dashboard_speed", **result}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--pg", help="also PostgreSQL: a URL to create (and drop) the benchmark's database from")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite (with --pg: PostgreSQL only)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--timings", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.no_sqlite and not ns.pg and not ns.serve:
        parser.error("--no-sqlite needs --pg URL")
    if ns.serve:
        serve(ns.serve, ns.port, Path(ns.timings))
    else:
        asyncio.run(main(ns))
