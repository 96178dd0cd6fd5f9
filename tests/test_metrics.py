"""/metrics and /readyz over real HTTP (aiohttp test server) on both backends: the Prometheus page follows an
import, a deadline going overdue, a sweep and deliveries; it shows counts and ages, never a scraped text."""

from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from monitor.config.settings import Settings
from monitor.core.metrics import observe_import
from monitor.core.model import RawItem
from monitor.sources.importer import default_source, import_file
from monitor.store import Store
from monitor.store.db import head_revision
from monitor.web.metrics import METRICS_KEY
from monitor.web.server import web_application
from responders.outbox import Deliverer

HOSTILE = '<script>alert("x")</script>'
CSV = (
    "工单编号,标题,诉求内容,受理时间,诉求人,办理状态,信息来源,点赞数,答复意见,答复时间\n"
    "R1,马街街道化工厂爆炸,马街街道一化工厂发生爆炸，造成12人死亡,2026/11/23 8:00:00,张三,办理中,网站,0,,\n"
    f"R2,路灯不亮{HOSTILE},金碧街道路灯坏了三天,2026/11/23 8:10:00,李四,办理中,网站,0,,\n"
    f"R3,路灯不亮{HOSTILE},金碧街道路灯坏了三天,2026/11/23 8:20:00,王五,办理中,网站,0,,\n"
    "R4,,,2026/11/23 8:30:00,赵六,办理中,网站,0,,\n"
)


@pytest.fixture
async def client(app):
    server = TestServer(web_application(app))
    server.app[METRICS_KEY].slow_ttl = 0  # every scrape reads the store (the cache has its own test)
    async with TestClient(server) as c:
        yield c


async def scrape(client) -> tuple[dict, str]:
    r = await client.get("/metrics")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
    body = await r.text()
    samples = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, body


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def import_csv(app, tmp_path):
    """As `yuqing import 张三反映的问题.csv` stores it: under hotline:<file name>, shown as source "hotline"."""
    path = tmp_path / "张三反映的问题.csv"
    path.write_text(CSV, encoding="utf-8")
    source = default_source(path, app.settings)
    assert source == f"hotline:{path.stem}"
    return await observe_import("hotline", import_file(app.pipeline, app.settings, path, source))


async def test_an_import_shows_as_items_by_outcome_quarantine_and_rate(app, client, tmp_path):
    before, _ = await scrape(client)
    assert value(before, "yuqing_store_up") == 1
    assert value(before, "yuqing_items_total", source="hotline", outcome="new") == 0
    stats = await import_csv(app, tmp_path)
    assert (stats.read, stats.inserted, stats.duplicates, stats.quarantined) == (4, 2, 1, 1)

    after, body = await scrape(client)
    assert value(after, "yuqing_items_total", source="hotline", outcome="new") == 2
    assert value(after, "yuqing_items_total", source="hotline", outcome="duplicate") == 1
    assert value(after, "yuqing_quarantined_total", source="hotline") == 1
    assert value(after, "yuqing_quarantine_unresolved", source="hotline") == 1
    assert value(after, "yuqing_incidents", status="open") == 2
    assert value(after, "yuqing_deadlines_open", rule="authoritative_release") == 1
    assert value(after, "yuqing_deadlines_open", rule="press_conference") == 1
    assert value(after, "yuqing_deadlines_overdue", rule="authoritative_release") == 0
    assert value(after, "yuqing_import_rows_total", source="hotline") - \
        value(before, "yuqing_import_rows_total", source="hotline") == 4
    assert value(after, "yuqing_import_rows_per_second", source="hotline") > 0
    # anonymous page: counts and ages only, never what people wrote or who they are
    for secret in ("<script>", "路灯", "化工厂", "张三", "R1"):
        assert secret not in body
    assert all(name.startswith("yuqing_") for name, _ in after)


async def test_overdue_deadline_sweep_outbox_and_deliveries(app, client, clock, tmp_path):
    await import_csv(app, tmp_path)
    clock.advance(timedelta(hours=5))  # 14:00: the 5-hour deadline of the 08:00 explosion is an hour late
    m, _ = await scrape(client)
    assert value(m, "yuqing_deadlines_overdue", rule="authoritative_release") == 1
    assert value(m, "yuqing_deadlines_overdue", rule="press_conference") == 0
    assert value(m, "yuqing_escalation_due_steps") == 1  # its first step (−2h, 11:00) waits for a sweep
    assert value(m, "yuqing_escalation_lag_seconds") == 3 * 3600

    await app.escalator.tick()
    m2, _ = await scrape(client)
    assert value(m2, "yuqing_sweep_duration_seconds_count") == value(m, "yuqing_sweep_duration_seconds_count") + 1
    assert value(m2, "yuqing_escalation_due_steps") == 0
    pending = value(m2, "yuqing_outbox_pending", channel="dashboard")
    assert pending > 0 and value(m2, "yuqing_outbox_lag_seconds") == 0

    receiver = _Receiver([500])
    async with TestServer(receiver.app) as hook, aiohttp.ClientSession() as session:
        async with app.store.write() as tx:
            await tx.outbox.enqueue([{"key": "1:authoritative_release:1:hook", "channel": "hook",
                                      "payload": {"text": "x"}, "next_attempt_at": clock.now(),
                                      "created_at": clock.now()}])
        clock.advance(timedelta(minutes=1))
        m3, _ = await scrape(client)
        assert value(m3, "yuqing_outbox_lag_seconds") == 60
        settings = Settings.model_validate({"channels": [{"name": "hook", "kind": "webhook",
                                                          "url": str(hook.make_url("/hook"))}]})
        await Deliverer(app.store, clock, settings, session, owner="test").deliver_due()
    m4, _ = await scrape(client)
    assert value(m4, "yuqing_deliveries_total", channel="dashboard", result="sent") == pending
    assert value(m4, "yuqing_deliveries_total", channel="hook", result="failed") == 1  # HTTP 500: retried later
    assert value(m4, "yuqing_deliveries_total", channel="hook", result="sent") == 0
    assert value(m4, "yuqing_outbox_pending", channel="hook") == 1
    assert value(m4, "yuqing_outbox_pending", channel="dashboard") == 0
    assert value(m4, "yuqing_outbox_lag_seconds") == 0  # the failed one waits for its backoff: not due


class _Receiver:
    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.app = web.Application()
        self.app.router.add_post("/hook", self.handle)

    async def handle(self, request):
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


async def test_requests_are_counted_by_route_pattern_and_status(client):
    await client.get("/healthz")
    # counted under its pattern, not its own path; anonymous, so refused or sent to /login: counted as answered
    page = await client.get("/incidents/424242", allow_redirects=False)
    other = await client.get("/no/such/page", allow_redirects=False)
    m, body = await scrape(client)
    assert value(m, "yuqing_http_requests_total", method="GET", route="/healthz", status="200") >= 1
    assert value(m, "yuqing_http_requests_total", method="GET", route="/incidents/{id}", status=str(page.status)) >= 1
    assert value(m, "yuqing_http_requests_total", method="GET", route="unmatched", status=str(other.status)) >= 1
    routes = {dict(labels).get("route") for name, labels in m if name == "yuqing_http_requests_total"}
    assert "/incidents/424242" not in routes and "/no/such/page" not in routes
    assert value(m, "yuqing_process_resident_memory_bytes") > 0


async def test_a_store_that_does_not_answer_is_a_zero_not_an_error(app, client):
    real = app.store
    app.store = Store("postgresql://nobody@127.0.0.1:9/none")  # nothing listens on port 9
    try:
        m, _ = await scrape(client)
        ready = await client.get("/readyz")
    finally:
        await app.store.close()
        app.store = real
    assert value(m, "yuqing_store_up") == 0
    assert ("yuqing_deadlines_open", ()) not in m
    assert ready.status == 503 and "数据库无法连接" in (await ready.json())["reason"]
    m, _ = await scrape(client)
    assert value(m, "yuqing_store_up") == 1


async def test_full_scans_are_cached_between_scrapes(app):
    """Items by outcome and the outbox totals scan whole tables: read at most every SLOW_TTL seconds; the
    indexed counts (deadlines, incidents) are fresh at every scrape."""
    async with TestClient(TestServer(web_application(app))) as c:
        await scrape(c)
        await app.pipeline.ingest([RawItem("push", "1", "化工厂爆炸", "马街街道一化工厂发生爆炸，造成12人死亡",
                                           occurred_at=app.clock.now())], "push")
        m, _ = await scrape(c)
    assert value(m, "yuqing_items_total", source="push", outcome="new") == 0  # cached from the first scrape
    assert value(m, "yuqing_incidents", status="open") == 1
    assert value(m, "yuqing_deadlines_open", rule="authoritative_release") == 1


async def test_readyz_checks_the_store_and_the_schema_revision(app, client):
    r = await client.get("/readyz")
    assert r.status == 200 and await r.json() == {"status": "ready", "revision": head_revision()}
    async with app.store.write() as tx:  # as a database an older program version left behind looks
        await tx.conn.execute(text("UPDATE alembic_version SET version_num = '0011_action_tokens'"))
    try:
        r = await client.get("/readyz")
        body = await r.json()
    finally:
        async with app.store.write() as tx:
            await tx.conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})
    assert r.status == 503 and body["revision"] == "0011_action_tokens" and body["head"] == head_revision()
    assert "yuqing db upgrade" in body["reason"] and "不是最新" in body["reason"]
    health = await client.get("/healthz")
    assert health.status == 200  # liveness is not readiness
