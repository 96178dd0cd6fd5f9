"""The store on every backend: migrations, UTC round trips, idempotent outbox, unique deadlines."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from monitor.core.clock import SHANGHAI
from monitor.store import Store, StoreError
from monitor.store.db import head_revision, migrate
from monitor.store.schema import include_name, metadata
from monitor.config.settings import BUNDLED_CONFIG


async def test_migrations_create_exactly_the_schema(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def diff(sync_conn):
        return compare_metadata(MigrationContext.configure(sync_conn, opts={"compare_type": False,
                                                                    "include_name": include_name}), metadata)

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    assert version == head_revision()


async def test_migrate_is_idempotent_and_downgradable(db_url):
    store = Store(db_url)
    try:
        assert await migrate(store.engine) == head_revision()
        assert await migrate(store.engine) == head_revision()  # again: nothing to do
        assert await migrate(store.engine, "base", action="downgrade") is None
        async with store.engine.connect() as conn:
            names = await conn.run_sync(lambda c: __import__("sqlalchemy").inspect(c).get_table_names())
        assert "incidents" not in names
        assert await migrate(store.engine) == head_revision()
    finally:
        await store.close()


async def test_times_round_trip_as_utc(store):
    beijing = datetime(2026, 11, 23, 20, 0, tzinfo=SHANGHAI)
    async with store.write() as tx:
        await tx.audit.append(beijing, "tester", "ping", "test")
    async with store.read() as tx:
        [row] = await tx.audit.list(entity="test")
    assert row["at"] == beijing
    assert row["at"].tzinfo == timezone.utc and row["at"].hour == 12


async def test_naive_datetimes_are_refused(store):
    with pytest.raises(Exception, match="naive"):
        async with store.write() as tx:
            await tx.audit.append(datetime(2026, 11, 23, 12, 0), "tester", "ping", "test")


async def _incident(tx, now):
    [incident_id] = await tx.incidents.insert_many([{
        "title": "t", "department": "区应急局", "first_seen_at": now, "last_seen_at": now,
        "created_at": now, "updated_at": now, "severity": 3}])
    return incident_id


async def test_deadline_is_unique_per_incident_and_rule(store, clock):
    now = clock.now()
    async with store.write() as tx:
        incident_id = await _incident(tx, now)
        row = {"incident_id": incident_id, "rule": "authoritative_release", "department": "区应急局",
               "starts_at": now, "due_at": now + timedelta(hours=5), "satisfied_by": "release",
               "created_at": now, "updated_at": now}
        assert len(await tx.deadlines.open_many([row])) == 1
        assert await tx.deadlines.open_many([row]) == []
    async with store.read() as tx:
        [d] = await tx.deadlines.for_incident(incident_id)
    assert d.due_at - d.starts_at == timedelta(hours=5)


async def test_outbox_key_is_delivered_once(store, clock):
    now = clock.now()
    msg = {"key": "1:authoritative_release:0:duty-webhook", "channel": "duty-webhook", "payload": {"text": "x"},
           "next_attempt_at": now, "created_at": now}
    async with store.write() as tx:
        assert len(await tx.outbox.enqueue([msg])) == 1
    async with store.write() as tx:
        [claimed] = await tx.outbox.claim(now, "worker-a", timedelta(seconds=30))
        assert await tx.outbox.claim(now, "worker-b", timedelta(seconds=30)) == []  # leased
        assert await tx.outbox.mark_sent(claimed.id, "worker-a", now)
    async with store.write() as tx:
        assert await tx.outbox.enqueue([msg]) == []  # the same key again: refused
        assert await tx.outbox.claim(now + timedelta(hours=1), "worker-b", timedelta(seconds=30)) == []
        assert (await tx.outbox.counts()) == {"sent": 1}


async def test_expired_lease_is_claimed_again(store, clock):
    now = clock.now()
    async with store.write() as tx:
        await tx.outbox.enqueue([{"key": "k", "channel": "c", "payload": {}, "next_attempt_at": now,
                                  "created_at": now}])
        [first] = await tx.outbox.claim(now, "dead-worker", timedelta(seconds=30))
    async with store.write() as tx:
        assert await tx.outbox.claim(now + timedelta(seconds=10), "b", timedelta(seconds=30)) == []
        [again] = await tx.outbox.claim(now + timedelta(seconds=31), "b", timedelta(seconds=30))
        assert again.id == first.id
        assert not await tx.outbox.mark_sent(first.id, "dead-worker", now)  # the lease moved on
        assert await tx.outbox.mark_sent(again.id, "b", now)


async def test_unreachable_database_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="database"):
        await Store("postgresql://nobody@127.0.0.1:1/none").open()
    with pytest.raises(StoreError):
        await Store(f"sqlite:///{tmp_path}/missing/dir/x.db").open()


async def test_roster_boundary_minute_belongs_to_next_shift(store, clock):
    t8 = datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI)
    t20 = datetime(2026, 11, 23, 20, 0, tzinfo=SHANGHAI)
    async with store.write() as tx:
        await tx.people.sync_from_config([], [
            {"role": "duty_officer", "user": "zhang", "starts_at": t8, "ends_at": t20},
            {"role": "duty_officer", "user": "li", "starts_at": t20, "ends_at": t20 + timedelta(hours=12)},
        ], clock.now())
    async with store.read() as tx:
        assert await tx.people.on_duty("duty_officer", t20 - timedelta(seconds=1)) == ["zhang"]
        assert await tx.people.on_duty("duty_officer", t20) == ["li"]
        assert await tx.people.on_duty("duty_officer", t8 - timedelta(minutes=1)) == []


async def test_migration_gives_whole_second_times_their_fraction_on_sqlite(tmp_path, clock):
    """Rows the bulk path once wrote as "… 08:00:00" compare as text before "… 08:00:00.000000" (the same
    instant as every other statement writes it); migration 0007 rewrites them."""
    from monitor.app import build
    from monitor.core.model import RawItem
    from monitor.config.settings import load_settings

    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = await build(load_settings(BUNDLED_CONFIG / "demo.yaml"), url, clock)
    try:
        await app.pipeline.ingest([RawItem("hotline", "1", "路灯不亮", "金碧街道路灯坏了",
                                           occurred_at=datetime(2026, 11, 23, 8, tzinfo=timezone.utc))], "hotline")
        async with app.store.engine.begin() as conn:  # as the bulk path of an older version wrote it
            await conn.execute(text("UPDATE items SET occurred_at = substr(occurred_at, 1, 19)"))
            assert (await conn.execute(text("SELECT occurred_at FROM items"))).scalar_one() == "2026-11-23 08:00:00"
        assert await migrate(app.store.engine, "0006_provisional_deadlines", action="downgrade")
        assert await migrate(app.store.engine) == head_revision()
        async with app.store.engine.connect() as conn:
            assert (await conn.execute(text("SELECT occurred_at FROM items"))).scalar_one() == \
                "2026-11-23 08:00:00.000000"
    finally:
        await app.close()
