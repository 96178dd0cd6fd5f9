"""Which deadlines an incident gets, and when (pure), including 调休 and unknown years."""

from datetime import date, datetime, timedelta

import pytest
import time_machine

from monitor.core.clock import SHANGHAI, SystemClock
from monitor.deadlines.rules import applies, plan, provisional_note
from monitor.core.model import Severity
from monitor.config.settings import Settings
from monitor.core.workcal import CalendarUnavailable, WorkCalendar, YearSchedule
from monitor.config.settings import BUNDLED_CONFIG

S = Severity
RULES = Settings.model_validate({
    "rules": [
        {"name": "authoritative_release", "applies_to": {"severity_at_least": "重大"}, "due": "5h", "satisfied_by": "release"},
        {"name": "press_conference", "applies_to": {"severity_at_least": "重大"}, "due": "24h", "satisfied_by": "press_conference"},
        {"name": "policy_interpretation", "applies_to": {"kind": "policy"}, "due": "3wd", "satisfied_by": "interpretation"},
        {"name": "env_reply", "applies_to": {"domains": ["环境保护"], "severity_at_least": "较大"}, "due": "3d", "satisfied_by": "reply"},
    ]}).rules
CAL = WorkCalendar()
T = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "severity,kind,domain,expected",
    [
        (S.GENERAL, "incident", "城乡建设", set()),
        (S.LARGER, "incident", "城乡建设", set()),
        (S.MAJOR, "incident", "城乡建设", {"authoritative_release", "press_conference"}),
        (S.EXTRAORDINARY, "incident", "城乡建设", {"authoritative_release", "press_conference"}),
        (S.GENERAL, "policy", "城乡建设", {"policy_interpretation"}),
        (S.MAJOR, "policy", "城乡建设", {"authoritative_release", "press_conference", "policy_interpretation"}),
        (S.LARGER, "incident", "环境保护", {"env_reply"}),
        (S.GENERAL, "incident", "环境保护", set()),
    ],
)
def test_which_rules_apply(severity, kind, domain, expected):
    assert {r.name for r in RULES if applies(r, severity, kind, domain)} == expected
    assert {p.rule for p in plan(RULES, severity=severity, kind=kind, domain=domain, starts_at=T,
                                 calendar=CAL)} == expected


@pytest.mark.parametrize(
    "start,due",
    [
        (T, datetime(2026, 11, 27, 0, 0, tzinfo=SHANGHAI)),  # Mon → end of Thu
        (datetime(2026, 11, 21, 15, 0, tzinfo=SHANGHAI), datetime(2026, 11, 26, 0, 0, tzinfo=SHANGHAI)),  # Sat
        (datetime(2026, 2, 13, 23, 59, tzinfo=SHANGHAI), datetime(2026, 2, 26, 0, 0, tzinfo=SHANGHAI)),  # 春节
        (datetime(2026, 9, 30, 8, 0, tzinfo=SHANGHAI), datetime(2026, 10, 11, 0, 0, tzinfo=SHANGHAI)),  # 国庆: 8, 9, Sat 10 (调休)
    ],
)
def test_policy_interpretation_due(start, due):
    [p] = plan(RULES, severity=S.GENERAL, kind="policy", domain="", starts_at=start, calendar=CAL)
    assert p.due_at == due and p.starts_at == start


def test_hour_rules_are_plain_hours_even_over_holidays():
    start = datetime(2026, 10, 1, 9, 0, tzinfo=SHANGHAI)  # National Day: the 5 h rule does not pause
    due = {p.rule: p.due_at for p in plan(RULES, severity=S.MAJOR, kind="incident", domain="", starts_at=start,
                                          calendar=CAL)}
    assert due == {"authoritative_release": start + timedelta(hours=5),
                   "press_conference": start + timedelta(hours=24)}


YEAR_END = datetime(2026, 12, 29, 10, 0, tzinfo=SHANGHAI)  # a Tuesday: the 3rd working day falls in 2027
SCHEDULE_2027 = YearSchedule(2027, holidays=frozenset({date(2027, 1, 1)}))


def test_policy_published_at_year_end_is_planned_early_until_next_years_schedule_is_known():
    with pytest.raises(CalendarUnavailable, match="2027"):  # the calendar itself never guesses
        CAL.add_working_days(YEAR_END, 3)
    [p] = plan(RULES, severity=S.GENERAL, kind="policy", domain="", starts_at=YEAR_END, calendar=CAL)
    # Dec 30, Dec 31, then Jan 1 counted as a working day: due at the end of Jan 1, the earliest possible
    assert p.provisional_year == 2027 and p.due_at == datetime(2027, 1, 2, 0, 0, tzinfo=SHANGHAI)
    assert "2027" in provisional_note(p.provisional_year) and provisional_note(0) == ""
    [known] = plan(RULES, severity=S.GENERAL, kind="policy", domain="", starts_at=YEAR_END,
                   calendar=WorkCalendar([SCHEDULE_2027]))
    # with the schedule: Jan 1 is a holiday, Jan 2-3 a weekend, so Dec 30, Dec 31, Jan 4
    assert known.provisional_year == 0 and known.due_at == datetime(2027, 1, 5, 0, 0, tzinfo=SHANGHAI)
    assert p.due_at < known.due_at


def test_hour_rules_never_provisional_in_an_unknown_year():
    start = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)
    assert {p.provisional_year for p in plan(RULES, severity=S.MAJOR, kind="incident", domain="", starts_at=start,
                                             calendar=CAL)} == {0}


POLICY_TITLE = "关于印发《西山区老旧小区改造实施方案》的通知"


async def test_import_at_year_end_opens_early_deadline_then_restart_with_schedule_recounts_it(
        app, settings, db_url, clock, tmp_path):
    """Nothing stops for a missing holiday file: the deadline opens early, flagged; once
    config/holidays/2027.yaml is configured, the next start recounts it in working days."""
    from monitor.app import build
    from monitor.core.model import RawItem

    clock.set(YEAR_END)
    await app.pipeline.ingest([RawItem("hotline", "p1", POLICY_TITLE, "现将实施方案印发给你们，请认真贯彻执行。",
                                       occurred_at=clock.now())], "hotline")
    async with app.store.read() as tx:
        [d] = await tx.deadlines.list()
    assert d.rule == "policy_interpretation" and d.provisional_year == 2027
    assert d.due_at == datetime(2027, 1, 2, 0, 0, tzinfo=SHANGHAI)
    assert d.next_at == datetime(2027, 1, 1, 0, 0, tzinfo=SHANGHAI)  # routine policy: "-1wd", counted early too
    from rich.console import Console

    from monitor.cli.render import deadlines_table

    async with app.store.read() as tx:
        incident = await tx.incidents.get(d.incident_id)
    screen = Console(width=200, record=True)
    screen.print(deadlines_table([(d, incident)], clock.now()))
    assert "2027-01-02 00:00（暂定）" in screen.export_text()  # `yuqing deadlines` says it is provisional
    clock.set(datetime(2027, 1, 1, 0, 0, tzinfo=SHANGHAI))
    assert await app.escalator.sweep() == 1  # the sweeper does not stop on the unknown year either
    await app.close()

    (tmp_path / "2027.yaml").write_text("year: 2027\nholidays: [2027-01-01]\n", encoding="utf-8")
    with_schedule = settings.model_copy(update={"holidays": [str(tmp_path / "2027.yaml")]})
    again = await build(with_schedule, db_url, clock)
    try:
        async with again.store.read() as tx:
            [d] = await tx.deadlines.list()
            log = [a for a in await tx.audit.list() if a["action"] == "deadline.replanned"]
        assert d.provisional_year == 0 and d.due_at == datetime(2027, 1, 5, 0, 0, tzinfo=SHANGHAI)
        assert (d.step, d.next_at) == (1, d.due_at)  # the reminder fired; the next step ("0s") moved with the due
        assert len(log) == 1 and log[0]["detail"]["year"] == 2027
        again2 = await build(with_schedule, db_url, clock)  # a second start changes nothing
        await again2.close()
        async with again.store.read() as tx:
            assert len([a for a in await tx.audit.list() if a["action"] == "deadline.replanned"]) == 1
    finally:
        await again.close()


async def test_system_clock_under_time_machine_drives_the_sweeper(tmp_path):
    """The real clock, moved by time-machine: the sweeper asks the store what is due at "now"."""
    from monitor.app import build
    from monitor.core.model import RawItem
    from monitor.config.settings import load_settings

    with time_machine.travel(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI), tick=False) as traveller:
        app = await build(load_settings(BUNDLED_CONFIG / "demo.yaml"), f"sqlite:///{tmp_path / 't.db'}", SystemClock())
        try:
            await app.pipeline.ingest([RawItem("hotline", "1", "爆炸", "化工厂爆炸造成12人死亡",
                                               occurred_at=SystemClock().now())], "hotline")
            assert await app.escalator.sweep() == 0
            traveller.move_to(datetime(2026, 11, 23, 13, 0, tzinfo=SHANGHAI))  # 2 h before the 5 h deadline
            assert await app.escalator.sweep() == 1
            async with app.store.read() as tx:
                [m] = await tx.outbox.list()
            assert m.key.startswith("1:authoritative_release:0:") and "剩余 2小时" in m.payload["text"]
        finally:
            await app.close()
