"""Several `yuqing serve` processes starting at once on one new PostgreSQL database each copy the config's
people into it (monitor/app.py sync_people): none fails on the users' unique name, and every person and every
configured shift is stored once."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from monitor.app import sync_people
from monitor.config.settings import BUNDLED_CONFIG, RosterEntry, load_settings
from monitor.store import Store
from tests.conftest import PG_URL
from tests.harness import scratch_pg_database

PROCESSES = 8


@pytest.mark.skipif(not PG_URL, reason="needs YUQING_TEST_PG_URL")
async def test_concurrent_sync_people_on_a_fresh_database(clock):
    settings = load_settings(BUNDLED_CONFIG / "demo.yaml")
    roster = [RosterEntry.model_validate({"role": "duty_officer", "user": u.name, "from": f"2026-11-{d}T08:00+08:00",
                                          "to": f"2026-11-{d + 1}T08:00+08:00"})
              for d, u in zip(range(20, 27), settings.users * 7)]
    settings = settings.model_copy(update={"roster": roster})
    assert len(settings.users) > 1
    url, drop = await scratch_pg_database(PG_URL, "yuqing_sync")
    stores = []
    try:
        stores = list(await asyncio.gather(*(Store(url).open() for _ in range(PROCESSES))))  # one engine each
        for _ in range(3):  # the first round inserts, the later ones meet the rows the others wrote
            await asyncio.gather(*(sync_people(s, settings, clock) for s in stores))
        async with stores[0].read() as tx:
            people = await tx.people.users()
            shifts = await tx.people.roster(min(r.from_ for r in settings.roster), max(r.to for r in settings.roster))
        assert sorted(people) == sorted(u.name for u in settings.users)
        assert all(people[u.name]["display"] == (u.display or u.name) for u in settings.users)
        once = Counter((s["role"], s["user"], s["starts_at"]) for s in shifts)
        assert len(shifts) == len(settings.roster) and set(once.values()) == {1}
    finally:
        await asyncio.gather(*(s.close() for s in stores))
        await drop()
