"""Issue 15 through the real pipeline and store (SQLite and PostgreSQL): later facts re-grade, a lower reading
asks a person, an event elsewhere is transferred without our deadlines, false information alerts the cyberspace
and police bodies — each alert once."""

from __future__ import annotations

from datetime import timedelta

from monitor.core.model import RawItem, Severity


async def _push(app, clock, external_id: str, title: str, body: str, location: str = "") -> dict:
    await app.pipeline.ingest([RawItem("push", external_id, title, body, location=location,
                                       occurred_at=clock.now())], "push")
    async with app.store.read() as tx:
        return (await tx.items.by_external_ids("push", [external_id]))[external_id]


async def test_a_rising_toll_regrades_and_opens_the_legal_deadlines_from_first_seen(app, clock):
    first = await _push(app, clock, "a1", "碧鸡街道工地坍塌", "碧鸡街道某建筑工地发生坍塌，造成3人死亡。")
    seen = clock.now()
    clock.advance(timedelta(hours=2))
    later = await _push(app, clock, "a2", "碧鸡工地坍塌事故续报", "碧鸡街道建筑工地坍塌事故死亡人数已上升至11人。")
    assert later["incident_id"] == first["incident_id"]
    async with app.store.read() as tx:
        incident = await tx.incidents.get(first["incident_id"])
        deadlines = {d.rule: d for d in await tx.deadlines.for_incident(incident.id)}
        audit = await tx.audit.list("incident", incident.id)
    assert incident.level == Severity.MAJOR
    assert deadlines["authoritative_release"].due_at == seen + timedelta(hours=5)  # counted from first seen
    assert deadlines["press_conference"].due_at == seen + timedelta(hours=24)
    severity_reasons = [r["text"] for r in incident.reasons if r["stage"] == "severity"]
    assert severity_reasons and all("较大" not in r for r in severity_reasons[:1]) and "重大" in severity_reasons[0]
    assert any(a["action"] == "incident.regraded" and a["actor"] == "system:facts" for a in audit)


async def test_a_lower_official_figure_goes_to_triage_and_cancels_nothing(app, clock):
    first = await _push(app, clock, "b1", "马街街道化工厂爆炸", "马街街道一化工厂发生爆炸，现场有12人死亡。")
    clock.advance(timedelta(hours=1))
    await _push(app, clock, "b2", "关于马街化工厂爆炸事故的情况通报",
                "官方通报：经核实，马街街道化工厂爆炸事故造成2人死亡，网传12人死亡不实。")
    async with app.store.read() as tx:
        incident = await tx.incidents.get(first["incident_id"])
        deadlines = await tx.deadlines.for_incident(incident.id)
    assert incident.level == Severity.MAJOR  # never lowered silently
    assert incident.triage == "pending"
    assert any(r["stage"] == "triage" and "人工" in r["text"] for r in incident.reasons)
    assert {d.rule for d in deadlines if d.state == "open"} >= {"authoritative_release", "press_conference"}


async def test_an_event_elsewhere_is_transferred_without_our_deadlines_and_alerted_once(app, clock):
    item = await _push(app, clock, "c1", "官渡区化工厂爆炸", "官渡区某化工厂发生爆炸，造成12人死亡。")
    await app.pipeline.ingest([RawItem("push", "c1", "官渡区化工厂爆炸", "官渡区某化工厂发生爆炸，造成12人死亡。",
                                       occurred_at=clock.now())], "push")  # the same push again
    async with app.store.read() as tx:
        incident = await tx.incidents.get(item["incident_id"])
        deadlines = await tx.deadlines.for_incident(incident.id)
        outbox = await tx.outbox.list(incident_id=incident.id)
    assert incident.transfer and incident.region == "官渡区"
    assert deadlines == []
    assert any("辖区外" in r["text"] and "转办" in r["text"] for r in incident.reasons)
    transfers = [m for m in outbox if m.key.split(":")[1] == "transfer"]
    assert len(transfers) == 1 and "转办" in transfers[0].payload["text"]


async def test_false_information_alerts_the_cyberspace_and_police_bodies(app, clock):
    item = await _push(app, clock, "d1", "网传马街有人造谣说要拆迁是真的吗",
                       "网传马街街道明天强拆，群里都在转，是否属实？这是不是谣言？")
    async with app.store.read() as tx:
        incident = await tx.incidents.get(item["incident_id"])
        outbox = await tx.outbox.list(incident_id=incident.id)
    assert incident.response_type == "虚假不实信息"
    kinds = {m.key.split(":")[1] for m in outbox}
    assert {"rumour_cyberspace", "rumour_police"} <= kinds
    bodies = {m.payload["department"] for m in outbox}
    assert {"区委网信办", "区公安分局"} <= bodies


async def test_a_routine_complaint_stores_no_event_and_no_facts(app, clock):
    """SQL NULL, not JSON null: the open-events index covers only incidents about an event."""
    from sqlalchemy import text

    item = await _push(app, clock, "e1", "楼下烧烤店噪音扰民", "福海街道某小区楼下烧烤店营业到凌晨，噪音扰民。")
    async with app.store.read() as tx:
        event = (await tx.conn.execute(text("SELECT event FROM incidents WHERE id = :i"),
                                       {"i": item["incident_id"]})).scalar_one()
        facts = (await tx.conn.execute(text("SELECT facts FROM items WHERE id = :i"), {"i": item["id"]})).scalar_one()
    assert event is None and facts is None
