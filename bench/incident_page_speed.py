"""How long the incident page (/incidents/{id}) takes for an event with 500 reports in a store of 100,000 incidents
(issue 18: ≤ 150 ms server time). Prints a table; not a test.

The store is seeded in bulk (not through the pipeline, which would take minutes): N background incidents with one
report and three audit entries each (two deadlines opened, one reminder), and one explosion imported through the
pipeline (its deadlines and audit as in life) that then gets 499 more reports (near-duplicates and follow-ups with
their grouping reasons, some answered), acknowledgements, evidence, notes and reminders — 1,000+ timeline lines
before the page keeps its latest lines. The page is then fetched by a signed-in session (real login, real
middleware) over local HTTP with keep-alive, one request at a time: the server time (a middleware: from the
request reaching the application to its answer, sign-in included), its CPU time, and the client's time (with the
loopback round trip) are printed.

SQLite (a fresh file; or --db sqlite:///PATH):
    python bench/incident_page_speed.py [--incidents 100000] [--items 500] [--requests 200]
PostgreSQL (a fresh database made from the URL and dropped afterwards):
    python bench/incident_page_speed.py --pg postgresql://postgres@127.0.0.1:5432/postgres

The last line printed is `RESULT {json}` with p50/p99 (ms) of server, server CPU and client time and the load
average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.settings import BUNDLED_CONFIG, load_settings  # noqa: E402
from monitor.core.clock import SHANGHAI, ManualClock  # noqa: E402
from monitor.core.model import RawItem  # noqa: E402

BATCH = 5000


async def seed(app, clock, n_incidents: int, n_items: int) -> int:
    now = clock.now()
    await app.pipeline.ingest([RawItem("hotline", "E-0", "马街街道化工厂爆炸", "马街街道化工厂爆炸造成12人死亡",
                                       occurred_at=now - timedelta(hours=2))], "hotline")
    target = 1
    t0 = time.perf_counter()
    for start in range(0, n_incidents - 1, BATCH):
        count = min(BATCH, n_incidents - 1 - start)
        seen = [now - timedelta(minutes=start + k) for k in range(count)]
        async with app.store.write() as tx:
            ids = await tx.incidents.insert_many_fast([{
                "title": f"背景事件 {start + k}：小区路灯不亮", "kind": "incident", "status": "open", "triage": "none",
                "domain": "城乡建设", "domain_confidence": 0.8, "department": "区住房城乡建设局", "co_departments": [],
                "region": "金碧街道", "severity": 1, "response_type": "", "sensitive_areas": [],
                "reasons": [{"stage": "route", "text": "属地管理"}], "first_seen_at": s, "last_seen_at": s,
                "published_at": None, "item_count": 1, "reporter_count": 1, "likes": 0, "created_at": now,
                "updated_at": now, "event": None, "transfer": ""} for k, s in enumerate(seen)])
            await tx.items.insert_many([_item(f"B-{start + k}", i, s, now, "") for k, (i, s) in enumerate(zip(ids, seen))])
            await tx.audit.append_many([{"at": now, "actor": a, "action": act, "entity": "incident",
                                         "entity_id": str(i), "detail": {"rule": "authoritative_release"}}
                                        for i in ids for a, act in (("system:pipeline", "deadline.opened"),
                                                                    ("system:pipeline", "deadline.opened"),
                                                                    ("system:escalator", "escalation.fired"))])
    print(f"seeded {n_incidents:,} incidents in {time.perf_counter() - t0:.1f} s")
    reasons = ("与留言 #1（hotline:E-0）相似（字符三元组 Jaccard 相似度 0.81 ≥ 0.30）", "与已有留言内容相同",
               "同一事件（后续报告：死亡人数上升）：爆炸，马街街道，2小时前")
    async with app.store.write() as tx:
        await tx.items.insert_many([
            _item(f"E-{k}", target, now - timedelta(minutes=k % 120), now, reasons[k % 3],
                  reply="已转区应急局处理" if k % 5 == 0 else "", status="已办结" if k % 7 == 0 else "办理中")
            for k in range(1, n_items)])
        await tx.audit.append_many([
            {"at": now + timedelta(seconds=k), "actor": ("system:source:hotline", "张三", "system:escalator")[k % 3],
             "action": ("item.replied", "incident.noted", "escalation.fired")[k % 3], "entity": "incident",
             "entity_id": str(target), "detail": {"external_id": f"E-{k}", "reply": "已转区应急局处理",
                                                  "text": "已电话联系街道", "rule": "press_conference", "step": "1",
                                                  "to": ["dashboard"]}}
            for k in range(1200)])
        await tx.incidents.refresh_stats([target], now)
    await app.service.acknowledge(target, "张三", rule="authoritative_release")
    await app.service.add_evidence(target, "张三", url="https://xs.gov.cn/release/1", rule="authoritative_release")
    return target


def _item(external_id: str, incident_id: int, at, now, reason: str, reply: str = "", status: str = "") -> dict:
    return {"source": "hotline", "external_id": external_id, "content_hash": uuid.uuid4().hex, "title": "马街化工厂爆炸",
            "body": "马街街道化工厂爆炸，周边居民闻到刺鼻气味，请问是否需要疏散" * 3, "location": "马街街道",
            "reporter": f"市民{external_id}", "channel": "电话", "handler": "", "status": status, "likes": 0,
            "reply": reply, "replied_at": None, "occurred_at": at, "received_at": now, "updated_at": now,
            "domain": "安全生产", "domain_confidence": 0.9, "incident_id": incident_id, "group_reason": reason,
            "raw": {"url": f"https://12345.xs.gov.cn/case/{external_id}"}, "facts": None, "minhash": None}


async def measure(app, target: int, requests: int) -> tuple[list[float], list[float], list[float], int]:
    """(server ms, server CPU ms, client ms, page bytes): server time from the first middleware (sign-in check
    included) to the finished response, its CPU time (what a busy shared machine does not inflate), and the
    client's time from the request to the last byte read."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from monitor.web.server import web_application
    from tests.signin import add_account, sign_in

    server: list[float] = []
    cpu: list[float] = []

    @web.middleware
    async def timing(request, handler):
        t0, c0 = time.perf_counter(), time.process_time()
        response = await handler(request)
        server.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)  # this process's threads (the SQLite driver's too)
        return response

    await add_account(app, "张三", "liaison", "区应急局")
    web_app = web_application(app)
    web_app.middlewares.insert(0, timing)
    async with TestClient(TestServer(web_app)) as client:
        await sign_in(client, "张三")
        client_ms, size = [], 0
        for n in range(requests + 5):
            t0 = time.perf_counter()
            r = await client.get(f"/incidents/{target}")
            body = await r.text()
            elapsed = time.perf_counter() - t0
            assert r.status == 200 and "时间线" in body, r.status
            if n == 5:
                server.clear()  # the first few warm caches (templates, statements)
                cpu.clear()
            if n >= 5:
                client_ms.append(elapsed * 1000)
                size = len(body.encode())
    return server, cpu, client_ms, size


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    ap.add_argument("--pg", help="a PostgreSQL URL to create a fresh database from (dropped afterwards)")
    ap.add_argument("--incidents", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    from monitor.app import build

    pg_name = None
    if args.pg:
        from bench.roles_scaling import admin
        from sqlalchemy.engine import make_url

        pg_name = f"yuqing_bench_{uuid.uuid4().hex[:8]}"
        await admin(args.pg, f'CREATE DATABASE "{pg_name}"')
        url = make_url(args.pg).set(database=pg_name).render_as_string(hide_password=False)
    else:
        url = args.db or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))
    app = await build(load_settings(BUNDLED_CONFIG / "demo.yaml"), url, clock)
    try:
        target = await seed(app, clock, args.incidents, args.items)
        server, cpu, client_ms, size = await measure(app, target, args.requests)
    finally:
        await app.close()
        if pg_name:
            await admin(args.pg, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    print(f"{app.store.dialect}: incident page, {args.items} reports, {args.incidents:,} incidents, "
          f"{len(server)} requests, {size / 1024:.0f} KiB each (target ≤ 150 ms server time); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    result = {"bench": "incident_page_speed", "store": app.store.dialect, "incidents": args.incidents,
              "items": args.items, "requests": len(server), "page_kib": round(size / 1024), "cores": os.cpu_count(),
              "load_average": list(os.getloadavg())}
    for name, key, times in (("server", "server", server), ("server CPU", "server_cpu", cpu),
                             ("client", "client", client_ms)):
        times.sort()
        p = lambda q: times[min(len(times) - 1, int(q * len(times)))]  # noqa: E731
        print(f"  {name:10}  median {statistics.median(times):6.1f} ms   p95 {p(0.95):6.1f} ms   "
              f"p99 {p(0.99):6.1f} ms   max {times[-1]:6.1f} ms")
        result |= {f"{key}_p50": statistics.median(times), f"{key}_p99": p(0.99), f"{key}_max": times[-1]}
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
