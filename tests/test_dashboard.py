"""The dashboard and JSON API over real HTTP (aiohttp test server), signed in as a duty officer; scraped text is
escaped."""

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.core.model import RawItem
from monitor.web.server import web_application
from tests.signin import add_account, sign_in

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
async def client(app, clock):
    await app.pipeline.ingest([
        RawItem("hotline", "1", f"化工厂爆炸{HOSTILE}", "马街街道化工厂爆炸造成12人死亡" + HOSTILE,
                occurred_at=clock.now() - timedelta(hours=1)),
        RawItem("hotline", "2", "路灯不亮", "金碧街道路灯坏了", occurred_at=clock.now()),
    ], "hotline")
    await add_account(app, "zhang", "duty_officer")
    async with TestClient(TestServer(web_application(app))) as c:
        await sign_in(c, "zhang")
        yield c


async def test_index_lists_incidents_with_deadlines_escaped(client):
    r = await client.get("/")
    assert r.status == 200
    html = await r.text()
    assert "路灯不亮" in html and "区应急局" in html
    assert "5小时内发布权威信息：4小时" in html  # first seen an hour ago → 4 hours left
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


async def test_index_draws_deadline_clocks_and_bars(client):
    html = await (await client.get("/")).text()
    # first seen an hour ago: 1/5 of the 5-hour window and 1/24 of the 24-hour one are gone
    assert 'title="时限已用 20%"><i class="w20">' in html
    assert 'title="时限已用 4%"><i class="w4">' in html
    # one 重大 and one 一般 incident open: two halves, most severe first
    assert html.index('class="sev3 w50"') < html.index('class="sev1 w50"')
    assert html.count('<span class="bar"><i class="w100">') == 2
    assert "style=" not in html  # widths are classes: the CSP allows no inline style


@pytest.mark.parametrize("elapsed_h, window_h, expected", [
    (0, 5, 0), (1, 5, 20), (2.5, 5, 50), (5, 5, 100), (9, 5, 100), (-1, 5, 0), (1, 0, 100), (6, 24, 25),
])
def test_time_used(elapsed_h, window_h, expected):
    from datetime import datetime, timezone

    from monitor.web.pages import time_used

    start = datetime(2026, 11, 23, 8, tzinfo=timezone.utc)
    now = start + timedelta(hours=elapsed_h)
    assert time_used(start, start + timedelta(hours=window_h), now) == expected


async def test_incident_page_shows_reasons_and_items(client):
    html = await (await client.get("/incidents/1")).text()
    assert "研判依据" in html and "重大（Ⅱ级）" in html and "死亡（含失踪）12人" in html
    assert "<script>" not in html
    assert 'title="时限已用 20%"' in html  # the clock on each open deadline
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


async def test_provisional_deadline_is_marked_on_index_and_incident_page(app, clock):
    """A policy at year end with no 2027 holiday data: its deadline is counted early and says so."""
    from datetime import datetime

    from monitor.core.clock import SHANGHAI

    clock.set(datetime(2026, 12, 29, 10, 0, tzinfo=SHANGHAI))
    await app.pipeline.ingest([RawItem("hotline", "p", "关于印发《西山区老旧小区改造实施方案》的通知",
                                       "现将实施方案印发给你们。", occurred_at=clock.now())], "hotline")
    await add_account(app, "zhang", "duty_officer")
    async with TestClient(TestServer(web_application(app))) as c:
        await sign_in(c, "zhang")
        index = await (await c.get("/")).text()
        page = await (await c.get("/incidents/1")).text()
    assert 'class="badge provisional" title="暂定：缺少2027年节假日安排，按自然日提前计算">暂定</span>' in index
    assert '<small class="provisional">暂定：缺少2027年节假日安排，按自然日提前计算</small>' in page
    assert "2027-01-02 00:00" in page
