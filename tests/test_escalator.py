"""Escalation end to end in the store with an injected clock: timers are rows, reminders go to the outbox
in the same transaction, catch-up sends one step, acknowledgement and evidence behave as the rules say."""

from datetime import datetime, timedelta

import pytest

from monitor.app import build
from monitor.core.clock import SHANGHAI
from monitor.core.model import RawItem, Severity
from monitor.config.settings import Settings

H, M = timedelta(hours=1), timedelta(minutes=1)

CONFIG = {
    "rules": [
        {"name": "authoritative_release", "applies_to": {"severity_at_least": "重大"}, "due": "5h",
         "satisfied_by": "release", "escalation": "major_incident"},
        {"name": "press_conference", "applies_to": {"severity_at_least": "重大"}, "due": "24h",
         "satisfied_by": "press_conference", "escalation": "major_incident"},
    ],
    "escalation_policies": {"major_incident": [
        {"at": "-2h", "notify": ["responsible"], "channels": ["duty-webhook"]},
        {"at": "-30m", "notify": ["responsible", "duty_officer"]},
        {"at": "0s", "notify": ["duty_officer", "office_leader"]},
        {"at": "+1h", "notify": ["office_leader"], "repeat": "1h"},
    ]},
    "roster": [
        {"role": "duty_officer", "user": "zhang", "from": "2026-11-23T08:00+08:00", "to": "2026-11-23T20:00+08:00"},
        {"role": "duty_officer", "user": "li", "from": "2026-11-23T20:00+08:00", "to": "2026-11-24T08:00+08:00"},
    ],
    "users": [
        {"name": "zhang", "display": "张值班", "channels": ["dashboard"]},
        {"name": "li", "display": "李值班", "channels": ["dashboard"]},
        {"name": "wang", "display": "王主任", "roles": ["office_leader"], "channels": ["dashboard"]},
        {"name": "zhao", "display": "赵联络员", "department": "区应急局", "channels": ["dashboard"]},
        {"name": "sun", "display": "孙联络员", "department": "区卫生健康局", "channels": ["dashboard"]},
    ],
    "channels": [{"name": "dashboard", "kind": "log"},
                 {"name": "duty-webhook", "kind": "webhook", "url": "http://127.0.0.1:9/hook"}],
}
SEEN = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # first seen; due 15:00 and next day 10:00


@pytest.fixture
async def esc_app(db_url, clock):
    from tests.conftest import _truncate

    clock.set(SEEN)
    a = await build(Settings.model_validate(CONFIG), db_url, clock)
    if a.store.dialect == "postgresql":
        await _truncate(a.store)
        from monitor.app import sync_people

        await sync_people(a.store, a.settings, clock)
    await a.pipeline.ingest([RawItem("hotline", "1", "化工厂爆炸", "马街街道化工厂爆炸造成12人死亡", occurred_at=SEEN)],
                            "hotline")
    yield a
    await a.close()


async def outbox(app):
    async with app.store.read() as tx:
        return sorted((await tx.outbox.list(limit=10000)), key=lambda m: m.id)


async def test_steps_fire_at_their_time_to_the_right_people(esc_app, clock):
    app = esc_app
    async with app.store.read() as tx:
        ds = {d.rule: d for d in await tx.deadlines.list()}
    assert ds["authoritative_release"].next_at == SEEN + 3 * H  # 2 h before the 5 h deadline
    clock.set(SEEN + 3 * H - M)
    assert await app.escalator.sweep() == 0 and await outbox(app) == []
    clock.set(SEEN + 3 * H)
    assert await app.escalator.sweep() == 1
    [m] = await outbox(app)
    assert m.key == "1:authoritative_release:0:duty-webhook" and m.channel == "duty-webhook"
    assert "赵联络员" in m.payload["text"] and m.payload["step"] == "0" and m.payload["severity"] == "重大"
    clock.set(SEEN + 4.5 * H)  # -30 min: responsible + duty officer, each on their own channel
    assert await app.escalator.sweep() == 1
    keys = {x.key for x in await outbox(app)} - {m.key}
    assert keys == {"1:authoritative_release:1:dashboard:zhao", "1:authoritative_release:1:dashboard:zhang"}
    assert await app.escalator.sweep() == 0  # nothing twice


async def test_catch_up_after_downtime_sends_one_combined_step(esc_app, clock):
    app = esc_app
    clock.set(SEEN + 5 * H + 10 * H + M)  # down from before the first step until 10 h overdue
    assert await app.escalator.sweep() == 1  # the 24 h rule's first step (at +22 h) is not due yet
    messages = await outbox(app)
    release = [m for m in messages if m.payload["rule"] == "authoritative_release"]
    assert [m.key for m in release] == ["1:authoritative_release:3r9:dashboard:wang"]
    assert release[0].payload["missed"] == 12 and "错过 12 次提醒" in release[0].payload["text"]
    assert all(m.payload["rule"] == "authoritative_release" for m in messages)
    async with app.store.read() as tx:
        d = {x.rule: x for x in await tx.deadlines.list()}["authoritative_release"]
    assert (d.step, d.fires, d.next_at) == (3, 10, SEEN + 16 * H)
    assert await app.escalator.sweep() == 0


async def test_acknowledgement_stops_repeats_but_not_the_deadline(esc_app, clock):
    app = esc_app
    clock.set(SEEN + 6 * H)  # +1 h overdue: leader reminded
    await app.escalator.sweep()
    await app.service.acknowledge(1, "wang", rule="authoritative_release")
    before = len(await outbox(app))
    clock.set(SEEN + 7 * H)  # the hourly repeat of the acknowledged step is silent
    assert await app.escalator.sweep() == 1
    assert len(await outbox(app)) == before
    async with app.store.read() as tx:
        d = {x.rule: x for x in await tx.deadlines.list()}["authoritative_release"]
        actions = [a["action"] for a in await tx.audit.list(entity="incident", entity_id=1)]
    assert d.state == "open" and d.acked_by == "wang" and d.acked_step == 3
    assert "escalation.suppressed" in actions and "deadline.acknowledged" in actions


async def test_evidence_closes_only_what_it_satisfies(esc_app, clock):
    app = esc_app
    clock.set(SEEN + 4 * H)
    closed = await app.service.add_evidence(1, "zhao", url="https://xs.gov.cn/fb/1", rule="authoritative_release")
    assert [d.rule for d in closed] == ["authoritative_release"] and closed[0].next_at is None
    clock.set(SEEN + 30 * H)
    await app.escalator.sweep()
    assert {m.payload["rule"] for m in await outbox(app)} == {"press_conference"}
    async with app.store.read() as tx:
        [entry] = await tx.ledger.for_incident(1)
    assert entry["published_url"] == "https://xs.gov.cn/fb/1" and entry["method"] == "权威信息发布"
    with pytest.raises(Exception, match="url must be http"):
        await app.service.add_evidence(1, "zhao", url="javascript:alert(1)", kind="press_conference")
    with pytest.raises(Exception, match="url or a note"):
        await app.service.add_evidence(1, "zhao", kind="press_conference")


async def test_roster_decides_who_is_duty_officer_at_the_boundary_minute(esc_app, clock):
    app = esc_app
    # the 24 h rule's -30 min step falls at 09:30 next day: li's shift (20:00–08:00) is over, nobody is on
    # duty then, so only the liaison is reminded; at 19:59:59 vs 20:00 the shift changes hands.
    from monitor.deadlines.sweeper import resolve

    async with app.store.read() as tx:
        d = {x.rule: x for x in await tx.deadlines.list()}["press_conference"]
        at_1959 = await resolve(tx, ["duty_officer"], d, datetime(2026, 11, 23, 19, 59, 59, tzinfo=SHANGHAI))
        at_2000 = await resolve(tx, ["duty_officer"], d, datetime(2026, 11, 23, 20, 0, tzinfo=SHANGHAI))
        at_0930 = await resolve(tx, ["responsible", "duty_officer"], d,
                                datetime(2026, 11, 24, 9, 30, tzinfo=SHANGHAI))
    assert [r.name for r in at_1959] == ["zhang"] and [r.name for r in at_2000] == ["li"]
    assert [r.name for r in at_0930] == ["zhao"]


async def test_reassign_moves_deadlines_and_keeps_the_clock(esc_app, clock):
    app = esc_app
    async with app.store.read() as tx:
        before = {d.rule: d.due_at for d in await tx.deadlines.list()}
    await app.service.reassign(1, "区卫生健康局", "zhang", "医疗救治为主")
    clock.set(SEEN + 4.5 * H)
    await app.escalator.sweep()
    async with app.store.read() as tx:
        after = await tx.deadlines.list()
    assert {d.rule: d.due_at for d in after} == before and {d.department for d in after} == {"区卫生健康局"}
    keys = {m.key for m in await outbox(app)}
    assert "1:authoritative_release:1:dashboard:sun" in keys and not any(k.endswith(":zhao") for k in keys)


async def test_regrade_up_counts_from_first_seen_and_down_cancels(esc_app, clock):
    app = esc_app
    await app.pipeline.ingest([RawItem("hotline", "2", "工地坍塌", "碧鸡街道工地坍塌三人死亡", occurred_at=SEEN)],
                              "hotline")
    clock.set(SEEN + 2 * H)
    async with app.store.read() as tx:
        minor = next(i for i in await tx.incidents.list() if i.id != 1)
        assert minor.level == Severity.LARGER and await tx.deadlines.for_incident(minor.id) == []
    result = await app.service.regrade(minor.id, Severity.MAJOR, "zhang", "死亡人数上升至10人")
    assert sorted(result["opened"]) == ["authoritative_release", "press_conference"]
    async with app.store.read() as tx:
        ds = {d.rule: d for d in await tx.deadlines.for_incident(minor.id)}
    assert ds["authoritative_release"].due_at == SEEN + 5 * H  # from first seen, not from now
    result = await app.service.regrade(minor.id, Severity.LARGER, "zhang", "核实后死亡3人")
    assert sorted(result["cancelled"]) == ["authoritative_release", "press_conference"]
    async with app.store.read() as tx:
        ds = await tx.deadlines.for_incident(minor.id)
        trail = [a["action"] for a in await tx.audit.list(entity="incident", entity_id=minor.id)]
    assert {d.state for d in ds} == {"cancelled"} and all("核实后死亡3人" in d.close_reason for d in ds)
    assert trail.count("incident.regraded") == 2


async def test_clock_jumping_back_never_fires_twice(esc_app, clock):
    app = esc_app
    clock.set(SEEN + 3 * H)
    await app.escalator.sweep()
    clock.set(SEEN + 1 * H)  # NTP step backwards
    assert await app.escalator.sweep() == 0
    clock.set(SEEN + 3 * H + 5 * M)
    assert await app.escalator.sweep() == 0
    assert len(await outbox(app)) == 1


async def test_historical_incident_gets_no_deadline(esc_app, clock):
    app = esc_app
    old = SEEN - timedelta(days=400)
    stats = await app.pipeline.ingest([RawItem("hotline", "h", "爆炸", "化工厂爆炸造成12人死亡", occurred_at=old)],
                                      "hotline")
    assert stats.incidents == 1 and stats.deadlines == 0
    async with app.store.read() as tx:
        [inc] = [i for i in await tx.incidents.list() if i.id != 1]
    assert any("历史数据" in r["text"] for r in inc.reasons)


async def test_heat_raises_severity_and_opens_the_new_levels_deadlines(db_url, clock):
    """Many people reporting the same matter raise it (monitor.understanding.heat); with a rule for 较大 that opens a
    deadline counted from the first report."""
    from tests.conftest import _truncate

    cfg = {**CONFIG, "rules": [{"name": "quick_reply", "applies_to": {"severity_at_least": "较大"}, "due": "2h",
                                "satisfied_by": "reply"}]}
    clock.set(SEEN)
    a = await build(Settings.model_validate(cfg), db_url, clock)
    try:
        if a.store.dialect == "postgresql":
            await _truncate(a.store)
        text = "金碧街道某小区电梯经常故障困人，物业不修"
        await a.pipeline.ingest([RawItem("hotline", "0", "电梯", text, occurred_at=SEEN, reporter="r0")], "hotline")
        clock.set(SEEN + 20 * M)
        await a.pipeline.ingest([RawItem("hotline", str(i), "电梯", text, occurred_at=SEEN + i * M, reporter=f"r{i}")
                                 for i in range(1, 10)], "hotline")  # 10 distinct reporters now
        async with a.store.read() as tx:
            [incident] = await tx.incidents.list()
            [d] = await tx.deadlines.for_incident(incident.id)
            trail = await tx.audit.list(entity="incident", entity_id=incident.id)
        assert incident.level == Severity.LARGER and incident.reporter_count == 10
        assert d.rule == "quick_reply" and d.due_at == SEEN + 2 * H
        assert any(t["action"] == "incident.regraded" and t["actor"] == "system:heat" for t in trail)
        assert any("热度升级" in r["text"] for r in incident.reasons)
    finally:
        await a.close()
