"""Real processes: `kill -9` during escalation loses nothing and delivers each key; two `serve` processes
sharing PostgreSQL never deliver the same reminder twice."""

import asyncio
import os
import random
import signal
import time

import pytest

from tests.harness import ready, serve, start_receiver, state, write_config, write_incidents, yuqing
from monitor.store import Store
from responders.outbox import BATCH

STEPS = ["-9s", "-6s", "-3s", "0s", "+3s"]


async def test_kill_9_during_escalation_loses_nothing(tmp_path):
    receiver, runner, url = await start_receiver()
    try:
        cfg = write_config(tmp_path, url, STEPS, {"authoritative_release": "12s"})
        db = f"sqlite:///{tmp_path / 'k.db'}"
        imp = await yuqing(cfg, db, "import", str(write_incidents(tmp_path, 20)), cwd=tmp_path)
        assert await imp.wait() == 0
        rng = random.Random(7)
        kills = 0
        proc = await serve(cfg, db, tmp_path)
        loop = asyncio.get_running_loop()
        end = loop.time() + 16
        kill_times: list[float] = []  # wall clock, as the receiver stamps arrivals
        while loop.time() < end:
            await asyncio.sleep(rng.uniform(1.0, 3.0))
            kill_times.append(time.time())
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            kills += 1
            await asyncio.sleep(rng.uniform(0.2, 1.5))
            proc = await serve(cfg, db, tmp_path)
        await ready(proc)
        # every step is due by now: the last restart must catch up everything
        restarted = loop.time()
        while loop.time() < restarted + 20:
            outbox, deadlines = await state(db)
            if all(d.next_at is None for d in deadlines) and all(m.status == "sent" for m in outbox):
                break
            await asyncio.sleep(0.25)
        proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0
    finally:
        await runner.cleanup()
    assert kills >= 4
    assert len(deadlines) == 20  # no deadline disappeared
    assert all(d.state == "open" and d.next_at is None and d.step == len(STEPS) for d in deadlines)
    assert all(m.status == "sent" for m in outbox)  # nothing left behind
    assert {m.key for m in outbox} == set(receiver.keys)  # every reminder written was delivered
    # a deadline's last step is always sent, whatever was merged while the process was down
    assert {k.rsplit(":", 2)[0] for k in receiver.keys if k.split(":")[2] == str(len(STEPS) - 1)} == {
        f"{d.incident_id}:authoritative_release" for d in deadlines}
    # a repeat POST is only possible for a message in flight when the process was killed: a batch is
    # recorded as sent in one transaction after all its sends, so a kill repeats at most one batch, and
    # each repeat follows a kill that came after (or just before, the request then in flight) the first copy
    arrivals: dict[str, list[float]] = {}
    for key, at, _ in receiver.arrivals:
        arrivals.setdefault(key, []).append(at)
    repeats = {k: ts for k, ts in arrivals.items() if len(ts) > 1}
    assert sum(len(ts) - 1 for ts in repeats.values()) <= kills * BATCH
    for key, ts in repeats.items():
        for first, again in zip(ts, ts[1:]):
            assert any(first - 1.0 < k < again for k in kill_times), (key, ts, kill_times)


@pytest.mark.skipif(not os.environ.get("YUQING_TEST_PG_URL"), reason="needs PostgreSQL (CI sets YUQING_TEST_PG_URL)")
async def test_two_processes_on_postgres_never_send_twice(tmp_path, pg_database):
    receiver, runner, url = await start_receiver()
    try:
        store = await Store(pg_database).open()  # start from empty tables
        from tests.conftest import _truncate

        await _truncate(store)
        await store.close()
        cfg = write_config(tmp_path, url, ["0s"], {"authoritative_release": "8s", "press_conference": "10s"})
        imp = await yuqing(cfg, pg_database, "import", str(write_incidents(tmp_path, 500)), cwd=tmp_path)
        assert await imp.wait() == 0
        procs = [await serve(cfg, pg_database, tmp_path) for _ in range(2)]
        for p in procs:
            await ready(p)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while len(receiver.keys) < 1000 and loop.time() < deadline:
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # would a duplicate still arrive?
        for p in procs:
            p.send_signal(signal.SIGTERM)
        assert [await p.wait() for p in procs] == [0, 0]
        outbox, deadlines = await state(pg_database)
    finally:
        await runner.cleanup()
    assert len(deadlines) == 1000
    assert len(receiver.keys) == len(set(receiver.keys)) == 1000
    assert {m.status for m in outbox} == {"sent"}
