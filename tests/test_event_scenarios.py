"""Issue 15's judgement on the multi-report scenarios (tests/data/events/, written from the rules): reports of one
real event make one incident, a rising toll re-grades it, and every major event in the jurisdiction gets exactly
one 5-hour deadline — none missed, none doubled."""

from __future__ import annotations

import pytest

from tests.event_scenarios import figures, run


@pytest.fixture
def db_url(tmp_path):  # the evaluation itself; the store paths it uses are tested on PostgreSQL elsewhere
    return f"sqlite:///{tmp_path / 'events.db'}"


async def test_one_incident_per_event_and_one_release_deadline_per_major_event(app, clock):
    f = figures(await run(app, clock))
    report = "\n".join(f"{k}: {v}" for k, v in f.items())
    assert f["missed_release"] == [], report
    assert f["duplicate_release"] == [], report
    assert f["under_graded_major"] == [], report
    assert f["grouped_right"] >= 0.9 * f["scenarios"], report
