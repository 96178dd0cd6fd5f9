"""Faults of issue 20 (item 5) with real processes, each measured: data lost (must be 0), duplicates sent (must
be 0) and the time to recover. Prints each fault's figures as it runs, then a Markdown table (as
docs/faults.md shows it); with --json, one JSON document instead (for bench/run's report).

    python bench/faults.py                 # every fault (≈12 minutes on 2 shared cores)
    python bench/faults.py --quick         # short outages and less data: a smoke run (≈4 minutes)
    python bench/faults.py --only pg_outage --pg postgresql://postgres@127.0.0.1:5432/test

import_kill     kill -9 of `yuqing import` (twice, worker processes and all) of a generated 12345 export; the
                re-run stores every row once, with the counts and incident grouping of a clean import.
crawl_kill      kill -9 of `serve` (three times) while it crawls a local board of many list pages.
delivery_kill   kill -9 of `serve` (three times) while it delivers many due reminders to a local webhook.
pg_outage       `serve` reaches PostgreSQL through a local TCP proxy that drops every connection and refuses
                new ones for 30 s while signed pushes arrive and reminders fall due (own database, dropped).
webhook_outage  the webhook answers 500, then 429 with Retry-After, for 3 minutes (--quick: 30 s).
disk_full       the SQLite file on a 20 MB tmpfs, filled while an import and pushes run; then space is freed.
stalled_page    a board whose list page sends its headers and then one byte every 0.5 s forever, beside a
                healthy board; /healthz latency meanwhile.

"Duplicates sent": a reminder key that reached the receiver again after its delivery had been recorded as
sent (the outbox row's sent_at). A key sent again because the first send was never recorded (the process was
killed, or the database unreachable, between send and record) is at-least-once delivery that the
Idempotency-Key header lets the receiver drop: counted apart as "repeats". For data, a duplicate is a row,
an incident or a deadline more than a clean run makes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from tests.harness import (  # noqa: E402
    BoardSite, TcpProxy, free_port, ready, scratch_pg_database, serve_logged, sign_push, start_flaky_receiver, state,
    write_config, write_config_with, write_incidents)

FAULTS = ("import_kill", "crawl_kill", "delivery_kill", "pg_outage", "webhook_outage", "disk_full", "stalled_page")
SECRET = "faults-bench-push-secret"
TOKEN = "faults-bench-api-token"
ENV = {"YUQING_WEBHOOK_SECRET": SECRET, "YUQING_API_TOKEN": TOKEN}
PUSH_SOURCE = {"name": "push", "kind": "webhook", "secret_env": "YUQING_WEBHOOK_SECRET"}
COMPLAINTS = ["小区电梯困人物业不管", "路灯坏了一个月没人修", "工地夜间施工噪音扰民", "餐馆油烟直排影响居民", "学校门口道路拥堵"]


@dataclass
class Result:
    fault: str
    lost: int | None = None
    duplicates: int | None = None
    recover_s: float | None = None
    recover_what: str = ""
    notes: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what did not hold: a finding

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


@dataclass
class Ctx:
    tmp: Path
    quick: bool
    pg: str
    log: Path
    procs: list = field(default_factory=list)  # processes to kill if a fault run fails half-way

    def track(self, proc):
        self.procs.append(proc)
        return proc


def say(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- shared helpers
def sqlite_path(db: str) -> str:
    return db.removeprefix("sqlite:///")


def sq(db: str, sql: str, args: tuple = ()) -> list[tuple]:
    """A read of the SQLite file beside the running process (WAL: readers do not block its writer)."""
    conn = sqlite3.connect(sqlite_path(db), timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # no tables yet (the process is migrating)
        return []
    finally:
        conn.close()


def sq_count(db: str, sql: str) -> int:
    rows = sq(db, sql)
    return rows[0][0] if rows else 0


def summary(db: str) -> dict:
    """What an import left in a SQLite store: item keys, incident grouping (by external ids), counts."""
    items = sq(db, "SELECT source, external_id, incident_id FROM items")
    groups: dict[int, set] = {}
    for source, ext, incident in items:
        groups.setdefault(incident, set()).add(f"{source}/{ext}")
    return {"rows": len(items), "keys": {f"{s}/{e}" for s, e, _ in items},
            "grouping": {frozenset(g) for g in groups.values()},
            "incidents": sq_count(db, "SELECT count(*) FROM incidents"),
            "deadlines": sq_count(db, "SELECT count(*) FROM deadlines"),
            "quarantined": sq_count(db, "SELECT count(*) FROM quarantine")}


async def cli(args: list[str], cwd: Path, out: Path, env: dict | None = None) -> asyncio.subprocess.Process:
    """`yuqing ARGS` with stdout and stderr to `out`.stdout/.stderr files."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", *args, cwd=cwd, env={**os.environ, **(env or {})},
        stdout=out.with_suffix(".stdout").open("wb"), stderr=out.with_suffix(".stderr").open("wb"))


def last_json(out: Path) -> dict | None:
    lines = out.with_suffix(".stdout").read_text(encoding="utf-8", errors="replace").strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


async def kill9(proc) -> None:
    if proc.returncode is None:
        try:
            proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:  # ended on its own meanwhile
            pass
    await proc.wait()


def running(proc, log: Path) -> None:
    """Raise if `serve` has ended on its own (a crash is a finding: its last log line says why)."""
    if proc.returncode is not None:
        lines = [x for x in log.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()] \
            if log.exists() else []
        raise RuntimeError(f"serve ended with exit code {proc.returncode}: {lines[-1][:300] if lines else ''}")


async def stop(proc, timeout: float = 20) -> int | None:
    """SIGTERM; the exit code, or None if it had to be killed."""
    if proc.returncode is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    except asyncio.TimeoutError:
        await kill9(proc)
        return None


async def started(proc, log: Path, timeout: float = 60) -> float:
    """harness.ready, but a `serve` that ends on its own fails at once with its last log line."""
    task = asyncio.ensure_future(ready(proc, timeout))
    while not task.done():
        await asyncio.wait({task}, timeout=0.2)
        if proc.returncode is not None and not task.done():
            task.cancel()
            running(proc, log)
    return task.result()


async def wait_for(predicate, timeout: float, every: float = 0.1) -> bool:
    """Poll `predicate` (a function, or a coroutine function) until it is true or `timeout` passes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return True
        await asyncio.sleep(every)
    return False


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def classify_repeats(arrivals: list[tuple[str, float, dict]], sent_at: dict[str, datetime | None]) -> tuple[int, int]:
    """(duplicates after success, repeats before it): arrivals of a key after its sent_at was recorded, and
    further arrivals of a key before that."""
    after, seen = 0, set()
    repeats = 0
    for key, at, _ in arrivals:
        recorded = sent_at.get(key)
        if recorded is not None and at > recorded.timestamp():
            after += 1
        elif key in seen:
            repeats += 1
        seen.add(key)
    return after, repeats


def sent_times(outbox) -> dict[str, datetime | None]:
    return {m.key: m.sent_at for m in outbox}


async def push_once(session: aiohttp.ClientSession, port: int, ext: str, timeout: float = 15) -> tuple[int, float, str]:
    """One signed push: (HTTP status or 0 when no answer, seconds, error text)."""
    what = COMPLAINTS[sum(map(ord, ext)) % len(COMPLAINTS)]
    obj = {"id": ext, "title": f"{what}（{ext}）", "body": f"编号{ext}：{what}，请尽快处理。",
           "time": datetime.now(timezone.utc).isoformat()}
    body, headers = sign_push(SECRET, obj)
    started = time.monotonic()
    try:
        async with session.post(f"http://127.0.0.1:{port}/api/v1/ingest", data=body, headers=headers,
                                timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            text = await r.text()
            return r.status, time.monotonic() - started, "" if r.status == 202 else text[:300]
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        return 0, time.monotonic() - started, f"{type(exc).__name__}: {exc}"[:300]


class Pusher:
    """A hotline platform pushing one message every `every` seconds; like a real sender it sends again later
    what was not answered 202."""

    def __init__(self, port: int, prefix: str, every: float = 0.1) -> None:
        self.port, self.prefix, self.every = port, prefix, every
        self.log: list[tuple[float, str, int, float, str]] = []  # (time, id, status, seconds, error)
        self.stopped = asyncio.Event()

    @property
    def accepted(self) -> set[str]:
        return {ext for _, ext, status, _, _ in self.log if status == 202}

    @property
    def ids(self) -> set[str]:
        return {ext for _, ext, _, _, _ in self.log}

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            i = 0
            while not self.stopped.is_set():
                ext = f"{self.prefix}{i}"
                status, seconds, error = await push_once(session, self.port, ext)
                self.log.append((time.time(), ext, status, seconds, error))
                i += 1
                await asyncio.sleep(self.every)

    async def resend_refused(self, rounds: int = 20) -> int:
        """Send again every id never answered 202; returns how many still are not."""
        async with aiohttp.ClientSession() as session:
            for _ in range(rounds):
                missing = sorted(self.ids - self.accepted)
                if not missing:
                    return 0
                for ext in missing:
                    status, seconds, error = await push_once(session, self.port, ext)
                    self.log.append((time.time(), ext, status, seconds, error))
                await asyncio.sleep(1)
        return len(self.ids - self.accepted)


class HealthProbe:
    """GET /healthz every `every` seconds: (time, status or 0, milliseconds)."""

    def __init__(self, port: int, every: float = 0.25) -> None:
        self.port, self.every = port, every
        self.log: list[tuple[float, int, float]] = []
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            while not self.stopped.is_set():
                started = time.monotonic()
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/healthz",
                                           timeout=aiohttp.ClientTimeout(total=10)) as r:
                        await r.read()
                        status = r.status
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                    status = 0
                self.log.append((time.time(), status, (time.monotonic() - started) * 1000))
                await asyncio.sleep(self.every)

    def between(self, start: float, end: float) -> list[tuple[float, int, float]]:
        return [e for e in self.log if start <= e[0] <= end]


def stderr_lines(log: Path, since: int, *needles: str) -> list[str]:
    text = log.read_text(encoding="utf-8", errors="replace")[since:]
    return [line for line in text.splitlines() if any(n in line for n in needles)]


async def start_site(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


# --------------------------------------------------------------------------- 1. kill -9 during import
async def import_kill(c: Ctx) -> Result:
    from bench.import_throughput import generate
    from monitor.sources.parallel import MIN_ROWS

    r = Result("import_kill")
    rows = MIN_ROWS + 1_000 if c.quick else max(20_000, MIN_ROWS + 5_000)  # enough rows for worker processes
    export = c.tmp / "export.csv"
    generate(export, rows)
    clean_db, db = f"sqlite:///{c.tmp / 'clean.db'}", f"sqlite:///{c.tmp / 'killed.db'}"
    t = time.monotonic()
    proc = c.track(await cli(["--db", clean_db, "import", str(export), "--json"], c.tmp, c.tmp / "clean"))
    r.check(await proc.wait() == 0, "clean import failed")
    clean_s = time.monotonic() - t
    clean = summary(clean_db)
    say(f"  clean import of {rows} rows: {clean_s:.1f} s, {clean['rows']} items, {clean['incidents']} incidents")
    kills, orphans_s = [], []
    for frac in (0.3, 0.7):  # two runs killed, the second after the first's rows
        proc = c.track(await cli(["--db", db, "import", str(export), "--json"], c.tmp, c.tmp / "killed"))
        target = int(clean["rows"] * frac)
        await wait_for(lambda: sq_count(db, "SELECT count(*) FROM items") >= target, 600, 0.05)
        kids = children(proc.pid)
        stored = sq_count(db, "SELECT count(*) FROM items")
        await kill9(proc)
        gone_at = time.monotonic()
        ok = await wait_for(lambda: not any(alive(k) for k in kids), 15, 0.05)
        orphans_s.append(time.monotonic() - gone_at)
        r.check(ok, f"worker processes {kids} still alive 15 s after the importer was killed")
        for k in kids:
            if alive(k):
                os.kill(k, signal.SIGKILL)
        kills.append({"at_items": stored, "children": len(kids)})
        say(f"  killed with {stored} items stored; its {len(kids)} child processes ended "
            f"{orphans_s[-1]:.1f} s later")
    t = time.monotonic()
    proc = c.track(await cli(["--db", db, "import", str(export), "--json"], c.tmp, c.tmp / "rerun"))
    rc = await proc.wait()
    rerun_s = time.monotonic() - t
    stats = last_json(c.tmp / "rerun") or {}
    r.check(rc == 0, f"re-run exited {rc}")
    after = summary(db)
    r.lost = len(clean["keys"] - after["keys"])
    extra = (after["rows"] - len(after["keys"])) + len(after["keys"] - clean["keys"]) + max(
        0, after["incidents"] - clean["incidents"]) + max(0, after["deadlines"] - clean["deadlines"])
    r.duplicates = extra
    same_grouping = after["grouping"] == clean["grouping"]
    r.check(same_grouping, "incident grouping differs from the clean import")
    r.check(after["quarantined"] == clean["quarantined"], "quarantine count differs")
    r.recover_s, r.recover_what = rerun_s, "re-run to the end"
    r.figures = {"rows": rows, "clean_import_s": round(clean_s, 1), "rerun_s": round(rerun_s, 1), "kills": kills,
                 "children_ended_after_s": [round(s, 2) for s in orphans_s], "rerun_stats": stats,
                 "items": [clean["rows"], after["rows"]], "incidents": [clean["incidents"], after["incidents"]],
                 "deadlines": [clean["deadlines"], after["deadlines"]], "same_grouping": same_grouping}
    r.notes.append(f"{rows:,} rows, killed at {kills[0]['at_items']:,} and {kills[1]['at_items']:,} items "
                   f"({kills[0]['children']} child processes, ended ≤ {max(orphans_s):.1f} s after); "
                   f"re-run inserted {stats.get('inserted', 0):,}; "
                   f"items/incidents/deadlines {after['rows']:,}/{after['incidents']:,}/{after['deadlines']:,} as "
                   f"the clean run's, same grouping: {'yes' if same_grouping else 'NO'}; clean import {clean_s:.0f} s")
    return r


# --------------------------------------------------------------------------- 2. kill -9 during a crawl
async def crawl_kill(c: Ctx) -> Result:
    r = Result("crawl_kill")
    n = 200 if c.quick else 600
    site = BoardSite(n, per_page=10)
    runner, port = await start_site(site.app(("/a",)))
    db = f"sqlite:///{c.tmp / 'crawl.db'}"
    cfg = write_config_with(c.tmp, "http://127.0.0.1:9/hook", ["0s"], {}, {"sources": [{
        "name": "board", "kind": "board", "url": f"http://127.0.0.1:{port}/a/list?page=1", "delay": "0s",
        "retries": 1, "timeout": "5s", "interval": "1h", "max_pages": 1000, "recheck": 0,
        "selectors": site.selectors(), "id_pattern": r"id=(\d+)"}]})
    count = lambda: sq_count(db, "SELECT count(*) FROM items WHERE source = 'board'")  # noqa: E731
    rng = random.Random(3)
    try:
        t0 = time.monotonic()
        proc = c.track(await serve_logged(cfg, db, c.tmp, c.log, ENV))
        kills = []
        for frac in (0.15, 0.4, 0.65):
            await wait_for(lambda: count() >= n * frac or proc.returncode is not None, 300, 0.02)
            running(proc, c.log)
            await kill9(proc)
            kills.append(count())
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            proc = c.track(await serve_logged(cfg, db, c.tmp, c.log, ENV))
        restarted = time.monotonic()
        done = await wait_for(lambda: count() >= n or proc.returncode is not None, 300, 0.05)
        running(proc, c.log)
        recover = time.monotonic() - restarted
        rc = await stop(proc)
        r.check(done, f"only {count()} of {n} messages stored 300 s after the last restart")
        r.check(rc == 0, f"serve exited {rc} on SIGTERM")
    finally:
        await runner.cleanup()
    keys = sq(db, "SELECT external_id FROM items WHERE source = 'board'")
    ids = {k for (k,) in keys}
    r.lost = len({str(i) for i in range(1, n + 1)} - ids)
    incidents = sq_count(db, "SELECT count(DISTINCT incident_id) FROM items WHERE source = 'board'")
    r.duplicates = len(keys) - len(ids)
    lists = [h for h in site.hits if h.startswith("list")]
    details = [h for h in site.hits if h.startswith("detail")]
    pages = -(-n // 10)
    r.recover_s, r.recover_what = recover, "last restart → every message stored"
    r.figures = {"messages": n, "pages": pages, "killed_at_items": kills, "list_requests": len(lists),
                 "detail_requests": len(details), "incidents": incidents, "total_s": round(time.monotonic() - t0, 1)}
    r.notes.append(f"{n} messages on {pages} list pages, killed at {', '.join(map(str, kills))} stored; "
                   f"{len(lists) - pages} list and {len(details) - n} detail pages fetched again after the kills")
    return r


# --------------------------------------------------------------------------- 3. kill -9 during delivery
async def delivery_kill(c: Ctx) -> Result:
    r = Result("delivery_kill")
    n = 200 if c.quick else 500
    receiver, runner, url = await start_flaky_receiver()
    receiver.delay = 0.03  # a real endpoint takes a moment: sends are in flight when the kill comes
    db = f"sqlite:///{c.tmp / 'delivery.db'}"
    cfg = write_config(c.tmp, url, ["0s"], {"authoritative_release": "5s", "press_conference": "6s"})
    try:
        imp = c.track(await cli(["--config", str(cfg), "--db", db, "import",
                                 str(write_incidents(c.tmp, n, start=datetime.now(timezone.utc) - timedelta(hours=1)))],
                                c.tmp, c.tmp / "delivery_import"))
        r.check(await imp.wait() == 0, "import of the incidents failed")
        want = 2 * n
        proc = c.track(await serve_logged(cfg, db, c.tmp, c.log))
        kills = []
        for frac in (0.2, 0.45, 0.7):
            await wait_for(lambda: len(set(receiver.keys)) >= want * frac or proc.returncode is not None, 300, 0.01)
            running(proc, c.log)
            await kill9(proc)
            kills.append(len(set(receiver.keys)))
            await asyncio.sleep(0.5)
            proc = c.track(await serve_logged(cfg, db, c.tmp, c.log))
        restarted = time.time()
        done = await wait_for(lambda: len(set(receiver.keys)) >= want or proc.returncode is not None, 300, 0.05)
        running(proc, c.log)
        recover = max(at for _, at, _ in receiver.arrivals) - restarted
        await asyncio.sleep(2)  # would a duplicate still come?
        rc = await stop(proc)
        r.check(done, f"{len(set(receiver.keys))} of {want} reminders received 300 s after the last restart")
        r.check(rc == 0, f"serve exited {rc} on SIGTERM")
    finally:
        await runner.cleanup()
    outbox, deadlines = await state(db)
    keys = {m.key for m in outbox}
    r.lost = len(keys - set(receiver.keys)) + max(0, want - len(keys))
    r.check(all(m.status == "sent" for m in outbox), "outbox rows left unsent")
    after, repeats = classify_repeats(receiver.arrivals, sent_times(outbox))
    r.duplicates = after
    r.recover_s, r.recover_what = recover, "last restart → every reminder received"
    r.figures = {"reminders": want, "killed_at_received": kills, "repeats_before_record": repeats,
                 "arrivals": len(receiver.arrivals)}
    r.notes.append(f"{want} reminders due at once, killed at {', '.join(map(str, kills))} received; {repeats} "
                   f"repeats of sends in flight at a kill (≤ 16 a kill: one batch; dropped by Idempotency-Key)")
    return r


# --------------------------------------------------------------------------- 4. PostgreSQL unreachable
async def pg_outage(c: Ctx) -> Result:
    import asyncpg
    from sqlalchemy.engine import make_url  # the bench, not the package: tests/test_layout.py covers monitor/

    r = Result("pg_outage")
    outage = 10.0 if c.quick else 30.0
    n = 30 if c.quick else 60
    base = make_url(c.pg)
    try:
        direct, drop = await scratch_pg_database(c.pg, "yuqing_faults")
    except (OSError, asyncpg.PostgresError) as exc:
        r.notes.append(f"not run: PostgreSQL at {base.render_as_string(hide_password=True)} unusable: {exc}")
        return r
    proxy = await TcpProxy(base.host or "127.0.0.1", base.port or 5432).up()
    proxied = make_url(direct).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    receiver, runner, url = await start_flaky_receiver()
    lead = 40  # seconds from first seen to due: serve is up and pushes flow before the outage
    cfg = write_config_with(c.tmp, url, ["0s"], {"authoritative_release": f"{lead}s"}, {"sources": [PUSH_SOURCE]})
    log_from = c.log.stat().st_size if c.log.exists() else 0
    proc = None
    try:
        seen = datetime.now(timezone.utc)
        spread = outage / 3
        imp = c.track(await cli(["--config", str(cfg), "--db", direct, "import",
                                 str(write_incidents(c.tmp, n, timedelta(seconds=spread), seen))],
                                c.tmp, c.tmp / "pg_import"))
        r.check(await imp.wait() == 0, "import of the incidents failed")
        proc = c.track(await serve_logged(cfg, proxied, c.tmp, c.log, ENV))
        await started(proc, c.log)
        pusher, probe = Pusher(proc.port, "pg-"), HealthProbe(proc.port)
        tasks = [asyncio.create_task(pusher.run()), asyncio.create_task(probe.run())]
        # down 3 s before the first reminder falls due; every reminder falls due while it is down
        down_at = seen.timestamp() + lead - 3
        if time.time() > down_at:
            r.notes.append("warning: setting up took longer than planned: some reminders fell due before the outage")
        await asyncio.sleep(max(0.0, down_at - time.time()))
        t_down = time.time()
        await proxy.down()
        await asyncio.sleep(outage)
        await proxy.up()
        t_up = time.time()
        say(f"  proxy down {t_down - seen.timestamp():.1f}–{t_up - seen.timestamp():.1f} s, "
            f"{proxy.dropped} connection ends dropped")

        done = await wait_for(lambda: len(set(receiver.keys)) >= n, 300, 0.1)
        backlog = (max(at for _, at, _ in receiver.arrivals) - t_up) if receiver.arrivals else None
        await asyncio.sleep(3)  # pushes go on after the backlog
        pusher.stopped.set()
        probe.stopped.set()
        await asyncio.gather(*tasks)
        crashed = proc.returncode is not None
        still_refused = await pusher.resend_refused()
        await asyncio.sleep(2)
        rc = await stop(proc)
        r.check(not crashed, f"serve ended during the outage (exit {proc.returncode})")
        r.check(rc == 0, f"serve exited {rc} on SIGTERM")
        r.check(done, f"{len(set(receiver.keys))} of {n} reminders delivered 300 s after the database came back")
        r.check(still_refused == 0, f"{still_refused} pushes still refused after the outage")
        outbox, deadlines = await state(direct)
        from monitor.store import Store

        store = await Store(direct).open()
        try:
            async with store.read() as tx:
                stored = await tx.items.by_external_ids("push", sorted(pusher.ids))
        finally:
            await store.close()
    finally:
        if proc is not None and proc.returncode is None:
            await kill9(proc)
        await proxy.down()
        await runner.cleanup()
        await drop()
    during = [e for e in pusher.log if t_down <= e[0] <= t_up]
    first_ok = min((e[0] for e in pusher.log if e[0] > t_up and e[2] == 202), default=None)
    health_down = probe.between(t_down + 1, t_up)
    health_ok = min((t for t, s, _ in probe.log if t > t_up and s == 200), default=None)
    acked_lost = len(pusher.accepted - set(stored))
    r.lost = acked_lost + len({m.key for m in outbox} - set(receiver.keys)) + max(0, n - len(outbox))
    after, repeats = classify_repeats(receiver.arrivals, sent_times(outbox))
    r.duplicates = after
    statuses: dict[str, int] = {}
    for e in during:
        statuses[str(e[2] or "no answer")] = statuses.get(str(e[2] or "no answer"), 0) + 1
    r.recover_s, r.recover_what = backlog, "database back → reminder backlog delivered"
    errors = stderr_lines(c.log, log_from, "ERROR", "Traceback")
    r.figures = {"outage_s": outage, "reminders": n, "pushes": len(pusher.ids), "pushes_accepted": len(pusher.accepted),
                 "answers_while_down": statuses,
                 "max_push_s_while_down": round(max((e[3] for e in during), default=0), 2),
                 "first_202_after_up_s": round(first_ok - t_up, 2) if first_ok else None,
                 "healthz_while_down": sorted({s for _, s, _ in health_down}),
                 "healthz_max_ms_while_down": round(max((ms for *_, ms in health_down), default=0), 1),
                 "healthz_200_after_up_s": round(health_ok - t_up, 2) if health_ok else None,
                 "repeats_before_record": repeats, "connections_dropped": proxy.dropped,
                 "serve_error_lines": len(errors)}
    r.notes.append(f"{outage:.0f} s down; {len(pusher.ids)} pushes, while down answered {statuses} (max "
                   f"{r.figures['max_push_s_while_down']} s), /healthz {r.figures['healthz_while_down']}; after: "
                   f"first 202 in {r.figures['first_202_after_up_s']} s, /healthz 200 in "
                   f"{r.figures['healthz_200_after_up_s']} s; {n} reminders fell due while down; {repeats} repeats")
    return r


# --------------------------------------------------------------------------- 5. webhook 500/429
async def webhook_outage(c: Ctx) -> Result:
    r = Result("webhook_outage")
    outage = 30.0 if c.quick else 180.0
    retry_after = 20 if c.quick else 60
    n = 50 if c.quick else 100
    receiver, runner, url = await start_flaky_receiver()
    receiver.status = 500
    db = f"sqlite:///{c.tmp / 'webhook.db'}"
    cfg = write_config(c.tmp, url, ["0s"], {"authoritative_release": "5s"})
    try:
        # first seen over the outage's first 80 %: reminders fall due before and while it fails
        imp = c.track(await cli(["--config", str(cfg), "--db", db, "import",
                                 str(write_incidents(c.tmp, n, timedelta(seconds=outage * 0.8)))],
                                c.tmp, c.tmp / "webhook_import"))
        r.check(await imp.wait() == 0, "import of the incidents failed")
        proc = c.track(await serve_logged(cfg, db, c.tmp, c.log))
        await started(proc, c.log)
        t_start = time.time()
        await asyncio.sleep(outage / 2)
        receiver.status, receiver.retry_after = 429, retry_after
        t_429 = time.time()
        await asyncio.sleep(outage / 2)
        receiver.status = 200
        t_up = time.time()
        done = await wait_for(lambda: len(set(receiver.keys)) >= n, 900, 0.2)
        drained = max(at for _, at, _ in receiver.arrivals) - t_up if receiver.arrivals else None
        await asyncio.sleep(2)
        rc = await stop(proc)
        r.check(done, f"{len(set(receiver.keys))} of {n} reminders delivered 900 s after the endpoint recovered")
        r.check(rc == 0, f"serve exited {rc} on SIGTERM")
    finally:
        await runner.cleanup()
    outbox, _ = await state(db)
    r.lost = len({m.key for m in outbox} - set(receiver.keys)) + max(0, n - len(outbox))
    after, repeats = classify_repeats(receiver.arrivals, sent_times(outbox))
    r.duplicates = after + repeats  # no kill here: any repeat would be a real one
    attempts: dict[str, list[tuple[float, int]]] = {}
    for key, at, status in receiver.refused:
        attempts.setdefault(key, []).append((at, status))
    early = 0  # a retry sooner than a 429's Retry-After asked
    for key, tries in attempts.items():
        times = [*tries, *((at, 200) for k, at, _ in receiver.arrivals if k == key)]
        times.sort()
        early += sum(1 for (a, s), (b, _) in zip(times, times[1:]) if s == 429 and b - a < retry_after - 1)
    per_key = [len(v) for v in attempts.values()]
    r.recover_s, r.recover_what = drained, "endpoint back → every reminder delivered"
    r.figures = {"outage_s": outage, "retry_after_s": retry_after, "reminders": n,
                 "answers_500": sum(1 for *_, s in receiver.refused if s == 500),
                 "answers_429": sum(1 for *_, s in receiver.refused if s == 429),
                 "failed_tries_per_reminder_max": max(per_key, default=0),
                 "retries_sooner_than_retry_after": early,
                 "dead_rows": sum(1 for m in outbox if m.status != "sent"),
                 "first_200_after_up_s": round(min((at for _, at, _ in receiver.arrivals if at >= t_up),
                                                   default=t_up) - t_up, 2)}
    r.notes.append(f"{outage:.0f} s failing (500, then 429 Retry-After {retry_after} s from "
                   f"+{t_429 - t_start:.0f} s); {r.figures['answers_500']} × 500, {r.figures['answers_429']} × 429, "
                   f"≤ {r.figures['failed_tries_per_reminder_max']} failed tries a reminder; "
                   f"{early} retries sooner than Retry-After; drain is the backoff (5 s·2ⁿ, ≤ 10 min)")
    return r


# --------------------------------------------------------------------------- 6. disk full
def fill(folder: Path, name: str, leave: int) -> int:
    """Write a file that leaves `leave` bytes free on the file system (0: until it is full). Returns its size."""
    path, free = folder / name, os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    size = 0
    with path.open("wb") as f:
        try:
            while size < free - leave:
                f.write(b"\0" * min(1 << 20, free - leave - size))
                size = f.tell()
            f.flush()
        except OSError:  # ENOSPC: full
            size = f.tell()
    return size


async def disk_full(c: Ctx) -> Result:
    from bench.import_throughput import generate

    r = Result("disk_full")
    mnt = c.tmp / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mnt)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        r.notes.append(f"not run: mount of a 20 MB tmpfs refused ({mounted.stderr.strip()}); run as root")
        return r
    rows = 2_000 if c.quick else 3_000
    export = c.tmp / "small_export.csv"
    generate(export, rows, seed=7)
    db = f"sqlite:///{mnt / 'yuqing.db'}"
    proc = None
    log_from = c.log.stat().st_size if c.log.exists() else 0
    try:
        clean_db = f"sqlite:///{c.tmp / 'disk_clean.db'}"
        imp = c.track(await cli(["--db", clean_db, "import", str(export), "--json"], c.tmp, c.tmp / "disk_clean"))
        r.check(await imp.wait() == 0, "clean import failed")
        clean = summary(clean_db)
        cfg = write_config_with(c.tmp, "http://127.0.0.1:9/hook", ["0s"], {}, {"sources": [PUSH_SOURCE]})
        proc = c.track(await serve_logged(cfg, db, c.tmp, c.log, ENV))
        await started(proc, c.log)
        pusher, probe = Pusher(proc.port, "disk-", every=0.2), HealthProbe(proc.port)
        tasks = [asyncio.create_task(pusher.run()), asyncio.create_task(probe.run())]
        await asyncio.sleep(2)
        filler = fill(mnt, "filler", leave=1_500_000)
        t_full = time.time()
        imp = c.track(await cli(["--db", db, "import", str(export), "--json"], c.tmp, c.tmp / "disk_import"))
        import_rc = await imp.wait()
        import_err = [line for line in (c.tmp / "disk_import.stderr").read_text(encoding="utf-8", errors="replace")
                      .splitlines() if line.strip()]
        fill(mnt, "filler2", leave=0)  # what the import's rollback gave back: full for the pushes too
        # the pushes use the WAL's free frames first: go on, faster, until the disk refuses them
        pusher.every = 0.05
        await wait_for(lambda: sum(1 for e in pusher.log if e[0] > t_full and e[2] != 202) >= 10, 60, 0.1)
        pusher.every = 0.2
        t_free = time.time()
        (mnt / "filler").unlink()
        (mnt / "filler2").unlink()
        await wait_for(lambda: any(e[0] > t_free and e[2] == 202 for e in pusher.log), 60, 0.1)
        await asyncio.sleep(2)
        pusher.stopped.set()
        probe.stopped.set()
        await asyncio.gather(*tasks)
        still_refused = await pusher.resend_refused()
        t = time.monotonic()
        imp = c.track(await cli(["--db", db, "import", str(export), "--json"], c.tmp, c.tmp / "disk_rerun"))
        rerun_rc = await imp.wait()
        rerun_s = time.monotonic() - t
        crashed = proc.returncode is not None
        rc = await stop(proc)
        proc = None
        integrity = sq(db, "PRAGMA integrity_check")
        after = summary(db)
        pushed = {e for (e,) in sq(db, "SELECT external_id FROM items WHERE source = 'push'")}
    finally:
        if proc is not None and proc.returncode is None:
            await kill9(proc)
        subprocess.run(["umount", str(mnt)], capture_output=True)
    full_log = [e for e in pusher.log if t_full <= e[0] <= t_free]
    refused = [e for e in full_log if e[2] != 202]
    first_ok = min((e[0] for e in pusher.log if e[0] > t_free and e[2] == 202), default=None)
    health_full = probe.between(t_full, t_free)
    imported = {k for k in after["keys"] if not k.startswith("push/")}
    r.check(import_rc != 0, "the import on a full disk reported success")
    r.check(not crashed, "serve ended while the disk was full")
    r.check(rc == 0, f"serve exited {rc} on SIGTERM")
    r.check(rerun_rc == 0, f"import after freeing space exited {rerun_rc}")
    r.check(still_refused == 0, f"{still_refused} pushes still refused after space was freed")
    r.check(integrity == [("ok",)], f"integrity_check: {integrity[:3]}")
    r.check(len(import_err) == 1, f"the import's error is {len(import_err)} lines, not one")
    r.lost = len(pusher.accepted - pushed) + len(clean["keys"] - imported)
    r.duplicates = len(imported - clean["keys"]) + (after["rows"] - len(after["keys"]))
    r.recover_s, r.recover_what = (first_ok - t_free) if first_ok else None, "space freed → next push 202"
    statuses: dict[str, int] = {}
    for e in full_log:
        statuses[str(e[2] or "no answer")] = statuses.get(str(e[2] or "no answer"), 0) + 1
    r.figures = {"rows": rows, "filler_mb": round(filler / 1e6, 1), "import_exit": import_rc,
                 "import_stderr_lines": len(import_err),
                 "import_stderr_last": import_err[-1][:300] if import_err else "",
                 "push_answers_while_full": statuses, "push_error_body": refused[0][4] if refused else "",
                 "healthz_while_full": sorted({s for _, s, _ in health_full}), "rerun_exit": rerun_rc,
                 "rerun_s": round(rerun_s, 1), "integrity_check": integrity[0][0] if integrity else None,
                 "serve_error_lines": len(stderr_lines(c.log, log_from, "ERROR"))}
    r.notes.append(f"import on the full disk: exit {import_rc}, {len(import_err)} stderr line(s): "
                   f"“{(import_err[-1] if import_err else '')[:120]}”; pushes while full {statuses}, "
                   f"/healthz {r.figures['healthz_while_full']}; integrity_check {r.figures['integrity_check']}; "
                   f"re-run import exit {rerun_rc}")
    return r


# --------------------------------------------------------------------------- 7. a page that never finishes
async def stalled_page(c: Ctx) -> Result:
    r = Result("stalled_page")
    timeout, retries, n = 3, 1, 30
    site = BoardSite(n, per_page=10, stall={"/stall/list"})
    runner, port = await start_site(site.app(("/a", "/stall")))
    db = f"sqlite:///{c.tmp / 'stall.db'}"

    def board(name: str, prefix: str) -> dict:
        return {"name": name, "kind": "board", "url": f"http://127.0.0.1:{port}{prefix}/list?page=1", "delay": "0s",
                "retries": retries, "timeout": f"{timeout}s", "interval": "1h", "recheck": 0,
                "selectors": site.selectors(), "id_pattern": r"id=(\d+)"}

    cfg = write_config_with(c.tmp, "http://127.0.0.1:9/hook", ["0s"], {}, {"sources": [board("stalled", "/stall"),
                                                                                   board("healthy", "/a")]})
    proc = None
    try:
        proc = c.track(await serve_logged(cfg, db, c.tmp, c.log, ENV))
        await started(proc, c.log)
        t0 = time.time()
        probe = HealthProbe(proc.port, every=0.1)
        task = asyncio.create_task(probe.run())
        marked = await wait_for(lambda: sq(db, "SELECT 1 FROM sources WHERE name = 'stalled' AND failures > 0"),
                                120, 0.05)
        t_marked = time.time()
        healthy = sq_count(db, "SELECT count(*) FROM items WHERE source = 'healthy'")
        await asyncio.sleep(2)
        probe.stopped.set()
        await task
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{proc.port}/healthz?detail=1",
                                   headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                detail = {s["name"]: s for s in (await resp.json())["detail"]["sources"]}
        open_after = site.open_stalls
        rc = await stop(proc)
        proc = None
        r.check(marked, "the stalled source was not marked failed within 120 s")
        r.check(rc == 0, f"serve exited {rc} on SIGTERM")
    finally:
        if proc is not None and proc.returncode is None:
            await kill9(proc)
        await runner.cleanup()
    cut = [end - start for start, end in site.stalls if end]
    ms = [m for _, s, m in probe.log]
    r.lost = n - healthy
    r.duplicates = 0
    r.recover_s, r.recover_what = t_marked - t0, "stalled poll given up (source marked failed)"
    r.check(all(abs(x - timeout) < 1.0 for x in cut), f"stalled requests cut after {cut}, not {timeout} s")
    r.check(open_after == 0, f"{open_after} stalled connections still open after the poll gave up")
    r.check(all(s == 200 for _, s, _ in probe.log), "/healthz failed during the stall")
    r.figures = {"timeout_s": timeout, "retries": retries, "requests_cut_after_s": [round(x, 2) for x in cut],
                 "poll_failed_after_s": round(t_marked - t0, 2), "healthy_items": healthy,
                 "stalled_state": detail["stalled"]["state"], "stalled_error": detail["stalled"]["last_error"],
                 "healthz_requests": len(ms), "healthz_p50_ms": round(pct(ms, .5), 1),
                 "healthz_p99_ms": round(pct(ms, .99), 1), "healthz_max_ms": round(max(ms), 1),
                 "open_stalled_connections_after": open_after}
    r.notes.append(f"timeout {timeout} s, {retries} retry: requests cut after "
                   f"{', '.join(f'{x:.1f}' for x in cut)} s; source “{detail['stalled']['state']}”, "
                   f"“{(detail['stalled']['last_error'] or '')[:80]}”; the other board stored {healthy}/{n}; "
                   f"/healthz p50 {r.figures['healthz_p50_ms']} ms, max {r.figures['healthz_max_ms']} ms "
                   f"({len(ms)} requests)")
    return r


# --------------------------------------------------------------------------- report
def cell(value, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:.1f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def table(results: list[Result]) -> str:
    lines = ["| fault | data lost | duplicates sent | time to recover | notes |", "|---|---|---|---|---|"]
    for r in results:
        notes = "; ".join(r.notes + [f"**finding: {p}**" for p in r.problems]).replace("|", "\\|")
        recover = f"{cell(r.recover_s, ' s')} ({r.recover_what})" if r.recover_s is not None else "—"
        lines.append(f"| {r.fault} | {cell(r.lost)} | {cell(r.duplicates)} | {recover} | {notes} |")
    return "\n".join(lines)


def machine() -> dict:
    return {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "system": platform.platform(terse=True),
            "shared": "the machine is shared with other engineers' work (load average above)"}


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test",
                    help="PostgreSQL server for pg_outage (a database is created there and dropped)")
    ap.add_argument("--only", action="append", choices=FAULTS, help="run only this fault (repeatable)")
    ap.add_argument("--quick", action="store_true", help="short outages and less data: a smoke run")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, databases) and print its path")
    args = ap.parse_args()
    started, before = time.monotonic(), machine()
    results: list[Result] = []
    tmp = tempfile.mkdtemp(prefix="yuqing-faults-")
    if args.keep:
        say(f"work folder: {tmp}")
    try:
        for name in args.only or FAULTS:
            folder = Path(tmp) / name
            folder.mkdir()
            c = Ctx(folder, args.quick, args.pg, folder / "serve.log")
            say(f"{name} …")
            t = time.monotonic()
            try:
                result = await globals()[name](c)
            except Exception as exc:  # one broken fault run must not hide the others' figures
                import traceback

                result = Result(name, problems=[f"the run failed: {type(exc).__name__}: {exc}"])
                say(traceback.format_exc())
            finally:
                for p in c.procs:
                    if p.returncode is None:
                        p.kill()
                        await p.wait()
            result.figures["wall_s"] = round(time.monotonic() - t, 1)
            if c.log.exists():
                tracebacks = stderr_lines(c.log, 0, "Traceback")
                result.figures["serve_tracebacks"] = len(tracebacks)
            say(f"  {json.dumps(asdict(result), ensure_ascii=False, default=str)}")
            results.append(result)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report = {"machine": before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
              "quick": args.quick, "seconds": round(time.monotonic() - started, 1),
              "results": [asdict(r) for r in results]}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, default=str))
    else:
        print(f"机器 machine: {before['cpus']} CPUs, load average {before['load_average']} → "
              f"{report['load_average_after']} ({before['shared']}); Python {before['python']}; "
              f"{'--quick, ' if args.quick else ''}{report['seconds']:.0f} s\n")
        print(table(results))
    print("RESULT " + json.dumps(report, ensure_ascii=False, default=str), flush=True)  # for bench/run
    bad = [r for r in results if r.problems or r.lost or r.duplicates]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
