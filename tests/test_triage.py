"""The triage queue on both store backends: list, accept, correct (corrections, audit, deadlines follow the
department), through the service functions, the CLI and the API."""

import json
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.understanding import triage
from monitor.core.model import RawItem, Severity
from monitor.web.server import web_application
from monitor.service import ServiceError

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def _ingest(app, clock):
    """One clear major accident (deadlines, no triage) and one message the understanding is unsure of."""
    await app.pipeline.ingest([
        RawItem("hotline", "1", "化工厂爆炸", "马街街道化工厂爆炸造成12人死亡", occurred_at=clock.now() - timedelta(hours=1)),
        RawItem("hotline", "2", "你好", "你好", occurred_at=clock.now()),
    ], "hotline")
    async with app.store.read() as tx:
        pending = await triage.pending(tx)
        major = [i for i in await tx.incidents.list() if i.severity == Severity.MAJOR][0]
    return pending, major


async def test_unsure_incidents_wait(app, clock):
    pending, major = await _ingest(app, clock)
    assert [i.title for i in pending] == ["你好"]
    assert pending[0].triage == "pending" and major.triage == "none"


async def test_accept(app, clock):
    pending, _ = await _ingest(app, clock)
    out = await app.service.accept_triage(pending[0].id, "zhang")
    assert out.incident.triage == "accepted"
    async with app.store.read() as tx:
        assert await triage.pending(tx) == []
        audit = await tx.audit.list(entity="incident", entity_id=pending[0].id)
    assert audit[-1]["action"] == "triage.accepted" and audit[-1]["actor"] == "zhang"
    with pytest.raises(ServiceError) as err:  # only once
        await app.service.accept_triage(pending[0].id, "zhang")
    assert err.value.status == 409


async def test_correct_department_moves_open_deadlines_and_keeps_the_clock(app, clock):
    _, major = await _ingest(app, clock)
    async with app.store.read() as tx:
        before = {d.rule: d for d in await tx.deadlines.for_incident(major.id)}
    assert before and all(d.department == "区应急局" for d in before.values())
    clock.advance(timedelta(minutes=20))
    domain = "交通运输" if major.domain != "交通运输" else "教育文体"  # whatever the model said, another one
    out = await app.service.correct(major.id, {"department": "区生态环境分局", "domain": domain}, "li")
    assert out.deadlines_moved == 2 and out.incident.triage == "corrected"
    assert out.incident.department == "区生态环境分局" and out.incident.domain == domain
    async with app.store.read() as tx:
        after = {d.rule: d for d in await tx.deadlines.for_incident(major.id)}
        corrections = await tx.incidents.corrections(major.id)
        audit = await tx.audit.list(entity="incident", entity_id=major.id)
        learned = await tx.incidents.domain_corrections()
    assert {d.department for d in after.values()} == {"区生态环境分局"}
    assert {r: d.due_at for r, d in after.items()} == {r: d.due_at for r, d in before.items()}
    assert {(c["field"], c["old"], c["new"], c["actor"]) for c in corrections} == {
        ("department", "区应急局", "区生态环境分局", "li"), ("domain", major.domain, domain, "li")}
    assert audit[-1]["action"] == "triage.corrected" and audit[-1]["detail"]["deadlines_moved"] == 2
    assert learned == [{"incident_id": major.id, "label": domain, "title": "化工厂爆炸",
                        "body": "马街街道化工厂爆炸造成12人死亡"}]


async def test_closed_deadlines_stay_with_their_department(app, clock):
    _, major = await _ingest(app, clock)
    async with app.store.write() as tx:
        [first, *_] = await tx.deadlines.for_incident(major.id)
        await tx.deadlines.update(first.id, {"state": "satisfied", "closed_at": clock.now()})
    out = await app.service.correct(major.id, {"department": "区住房城乡建设局"}, "li")
    assert out.deadlines_moved == 1
    async with app.store.read() as tx:
        departments = {d.state: d.department for d in await tx.deadlines.for_incident(major.id)}
    assert departments == {"satisfied": "区应急局", "open": "区住房城乡建设局"}


async def test_correcting_severity_opens_and_cancels_deadlines_like_a_regrade(app, clock):
    pending, major = await _ingest(app, clock)
    out = await app.service.correct(pending[0].id, {"severity": "重大"}, "li")
    assert sorted(out.opened) == ["authoritative_release", "press_conference"]
    out = await app.service.correct(major.id, {"severity": "较大"}, "li")
    assert sorted(out.cancelled) == ["authoritative_release", "press_conference"]
    async with app.store.read() as tx:
        states = {d.state for d in await tx.deadlines.for_incident(major.id)}
    assert states == {"cancelled"}


@pytest.mark.parametrize("values,message", [
    ({}, "nothing to correct"),
    ({"colour": "red"}, "colour: unknown field"),
    ({"severity": "很严重"}, "severity"),
    ({"department": "  "}, "department"),
    ({"co_departments": 5}, "co_departments"),
])
async def test_bad_corrections(app, clock, values, message):
    pending, _ = await _ingest(app, clock)
    with pytest.raises(ServiceError, match=message):
        await app.service.correct(pending[0].id, values, "li")


async def test_unknown_incident(app, clock):
    with pytest.raises(ServiceError) as err:
        await app.service.correct(999, {"domain": "环境保护"}, "li")
    assert err.value.status == 404


# --------------------------------------------------------------------------- API
@pytest.fixture
async def client(app, clock, monkeypatch):
    monkeypatch.setenv("YUQING_API_TOKEN", TOKEN)
    await _ingest(app, clock)
    async with TestClient(TestServer(web_application(app))) as c:
        yield c


async def test_api_lists_and_corrects(client, app):
    body = await (await client.get("/api/v1/triage", headers=AUTH)).json()
    [item] = body["incidents"]
    assert item["title"] == "你好" and item["triage"] == "pending"
    r = await client.post(f"/api/v1/incidents/{item['id']}/triage/correct",
                          json={"actor": "zhang", "department": "区民政局", "severity": "较大"}, headers=AUTH)
    assert r.status == 200, await r.text()
    out = await r.json()
    assert out["incident"]["department"] == "区民政局" and out["incident"]["severity"] == "较大"
    assert out["changes"]["severity"] == ["一般", "较大"]
    assert (await (await client.get("/api/v1/triage", headers=AUTH)).json())["incidents"] == []


async def test_api_accept_and_errors(client):
    [item] = (await (await client.get("/api/v1/triage", headers=AUTH)).json())["incidents"]
    url = f"/api/v1/incidents/{item['id']}/triage/accept"
    assert (await client.post(url, json={"actor": "zhang"})).status == 401  # no token
    assert (await client.post(url, json={"actor": "zhang"}, headers={"Authorization": "Bearer no"})).status == 401
    assert (await client.post(url, json={}, headers=AUTH)).status == 400  # no actor
    assert (await client.post(url, data="{", headers=AUTH)).status == 400
    assert (await client.post(url, json={"actor": "zhang"}, headers=AUTH)).status == 200
    assert (await client.post(url, json={"actor": "zhang"}, headers=AUTH)).status == 409  # already accepted
    assert (await client.post("/api/v1/incidents/999/triage/accept", json={"actor": "z"}, headers=AUTH)).status == 404
    assert (await client.post("/api/v1/incidents/x/triage/accept", json={"actor": "z"}, headers=AUTH)).status == 400
    r = await client.post(f"/api/v1/incidents/{item['id']}/triage/correct", json={"actor": "z", "x": 1}, headers=AUTH)
    assert r.status == 400 and "x: unknown field" in (await r.json())["error"]


async def test_api_refuses_actions_without_a_configured_token(app, clock, monkeypatch):
    monkeypatch.delenv("YUQING_API_TOKEN", raising=False)
    pending, _ = await _ingest(app, clock)
    async with TestClient(TestServer(web_application(app))) as c:
        r = await c.post(f"/api/v1/incidents/{pending[0].id}/triage/accept", json={"actor": "z"}, headers=AUTH)
        assert r.status == 503


# --------------------------------------------------------------------------- CLI
def test_cli_list_accept_correct(tmp_path, capsys):
    from tests.test_understanding_cli import run

    db = f"sqlite:///{tmp_path / 't.db'}"
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "1", "title": "你好", "body": "你好", "time": "2026-11-23T09:00:00+08:00"},
        {"id": "2", "title": "请问", "body": "请问一下", "time": "2026-11-23T09:00:00+08:00"},
    ]), encoding="utf-8")
    assert run(capsys, "--db", db, "import", str(src))[0] == 0
    code, out, err = run(capsys, "--db", db, "triage", "list", "--json")
    assert code == 0, err
    ids = [i["id"] for i in json.loads(out.splitlines()[-1])]
    assert len(ids) == 2
    code, out, _ = run(capsys, "--db", db, "triage", "accept", str(ids[0]), "--actor", "zhang", "--json")
    assert code == 0 and json.loads(out.splitlines()[-1])["triage"] == "accepted"
    code, out, err = run(capsys, "--db", db, "triage", "correct", str(ids[1]), "--domain", "教育文体", "--department",
                         "区教育体育局", "--actor", "li", "--json")
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["changes"]["department"][1] == "区教育体育局"
    code, out, _ = run(capsys, "--db", db, "triage", "list")
    assert code == 0 and "（0）" in out
    code, _, err = run(capsys, "--db", db, "triage", "correct", "999", "--domain", "教育文体")
    assert code == 2 and "999" in err
    code, _, err = run(capsys, "--db", db, "triage", "correct", str(ids[1]), "--domain", "x")
    assert code == 2 and "未知的领域「x」" in err and "教育文体" in err  # not a domain the classifier knows
    code, _, err = run(capsys, "--db", db, "triage", "correct", str(ids[1]))
    assert code == 2 and "nothing to correct" in err
