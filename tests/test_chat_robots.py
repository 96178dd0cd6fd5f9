"""DingTalk, WeCom and Feishu group robots through the outbox, against local servers that speak each robot's
API and verify its signature the documented way. Rate limits and 5xx answers lose nothing and send nothing
twice; a wrong secret is not retried. Never the real network."""

import base64
import hashlib
import hmac
import os
import time
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.config.settings import ConfigError, Settings
from monitor.core import logs
from responders.outbox import Deliverer

SECRET = "SEC0123456789abcdef+/="  # + and / must survive the query string


class FakeRobots:
    """One server for the three platforms. `script[kind]`: answers to give before accepting, each
    ("status", n) or ("code", n). `accepted[kind]`: the bodies a real robot would have posted to the group."""

    def __init__(self):
        self.script = {"dingtalk": [], "wecom": [], "feishu": []}
        self.accepted = {"dingtalk": [], "wecom": [], "feishu": []}
        self.refused = {"dingtalk": 0, "wecom": 0, "feishu": 0}

    def _scripted(self, kind, code_key):
        if self.script[kind]:
            what, n = self.script[kind].pop(0)
            if what == "status":
                return web.Response(status=n, text="busy")
            return web.json_response({code_key: n, ("errmsg" if code_key == "errcode" else "msg"): "scripted"})
        return None

    async def dingtalk(self, request):
        q = request.query
        if q.get("access_token") != "ding-token":
            return web.json_response({"errcode": 300001, "errmsg": "token is not exist"})
        ts = q.get("timestamp", "0")
        want = base64.b64encode(hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()).decode()
        if abs(int(ts) - time.time() * 1000) > 3600_000 or not hmac.compare_digest(q.get("sign", ""), want):
            self.refused["dingtalk"] += 1
            return web.json_response({"errcode": 310000, "errmsg": "sign not match"})
        body = await request.json()
        assert body["msgtype"] == "markdown" and body["markdown"]["title"] and body["markdown"]["text"]
        answer = self._scripted("dingtalk", "errcode")
        if answer is not None:
            return answer
        self.accepted["dingtalk"].append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def wecom(self, request):
        if request.query.get("key") != "wecom-key":
            self.refused["wecom"] += 1
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        body = await request.json()
        assert body["msgtype"] in ("markdown", "text")
        answer = self._scripted("wecom", "errcode")
        if answer is not None:
            return answer
        self.accepted["wecom"].append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def feishu(self, request):
        body = await request.json()
        ts = body.get("timestamp", "0")
        want = base64.b64encode(hmac.new(f"{ts}\n{SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
        if abs(int(ts) - time.time()) > 3600 or not hmac.compare_digest(body.get("sign", ""), want):
            self.refused["feishu"] += 1
            return web.json_response({"code": 19021, "msg": "sign match fail or timestamp is not within one hour"})
        assert body["msg_type"] == "post"
        answer = self._scripted("feishu", "code")
        if answer is not None:
            return answer
        self.accepted["feishu"].append(body)
        return web.json_response({"code": 0, "msg": "success", "data": {}})


@pytest.fixture
async def robots(monkeypatch):
    r = FakeRobots()
    app = web.Application()
    app.router.add_post("/robot/send", r.dingtalk)
    app.router.add_post("/cgi-bin/webhook/send", r.wecom)
    app.router.add_post("/open-apis/bot/v2/hook/abc", r.feishu)
    async with TestServer(app) as server:
        monkeypatch.setenv("T_DING_URL", str(server.make_url("/robot/send?access_token=ding-token")))
        monkeypatch.setenv("T_WECOM_URL", str(server.make_url("/cgi-bin/webhook/send?key=wecom-key")))
        monkeypatch.setenv("T_FEISHU_URL", str(server.make_url("/open-apis/bot/v2/hook/abc")))
        monkeypatch.setenv("T_SECRET", SECRET)
        monkeypatch.delenv("YUQING_ACTION_SECRET", raising=False)  # action links: tests/test_action_links.py
        yield r


def config(**over):
    data = {
        "digest": {"dashboard_url": "https://yuqing.example.gov.cn"},
        "users": [{"name": "zhao", "display": "赵联络员", "department": "区应急局", "mobile": "13800000000",
                   "channels": ["ding", "wecom", "feishu"]}],
        "channels": [
            {"name": "ding", "kind": "dingtalk", "url_env": "T_DING_URL", "secret_env": "T_SECRET"},
            {"name": "wecom", "kind": "wecom", "url_env": "T_WECOM_URL"},
            {"name": "feishu", "kind": "feishu", "url_env": "T_FEISHU_URL", "secret_env": "T_SECRET"},
        ],
    }
    return Settings.model_validate(data | over)


async def enqueue(store, now, channel, incident_id=281, recipient="", title="马街街道一化工厂发生爆炸",
                  recipients=("赵联络员",)):
    key = f"{incident_id}:authoritative_release:1:{channel}" + (f":{recipient}" if recipient else "")
    payload = {"idempotency_key": key, "incident_id": incident_id, "rule": "authoritative_release", "step": "1",
               "due_at": (now + timedelta(hours=2)).isoformat(), "severity": "重大", "department": "区应急局",
               "text": "【舆情哨兵】…", "title": title, "rule_title": "5小时内发布权威信息", "evidence": "权威信息发布",
               "recipients": list(recipients)}
    async with store.write() as tx:
        await tx.outbox.enqueue([{"key": key, "channel": channel, "recipient": recipient, "payload": payload,
                                  "next_attempt_at": now, "created_at": now}])  # no incident row: no FK
    return key


def deliverer(store, clock, session, settings=None):
    return Deliverer(store, clock, settings or config(), session, owner="test")  # budgets on the test's clock


async def rows(store):
    async with store.read() as tx:
        return {m.key: m for m in await tx.outbox.list()}


def text_of(kind, body):
    if kind == "dingtalk":
        return body["markdown"]["text"]
    if kind == "wecom":
        return body.get("markdown", body.get("text", {})).get("content")
    return str(body["content"])


@pytest.mark.parametrize("channel,kind", [("ding", "dingtalk"), ("wecom", "wecom"), ("feishu", "feishu")])
async def test_each_robot_gets_one_signed_message_once(store, clock, robots, channel, kind):
    key = await enqueue(store, clock.now(), channel)
    async with aiohttp.ClientSession() as session:
        d = deliverer(store, clock, session)
        assert await d.deliver_due() == 1
        assert await d.deliver_due() == 0
    [body] = robots.accepted[kind]
    text = text_of(kind, body)
    assert "马街街道一化工厂发生爆炸" in text and "区应急局" in text and "剩余 2小时" in text
    assert "https://yuqing.example.gov.cn/incidents/281" in text
    assert (await rows(store))[key].status == "sent"


async def test_mentions_by_mobile(store, clock, robots):
    await enqueue(store, clock.now(), "ding", recipient="zhao")
    await enqueue(store, clock.now(), "wecom", recipient="zhao")
    async with aiohttp.ClientSession() as session:
        assert await deliverer(store, clock, session).deliver_due() == 2
    [ding] = robots.accepted["dingtalk"]
    assert ding["at"] == {"atMobiles": ["13800000000"], "isAtAll": False}
    assert ding["markdown"]["text"].endswith("@13800000000") and "提醒：赵联络员" in ding["markdown"]["text"]
    [wecom] = robots.accepted["wecom"]  # WeCom's markdown cannot @ by mobile: a text message can
    assert wecom["msgtype"] == "text" and wecom["text"]["mentioned_mobile_list"] == ["13800000000"]


@pytest.mark.parametrize("channel,kind", [("ding", "dingtalk"), ("feishu", "feishu")])
async def test_a_wrong_secret_is_refused_and_not_retried(store, clock, robots, monkeypatch, channel, kind):
    monkeypatch.setenv("T_SECRET", "SECwrong")
    key = await enqueue(store, clock.now(), channel)
    async with aiohttp.ClientSession() as session:
        assert await deliverer(store, clock, session).deliver_due() == 0
    m = (await rows(store))[key]
    assert robots.refused[kind] == 1 and not robots.accepted[kind]
    assert m.status == "dead" and ("310000" in m.last_error or "19021" in m.last_error)


async def test_a_wrong_wecom_key_is_not_retried(store, clock, robots, monkeypatch):
    monkeypatch.setenv("T_WECOM_URL", os.environ["T_WECOM_URL"].replace("wecom-key", "wrong"))
    key = await enqueue(store, clock.now(), "wecom")
    async with aiohttp.ClientSession() as session:
        await deliverer(store, clock, session).deliver_due()
    m = (await rows(store))[key]
    assert m.status == "dead" and "93000" in m.last_error and robots.refused["wecom"] == 1


@pytest.mark.parametrize("channel,kind,code,wait", [
    ("ding", "dingtalk", 130101, timedelta(minutes=10)),
    ("wecom", "wecom", 45009, timedelta(minutes=1)),
    ("feishu", "feishu", 11232, timedelta(minutes=1)),
])
async def test_rate_limit_answers_wait_and_then_deliver_once(store, clock, robots, channel, kind, code, wait):
    robots.script[kind] = [("code", code), ("status", 502)]
    key = await enqueue(store, clock.now(), channel)
    async with aiohttp.ClientSession() as session:
        d = deliverer(store, clock, session)
        assert await d.deliver_due() == 0
        m = (await rows(store))[key]
        assert m.status == "pending" and m.attempts == 1 and str(code) in m.last_error
        assert m.next_attempt_at - clock.now() >= wait  # left alone as long as the platform asks
        clock.advance(wait)
        assert await d.deliver_due() == 0  # then a 502: retried with backoff
        clock.advance(timedelta(minutes=1))
        assert await d.deliver_due() == 1
        clock.advance(timedelta(hours=1))
        assert await d.deliver_due() == 0
    assert len(robots.accepted[kind]) == 1
    assert (await rows(store))[key].status == "sent"


async def drain(d) -> int:
    """deliver_due until nothing more goes at this instant: on a slow machine one burst may take several
    rounds (a lane yields after LANE_ROUND seconds of real time); what is sent must not change."""
    sent = 0
    while n := await d.deliver_due():
        sent += n
    return sent


async def test_dingtalk_budget_delays_the_21st_message_and_drops_none(store, clock, robots):
    keys = [await enqueue(store, clock.now(), "ding", incident_id=i) for i in range(1, 26)]
    async with aiohttp.ClientSession() as session:
        d = deliverer(store, clock, session)
        assert await drain(d) == 20
        waiting = [m for m in (await rows(store)).values() if m.status == "pending"]
        assert len(waiting) == 5
        assert all(m.attempts == 0 and m.next_attempt_at > clock.now() for m in waiting)  # postponed, not failed
        assert await d.deliver_due() == 0  # nothing before a slot frees
        clock.advance(timedelta(seconds=61))
        assert await drain(d) == 5
    sent = [b["markdown"]["text"].split(" ")[0] for b in robots.accepted["dingtalk"]]
    assert len(sent) == 25 and len(set(sent)) == 25  # every incident once
    assert all(m.status == "sent" for m in (await rows(store)).values()) and len(keys) == 25


async def test_unreachable_robot_and_missing_env_wait_in_the_outbox(store, clock, robots, monkeypatch):
    monkeypatch.setenv("T_DING_URL", "http://127.0.0.1:9/robot/send?access_token=ding-token")
    monkeypatch.delenv("T_FEISHU_URL")
    k1 = await enqueue(store, clock.now(), "ding")
    k2 = await enqueue(store, clock.now(), "feishu")
    async with aiohttp.ClientSession() as session:
        assert await deliverer(store, clock, session).deliver_due() == 0
    got = await rows(store)
    assert got[k1].status == got[k2].status == "pending"
    assert "T_FEISHU_URL" in got[k2].last_error


async def test_hostile_titles_reach_the_group_as_text(store, clock, robots):
    title = "<b>粗</b></a>*星*[x](javascript:alert(1))<@all>" + "长" * 10_000
    for channel in ("ding", "wecom", "feishu"):
        await enqueue(store, clock.now(), channel, title=title, recipients=())
    await enqueue(store, clock.now(), "wecom", incident_id=282, title=title)  # @-mentions: WeCom's text message
    async with aiohttp.ClientSession() as session:
        assert await deliverer(store, clock, session).deliver_due() == 4
    [wecom_text] = [b["text"]["content"] for b in robots.accepted["wecom"] if b["msgtype"] == "text"]
    assert "<@" not in wecom_text and len(wecom_text.encode()) <= 2048 and "…" in wecom_text
    ding = robots.accepted["dingtalk"][0]["markdown"]["text"]
    [wecom] = [b["markdown"]["content"] for b in robots.accepted["wecom"] if b["msgtype"] == "markdown"]
    for text in (ding, wecom):
        assert "<" not in text and "](javascript" not in text and text.count("](") == 1
        assert "＜b＞粗＜/b＞" in text and "…" in text
    assert len(wecom.encode()) <= 4096
    feishu = robots.accepted["feishu"][0]["content"]["post"]["zh_cn"]["content"]
    assert [e["href"] for row in feishu for e in row if e["tag"] == "a"] == ["https://yuqing.example.gov.cn/incidents/281"]


# --------------------------------------------------------------------------- config
@pytest.mark.parametrize("channel,message", [
    ({"name": "d", "kind": "dingtalk"}, "needs url_env"),
    ({"name": "d", "kind": "dingtalk", "url_env": "X", "url": "https://oapi.dingtalk.com/robot/send"}, "only from url_env"),
    ({"name": "w", "kind": "wecom", "url_env": "X", "secret_env": "Y"}, "not signed"),
])
def test_robot_channels_are_validated(tmp_path, channel, message):
    import yaml

    from monitor.config.settings import load_settings

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"channels": [channel]}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert message in str(err.value) and "channels[0]" in str(err.value)


def test_mobile_must_be_digits():
    with pytest.raises(ValueError):
        Settings.model_validate({"users": [{"name": "a", "mobile": "138-0000"}]})
    assert Settings.model_validate({"users": [{"name": "a", "mobile": "+8613800000000"}]}).users[0].mobile


def test_robot_urls_and_secrets_are_masked_in_logs(monkeypatch):
    from monitor.cli.common import register_secrets

    monkeypatch.setenv("T_DING_URL", "https://oapi.dingtalk.com/robot/send?access_token=very-secret-token")
    monkeypatch.setenv("T_SECRET", "SECmasked-secret-value")
    register_secrets(config())
    line = logs.redact("posting to https://oapi.dingtalk.com/robot/send?access_token=very-secret-token with "
                       "SECmasked-secret-value")
    assert "very-secret-token" not in line and "SECmasked-secret-value" not in line
