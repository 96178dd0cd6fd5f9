"""How escalation and ingest throughput grow with processes of one role on one PostgreSQL database (prints a
table; not a test). docs/roles.md quotes its figures.

1. Escalation: N major incidents (at most 1,140: tests/harness.py's distinct companies) are imported into a
   template database: two deadlines each (5 h and 24 h rules), one step each, sent to three webhook channels.
   For k = 1, 2 … `yuqing serve --role worker` processes on a copy of it, every step is made due at once;
   reminders delivered per second to a local webhook receiver (first to last arrival).
2. Ingest: k `yuqing serve --role web` processes on an empty database; M signed pushes (distinct routine
   complaints) sent to /api/v1/ingest, `--concurrency` in flight per process, round robin; accepted per second.

    python bench/roles_scaling.py [--pg postgresql://postgres@127.0.0.1:5432/test] [--incidents 1140]
                                  [--pushes 1200] [--processes 1,2] [--concurrency 8]

The PostgreSQL URL names a database to connect to for CREATE/DROP DATABASE (env YUQING_TEST_PG_URL); the
benchmark's own databases are made and dropped. Everything runs on this machine: the database, the processes,
the receiver and the client share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import random
import signal
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness import free_port, start_receiver, write_incidents  # noqa: E402

SECRET = "bench-secret"
CHANNELS = ("hook_a", "hook_b", "hook_c")


# --------------------------------------------------------------------------- databases
async def admin(base_url: str, sql: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(base_url)
    conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                                 database=u.database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def db_url(base_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


async def new_db(base_url: str, template: str | None = None) -> str:
    name = f"yuqing_bench_{uuid.uuid4().hex[:10]}"
    await admin(base_url, f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


async def drop_db(base_url: str, name: str) -> None:
    await admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- processes
async def yuqing(cfg: Path, db: str, *args: str, cwd: Path, env: dict) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "--config", str(cfg), "--db", db, *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)


async def started(proc: asyncio.subprocess.Process) -> None:
    while True:
        line = (await proc.stdout.readline()).decode()
        if not line:
            raise RuntimeError(f"process exited with {await proc.wait()}")
        if "舆情哨兵已启动" in line:
            asyncio.ensure_future(_drain(proc))
            return


async def _drain(proc: asyncio.subprocess.Process) -> None:
    while await proc.stdout.read(65536):
        pass


async def stop_all(procs: list[asyncio.subprocess.Process]) -> None:
    for p in procs:
        if p.returncode is None:
            p.send_signal(signal.SIGTERM)
    await asyncio.gather(*(p.wait() for p in procs))


def cpu_seconds(procs: list[asyncio.subprocess.Process]) -> float:
    """User + system CPU the processes have used so far (Linux /proc): what a role costs per item."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in procs:
        fields = Path(f"/proc/{p.pid}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def environment() -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "YUQING_WEBHOOK_SECRET": SECRET}


# --------------------------------------------------------------------------- 1. escalation
async def escalation(base_url: str, tmp: Path, n: int, counts: list[int]) -> dict[int, dict]:
    receiver, runner, hook = await start_receiver()
    cfg = tmp / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({
        "rules": [{"name": name, "applies_to": {"severity_at_least": "重大"}, "due": due, "satisfied_by": "release",
                   "escalation": "bench"} for name, due in (("authoritative_release", "5h"),
                                                            ("press_conference", "24h"))],
        "escalation_policies": {"bench": [{"at": "0s", "notify": ["duty"], "channels": list(CHANNELS)}]},
        "users": [{"name": "duty", "display": "值班员"}],
        "channels": [{"name": c, "kind": "webhook", "url": hook} for c in CHANNELS]}, allow_unicode=True),
        encoding="utf-8")
    template = await new_db(base_url)
    results: dict[int, dict] = {}
    try:
        t0 = time.monotonic()
        imp = await yuqing(cfg, db_url(base_url, template), "import", str(write_incidents(tmp, n)), cwd=tmp,
                           env=environment())
        await _drain(imp)
        assert await imp.wait() == 0, "import failed"
        deadlines = await count_open(db_url(base_url, template))
        n = deadlines * len(CHANNELS)
        print(f"  imported {deadlines // 2} major incidents ({deadlines} deadlines, {n} reminders) in "
              f"{time.monotonic() - t0:.1f} s", flush=True)
        for k in counts:
            receiver.keys.clear()
            receiver.arrivals.clear()
            name = await new_db(base_url, template)
            url = db_url(base_url, name)
            procs = [await yuqing(cfg, url, "serve", "--role", "worker", cwd=tmp, env=environment())
                     for _ in range(k)]
            try:
                await asyncio.gather(*(started(p) for p in procs))
                await asyncio.sleep(1.0)  # settled: nothing is due yet
                assert not receiver.keys
                cpu0 = cpu_seconds(procs)
                made_due = time.time()
                await make_all_due(url)
                end = time.monotonic() + 120
                while len(set(receiver.keys)) < n and time.monotonic() < end:
                    await asyncio.sleep(0.05)
                cpu = cpu_seconds(procs) - cpu0
            finally:
                await stop_all(procs)
                await drop_db(base_url, name)
            times = sorted(at for _, at, _ in receiver.arrivals)
            got = len(set(receiver.keys))
            span = times[-1] - times[0] if len(times) > 1 else float("nan")
            results[k] = {"delivered": got, "duplicates": len(receiver.keys) - got,
                          "per_s": (got - 1) / span if span else float("nan"), "seconds": times[-1] - made_due,
                          "cpu_ms": 1000 * cpu / max(got, 1)}
            print(f"  {k} worker(s): {got}/{n} reminders in {results[k]['seconds']:.2f} s after due, "
                  f"{results[k]['per_s']:.0f}/s first→last, {results[k]['cpu_ms']:.2f} ms worker CPU each, "
                  f"duplicates {results[k]['duplicates']}", flush=True)
    finally:
        await drop_db(base_url, template)
        await runner.cleanup()
    return results


async def count_open(url: str) -> int:
    from monitor.store import Store

    store = await Store(url).open(migrate_schema=False)
    try:
        async with store.read() as tx:
            return len(await tx.deadlines.list(state="open", limit=1_000_000))
    finally:
        await store.close()


async def make_all_due(url: str) -> None:
    """Every open deadline due now, its one step (0 s) with it: the workers find them all at their next look."""
    from sqlalchemy import text

    from monitor.store import Store

    store = await Store(url).open(migrate_schema=False)
    try:
        now = datetime.now(timezone.utc)
        async with store.write() as tx:
            await tx.conn.execute(text("UPDATE deadlines SET due_at = :t, next_at = :t WHERE state = 'open'"),
                                  {"t": now})
    finally:
        await store.close()


# --------------------------------------------------------------------------- 2. ingest
def pushes(m: int, seed: int) -> list[bytes]:
    """Distinct routine complaints (no deadline opens): distinct text, or near-duplicate grouping would rightly
    take them for one."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc).isoformat()
    out = []
    for i in range(m):
        detail = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(40))
        out.append(json.dumps({"id": f"b{seed}-{i}", "title": f"小区{i}号楼电梯故障", "time": now,
                               "body": f"小区{i}号楼电梯经常停运，物业不处理。{detail}"}, ensure_ascii=False).encode())
    return out


def signed(body: bytes) -> dict:
    return {"X-Yuqing-Signature": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}


async def ingest(base_url: str, tmp: Path, m: int, counts: list[int], concurrency: int) -> dict[int, dict]:
    cfg = tmp / "ingest.yaml"
    cfg.write_text(yaml.safe_dump({"sources": [{"name": "push", "kind": "webhook", "secret_env":
                                                "YUQING_WEBHOOK_SECRET"}]}), encoding="utf-8")
    results: dict[int, dict] = {}
    for k in counts:
        name = await new_db(base_url)
        url = db_url(base_url, name)
        ports = [free_port() for _ in range(k)]
        procs = []
        try:
            for port in ports:  # one after another: the first migrates the new database
                procs.append(await yuqing(cfg, url, "serve", "--role", "web", "--listen", f"127.0.0.1:{port}",
                                          cwd=tmp, env=environment()))
                await started(procs[-1])
            async with aiohttp.ClientSession() as session:
                async def send(port: int, body: bytes) -> int:
                    async with session.post(f"http://127.0.0.1:{port}/api/v1/ingest", data=body,
                                            headers=signed(body)) as r:
                        await r.read()
                        return r.status

                for port in ports:  # warm up: the first understanding loads its dictionaries
                    assert {await send(port, b) for b in pushes(10, port)} == {202}
                bodies = pushes(m, 0)
                queue: asyncio.Queue = asyncio.Queue()
                for i, body in enumerate(bodies):
                    queue.put_nowait((ports[i % k], body))
                statuses: list[int] = []

                async def client() -> None:
                    while not queue.empty():
                        port, body = queue.get_nowait()
                        statuses.append(await send(port, body))

                cpu0, t0 = cpu_seconds(procs), time.monotonic()
                await asyncio.gather(*(client() for _ in range(concurrency * k)))
                seconds, cpu = time.monotonic() - t0, cpu_seconds(procs) - cpu0
        finally:
            await stop_all(procs)
            await drop_db(base_url, name)
        ok = statuses.count(202)
        results[k] = {"accepted": ok, "per_s": ok / seconds, "seconds": seconds, "cpu_ms": 1000 * cpu / max(ok, 1)}
        print(f"  {k} web process(es): {ok}/{m} pushes accepted in {seconds:.2f} s, {ok / seconds:.0f}/s, "
              f"{results[k]['cpu_ms']:.1f} ms web CPU each", flush=True)
    return results


# --------------------------------------------------------------------------- report
def table(esc: dict[int, dict], ing: dict[int, dict]) -> str:
    counts = sorted(esc or ing)
    head = f"{'':38s}" + "".join(f"{f'{k} process' + ('es' if k > 1 else ''):>14s}" for k in counts) + \
        f"{'gain':>8s}{'CPU ms/item':>14s}"
    rows = [head]
    for label, res in (("escalation: reminders delivered / s", esc), ("ingest: signed pushes accepted / s", ing)):
        if res:
            first, last = res[counts[0]]["per_s"], res[counts[-1]]["per_s"]
            rows.append(f"{label:38s}" + "".join(f"{res[k]['per_s']:14.0f}" for k in counts) +
                        f"{last / first:7.2f}×" + f"{res[counts[0]]['cpu_ms']:14.2f}")
    return "\n".join(rows)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=os.environ.get("YUQING_TEST_PG_URL"),
                        help="PostgreSQL URL for CREATE DATABASE (env YUQING_TEST_PG_URL)")
    parser.add_argument("--incidents", type=int, default=1140)
    parser.add_argument("--pushes", type=int, default=1200)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--concurrency", type=int, default=8, help="pushes in flight per web process")
    args = parser.parse_args()
    if not args.pg:
        parser.error("needs PostgreSQL: --pg URL or YUQING_TEST_PG_URL")
    counts = [int(c) for c in args.processes.split(",")]
    print(f"roles_scaling on {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f} at start", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        print("escalation (worker processes):", flush=True)
        esc = await escalation(args.pg, Path(tmp), min(args.incidents, 1140), counts)
    with tempfile.TemporaryDirectory() as tmp:
        print("ingest (web processes):", flush=True)
        ing = await ingest(args.pg, Path(tmp), args.pushes, counts, args.concurrency)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print(table(esc, ing))
    from bench.result import emit

    emit({"escalation": {str(k): v for k, v in esc.items()}, "ingest": {str(k): v for k, v in ing.items()},
          "incidents": min(args.incidents, 1140), "pushes": args.pushes})


if __name__ == "__main__":
    asyncio.run(main())
