"""Issue 19, items 1–4, over real HTTP (aiohttp test servers, raw sockets, `yuqing serve` processes) on SQLite
and PostgreSQL: a signed push is read whole however it arrives; ids are exact strings; a changed record is an
update that is read again; the sender's clock never sets a deadline; hostile input is a 4xx that stores nothing,
never a 500 (with a hypothesis fuzz of the ingest and action endpoints)."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import datetime, timedelta

import pytest
from aiohttp import ClientError, ClientSession
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import text

from monitor.core.clock import UTC
from monitor.web.ingest import sign
from monitor.web.push import FUTURE_TOLERANCE
from monitor.web.server import web_application

SECRET = "s3cret-for-tests"
TOKEN = "test-token-1234"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMIT = 256 * 1024  # WebhookSource.max_body_bytes, the demo config's push source
WATER = "马街街道某小区停水三天，物业无人通知，居民生活困难"
EXPLOSION = "马街街道化工厂发生爆炸，造成12人死亡"
TABLES = ("items", "incidents", "item_history", "quarantine", "deadlines", "evidence", "audit_log", "corrections",
          "ledger", "outbox")


def message(id_="p-1", title="化工厂爆炸", body=EXPLOSION, time="2026-11-23T08:00:00+08:00", **more) -> dict:
    return {"id": id_, "title": title, "body": body, "time": time, **more}


def encode(obj) -> bytes:
    return obj if isinstance(obj, bytes) else json.dumps(obj, ensure_ascii=False).encode()


def chinese(answer: dict) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in answer.get("error", ""))


@pytest.fixture
def secrets(monkeypatch):
    monkeypatch.setenv("YUQING_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("YUQING_API_TOKEN", TOKEN)


@pytest.fixture
async def client(app, secrets):
    async with TestClient(TestServer(web_application(app)), headers=AUTH) as c:  # reads need the token too
        yield c


async def push(client, obj, secret: str = SECRET, **kw) -> tuple[int, dict]:
    body = encode(obj)
    r = await client.post("/api/v1/ingest", data=body, headers={"X-Yuqing-Signature": sign(secret, body)}, **kw)
    return r.status, await r.json()


async def snapshot(app) -> dict[str, int]:
    """Row counts of every table an input could write to: equal before and after = nothing stored."""
    async with app.store.engine.connect() as conn:
        return {t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar() for t in TABLES}


async def stored_item(app, external_id: str, source: str = "push") -> dict | None:
    async with app.store.read() as tx:
        return (await tx.items.by_external_ids(source, [external_id])).get(external_id)


async def raw_request(server, head: bytes, pieces: list[bytes]) -> tuple[int, dict]:
    """An HTTP/1.1 request written by hand: the head, then each piece after a pause, so that the server's
    reads see the body in parts. The server may answer (413) and close before everything is written."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(head)
        await writer.drain()
        for piece in pieces:
            await asyncio.sleep(0.05)
            writer.write(piece)
            await writer.drain()
    except ConnectionError:
        pass
    data = await reader.read()
    writer.close()
    head_part, _, body = data.partition(b"\r\n\r\n")
    return int(head_part.split(b" ", 2)[1]), json.loads(body) if body.strip() else {}


def request_head(path: str, headers: dict[str, bytes | str], length: int | None) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close",
             b"Content-Type: application/json"]
    lines += [k.encode() + b": " + (v if isinstance(v, bytes) else v.encode()) for k, v in headers.items()]
    lines.append(b"Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def chunked(pieces: list[bytes]) -> list[bytes]:
    return [f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces] + [b"0\r\n\r\n"]


def split(data: bytes, n: int) -> list[bytes]:
    size = -(-len(data) // n)
    return [data[i:i + size] for i in range(0, len(data), size)]


# --------------------------------------------------------------------------- 1. the whole body, bounded
async def test_a_signed_body_sent_chunked_in_pieces_is_read_whole(client, app):
    body = encode(message("slow-1", body=EXPLOSION + "。" + "现场浓烟滚滚，周边居民已疏散。" * 200))

    async def slowly():
        for piece in split(body, 5):
            yield piece
            await asyncio.sleep(0.05)  # each piece its own network read

    r = await client.post("/api/v1/ingest", data=slowly(), headers={"X-Yuqing-Signature": sign(SECRET, body)})
    assert r.status == 202, await r.text()
    assert (await stored_item(app, "slow-1"))["body"].endswith("周边居民已疏散。")


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_signed_body_written_in_pieces_on_a_raw_socket_is_read_whole(client, app, framing):
    body = encode(message(f"raw-{framing}", body=EXPLOSION + "，" + "救援仍在进行。" * 300))
    pieces = split(body, 6)
    head = request_head("/api/v1/ingest", {"X-Yuqing-Signature": sign(SECRET, body)},
                        len(body) if framing == "content-length" else None)
    status, answer = await raw_request(client.server, head, pieces if framing == "content-length" else chunked(pieces))
    assert status == 202, answer
    assert answer["duplicate"] is False and (await stored_item(app, f"raw-{framing}"))["body"].endswith("救援仍在进行。")


async def test_a_body_at_the_limit_is_read_and_one_byte_more_is_413_whatever_the_framing(client, app):
    exact = encode(message("edge"))
    exact += b" " * (LIMIT - len(exact))  # JSON allows trailing whitespace: a valid body of exactly LIMIT bytes
    assert len(exact) == LIMIT
    status, _ = await push(client, exact)
    assert status == 202
    before = await snapshot(app)
    over = encode(message("over")) + b" " * (LIMIT + 1 - len(encode(message("over"))))
    headers = {"X-Yuqing-Signature": sign(SECRET, over)}
    r = await client.post("/api/v1/ingest", data=over, headers=headers)  # Content-Length
    assert r.status == 413 and "body:" in (await r.json())["error"]

    async def stream():
        for piece in split(over, 4):
            yield piece

    r = await client.post("/api/v1/ingest", data=stream(), headers=headers)  # chunked, no length announced
    assert r.status == 413
    status, answer = await raw_request(client.server, request_head("/api/v1/ingest", headers, None),
                                       chunked(split(over, 3)))
    assert status == 413 and chinese(answer)
    assert await snapshot(app) == before


# --------------------------------------------------------------------------- 2. ids, updates
@pytest.mark.parametrize("bad_id", [1, 1.0, True, None, [], {"id": "1"}, "", "   ", "a\nb", "x" * 201])
async def test_an_id_that_is_not_a_short_string_is_refused(client, app, bad_id):
    before = await snapshot(app)
    status, answer = await push(client, message(bad_id))
    assert status == 400 and answer["error"].startswith("id:") and chinese(answer)
    assert await snapshot(app) == before


async def test_ids_are_compared_exactly_and_never_cut(client, app):
    long_a, long_b = "x" * 199 + "a", "x" * 199 + "b"  # the old code kept 200 characters of any id
    for i, ext in enumerate(["1", " 1", "A-1", "a-1", long_a, long_b]):
        status, answer = await push(client, message(ext, body=f"{WATER}（第{i}次反映）"))
        assert status == 202 and answer["duplicate"] is False and answer["updated"] is False, (ext, answer)
    async with app.store.read() as tx:
        assert (await tx.items.counts_by_source())["push"] == 6
    assert (await stored_item(app, long_b))["external_id"] == long_b


async def test_a_known_id_with_changed_text_is_an_update_read_again(client, app, clock):
    first_seen = clock.now() - timedelta(minutes=30)
    status, first = await push(client, message("u-1", "小区停水", WATER, first_seen.isoformat()))
    assert status == 202 and first["duplicate"] is False
    detail = await (await client.get(f"/api/v1/incidents/{first['incident_id']}")).json()
    assert detail["severity"] == "一般" and detail["deadlines"] == []

    clock.advance(timedelta(hours=1))
    status, second = await push(client, message("u-1", "化工厂爆炸", EXPLOSION, clock.now().isoformat()))
    assert status == 202 and second["updated"] is True and second["duplicate"] is False
    assert (second["item_id"], second["incident_id"]) == (first["item_id"], first["incident_id"])
    detail = await (await client.get(f"/api/v1/incidents/{first['incident_id']}")).json()
    # re-understood: title, grade and route follow the new text; the legal deadlines open from first seen
    assert detail["title"] == "化工厂爆炸" and detail["severity"] == "重大"
    assert detail["route"]["department"] == "区应急局"
    due = {d["rule"]: datetime.fromisoformat(d["due_at"]) for d in detail["deadlines"]}
    assert due == {"authoritative_release": first_seen + timedelta(hours=5),
                   "press_conference": first_seen + timedelta(hours=24)}
    updates = [t for t in detail["timeline"] if t["action"] == "item.updated"]
    assert len(updates) == 1 and updates[0]["detail"]["changes"]["body"] == [WATER, EXPLOSION]
    assert updates[0]["detail"]["severity"] == ["一般", "重大"]
    async with app.store.read() as tx:
        history = await tx.items.history(first["item_id"])
    assert [h["changes"]["body"] for h in history] == [[WATER, EXPLOSION]]

    before = await snapshot(app)
    status, third = await push(client, message("u-1", "化工厂爆炸", EXPLOSION, clock.now().isoformat()))
    assert status == 202 and third["duplicate"] is True and third["updated"] is False
    assert third["item_id"] == first["item_id"]
    assert await snapshot(app) == before  # the same content changes nothing


async def test_an_update_that_reads_lower_keeps_the_grade_and_asks_a_person(client, app, clock):
    status, first = await push(client, message("u-2", time=clock.now().isoformat()))
    assert status == 202
    clock.advance(timedelta(minutes=20))
    status, second = await push(client, message("u-2", "化工厂应急演练", "马街街道化工厂今日举行消防应急演练，无人员伤亡",
                                                 clock.now().isoformat()))
    assert status == 202 and second["updated"] is True
    detail = await (await client.get(f"/api/v1/incidents/{first['incident_id']}")).json()
    assert detail["severity"] == "重大" and detail["triage"] == "pending"  # a machine never lowers a grade
    assert {d["rule"]: d["state"] for d in detail["deadlines"]} == {"authoritative_release": "open",
                                                                    "press_conference": "open"}
    assert any("降级" in r["text"] for r in detail["reasons"])


async def test_an_update_to_one_report_of_an_event_regrades_the_whole_incident(client, app, clock):
    start = clock.now() - timedelta(minutes=30)
    status, a = await push(client, message("e-1", "化工厂爆炸", "马街街道化工厂发生爆炸，3人受伤", start.isoformat()))
    assert status == 202
    status, b = await push(client, message("e-2", "化工厂爆炸现场", "马街街道化工厂爆炸，现场浓烟滚滚，消防已到场",
                                           (start + timedelta(minutes=10)).isoformat()))
    assert status == 202 and b["incident_id"] == a["incident_id"]  # one event, two reports
    status, again = await push(client, message("e-2", "化工厂爆炸现场", "马街街道化工厂爆炸，造成12人死亡，消防已到场",
                                               (start + timedelta(minutes=10)).isoformat()))
    assert status == 202 and again["updated"] is True
    detail = await (await client.get(f"/api/v1/incidents/{a['incident_id']}")).json()
    assert detail["severity"] == "重大" and detail["title"] == "化工厂爆炸"  # graded from all its reports
    assert {d["rule"]: datetime.fromisoformat(d["starts_at"]) for d in detail["deadlines"]} == {
        "authoritative_release": start, "press_conference": start}



async def test_a_lowered_toll_in_one_report_of_an_event_asks_a_person_and_keeps_the_grade(client, app, clock):
    """The report that carried the toll is corrected lower: the event's figures now read lower than what it
    was graded on, so the grade and its deadlines stay and the incident goes to triage."""
    start = clock.now() - timedelta(minutes=30)
    status, a = await push(client, message("l-1", "化工厂爆炸", "马街街道化工厂发生爆炸，造成12人死亡", start.isoformat()))
    assert status == 202
    status, b = await push(client, message("l-2", "化工厂爆炸现场", "马街街道化工厂爆炸，现场浓烟滚滚，消防已到场",
                                           (start + timedelta(minutes=10)).isoformat()))
    assert status == 202 and b["incident_id"] == a["incident_id"]
    detail = await (await client.get(f"/api/v1/incidents/{a['incident_id']}")).json()
    assert detail["severity"] == "重大" and detail["triage"] == "none"
    status, again = await push(client, message("l-1", "化工厂爆炸", "马街街道化工厂发生爆炸，造成1人受轻伤",
                                               start.isoformat()))
    assert status == 202 and again["updated"] is True
    detail = await (await client.get(f"/api/v1/incidents/{a['incident_id']}")).json()
    assert detail["severity"] == "重大" and detail["triage"] == "pending"
    assert {d["rule"]: d["state"] for d in detail["deadlines"]} == {"authoritative_release": "open",
                                                                    "press_conference": "open"}
    assert any("降级" in r["text"] for r in detail["reasons"])


# --------------------------------------------------------------------------- 3. times
async def test_a_time_in_the_future_is_replaced_by_the_receipt_and_both_are_kept(client, app, clock):
    status, answer = await push(client, message("future", time="2099-01-01T00:00:00+08:00"))
    assert status == 202
    received = clock.now()
    assert answer["time_replaced"]["sent"] == "2099-01-01T00:00:00+08:00"
    assert datetime.fromisoformat(answer["time_replaced"]["used"]) == received
    assert "接收时间" in answer["time_replaced"]["reason"]
    item = await stored_item(app, "future")
    assert item["occurred_at"] == received and item["raw"]["time"] == "2099-01-01T00:00:00+08:00"
    detail = await (await client.get(f"/api/v1/incidents/{answer['incident_id']}")).json()
    assert datetime.fromisoformat(detail["first_seen_at"]) == received
    assert {datetime.fromisoformat(d["starts_at"]) for d in detail["deadlines"]} == {received}  # not 2098
    assert detail["items"][0]["time_replaced"]["sent"] == "2099-01-01T00:00:00+08:00"


@pytest.mark.parametrize("ahead, replaced", [(timedelta(minutes=-90), False), (timedelta(minutes=5), False),
                                             (FUTURE_TOLERANCE + timedelta(minutes=1), True)])
async def test_deadlines_count_from_the_earlier_of_the_report_and_its_receipt(client, app, clock, ahead, replaced):
    sent = clock.now() + ahead
    status, answer = await push(client, message(f"t{ahead}", time=sent.isoformat()))
    assert status == 202 and ("time_replaced" in answer) == replaced
    start = min(sent, clock.now())
    assert (await stored_item(app, f"t{ahead}"))["occurred_at"] == start
    detail = await (await client.get(f"/api/v1/incidents/{answer['incident_id']}")).json()
    assert {datetime.fromisoformat(d["starts_at"]) for d in detail["deadlines"]} == {start}


@pytest.mark.parametrize("bad_time", ["昨天", "1733390000", "1733390000.5", "20261123", "2026-W48-1", "",
                                      "9999-12-31T22:00+08:00", "9999-12-31T22:00-08:00", "1999-12-31T23:59:59+08:00",
                                      "2026-02-30T08:00:00", "2026-11-23T25:00", 1733390000, None, ["2026-11-23"]])
async def test_a_time_that_is_not_a_plausible_iso_time_is_refused_naming_the_field(client, app, bad_time):
    before = await snapshot(app)
    status, answer = await push(client, message("bad-time", time=bad_time))
    assert status == 400 and answer["error"].startswith("time:") and chinese(answer), answer
    assert await snapshot(app) == before


# --------------------------------------------------------------------------- 4. hostile input, handler by handler
HOSTILE_PUSHES = [
    b"[" * 5000 + b"]" * 5000,  # RecursionError in the parser
    b'{"id": "d", "title": "t", "body": ' + b"[" * 5000 + b"]" * 5000 + b', "time": "2026-11-23"}',
    json.dumps(message("s", title="\ud800")).encode(),  # a lone surrogate: not storable as UTF-8
    json.dumps(message("n", body="a\u0000b")).encode(),  # NUL: PostgreSQL text cannot hold it
    json.dumps(message("\ud800")).encode(),
    b'{"id": "big", "title": "t", "body": "b", "time": "2026-11-23", "likes": ' + b"9" * 5000 + b"}",
    b"\xff\xfe not utf-8", b"", b"null", b"[]", b'"text"', b"1e999",
    encode(message("t", title=5)), encode(message("t", body=["a"])), encode(message("t", location="地" * 301)),
    encode(message("t", reporter={"name": "x"})), encode(message("t", title="", body="  ")),
    encode({"id": "x", "title": "t", "body": "b"}),
]


@pytest.mark.parametrize("body", HOSTILE_PUSHES, ids=range(len(HOSTILE_PUSHES)))
async def test_hostile_pushes_are_a_400_that_stores_nothing(client, app, body):
    before = await snapshot(app)
    status, answer = await push(client, body)
    assert status == 400 and chinese(answer), answer
    assert await snapshot(app) == before


async def test_undecodable_header_bytes_are_a_401_not_a_500(client, app):
    body = encode(message("hdr"))
    for headers, path in [({"X-Yuqing-Signature": b"sha256=\xff\xfe\xe4"}, "/api/v1/ingest"),
                          ({"X-Yuqing-Signature": "sha256=令牌"}, "/api/v1/ingest"),
                          ({"Authorization": b"Bearer \xff\xfe"}, "/api/v1/incidents/1/ack"),
                          ({"Authorization": "Bearer 令牌"}, "/api/v1/incidents/1/ack")]:
        data = body if path.endswith("ingest") else b'{"actor": "zhang"}'
        status, answer = await raw_request(client.server, request_head(path, headers, len(data)), [data])
        assert status == 401 and chinese(answer), (headers, answer)
    assert await stored_item(app, "hdr") is None


@pytest.mark.parametrize("query", ["limit=-1", "limit=0", "limit=1001", "limit=100000000000000000000", "limit=abc",
                                   "limit=%EF%BC%95", "offset=-1", "offset=100000000000000000000", "limit= 5",
                                   "status=%ED%A0%80"])
async def test_paging_out_of_range_is_a_400_never_the_whole_store(client, query):
    for path in ("/api/v1/incidents", "/api/v1/triage"):
        if path.endswith("triage") and not query.startswith("limit"):
            continue
        r = await client.get(f"{path}?{query}")
        assert r.status == 400 and chinese(await r.json()), (path, query)


async def test_a_limit_in_range_is_obeyed(client, app, clock):
    for i, (title, body) in enumerate([("停水", WATER), ("化工厂爆炸", EXPLOSION),
                                       ("噪音扰民", "碧鸡街道某工地夜间施工噪音扰民，多次投诉无果")]):
        assert (await push(client, message(f"l{i}", title, body)))[0] == 202
    r = await client.get("/api/v1/incidents?limit=2&offset=0")
    assert r.status == 200 and len((await r.json())["incidents"]) == 2
    r = await client.get("/api/v1/incidents?limit=1000&offset=2")
    assert r.status == 200 and len((await r.json())["incidents"]) == 1


@pytest.mark.parametrize("incident_id", ["100000000000000000000", "2147483648", "-1", "0", "abc", "%EF%BC%91"])
async def test_an_id_out_of_range_is_a_4xx_on_every_handler(client, app, incident_id):
    assert (await push(client, message()))[0] == 202
    before = await snapshot(app)
    r = await client.get(f"/api/v1/incidents/{incident_id}")
    assert r.status == 400 and chinese(await r.json())
    assert (await client.get(f"/incidents/{incident_id}")).status == 404
    for action, body in [("ack", {"actor": "zhang"}), ("evidence", {"actor": "zhang", "kind": "release"}),
                         ("reassign", {"actor": "zhang", "department": "区卫生健康局"}),
                         ("split", {"item_ids": [1]}), ("merge", {"incident_ids": [1], "actor": "zhang"}),
                         ("triage/accept", {"actor": "zhang"}), ("triage/correct", {"actor": "z", "domain": "民政"})]:
        r = await client.post(f"/api/v1/incidents/{incident_id}/{action}", json=body, headers=AUTH)
        assert r.status == 400 and chinese(await r.json()), (action, await r.text())
    assert await snapshot(app) == before


HOSTILE_ACTIONS = [
    ("ack", b"[" * 5000 + b"]" * 5000),
    ("ack", json.dumps({"actor": "\ud800"}).encode()),
    ("ack", json.dumps({"actor": "张\u0000三"}).encode()),
    ("ack", encode({"actor": "张" * 101})),
    ("ack", encode({"actor": 5})),
    ("ack", encode({"actor": "zhang", "rule": ["authoritative_release"]})),
    ("ack", b"\xff\xfe"),
    ("ack", b"[]"),
    ("evidence", json.dumps({"actor": "zhang", "rule": "authoritative_release", "note": "\udfff"}).encode()),
    ("evidence", encode({"actor": "zhang", "rule": "authoritative_release", "url": "u" * 2001})),
    ("reassign", encode({"actor": "zhang", "department": "局" * 101})),
    ("reassign", json.dumps({"actor": "zhang", "department": "区卫生健康局", "reason": "\ud800"}).encode()),
    ("split", encode({"item_ids": [10**20]})),
    ("split", encode({"item_ids": [-1]})),
    ("split", encode({"item_ids": "1"})),
    ("split", encode({"item_ids": [1], "actor": "\u0000"})),
    ("merge", encode({"incident_ids": [True], "actor": "zhang"})),
    ("merge", encode({"incident_ids": [2], "actor": "zhang", "reason": 7})),
    ("merge", encode({"incident_ids": list(range(2, 1100)), "actor": "zhang"})),
    ("triage/correct", json.dumps({"actor": "zhang", "department": "\ud800区"}).encode()),
    ("triage/correct", encode({"actor": "zhang", "co_departments": ["区" * 101]})),
    ("triage/accept", encode({"actor": ["zhang"]})),
]


@pytest.mark.parametrize("action, body", HOSTILE_ACTIONS, ids=range(len(HOSTILE_ACTIONS)))
async def test_hostile_action_bodies_are_a_400_that_stores_nothing(client, app, action, body):
    status, first = await push(client, message())
    assert status == 202
    before = await snapshot(app)
    r = await client.post(f"/api/v1/incidents/{first['incident_id']}/{action}", data=body, headers=AUTH)
    assert r.status == 400 and chinese(await r.json()), await r.text()
    assert await snapshot(app) == before


# --------------------------------------------------------------------------- 4. fuzz
# Mostly plausible messages and actions with one field made hostile (so that parsing, the pipeline and the
# service are reached), and some wholly arbitrary JSON or bytes.
_CHARS = st.one_of(st.characters(), st.characters(categories=["Cs"]), st.sampled_from("\x00\n\"\\爆炸死亡"))
_TEXT = st.text(_CHARS, max_size=40)
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
                     max_leaves=12)
_HOSTILE = st.one_of(_JSON, _TEXT, st.integers(min_value=-2**80, max_value=2**80), st.text(min_size=95, max_size=310),
                     st.sampled_from(["9999-12-31T22:00+08:00", "1733390000", "2099-01-01T00:00:00+08:00", "\ud800",
                                      "a\x00b", "", "   ", 10**20, -1, [10**20], [True]]))
_ISO_TIMES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).flatmap(
    lambda d: st.sampled_from(["", "+08:00", "Z", "-12:00", "+14:00"]).map(lambda tz: d.isoformat() + tz))


def _corrupt(good: st.SearchStrategy, keys: list[str]) -> st.SearchStrategy:
    """`good` with one key set to a hostile value (or dropped)."""
    def apply(args):
        obj, key, value, drop = args
        return {k: v for k, v in obj.items() if k != key} if drop else {**obj, key: value}
    return st.tuples(good, st.sampled_from(keys), _HOSTILE, st.integers(0, 5).map(lambda n: n == 0)).map(apply)


_GOOD_PUSH = st.fixed_dictionaries(
    {"id": st.sampled_from(["p-1", "p-2", "p-3", "1"]) | st.text(min_size=1, max_size=12),
     "title": st.sampled_from(["化工厂爆炸", "小区停水", "", "噪音扰民"]),
     "body": st.sampled_from([EXPLOSION, WATER, "碧鸡街道某工地夜间施工噪音扰民", "马街街道化工厂爆炸，3人受伤"]),
     "time": st.sampled_from(["2026-11-23T08:00:00+08:00", "2026-11-23 08:30", "2026-11-22"]) | _ISO_TIMES},
    optional={"location": st.sampled_from(["马街街道", "碧鸡街道"]), "reporter": st.sampled_from(["张三", "李四"]),
              "source": st.sampled_from(["电话", "app"]), "extra": _JSON})
_PUSH_KEYS = ["id", "title", "body", "time", "location", "reporter", "source", "extra"]
_BODIES = st.one_of(
    st.one_of(_GOOD_PUSH, _corrupt(_GOOD_PUSH, _PUSH_KEYS), _corrupt(_GOOD_PUSH, _PUSH_KEYS), _JSON).map(
        lambda o: json.dumps(o).encode()),  # ASCII-escaped: lone surrogates survive the encoding
    st.binary(max_size=64),
    st.sampled_from([b"[" * 5000, b"{" * 3000, b'{"id": ' + b"1" * 5000 + b"}", b"\xef\xbb\xbf{}"]))
_HEADER_VALUE = st.text(st.characters(min_codepoint=0x20, exclude_categories=("Cc", "Cs")), max_size=40)
_HEADERS = st.dictionaries(st.sampled_from(["Authorization", "X-Yuqing-Signature", "Content-Type", "X-Forwarded-For",
                                            "Accept-Charset"]), _HEADER_VALUE, max_size=3)
_SEGMENT = st.one_of(st.sampled_from(["1", "2"]), st.sampled_from(["1", "2"]),
                     st.integers(min_value=-2**70, max_value=2**70).map(str),
                     st.text(st.characters(min_codepoint=0x21, max_codepoint=0x2FFF, exclude_categories=("Cs",),
                                           exclude_characters="/?#%\\"), min_size=1, max_size=12))
_GOOD_ACTION = st.fixed_dictionaries(
    {"actor": st.sampled_from(["zhang", "李四"])},
    optional={"rule": st.sampled_from(["authoritative_release", "press_conference", "nope"]),
              "kind": st.sampled_from(["release", "press_conference", "interpretation"]),
              "url": st.sampled_from(["https://xs.gov.cn/1", ""]), "note": st.sampled_from(["已发布", ""]),
              "department": st.sampled_from(["区卫生健康局", "区应急局"]), "reason": st.sampled_from(["救治", ""]),
              "domain": st.sampled_from(["民政", "环境保护"]), "severity": st.sampled_from(["重大", "一般", "特别重大"]),
              "co_departments": st.sampled_from([["区民政局"], []]), "response_type": st.sampled_from(["重大问题"]),
              "item_ids": st.lists(st.integers(1, 4), min_size=1, max_size=2),
              "incident_ids": st.lists(st.integers(1, 3), min_size=1, max_size=2)})
_ACTION_KEYS = ["actor", "rule", "kind", "url", "note", "department", "reason", "domain", "severity", "co_departments",
                "response_type", "item_ids", "incident_ids"]
_ACTION_BODIES = st.one_of(_GOOD_ACTION, _corrupt(_GOOD_ACTION, _ACTION_KEYS), _corrupt(_GOOD_ACTION, _ACTION_KEYS),
                           _JSON)
_ACTIONS = ["ack", "evidence", "reassign", "split", "merge", "triage/accept", "triage/correct"]


class Fuzz:
    """A web app on its own event loop, for hypothesis's synchronous examples."""

    def __init__(self, settings, db_url, clock) -> None:
        from monitor.app import build
        from tests.conftest import _truncate

        self.loop = asyncio.new_event_loop()
        self.app = self.run(build(settings, db_url, clock))
        if self.app.store.dialect == "postgresql":
            self.run(_truncate(self.app.store))
        self.client = self.run(self._start())

    async def _start(self) -> TestClient:
        client = TestClient(TestServer(web_application(self.app)))
        await client.start_server()
        return client

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def post(self, path: str, data: bytes, headers: dict) -> tuple[int, str, object]:
        async def go():
            async with self.client.post(path, data=data, headers=headers) as r:
                body = await r.read()
                return r.status, r.content_type, json.loads(body) if r.content_type == "application/json" else body
        return self.run(go())

    def check(self, path: str, data: bytes, headers: dict):
        before = self.run(snapshot(self.app))
        status, content_type, answer = self.post(path, data, headers)
        assert status < 500, (status, answer)
        if status >= 400:
            assert self.run(snapshot(self.app)) == before, (status, answer)
            if content_type == "application/json":
                assert isinstance(answer, dict) and isinstance(answer.get("error"), str) and answer["error"]
        return status

    def close(self) -> None:
        self.run(self.client.close())
        self.run(self.app.close())
        self.loop.close()


FUZZ = hsettings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def test_fuzz_ingest_never_5xx_and_stores_nothing_on_4xx(settings, db_url, clock, secrets):
    fuzz = Fuzz(settings, db_url, clock)
    try:
        @FUZZ
        @given(body=_BODIES, headers=_HEADERS, signed=st.integers(0, 4).map(lambda n: n < 4))  # mostly signed
        def one(body, headers, signed):
            if signed:
                headers = {**headers, "X-Yuqing-Signature": sign(SECRET, body)}
            fuzz.check("/api/v1/ingest", body, headers)

        one()
    finally:
        fuzz.close()


def test_fuzz_actions_never_5xx_and_store_nothing_on_4xx(settings, db_url, clock, secrets):
    fuzz = Fuzz(settings, db_url, clock)
    try:
        for i in range(2):  # incidents to act on: ids 1 and 2 exist, with open deadlines
            body = encode(message(f"seed-{i}", body=f"{EXPLOSION}（{'马街' if i else '碧鸡'}街道）"))
            assert fuzz.check("/api/v1/ingest", body, {"X-Yuqing-Signature": sign(SECRET, body)}) == 202

        @FUZZ
        @given(action=st.sampled_from(_ACTIONS), segment=_SEGMENT, body=_ACTION_BODIES, headers=_HEADERS,
               authorised=st.integers(0, 4).map(lambda n: n < 4), raw=st.booleans())
        def one(action, segment, body, headers, authorised, raw):
            data = json.dumps(body).encode() if not raw else json.dumps(body, ensure_ascii=False).encode(
                "utf-8", "surrogatepass")
            if authorised:
                headers = {**headers, **AUTH}
            fuzz.check(f"/api/v1/incidents/{segment}/{action}", data, headers)

        one()
    finally:
        fuzz.close()


# --------------------------------------------------------------------------- kill -9 during a burst of pushes
async def test_kill_9_during_a_burst_of_pushes_loses_no_acknowledged_item(tmp_path, db_url, secrets):
    from monitor.store import Store
    from tests.conftest import _truncate
    from tests.harness import ready, serve

    if db_url.startswith("postgresql"):
        store = await Store(db_url).open()
        await _truncate(store)
        await store.close()
    cfg = tmp_path / "push.yaml"
    cfg.write_text("sources:\n  - {name: push, kind: webhook, secret_env: YUQING_WEBHOOK_SECRET}\n", encoding="utf-8")
    acknowledged: dict[str, int] = {}

    async def sender(session, port: int, lane: int, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            ext = f"burst-{lane}-{n}"
            body = encode(message(ext, "小区停水", f"{WATER}（{lane}号楼第{n}户）",
                                  datetime.now(UTC).isoformat()))
            try:
                async with session.post(f"http://127.0.0.1:{port}/api/v1/ingest", data=body,
                                        headers={"X-Yuqing-Signature": sign(SECRET, body)}) as r:
                    if r.status == 202:
                        acknowledged[ext] = (await r.json())["item_id"]
            except (ClientError, ConnectionError, asyncio.TimeoutError):
                return  # the server died under us: this message was never acknowledged
            n += 1

    for round_ in range(2):
        proc = await serve(cfg, db_url, tmp_path)
        await ready(proc)
        stop = asyncio.Event()
        async with ClientSession() as session:
            lanes = [asyncio.create_task(sender(session, proc.port, 10 * round_ + lane, stop)) for lane in range(4)]
            target = len(acknowledged) + 25
            while len(acknowledged) < target and not all(t.done() for t in lanes):
                await asyncio.sleep(0.02)
            proc.send_signal(signal.SIGKILL)  # in the middle of the burst: requests are in flight
            await proc.wait()
            stop.set()
            await asyncio.gather(*lanes)
    assert len(acknowledged) >= 50
    store = await Store(db_url).open()
    try:
        async with store.read() as tx:
            found = await tx.items.by_external_ids("push", list(acknowledged))
    finally:
        await store.close()
    assert {ext: row["id"] for ext, row in found.items()} == acknowledged
