"""Merging incidents that are one real event (issue 15, Deliver 2): on the real store (SQLite and, with
YUQING_TEST_PG_URL, PostgreSQL), through the API and the CLI. One event keeps one clock, one deadline per rule,
the evidence already recorded, and one row of the ledger."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.config.settings import BUNDLED_CONFIG
from monitor.core.clock import SHANGHAI
from monitor.core.model import RawItem, Severity
from monitor.deadlines import ledger
from monitor.regroup import MergeError, merge_incidents, split_incident

EXPLOSION = "马街街道化工厂爆炸，造成12人死亡"
TOLL = "化工厂爆炸事故死亡人数升至15人"
RULES = {"authoritative_release": timedelta(hours=5), "press_conference": timedelta(hours=24)}
TOKEN = "merge-token-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def two_incidents(app, first: tuple[str, datetime], second: tuple[str, datetime]) -> tuple[int, int]:
    """Two reports ingested one after the other; two separate incidents (split apart if grouping joined
    them: this file tests merge, not grouping)."""
    for n, (text, at) in enumerate((first, second), 1):
        await app.pipeline.ingest([RawItem("hotline", f"m{n}", text[:12], text, occurred_at=at, reporter=f"r{n}")],
                                  "hotline")
    async with app.store.read() as tx:
        rows = await tx.items.by_external_ids("hotline", ["m1", "m2"])
    a, b = rows["m1"]["incident_id"], rows["m2"]["incident_id"]
    if a == b:
        b = await split_incident(app.pipeline, a, [rows["m2"]["id"]], "tester")
    async with app.store.read() as tx:
        for incident_id in (a, b):
            assert {d.rule for d in await tx.deadlines.for_incident(incident_id)} == set(RULES), incident_id
    return a, b


async def deadlines_of(app, incident_id: int) -> dict:
    async with app.store.read() as tx:
        return {d.rule: d for d in await tx.deadlines.for_incident(incident_id)}


# --------------------------------------------------------------------------- the domain operation
async def test_merge_keeps_the_first_clock_one_deadline_per_rule_and_the_evidence(app, clock):
    now = clock.now()  # 2026-11-23 09:00 Beijing
    first_at, later_at = now - timedelta(hours=2), now - timedelta(hours=1)
    a, b = await two_incidents(app, (EXPLOSION, first_at), (TOLL, later_at))
    # the press release was recorded on the later incident, on time for both clocks
    await app.service.add_evidence(b, "zhao", url="https://xs.gov.cn/release", rule="authoritative_release")
    before = {i: await deadlines_of(app, i) for i in (a, b)}
    assert before[a]["authoritative_release"].due_at == first_at + RULES["authoritative_release"]
    assert before[b]["authoritative_release"].state == "satisfied"

    clock.advance(timedelta(minutes=10))
    result = await merge_incidents(app.pipeline, [b, a], "li", "同一起爆炸")
    assert (result.survivor, result.merged) == (a, [b])  # the one seen first survives
    assert result.items_moved == 1 and result.first_seen_at == first_at

    kept, gone = await deadlines_of(app, a), await deadlines_of(app, b)
    # one live deadline per rule on the survivor, counted from the earliest report
    for rule, window in RULES.items():
        assert kept[rule].due_at == first_at + window and kept[rule].starts_at == first_at
        assert kept[rule].state in ("open", "satisfied")
        assert gone[rule].state == "cancelled" and gone[rule].close_reason == f"并入事件 #{a}"
        assert gone[rule].next_at is None
    # the evidence recorded on the merged incident satisfies the survivor's deadline, on time
    release = kept["authoritative_release"]
    assert release.state == "satisfied" and release.evidence_id == before[b]["authoritative_release"].evidence_id
    assert release.closed_at == now and release.closed_at <= release.due_at and release.next_at is None
    assert kept["press_conference"].state == "open" and kept["press_conference"].next_at is not None

    async with app.store.read() as tx:
        survivor, merged = await tx.incidents.get(a), await tx.incidents.get(b)
        items = await tx.items.for_incident(a)
        evidence = await tx.deadlines.evidence_for(a)
        audits = {i: [e for e in await tx.audit.list(entity="incident", entity_id=i) if e["action"] == "incident.merge"]
                  for i in (a, b)}
        lines = await tx.ledger.for_incident(a)
        open_ids = {d.incident_id for d in await tx.deadlines.list(state="open")}
    assert [m["external_id"] for m in items] == ["m1", "m2"] and survivor.item_count == 2
    assert survivor.reporter_count == 2 and survivor.first_seen_at == first_at and survivor.status == "open"
    assert survivor.level == Severity.MAJOR and "并入本事件" in survivor.reasons[-1]["text"]
    assert "人工合并" in next(m for m in items if m["external_id"] == "m2")["group_reason"]
    assert (merged.status, merged.merged_into, merged.item_count) == ("merged", a, 0)
    assert [e["url"] for e in evidence] == ["https://xs.gov.cn/release"]
    assert [line["method"] for line in lines] == ["权威信息发布"]  # the ledger line moved with the evidence
    assert open_ids == {a}
    for i in (a, b):
        [entry] = audits[i]
        assert entry["actor"] == "li" and entry["detail"]["into"] == a and entry["detail"]["merged"] == [b]
        assert entry["detail"]["reason"] == "同一起爆炸"

    # the monthly ledger: one event, the cancelled duplicates never missing
    start, end = ledger.month_bounds("2026-11")
    async with app.store.read() as tx:
        incidents, deadlines, entries = await tx.ledger.month(start, end)
    report = ledger.build(incidents, deadlines, entries, clock.now())
    assert [row[1] for row in report.rows] == [EXPLOSION[:12]]
    assert report.stats[-1][:6] == ["合计", 1, 0, 0, 1, 2]  # on time, late, missing, pending, all
    later = ledger.build(incidents, deadlines, entries, clock.now() + timedelta(days=2))
    assert later.stats[-1][:6] == ["合计", 1, 0, 1, 0, 2]  # the survivor's press conference alone is missing

    # escalation goes on for the survivor only: nothing fires for the cancelled duplicates
    clock.advance(timedelta(days=2))
    assert await app.escalator.sweep() > 0
    async with app.store.read() as tx:
        sent_for = {m.incident_id for m in await tx.outbox.list()}
    assert sent_for == {a}


async def test_evidence_is_judged_against_the_clock_the_event_keeps(app, clock):
    """A release recorded within the later report's 5 hours but after the first report's: once they are one
    event it was late (the event's clock started with its first report), and the ledger says so."""
    now = clock.now()
    a, b = await two_incidents(app, (EXPLOSION, now - timedelta(hours=6)), (TOLL, now - timedelta(hours=1)))
    await app.service.add_evidence(b, "zhao", url="https://xs.gov.cn/release", rule="authoritative_release")
    result = await merge_incidents(app.pipeline, [a, b], "li")
    [release] = [d for d in result.deadlines if d["rule"] == "authoritative_release"]
    assert (release["state"], release["evidence_from"], release["on_time"]) == ("satisfied", b, False)
    kept = (await deadlines_of(app, a))["authoritative_release"]
    assert ledger.outcome(kept, clock.now()) == "late" and kept.close_reason == f"由事件 #{b} 已登记的证据满足（合并）"


async def test_merge_takes_the_highest_severity_and_moves_the_deadlines_it_requires(app, clock):
    now = clock.now()
    lesser = "碧鸡街道工地坍塌，造成3人死亡"
    async with app.store.read() as tx:
        assert not await tx.incidents.list()
    await app.pipeline.ingest([RawItem("hotline", "s1", "工地坍塌", lesser, occurred_at=now - timedelta(hours=3))],
                              "hotline")
    await app.pipeline.ingest([RawItem("hotline", "s2", "化工厂爆炸", EXPLOSION, occurred_at=now - timedelta(hours=1))],
                              "hotline")
    async with app.store.read() as tx:
        found = sorted(await tx.incidents.list(), key=lambda i: i.first_seen_at)
    assert len(found) == 2  # a collapse in 碧鸡 and an explosion in 马街: two events
    small, big = found
    assert small.level < Severity.MAJOR <= big.level and not await deadlines_of(app, small.id)
    big_rules = await deadlines_of(app, big.id)
    result = await merge_incidents(app.pipeline, [small.id, big.id], "li")
    assert result.survivor == small.id and result.severity == (small.severity, big.severity)
    kept = await deadlines_of(app, small.id)
    async with app.store.read() as tx:
        survivor = await tx.incidents.get(small.id)
    assert survivor.severity == big.severity  # never lower: the survivor takes the highest
    assert set(survivor.sensitive_areas) == set(small.sensitive_areas) | set(big.sensitive_areas)
    # the major incident's deadlines moved over (their clock is the report that made it major)
    assert {r: (d.state, d.due_at) for r, d in kept.items()} == {
        r: ("open", d.due_at) for r, d in big_rules.items()}
    assert all(d.department == survivor.department for d in kept.values())
    assert await deadlines_of(app, big.id) == {}


async def test_merge_refuses_what_it_cannot_do(app, clock):
    now = clock.now()
    a, b = await two_incidents(app, (EXPLOSION, now - timedelta(hours=2)), (TOLL, now - timedelta(hours=1)))
    with pytest.raises(MergeError, match="no such incident") as exc:
        await merge_incidents(app.pipeline, [a, 999], "li")
    assert exc.value.status == 404
    with pytest.raises(MergeError, match="itself"):
        await merge_incidents(app.pipeline, [a, a], "li")
    with pytest.raises(MergeError, match="at least two"):
        await merge_incidents(app.pipeline, [a], "li")
    await merge_incidents(app.pipeline, [a, b], "li")
    with pytest.raises(MergeError, match=f"已并入事件 #{a}"):
        await merge_incidents(app.pipeline, [a, b], "li")
    # the merged incident takes no more actions: they belong to the survivor
    from monitor.service import ServiceError

    with pytest.raises(ServiceError, match=f"已并入事件 #{a}") as refused:
        await app.service.add_evidence(b, "zhao", url="https://xs.gov.cn/r", rule="press_conference")
    assert refused.value.status == 409
    # nothing of the refused merges was written
    async with app.store.read() as tx:
        merges = [e for e in await tx.audit.list(entity="incident") if e["action"] == "incident.merge"]
    assert len(merges) == 2


# --------------------------------------------------------------------------- the API
async def test_merge_api(app, clock, monkeypatch):
    from monitor.web.server import web_application

    now = clock.now()
    a, b = await two_incidents(app, (EXPLOSION, now - timedelta(hours=2)), (TOLL, now - timedelta(hours=1)))
    body = {"incident_ids": [a], "actor": "wang", "reason": "同一事件"}
    monkeypatch.delenv(app.settings.api.token_env, raising=False)
    client = TestClient(TestServer(web_application(app)))
    await client.start_server()
    try:
        url = f"/api/v1/incidents/{b}/merge"  # the later incident survives: the one in the path
        r = await client.post(url, json=body, headers=AUTH)
        assert r.status == 503  # no token configured
        monkeypatch.setenv(app.settings.api.token_env, TOKEN)
        r = await client.post(url, json=body, headers={"Authorization": "Bearer wrong"})
        assert r.status == 401
        r = await client.post(url, json=body)
        assert r.status == 401
        for bad, why in ((f"/api/v1/incidents/{b}/merge", {"incident_ids": [b], "actor": "wang"}),
                         (f"/api/v1/incidents/{b}/merge", {"incident_ids": [], "actor": "wang"}),
                         (f"/api/v1/incidents/{b}/merge", {"incident_ids": ["x"], "actor": "wang"}),
                         (f"/api/v1/incidents/{b}/merge", {"incident_ids": [a]}),
                         ("/api/v1/incidents/x/merge", body)):
            r = await client.post(bad, json=why, headers=AUTH)
            assert r.status == 400, (bad, why)
            assert (await r.json())["error"]
        r = await client.post(f"/api/v1/incidents/{b}/merge", json={"incident_ids": [b], "actor": "wang"},
                              headers=AUTH)
        assert "itself" in (await r.json())["error"]
        r = await client.post(url, data=b"{not json", headers=AUTH)
        assert r.status == 400
        r = await client.post("/api/v1/incidents/999/merge", json=body, headers=AUTH)
        assert r.status == 404 and "#999" in (await r.json())["error"]
        r = await client.post(url, json={**body, "incident_ids": [998]}, headers=AUTH)
        assert r.status == 404

        r = await client.post(url, json=body, headers=AUTH)
        assert r.status == 200, await r.text()
        out = await r.json()
        assert out["incident_id"] == b and out["merged"] == [a] and out["items_moved"] == 1
        assert {d["rule"] for d in out["deadlines"]} == set(RULES)
        # the survivor of the path took the earlier incident's clock: no clock restarts
        kept = await deadlines_of(app, b)
        for rule, window in RULES.items():
            assert kept[rule].due_at == now - timedelta(hours=2) + window and kept[rule].state == "open"
        assert all(d.state == "cancelled" for d in (await deadlines_of(app, a)).values())

        r = await client.post(url, json=body, headers=AUTH)
        assert r.status == 400 and "already merged" in (await r.json())["error"]
        r = await client.get(f"/api/v1/incidents/{a}", headers=AUTH)
        merged = await r.json()
        assert merged["status"] == "merged" and merged["merged_into"] == b and merged["items"] == []
        r = await client.get(f"/api/v1/incidents/{b}", headers=AUTH)
        survivor = await r.json()
        assert datetime.fromisoformat(survivor["first_seen_at"]) == now - timedelta(hours=2)
        assert len(survivor["items"]) == 2
        assert [e["action"] for e in survivor["timeline"]].count("incident.merge") == 1
        r = await client.get("/api/v1/incidents?status=merged", headers=AUTH)
        assert [i["id"] for i in (await r.json())["incidents"]] == [a]
        r = await client.get(f"/incidents/{a}", headers=AUTH)
        assert r.status == 200 and f'href="/incidents/{b}"' in await r.text()
    finally:
        await client.close()


# --------------------------------------------------------------------------- the CLI
def test_merge_command(tmp_path):
    db = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = str(BUNDLED_CONFIG / "demo.yaml")
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    src = tmp_path / "x.jsonl"
    rows = [{"id": "1", "title": "化工厂爆炸", "body": EXPLOSION, "time": (now - timedelta(hours=1)).isoformat()},
            {"id": "2", "title": "金碧小区电梯故障", "body": "金碧街道某小区电梯经常故障，困人多次，物业不修。",
             "time": (now - timedelta(hours=2)).isoformat()}]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    def yuqing(*args):
        return subprocess.run([sys.executable, "-m", "monitor", "--config", cfg, "--db", db, *args],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)

    imported = yuqing("import", str(src), "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout.strip().splitlines()[-1])["incidents"] == 2
    for args, says in ((["1"], "at least two"), (["1", "1"], "itself"), (["1", "99"], "#99")):
        r = yuqing("incidents", "merge", *args)
        assert r.returncode == 2 and says in r.stderr, (args, r.stdout, r.stderr)
    r = yuqing("incidents", "merge", "1", "2", "--actor", "zhao", "--reason", "同一事件")
    assert r.returncode == 0, r.stderr
    # the complaint was seen first, so it survives, and the output says which
    merged, survivor = re.search(r"#(\d) 并入事件 #(\d)（保留最早发现的事件", r.stdout).groups()
    assert "等级 重大" in r.stdout and "authoritative_release" in r.stdout and "press_conference" in r.stdout
    r = yuqing("incidents", "merge", survivor, merged)
    assert r.returncode == 2 and f"已并入事件 #{survivor}" in r.stderr

    async def check():
        from monitor.store import Store

        store = await Store(db).open()
        try:
            async with store.read() as tx:
                return await tx.incidents.get(int(survivor)), await tx.incidents.get(int(merged))
        finally:
            await store.close()

    kept, gone = asyncio.run(check())
    assert kept.title == "金碧小区电梯故障" and (gone.status, gone.merged_into) == ("merged", kept.id)
