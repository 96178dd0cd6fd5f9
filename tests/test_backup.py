"""`yuqing db backup` / `db restore` as a user runs them, on SQLite and PostgreSQL: a backup taken while rows
are written is one consistent moment; a restore refuses a database in use, keeps the previous one, and a
store from an older schema version comes back at the migration head with its rows."""

import asyncio
import sqlite3
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from loguru import logger
from sqlalchemy import text
from sqlalchemy.engine import make_url

from monitor.config.settings import BUNDLED_CONFIG, load_settings
from monitor.core.clock import ManualClock
from monitor.core.model import RawItem
from monitor.store import Store
from monitor.store.backup import backup_sqlite
from monitor.store.db import head_revision, migrate
from tests.conftest import PG_URL, _backends

UTC = timezone.utc
T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 Beijing time
OLD = "0004_collectors"  # the oldest revision a real store was kept at (0001 never held data)


async def cli(capsys, *args) -> tuple[int, str, str]:
    """In-process `yuqing ARGS` (no interpreter start-up), in a thread: it runs its own event loop."""
    from monitor.cli.main import main

    try:
        code = await asyncio.to_thread(main, [str(a) for a in args])
    finally:
        logger.remove()  # main() pointed loguru at this test's captured stderr
        logger.add(sys.__stderr__)
    out = capsys.readouterr()
    return code, out.out, out.err


async def _pg_execute(url: str, *statements: str) -> None:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                                 database=u.database)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def pg_scratch():
    """One PostgreSQL database for this module's tests (creating one costs about a second here)."""
    if not PG_URL:
        yield None
        return
    name = f"yuqing_backup_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_execute(PG_URL, f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_pg_execute(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=_backends())
async def db(request, tmp_path, pg_scratch):
    """An empty database of the test's backend: a new SQLite file, or the module's PostgreSQL one emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'yuqing.db'}"
    await _pg_execute(pg_scratch, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")
    return pg_scratch


async def _wipe(url: str) -> None:
    """The database lost (a disk replaced, a wrong command): nothing left to restore over."""
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(_file(url) + suffix).unlink(missing_ok=True)
    else:
        await _pg_execute(url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")


def _file(url: str):
    return make_url(url).database


async def test_backup_while_rows_are_written_is_one_consistent_moment(tmp_path):
    """SQLite's online backup while a writer commits pairs of rows: the copy opens, passes integrity_check and
    holds whole pairs only — the rows of one moment, neither before the first write nor after the last."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    store = await Store(url).open()
    pad = "留" * 300
    async with store.write() as tx:
        await tx.audit.append_many([{"at": T0, "actor": "seed", "action": "seed", "entity": "x", "entity_id": str(i),
                                     "detail": {"pad": pad}} for i in range(4000)])
    committed = threading.Event()
    stop = asyncio.Event()
    pairs = 0

    async def writer():
        nonlocal pairs
        while not stop.is_set():
            async with store.write() as tx:  # two rows per transaction: a copy holds both or neither
                await tx.audit.append_many([{"at": T0, "actor": "w", "action": "pair", "entity": "x",
                                             "entity_id": str(pairs), "detail": {}}] * 2)
            pairs += 1
            committed.set()
            await asyncio.sleep(0)

    def progress(done, total):  # between two copy steps: let the writer commit before going on
        committed.clear()
        committed.wait(2)

    task = asyncio.create_task(writer())
    while pairs < 3:  # the copy's moment falls among the writes
        await asyncio.sleep(0.001)
    try:
        copied = await asyncio.to_thread(backup_sqlite, Path(_file(url)), tmp_path / "copy.db", progress, 16)
    finally:
        stop.set()
        await task
        await store.close()
    assert copied.revision == head_revision() and copied.bytes > 1_000_000
    conn = sqlite3.connect(tmp_path / "copy.db")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file, no -wal to carry along
    ids = [int(r[0]) for r in conn.execute("SELECT entity_id FROM audit_log WHERE action = 'pair'")]
    assert conn.execute("SELECT count(*) FROM audit_log WHERE action = 'seed'").fetchone() == (4000,)
    conn.close()
    assert sorted(ids) == sorted(list(range(len(ids) // 2)) * 2)  # whole pairs, no gap
    assert 0 < len(ids) // 2 < pairs  # written during the copy: some before its moment, more after
    backup = await Store(f"sqlite:///{tmp_path / 'copy.db'}").open()  # and the store opens it
    async with backup.read() as tx:
        assert len(await tx.audit.list(entity="x", limit=10)) == 10
    await backup.close()


async def test_restore_refuses_a_store_in_use_keeps_the_previous_one(db, capsys, tmp_path):
    url = db
    store = await Store(url).open()
    await _mark(store, "before the backup")
    archive = tmp_path / "monday.backup"
    code, out, err = await cli(capsys, "--db", url, "db", "backup", archive)
    assert code == 0 and "备份完成" in out and archive.stat().st_size > 0, err
    await _mark(store, "after the backup")

    code, out, err = await cli(capsys, "--db", url, "db", "restore", archive)
    assert code == 2 and "正在被" in err and "--force" in err, err  # like a running `serve`, the store is open
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert await _marks(store) == ["before the backup", "after the backup"]  # untouched
    await store.close()

    code, out, err = await cli(capsys, "--db", url, "db", "restore", archive)
    assert code == 0 and "恢复完成" in out, err
    store = await Store(url).open()
    assert await _marks(store) == ["before the backup"]
    await store.close()
    if url.startswith("sqlite"):
        kept = sqlite3.connect(_file(url) + ".before-restore")
        assert [r[0] for r in kept.execute("SELECT action FROM audit_log ORDER BY id")] == \
            ["before the backup", "after the backup"]
        kept.close()
    else:
        kept = tmp_path / f"{make_url(url).database}.before-restore.dump"
        assert kept.read_bytes()[:5] == b"PGDMP" and str(kept) in out


async def test_a_backup_of_an_older_schema_restores_and_upgrades_with_its_rows(db, capsys, tmp_path):
    old = Store(db)
    assert await migrate(old.engine, OLD) == OLD
    async with old.engine.begin() as conn:
        await _old_rows(conn)
    await old.close()
    archive = tmp_path / "old.backup"
    code, out, err = await cli(capsys, "--db", db, "db", "backup", archive)
    assert code == 0, err
    await _wipe(db)

    code, out, err = await cli(capsys, "--db", db, "db", "restore", archive)
    assert code == 0, err
    assert f"从 {OLD} 升级到 {head_revision()}" in out
    store = await Store(db).open(migrate_schema=False)  # already at head: nothing left for a start to do
    try:
        await _assert_old_rows_at_head(store)
    finally:
        await store.close()


async def test_serve_upgrades_an_old_store_on_start(db):
    """An old store as it is (an old backup copied back by hand, a server left on an old version): build(),
    which serve runs, migrates it to head, keeps its rows and takes new reports."""
    from monitor.app import build

    url = db
    old = Store(url)
    await migrate(old.engine, OLD)
    async with old.engine.begin() as conn:
        await _old_rows(conn)
    await old.close()
    clock = ManualClock(T0 + timedelta(hours=1))
    app = await build(load_settings(BUNDLED_CONFIG / "demo.yaml"), url, clock)
    try:
        await _assert_old_rows_at_head(app.store)
        stats = await app.pipeline.ingest([RawItem("hotline", "R3", "路灯不亮", "金碧街道路灯坏了三天",
                                                    occurred_at=clock.now())], "hotline")
        assert stats.inserted == 1 and stats.incidents == 1  # a different event: a new incident
    finally:
        await app.close()


async def test_without_pg_dump_the_commands_are_printed_and_exit_2(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without the PostgreSQL client tools
    code, out, err = await cli(capsys, "--db", "postgresql://duty:s3cret@db.internal:5433/yuqing", "db", "backup",
                               tmp_path / "yuqing.dump")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "找不到 pg_dump" in err and "postgresql-client" in err
    assert "pg_dump -Fc --no-owner -h db.internal -p 5433 -U duty -d yuqing -f " in err
    assert "pg_restore --no-owner --single-transaction --exit-on-error -h db.internal" in err
    assert "s3cret" not in err + out  # the password goes in PGPASSWORD, never on a command line


async def test_mistakes_are_one_line_and_exit_2(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    (tmp_path / "notes.txt").write_text("不是数据库", encoding="utf-8")
    for args, needle in [
        (("db", "backup", tmp_path / "a.db"), "没有可备份"),  # no database yet
        (("db", "restore", tmp_path / "missing.db"), "备份文件不存在"),
        (("db", "restore", tmp_path / "notes.txt"), "不是 SQLite 备份"),
        (("db", "backup", tmp_path / "no" / "such" / "a.db"), "输出目录不存在"),
    ]:
        code, out, err = await cli(capsys, "--db", url, *args)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, (args, err)
    empty = sqlite3.connect(tmp_path / "empty.db")
    empty.execute("CREATE TABLE t (x)")
    empty.close()
    code, out, err = await cli(capsys, "--db", url, "db", "restore", tmp_path / "empty.db")
    assert code == 2 and "不是舆情哨兵的数据库备份" in err


# -- helpers


async def _mark(store, action: str) -> None:
    async with store.write() as tx:
        await tx.audit.append(T0, "test", action, "marker")


async def _marks(store) -> list[str]:
    async with store.read() as tx:
        return [r["action"] for r in sorted(await tx.audit.list(entity="marker"), key=lambda r: r["id"])]


async def _old_rows(conn) -> None:
    """An incident with two reports, its open 5-hour deadline and an audit line, as revision 0004 stored them
    (SQLite times of the bulk path then had no fractional digits: migration 0007 mends them)."""
    sqlite = conn.dialect.name == "sqlite"

    def ts(dt: datetime, whole: bool = False):
        if not sqlite:
            return dt
        return dt.strftime("%Y-%m-%d %H:%M:%S" if whole else "%Y-%m-%d %H:%M:%S.%f")

    await conn.execute(text(
        "INSERT INTO incidents (title, kind, status, triage, domain, domain_confidence, department, co_departments, "
        "region, severity, response_type, sensitive_areas, reasons, first_seen_at, last_seen_at, item_count, "
        "reporter_count, likes, created_at, updated_at) VALUES ('马街街道化工厂爆炸', 'incident', 'open', 'none', "
        "'安全生产', 0.9, '区应急局', '[]', '马街街道', 3, '', '[]', '[]', :t, :t, 2, 2, 0, :t, :t)"),
        {"t": ts(T0, whole=True)})
    incident = (await conn.execute(text("SELECT id FROM incidents"))).scalar_one()
    for n, reason in ((1, ""), (2, "与已有留言内容相同")):
        await conn.execute(text(
            "INSERT INTO items (source, external_id, content_hash, title, body, location, reporter, channel, handler, "
            "status, likes, reply, occurred_at, received_at, updated_at, domain, domain_confidence, incident_id, "
            "group_reason, raw) VALUES ('hotline', :ext, :hash, '马街街道化工厂爆炸', '马街街道一化工厂发生爆炸，造成12人死亡', "
            "'', '', '', '', '', 0, '', :t, :t, :t, '安全生产', 0.9, :incident, :reason, '{}')"),
            {"ext": f"R{n}", "hash": f"{n:032d}", "t": ts(T0, whole=True), "incident": incident, "reason": reason})
    await conn.execute(text(
        "INSERT INTO deadlines (incident_id, rule, title, department, starts_at, due_at, state, satisfied_by, policy, "
        "step, fires, next_at, created_at, updated_at) VALUES (:incident, 'authoritative_release', '5小时内发布权威信息', "
        "'区应急局', :t, :due, 'open', 'release', 'major_incident', 0, 0, :next, :t, :t)"),
        {"incident": incident, "t": ts(T0), "due": ts(T0 + timedelta(hours=5)), "next": ts(T0 + timedelta(hours=3))})
    await conn.execute(text("INSERT INTO audit_log (at, actor, action, entity, entity_id, detail) VALUES "
                            "(:t, 'system:pipeline', 'incident.opened', 'incident', :id, '{}')"),
                       {"t": ts(T0), "id": str(incident)})


async def _assert_old_rows_at_head(store) -> None:
    async with store.read() as tx:
        assert await tx.metrics.revision() == head_revision()
        [incident] = await tx.incidents.list(status="open")
        items = await tx.items.for_incident(incident.id)
        [deadline] = await tx.deadlines.for_incident(incident.id)
        timeline = await tx.audit.list(entity="incident", entity_id=incident.id)
    assert incident.title == "马街街道化工厂爆炸" and incident.first_seen_at == T0 and incident.transfer == ""
    assert sorted(i["external_id"] for i in items) == ["R1", "R2"]
    assert all(i["occurred_at"] == T0 for i in items)
    assert (deadline.rule, deadline.due_at, deadline.state, deadline.provisional_year) == \
        ("authoritative_release", T0 + timedelta(hours=5), "open", 0)
    assert [e["action"] for e in timeline] == ["incident.opened"]
