"""Authenticated actions over HTTP go through the same service layer as the CLI."""

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.core.model import RawItem
from monitor.web.server import web_application

TOKEN = "test-token-1234"


@pytest.fixture
async def client(app, clock, monkeypatch):
    monkeypatch.setenv("YUQING_API_TOKEN", TOKEN)
    await app.pipeline.ingest([RawItem("hotline", "1", "化工厂爆炸", "马街街道化工厂爆炸造成12人死亡",
                                       occurred_at=clock.now() - timedelta(hours=1))], "hotline")
    async with TestClient(TestServer(web_application(app))) as c:
        yield c


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_actions_need_the_token(client, monkeypatch):
    r = await client.post("/api/v1/incidents/1/ack", json={"actor": "zhang"})
    assert r.status == 401
    r = await client.post("/api/v1/incidents/1/ack", json={"actor": "zhang"}, headers={"Authorization": "Bearer x"})
    assert r.status == 401
    monkeypatch.delenv("YUQING_API_TOKEN")
    r = await client.post("/api/v1/incidents/1/ack", json={"actor": "zhang"}, headers=AUTH)
    assert r.status == 503 and "YUQING_API_TOKEN" in (await r.json())["error"]


async def test_ack_evidence_reassign(client):
    r = await client.post("/api/v1/incidents/1/ack", json={"actor": "zhang"}, headers=AUTH)
    assert r.status == 200 and set((await r.json())["acknowledged"]) == {"authoritative_release", "press_conference"}
    r = await client.post("/api/v1/incidents/1/evidence", headers=AUTH,
                          json={"actor": "zhao", "rule": "authoritative_release", "url": "https://xs.gov.cn/1"})
    assert r.status == 200 and await r.json() == {"satisfied": [{"rule": "authoritative_release", "on_time": True}]}
    r = await client.post("/api/v1/incidents/1/reassign", headers=AUTH,
                          json={"actor": "zhang", "department": "区卫生健康局", "reason": "救治"})
    assert r.status == 200 and (await r.json())["department"] == "区卫生健康局"
    detail = await (await client.get("/api/v1/incidents/1", headers=AUTH)).json()
    states = {d["rule"]: (d["state"], d["department"]) for d in detail["deadlines"]}
    assert states == {"authoritative_release": ("satisfied", "区应急局"), "press_conference": ("open", "区卫生健康局")}
    assert [t["action"] for t in detail["timeline"]][-3:] == ["deadline.acknowledged", "evidence.recorded",
                                                               "incident.reassigned"]


async def test_bad_requests_name_the_field(client):
    r = await client.post("/api/v1/incidents/1/evidence", headers=AUTH, json={"rule": "authoritative_release"})
    assert r.status == 400 and (await r.json())["error"] == "actor: 必填 (required string)"
    r = await client.post("/api/v1/incidents/1/reassign", headers=AUTH, data="{not json")
    assert r.status == 400 and "JSON" in (await r.json())["error"]
    r = await client.post("/api/v1/incidents/1/evidence", headers=AUTH, json={"actor": "a", "rule": "nope", "url": "https://x"})
    assert r.status == 400 and "nope" in (await r.json())["error"]
    r = await client.post("/api/v1/incidents/99/ack", headers=AUTH, json={"actor": "a"})
    assert r.status == 404
    r = await client.post("/api/v1/incidents/1/explode", headers=AUTH, json={"actor": "a"})
    assert r.status in (404, 405)


@pytest.mark.parametrize("path, body", [("/api/v1/incidents/1/split", {"item_ids": [1]}),
                                        ("/api/v1/incidents/1/merge", {"incident_ids": [2], "actor": "zhang"}),
                                        ("/api/v1/incidents/1/triage/accept", {"actor": "zhang"})])
async def test_every_action_answers_alike_without_a_token(client, monkeypatch, path, body):
    """One check for all actions (monitor.web.auth): split once answered 401 where the others answer 503."""
    assert (await client.post(path, json=body)).status == 401
    monkeypatch.delenv("YUQING_API_TOKEN")
    r = await client.post(path, json=body, headers=AUTH)
    assert r.status == 503 and "YUQING_API_TOKEN" in (await r.json())["error"]


@pytest.mark.parametrize("path,body,listed", [
    ("reassign", {"actor": "zhang", "department": "<script>alert(1)</script>区城管局"}, "区卫生健康局"),
    ("triage/correct", {"actor": "zhang", "department": "区宣传部门xyz"}, "区卫生健康局"),
    ("triage/correct", {"actor": "zhang", "domain": "<b>外星人</b>"}, "其他"),
    ("triage/correct", {"actor": "zhang", "co_departments": ["区卫生健康局", "不存在局"]}, "区卫生健康局"),
])
async def test_unknown_department_or_domain_is_refused_with_the_allowed_names(client, app, path, body, listed):
    """Names in actions come from the jurisdiction and the classifier: anything else is a 400 listing what is
    allowed, and nothing changes."""
    async with app.store.read() as tx:
        before = await tx.incidents.get(1)
    r = await client.post(f"/api/v1/incidents/1/{path}", json=body, headers=AUTH)
    assert r.status == 400
    answer = await r.json()
    assert listed in answer["allowed"]
    async with app.store.read() as tx:
        after = await tx.incidents.get(1)
    assert (after.department, after.domain, after.co_departments) == \
        (before.department, before.domain, before.co_departments)


async def test_a_department_alias_is_stored_under_its_name(client):
    r = await client.post("/api/v1/incidents/1/reassign", json={"actor": "zhang", "department": "卫健局"},
                          headers=AUTH)
    assert r.status == 200 and (await r.json())["department"] == "区卫生健康局"
