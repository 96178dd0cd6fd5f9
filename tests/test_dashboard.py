"""The dashboard and JSON API over real HTTP (aiohttp test server); scraped text is escaped."""

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.model import RawItem
from monitor.server import web_application

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
async def client(app, clock):
    await app.pipeline.ingest([
        RawItem("hotline", "1", f"化工厂爆炸{HOSTILE}", "马街街道化工厂爆炸造成12人死亡" + HOSTILE,
                occurred_at=clock.now() - timedelta(hours=1)),
        RawItem("hotline", "2", "路灯不亮", "金碧街道路灯坏了", occurred_at=clock.now()),
    ], "hotline")
    async with TestClient(TestServer(web_application(app))) as c:
        yield c


async def test_index_lists_incidents_with_deadlines_escaped(client):
    r = await client.get("/")
    assert r.status == 200
    html = await r.text()
    assert "路灯不亮" in html and "区应急局" in html
    assert "5小时内发布权威信息：4小时" in html  # first seen an hour ago → 4 hours left
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


async def test_incident_page_shows_reasons_and_items(client):
    html = await (await client.get("/incidents/1")).text()
    assert "研判依据" in html and "重大（Ⅱ级）" in html and "死亡（含失踪）12人" in html
    assert "<script>" not in html
    assert (await client.get("/incidents/999")).status == 404
    assert (await client.get("/incidents/abc")).status == 404


async def test_healthz(client):
    r = await client.get("/healthz")
    assert r.status == 200 and await r.json() == {"status": "ok"}


async def test_api_incidents(client):
    body = await (await client.get("/api/v1/incidents?status=open")).json()
    assert [i["id"] for i in body["incidents"]] == [1, 2]  # most severe first
    assert body["incidents"][0]["severity"] == "重大" and body["incidents"][0]["level"] == "Ⅱ"
    detail = await (await client.get("/api/v1/incidents/1")).json()
    assert detail["route"]["department"] == "区应急局"
    assert {d["rule"] for d in detail["deadlines"]} == {"authoritative_release", "press_conference"}
    assert detail["items"][0]["title"].endswith(HOSTILE)  # JSON carries the text as data, unmodified
    assert detail["timeline"] and detail["reasons"]
    assert (await client.get("/api/v1/incidents/77")).status == 404
    assert (await client.get("/api/v1/incidents?status=bogus")).status == 400
