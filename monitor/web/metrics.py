"""GET /metrics: Prometheus text format (anonymous, like /healthz: counts and ages only, never a title, a name
or a text). The store's figures are read from the store by a custom collector (the indexed counts at each
scrape, the full scans in the background), so every process on one database reports the same ones; this
process's own figures (sweep latency, last import, HTTP requests, memory) come from monitor/core/metrics.py.
The metrics are listed in docs/operations.md."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from aiohttp import web
from loguru import logger
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from monitor.core import metrics as local
from monitor.sources.health import source_health

HTTP_REQUESTS = Counter("yuqing_http_requests", "HTTP 请求数 / HTTP requests answered by this process",
                        ["method", "route", "status"], registry=local.REGISTRY)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SLOW_TTL = 10.0  # seconds at least between two full scans (items, outbox) …
SLOW_SHARE = 100  # … and at least 100 × the last scan's time, so they never take more than 1 % of a core


@web.middleware
async def count_requests(request: web.Request, handler):
    """Requests by method, route pattern (/incidents/{id}, never the path asked: a scanner would make a
    series per URL) and status."""
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:  # the client went away: not a server error
        status = 499
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(method, route, str(status)).inc()


class StoreCollector(Collector):
    """The store's figures as of the last refresh(); collect() turns them into metric families. The indexed
    counts are read at every scrape. The full scans (items by outcome, outbox totals) run in the background
    at most every SLOW_TTL seconds and SLOW_SHARE × their own time, so a scrape never waits for them after
    the first one, whatever the size of the store; the page says how old they are."""

    def __init__(self, app, slow_ttl: float = SLOW_TTL) -> None:
        self.app, self.slow_ttl = app, slow_ttl
        self.fast: dict | None = None
        self.slow: dict | None = None
        self._slow_until = 0.0
        self._scan: asyncio.Task | None = None
        self._scanned_at = self._scan_took = 0.0

    async def refresh(self) -> None:
        now = self.app.clock.now()
        try:
            async with self.app.store.read() as tx:
                m = tx.metrics
                self.fast = {"now": now, "incidents": await m.incidents(), "triage": await m.triage_queue(),
                             "deadlines": await m.deadlines(now), "escalation": await m.escalation_backlog(now),
                             "outbox_due": await m.outbox_oldest_due(now), "sources": await m.sources(),
                             "quarantine": await m.quarantine()}
        except Exception as exc:  # the page still answers: yuqing_store_up 0 is what to alert on
            logger.warning("metrics: store read failed: {}", exc)
            self.fast = None
            return
        if self._scan is None and time.monotonic() >= self._slow_until:
            self._scan = asyncio.create_task(self._full_scans())
        if self._scan is not None and (self.slow is None or not self.slow_ttl):
            await asyncio.shield(self._scan)  # the first scrape waits for figures; later ones show the last

    async def _full_scans(self) -> None:
        started = time.monotonic()
        try:
            async with self.app.store.read() as tx:
                m = tx.metrics
                self.slow = {"items": await m.items(), "updates": await m.updates(), "outbox": await m.outbox()}
            self._scanned_at, self._scan_took = time.monotonic(), time.monotonic() - started
        except Exception as exc:
            logger.warning("metrics: full scan failed: {}", exc)
        finally:
            took = time.monotonic() - started
            self._slow_until = time.monotonic() + (max(self.slow_ttl, SLOW_SHARE * took) if self.slow_ttl else 0.0)
            self._scan = None

    async def close(self, _web_app=None) -> None:
        if self._scan is not None:
            self._scan.cancel()
            await asyncio.gather(self._scan, return_exceptions=True)

    def collect(self):
        up = GaugeMetricFamily("yuqing_store_up", "数据库可读为 1 / 1 when the store answered this scrape")
        up.add_metric([], 1 if self.fast is not None else 0)
        yield up
        if self.fast is None:
            return
        yield from self._fast(self.fast)
        if self.slow is not None:
            yield from self._slow(self.slow)

    def _fast(self, f: dict):
        now: datetime = f["now"]
        g = GaugeMetricFamily("yuqing_incidents", "事件数（按状态）/ incidents by status", labels=["status"])
        for status, n in f["incidents"]:
            g.add_metric([status], n)
        yield g
        yield GaugeMetricFamily("yuqing_triage_queue", "待人工研判的未关闭事件 / open incidents waiting in triage",
                                value=f["triage"])
        open_, overdue = (GaugeMetricFamily("yuqing_deadlines_open", "未关闭期限（按规则）/ open deadlines by rule",
                                            labels=["rule"]),
                          GaugeMetricFamily("yuqing_deadlines_overdue", "已超时未关闭期限（按规则）/ open deadlines "
                                            "past their due time, by rule", labels=["rule"]))
        for rule, n, late in f["deadlines"]:
            open_.add_metric([rule], n)
            overdue.add_metric([rule], late)
        yield open_
        yield overdue
        due, oldest = f["escalation"]
        yield GaugeMetricFamily("yuqing_escalation_due_steps", "已到时未发出的升级提醒 / escalation steps due and "
                                "not yet fired", value=due)
        yield GaugeMetricFamily("yuqing_escalation_lag_seconds", "最早一个到时未发出的升级提醒已等待的秒数 / age of "
                                "the oldest due escalation step", value=_age(now, oldest))
        yield GaugeMetricFamily("yuqing_outbox_lag_seconds", "最早一条到时待发消息已等待的秒数 / age of the oldest "
                                "due pending outbox message", value=_age(now, f["outbox_due"]))
        total, waiting = (CounterMetricFamily("yuqing_quarantined", "隔离的行（按来源）/ rows quarantined, by "
                                              "source", labels=["source"]),
                          GaugeMetricFamily("yuqing_quarantine_unresolved", "待处理的隔离行 / quarantined rows "
                                            "not yet resolved, by source", labels=["source"]))
        for (source,), (n, unresolved) in sorted(self._by_source(f["quarantine"]).items()):
            total.add_metric([source], n)
            waiting.add_metric([source], unresolved)
        yield total
        yield waiting
        yield from self._sources(f["sources"], now)

    def _sources(self, rows: dict, now: datetime):
        healthy = GaugeMetricFamily("yuqing_source_healthy", "来源健康为 1（连续失败 3 次为 0）/ 1 unless the "
                                    "source failed 3 polls in a row", labels=["source", "kind"])
        errors = GaugeMetricFamily("yuqing_source_consecutive_errors", "来源连续失败次数 / failed polls in a row",
                                   labels=["source"])
        last = GaugeMetricFamily("yuqing_source_last_poll_age_seconds", "距上次采集（成功或失败）的秒数 / seconds "
                                 "since the source's last poll or progress", labels=["source"])
        ok = GaugeMetricFamily("yuqing_source_last_success_age_seconds", "距上次成功采集的秒数 / seconds since the "
                               "last successful poll", labels=["source"])
        for cfg in self.app.settings.sources:
            row = rows.get(cfg.name)
            health = source_health(cfg, row, now)
            healthy.add_metric([cfg.name, cfg.kind], 1 if health["healthy"] else 0)
            errors.add_metric([cfg.name], health["failures"])
            if row is not None:
                last.add_metric([cfg.name], _age(now, row["updated_at"]))
                if row["last_ok_at"] is not None:
                    ok.add_metric([cfg.name], _age(now, row["last_ok_at"]))
        yield from (healthy, errors, last, ok)

    def _source(self, name: str) -> str:
        """The configured source a stored name belongs to: `yuqing import` files are stored as
        hotline:<file name>, and a file name is no label for an anonymous page (it may name a person) nor a
        series to keep forever (one per file imported)."""
        configured = {cfg.name for cfg in self.app.settings.sources}
        if name in configured:
            return name
        prefix = name.split(":", 1)[0]
        return prefix if prefix in configured else "other"

    def _by_source(self, rows) -> dict[tuple, list[int]]:
        """Rows (source, *keys, *counts) summed per (configured source, *keys); `keys` are the str columns."""
        out: dict[tuple, list[int]] = {}
        for source, *rest in rows:
            keys = tuple(v for v in rest if isinstance(v, str))
            counts = [v for v in rest if not isinstance(v, str)]
            total = out.setdefault((self._source(source), *keys), [0] * len(counts))
            for i, n in enumerate(counts):
                total[i] += n
        return out

    def _slow(self, s: dict):
        yield GaugeMetricFamily("yuqing_metrics_scan_age_seconds", "下列按来源/渠道的计数已有多少秒 / age of the "
                                "figures from full scans (items, outbox, deliveries)",
                                value=time.monotonic() - self._scanned_at)
        yield GaugeMetricFamily("yuqing_metrics_scan_duration_seconds", "上次全表统计的耗时 / duration of the last "
                                "full scans", value=self._scan_took)
        items = CounterMetricFamily("yuqing_items", "入库的留言（按来源和结果：new 新事件、duplicate 内容重复、grouped "
                                    "归入已有事件）/ stored reports by source and outcome", labels=["source", "outcome"])
        for (source, outcome), (n,) in sorted(self._by_source(s["items"]).items()):
            items.add_metric([source, outcome], n)
        yield items
        updates = CounterMetricFamily("yuqing_item_updates", "已知留言的内容更新 / changes recorded on known "
                                      "records, by source", labels=["source"])
        for (source,), (n,) in sorted(self._by_source(s["updates"]).items()):
            updates.add_metric([source], n)
        yield updates
        pending, dead = (GaugeMetricFamily("yuqing_outbox_pending", "待发送消息（按渠道）/ pending outbox "
                                           "messages by channel", labels=["channel"]),
                         GaugeMetricFamily("yuqing_outbox_dead", "放弃发送的消息（按渠道）/ messages given up "
                                           "(dead letters) by channel", labels=["channel"]))
        deliveries = CounterMetricFamily("yuqing_deliveries", "发送结果（按渠道：sent 成功、failed 失败的尝试）/ "
                                         "deliveries by channel and result (sent, failed attempts)",
                                         labels=["channel", "result"])
        by_channel: dict[str, list[int]] = {}
        for channel, status, n, attempts in s["outbox"]:
            sent_failed = by_channel.setdefault(channel, [0, 0])
            if status == "sent":  # its last attempt succeeded
                sent_failed[0] += n
                sent_failed[1] += attempts - n
            else:
                sent_failed[1] += attempts
            if status == "pending":
                pending.add_metric([channel], n)
            elif status == "dead":
                dead.add_metric([channel], n)
        for channel, (sent, failed) in sorted(by_channel.items()):
            deliveries.add_metric([channel, "sent"], sent)
            deliveries.add_metric([channel, "failed"], failed)
        yield from (pending, dead, deliveries)


class _Local(Collector):
    """This process's own instruments, exposed on the same page."""

    def collect(self):
        yield from local.REGISTRY.collect()


METRICS_KEY = web.AppKey("yuqing_metrics", StoreCollector)


def setup(web_app: web.Application, app) -> None:
    """Wire /metrics and the request counter into the web application."""
    collector = StoreCollector(app)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    registry.register(_Local())
    web_app[METRICS_KEY] = collector
    web_app[_REGISTRY_KEY] = registry
    web_app.middlewares.insert(0, count_requests)  # outermost: refused and failed requests count too
    web_app.on_cleanup.append(collector.close)
    web_app.router.add_get("/metrics", metrics)


_REGISTRY_KEY = web.AppKey("yuqing_metrics_registry", CollectorRegistry)


async def metrics(request: web.Request) -> web.Response:
    await request.app[METRICS_KEY].refresh()
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(request.app[_REGISTRY_KEY]), headers={"Content-Type": content_type})


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0
