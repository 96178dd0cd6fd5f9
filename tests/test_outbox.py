"""Delivery through a real local HTTP receiver: retries with backoff, permanent failures, idempotency."""

from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.config.settings import Settings
from responders.outbox import MAX_BACKOFF, Deliverer, backoff


class Receiver:
    """A webhook endpoint that answers from a script of statuses and records what it got."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.got: list[tuple[str, dict]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.got.append((request.headers.get("Idempotency-Key"), body))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok" if status < 300 else "nope")


@pytest.fixture
async def receiver():
    r = Receiver()
    app = web.Application()
    app.router.add_post("/hook", r.handle)
    async with TestServer(app) as server:
        r.url = str(server.make_url("/hook"))
        yield r


async def enqueue(store, now, key="7:authoritative_release:1:hook", channel="hook"):
    payload = {"incident_id": 7, "rule": "authoritative_release", "step": "1", "due_at": now.isoformat(),
               "severity": "重大", "department": "区应急局", "text": "【舆情哨兵】<b>测试</b>"}
    async with store.write() as tx:
        return await tx.outbox.enqueue([{"key": key, "channel": channel, "payload": payload,
                                         "next_attempt_at": now, "created_at": now}])


def deliverer(store, clock, url, session):
    settings = Settings.model_validate({"channels": [{"name": "hook", "kind": "webhook", "url": url}]})
    return Deliverer(store, clock, settings, session, owner="test")


async def test_delivers_the_design_payload_with_idempotency_key(store, clock, receiver):
    await enqueue(store, clock.now())
    async with aiohttp.ClientSession() as session:
        assert await deliverer(store, clock, receiver.url, session).deliver_due() == 1
        assert await deliverer(store, clock, receiver.url, session).deliver_due() == 0
    [(header, body)] = receiver.got
    assert header == body["idempotency_key"] == "7:authoritative_release:1:hook"
    assert set(body) == {"idempotency_key", "incident_id", "rule", "step", "due_at", "severity", "department", "text"}
    assert await enqueue(store, clock.now()) == []  # the same key can never be queued again


async def test_recoverable_failures_retry_with_backoff(store, clock, receiver):
    receiver.statuses = [500, 429]
    await enqueue(store, clock.now())
    async with aiohttp.ClientSession() as session:
        d = deliverer(store, clock, receiver.url, session)
        assert await d.deliver_due() == 0
        assert await d.deliver_due() == 0  # not due yet: backing off
        async with store.read() as tx:
            [m] = await tx.outbox.list()
        assert m.attempts == 1 and "HTTP 500" in m.last_error
        assert timedelta(seconds=4) <= m.next_attempt_at - clock.now() <= timedelta(seconds=6)
        clock.advance(timedelta(seconds=7))
        assert await d.deliver_due() == 0  # 429
        clock.advance(timedelta(seconds=13))
        assert await d.deliver_due() == 1
    assert len(receiver.got) == 3
    async with store.read() as tx:
        [m] = await tx.outbox.list()
    assert m.status == "sent" and m.attempts == 3


async def test_client_errors_are_not_retried(store, clock, receiver):
    receiver.statuses = [400]
    await enqueue(store, clock.now())
    async with aiohttp.ClientSession() as session:
        assert await deliverer(store, clock, receiver.url, session).deliver_due() == 0
    async with store.read() as tx:
        [m] = await tx.outbox.list()
        audit = await tx.audit.list(entity="incident")
    assert m.status == "dead" and "HTTP 400" in m.last_error
    assert audit[-1]["action"] == "delivery.dead" and audit[-1]["detail"]["key"] == m.key


async def test_unreachable_host_is_retried(store, clock):
    await enqueue(store, clock.now())
    async with aiohttp.ClientSession() as session:
        assert await deliverer(store, clock, "http://127.0.0.1:9/hook", session).deliver_due() == 0
    async with store.read() as tx:
        [m] = await tx.outbox.list()
    assert m.status == "pending" and m.attempts == 1 and "ClientConnectorError" in m.last_error


async def test_unknown_channel_is_dead_not_lost(store, clock, receiver):
    await enqueue(store, clock.now(), key="k", channel="no-such-channel")
    async with aiohttp.ClientSession() as session:
        await deliverer(store, clock, receiver.url, session).deliver_due()
    async with store.read() as tx:
        [m] = await tx.outbox.list()
    assert m.status == "dead" and "no such channel" in m.last_error


def test_backoff_grows_and_is_capped():
    assert timedelta(seconds=4) <= backoff(0) <= timedelta(seconds=6)
    assert timedelta(seconds=32) <= backoff(3) <= timedelta(seconds=48)
    assert backoff(40) <= MAX_BACKOFF * 1.2
