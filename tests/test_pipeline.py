"""Items → incidents → deadlines, on both backends."""

from datetime import timedelta

from monitor.core.model import RawItem, Severity
from monitor.core.errors import Reject


def item(ext, title, body, clock, **kw):
    return RawItem(source="hotline", external_id=ext, title=title, body=body,
                   occurred_at=clock.now() - timedelta(minutes=30), **kw)


async def test_major_incident_opens_5h_and_24h_deadlines(app, clock):
    stats = await app.pipeline.ingest(
        [item("1", "化工厂爆炸", "马街街道化工厂爆炸造成12人死亡、30余人受伤", clock)], "hotline")
    assert (stats.read, stats.inserted, stats.incidents, stats.deadlines) == (1, 1, 1, 2)
    async with app.store.read() as tx:
        [incident] = await tx.incidents.list()
        deadlines = await tx.deadlines.for_incident(incident.id)
        audit = await tx.audit.list(entity="incident", entity_id=incident.id)
    assert incident.level == Severity.MAJOR and incident.department == "区应急局"
    assert incident.region == "马街街道" and "马街街道办事处" in incident.co_departments
    first_seen = clock.now() - timedelta(minutes=30)
    assert {d.rule: d.due_at - first_seen for d in deadlines} == {
        "authoritative_release": timedelta(hours=5), "press_conference": timedelta(hours=24)}
    assert [a["action"] for a in audit] == ["deadline.opened", "deadline.opened"]


async def test_minor_items_open_no_deadline(app, clock):
    stats = await app.pipeline.ingest([item("1", "路灯不亮", "小区门口路灯坏了", clock)], "hotline")
    assert stats.deadlines == 0


async def test_reimport_is_idempotent_and_changes_are_history(app, clock):
    batch = [item("1", "噪音扰民", "酒吧噪音", clock), item("2", "拖欠工资", "工地拖欠工资", clock)]
    first = await app.pipeline.ingest(batch, "hotline")
    assert (first.inserted, first.duplicates, first.updated) == (2, 0, 0)
    again = await app.pipeline.ingest([item("1", "噪音扰民", "酒吧噪音", clock),
                                       item("2", "拖欠工资", "工地拖欠工资", clock, status="已办结")], "hotline")
    assert (again.read, again.inserted, again.duplicates, again.updated, again.incidents) == (2, 0, 1, 1, 0)
    async with app.store.read() as tx:
        known = await tx.items.by_external_ids("hotline", ["2"])
        history = await tx.items.history(known["2"]["id"])
        assert await tx.items.count() == 2
    assert history[0]["changes"] == {"status": [None, "已办结"]} or history[0]["changes"] == {"status": ["", "已办结"]}


async def test_exact_duplicates_join_one_incident(app, clock):
    text = "尊敬的领导：您好！A区某小区电梯经常故障，困人多次。谢谢！"
    await app.pipeline.ingest([item("1", "电梯故障", text, clock, reporter="u1")], "hotline")
    # the same complaint again: other id, other padding and salutation, full-width characters
    stats = await app.pipeline.ingest(
        [item("9", "电梯故障", "  A区某小区电梯经常故障，困人多次。  ", clock, reporter="u2"),
         item("10", "电梯故障", "Ａ区某小区电梯经常故障，困人多次！", clock, reporter="u3")], "hotline")
    assert (stats.inserted, stats.duplicates, stats.incidents) == (0, 2, 0)
    async with app.store.read() as tx:
        [incident] = await tx.incidents.list()
        members = await tx.items.for_incident(incident.id)
    assert incident.item_count == 3 and incident.reporter_count == 3
    assert sorted(m["external_id"] for m in members) == ["1", "10", "9"]
    assert any(m["group_reason"] == "与已有留言内容相同" for m in members)


async def test_rejects_are_quarantined_and_accounted(app, clock):
    stats = await app.pipeline.ingest(
        [item("1", "a", "b", clock), Reject(7, "没有标题和内容 (no text)", {"编号": "x"})], "hotline", "f.csv")
    assert stats.read == stats.inserted + stats.updated + stats.duplicates + stats.quarantined == 2
    async with app.store.read() as tx:
        [q] = await tx.items.quarantined()
    assert (q["file"], q["row_no"], q["raw"]) == ("f.csv", 7, {"编号": "x"})


async def test_policy_gets_working_day_deadline(app, clock):
    await app.pipeline.ingest([item("p1", "关于印发《老旧小区改造实施办法》的通知", "自发布之日起施行", clock)],
                              "hotline")
    async with app.store.read() as tx:
        [incident] = await tx.incidents.list()
        [d] = await tx.deadlines.for_incident(incident.id)
    assert incident.kind == "policy" and d.rule == "policy_interpretation"
    # first seen Monday 2026-11-23 08:30 Beijing → 3 working days → end of Thursday the 26th
    assert d.due_at.isoformat() == "2026-11-26T16:00:00+00:00"


async def test_equal_in_batch_candidates_rank_by_batch_position(app, clock):
    # Texts equal but for punctuation: different hashes (so not exact duplicates), equal signatures and
    # 3-grams, so every earlier one ties; the latest earlier item is named, in every run.
    body = "小区门口的路灯已经坏了两个月晚上出行很不方便请尽快派人维修"
    variants = [body, body[:5] + "，" + body[5:], body[:10] + "，" + body[10:], body[:15] + "。" + body[15:]]
    stats = await app.pipeline.ingest([item(str(i), "路灯坏了", b, clock) for i, b in enumerate(variants, 1)],
                                      "hotline")
    assert (stats.inserted, stats.near_duplicates, stats.incidents) == (4, 3, 1)
    async with app.store.read() as tx:
        got = await tx.items.by_external_ids("hotline", ["2", "3", "4"])
    assert [got[e]["group_reason"].split("（")[0] for e in ("2", "3", "4")] == [
        "与留言 hotline:1相似", "与留言 hotline:2相似", "与留言 hotline:3相似"]
