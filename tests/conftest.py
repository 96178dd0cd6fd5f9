"""Shared fixtures. Store tests run on SQLite and, when YUQING_TEST_PG_URL is set, on PostgreSQL too;
under CI (CI=true) a missing PostgreSQL URL is a failure, not a skip."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from monitor.core.clock import ManualClock, SHANGHAI
from monitor.config.settings import BUNDLED_CONFIG

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
PG_URL = os.environ.get("YUQING_TEST_PG_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_sessionstart(session):
    if IN_CI and not PG_URL:
        raise pytest.UsageError("CI=true but YUQING_TEST_PG_URL is not set: PostgreSQL store tests must run in CI")


def _backends():
    params = ["sqlite"]
    if PG_URL:
        params.append("postgresql")
    return params


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this test session (so parallel runs do not collide)."""
    if not PG_URL:
        yield None
        return
    import asyncio

    from tests.harness import scratch_pg_database

    url, drop = asyncio.run(scratch_pg_database(PG_URL, "yuqing_test"))
    yield url
    asyncio.run(drop())


@pytest.fixture(params=_backends())
def db_url(request, tmp_path, pg_database):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return pg_database


@pytest.fixture
async def store(db_url):
    from monitor.store import Store

    s = await Store(db_url).open()
    if s.dialect == "postgresql":
        await _truncate(s)
    yield s
    await s.close()


async def _truncate(s) -> None:
    from sqlalchemy import text

    from monitor.store.schema import metadata

    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with s.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def clock():
    return ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))


@pytest.fixture
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def settings():
    from monitor.config.settings import load_settings

    return load_settings(BUNDLED_CONFIG / "demo.yaml")


@pytest.fixture
async def app(settings, db_url, clock):
    from monitor.app import build

    a = await build(settings, db_url, clock)
    if a.store.dialect == "postgresql":  # one database per session: empty it, then copy the config's people again
        from monitor.app import sync_people

        await _truncate(a.store)
        await sync_people(a.store, settings, clock)
    yield a
    await a.close()
