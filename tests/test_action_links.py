"""One-click action links of robot messages: the signed token (monitor/core/actiontoken.py), the links a
reminder carries (responders/actionlinks.py, render.py), and the page that acts on them once
(monitor/web/action_links.py) — on SQLite and PostgreSQL, against the real web application and a fake
DingTalk robot that verifies its signature."""

import asyncio
import re
import secrets
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.config.settings import BUNDLED_CONFIG, load_settings
from monitor.core.actiontoken import Expired, Malformed, Tampered, TokenError, issue, verify
from monitor.core.clock import ManualClock, fmt_local
from monitor.core.model import RawItem
from monitor.web.server import web_application
from responders.actionlinks import action_links
from responders.outbox import Deliverer
from responders.render import FORMATS, card, fit
from tests.test_chat_robots import SECRET as ROBOT_SECRET, FakeRobots

SECRET = "act-secret-0123456789"
BASE = "https://yuqing.example.gov.cn"
RULE = "authoritative_release"
T0 = datetime(2026, 12, 6, 4, 0, tzinfo=timezone.utc)


def token(clock, action="ack", secret=SECRET, incident_id=1, rule=RULE, user="zhao", ttl=timedelta(hours=2)):
    return issue(secret, incident_id, rule, action, clock.now() + ttl, secrets.token_urlsafe(16), user)


# --------------------------------------------------------------------------- the token (pure)
def test_round_trip_carries_exactly_the_claims():
    clock = ManualClock(T0)
    t = issue(SECRET, 281, RULE, "evidence", T0 + timedelta(hours=2), "nonce-1_x", "赵联络员")
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", t) and len(t) < 300  # URL-safe, no padding
    c = verify(SECRET, t, clock.now())
    assert (c.incident_id, c.rule, c.action, c.nonce, c.user) == (281, RULE, "evidence", "nonce-1_x", "赵联络员")
    assert c.expires_at == T0 + timedelta(hours=2)
    with pytest.raises(ValueError):
        issue(SECRET, 1, RULE, "reassign", T0, "n")  # only ack and evidence are offered
    with pytest.raises(ValueError):
        issue(SECRET, 1, RULE, "ack", T0, "has space")


def test_every_changed_character_and_every_cut_is_refused():
    t = issue(SECRET, 281, RULE, "ack", T0 + timedelta(hours=2), "n0nce", "zhao")
    alphabet = "AQgw_-9."
    for i, ch in enumerate(t):
        for other in alphabet:
            if other == ch:
                continue
            with pytest.raises(TokenError) as err:
                verify(SECRET, t[:i] + other + t[i + 1:], T0)
            assert not isinstance(err.value, Expired) and err.value.status in (400, 403)
    for cut in range(len(t)):  # a chat client that wrapped or cut the link
        with pytest.raises(TokenError):
            verify(SECRET, t[:cut], T0)
    for extra in ("A", "=", ".A", "%3D"):
        with pytest.raises(TokenError):
            verify(SECRET, t + extra, T0)


def test_wrong_secret_is_tampered():
    t = issue(SECRET, 281, RULE, "ack", T0 + timedelta(hours=2), "n0nce")
    with pytest.raises(Tampered) as err:
        verify("another-secret", t, T0)
    assert err.value.status == 403


def test_expires_after_the_ttl_and_still_names_its_incident():
    clock = ManualClock(T0)
    t = token(clock, incident_id=281)
    clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    assert verify(SECRET, t, clock.now()).incident_id == 281
    clock.advance(timedelta(seconds=1))
    with pytest.raises(Expired) as err:
        verify(SECRET, t, clock.now())
    assert err.value.status == 410 and err.value.claims.incident_id == 281


@pytest.mark.parametrize("bad", ["", "abc", "a.b.c", ".", "abc.", ".abc", "ä.b", "a b.c", "x" * 3000,
                                 "eyJ2IjoxfQ==.AAAA"])
def test_malformed_tokens(bad):
    with pytest.raises(Malformed):
        verify(SECRET, bad, T0)


def test_a_signed_payload_that_is_not_our_layout_is_malformed():
    import base64
    import hashlib
    import hmac

    payload = base64.urlsafe_b64encode(b'["not", "claims"]').rstrip(b"=").decode()
    mac = base64.urlsafe_b64encode(hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest())
    with pytest.raises(Malformed):
        verify(SECRET, f"{payload}.{mac.rstrip(b'=').decode()}", T0)


# --------------------------------------------------------------------------- links in messages (pure)
def reminder(**extra):
    return {"incident_id": 281, "rule": RULE, "step": "1", "severity": "重大", "department": "区应急局",
            "title": "马街街道一化工厂发生爆炸", "rule_title": "5小时内发布权威信息", "evidence": "权威信息发布",
            "recipients": ["赵联络员"], "due_at": (T0 + timedelta(hours=3)).isoformat(), "text": "…"} | extra


def test_a_reminder_gets_ack_and_evidence_links_for_its_recipient():
    links = action_links(reminder(), "zhao", T0, SECRET, timedelta(hours=2), BASE + "/")
    assert [label for label, _ in links] == ["确认收到", "登记证据"]
    claims = [verify(SECRET, url.rpartition("/act/")[2], T0) for _, url in links]
    assert all(url.startswith(f"{BASE}/act/") for _, url in links)
    assert [(c.incident_id, c.rule, c.action, c.user) for c in claims] == [
        (281, RULE, "ack", "zhao"), (281, RULE, "evidence", "zhao")]
    assert all(c.expires_at == T0 + timedelta(hours=2) for c in claims) and claims[0].nonce != claims[1].nonce
    group = action_links(reminder(), "", T0, SECRET, timedelta(hours=2), BASE)  # a group step: names shown
    assert verify(SECRET, group[0][1].rpartition("/")[2], T0).user == "赵联络员"


def test_no_links_without_secret_base_url_or_deadline():
    assert action_links(reminder(), "zhao", T0, "", timedelta(hours=2), BASE) == []
    assert action_links(reminder(), "zhao", T0, SECRET, timedelta(hours=2), "") == []
    assert action_links(reminder(due_at=None, rule="transfer"), "zhao", T0, SECRET, timedelta(hours=2), BASE) == []


def test_card_appends_the_links_on_the_last_line_in_every_format():
    links = [("确认收到", f"{BASE}/act/aaa.bbb"), ("登记证据", f"{BASE}/act/ccc.ddd")]
    c = card(reminder(title="<b>[x](javascript:1)</b>"), T0, BASE, actions=links)
    assert [s.text for s in c.lines[-1]] == ["详情：", "打开事件页面", "　", "确认收到", "　", "登记证据"]
    huge = card(reminder(title="爆" * 10_240), T0, BASE, actions=links)  # trimmed, links kept whole
    for kind, fmt in FORMATS.items():
        for one in (c, huge):
            out, _ = fit(one, kind)
            assert fmt.measure(out) <= fmt.limit
            flat = str(out)
            assert f"{BASE}/act/aaa.bbb" in flat and f"{BASE}/act/ccc.ddd" in flat, kind
    assert fit(c, "dingtalk")[0].count("](") == 3 and "](javascript" not in fit(c, "dingtalk")[0]
    assert fit(c, "telegram")[0].endswith(f'<a href="{BASE}/act/ccc.ddd">登记证据</a>')
    bare = card(reminder(), T0, "", actions=links)  # no incident-page line: the links get their own
    assert bare.lines[-1][0].text == "操作：" and bare.lines[-1][1].href == f"{BASE}/act/aaa.bbb"


# --------------------------------------------------------------------------- the page (both backends)
@pytest.fixture
def settings():
    from monitor.config.settings import ChannelConfig, UserConfig

    base = load_settings(BUNDLED_CONFIG / "demo.yaml")
    zhao = UserConfig(name="zhao", display="赵联络员", department="区应急局", mobile="13800000000", channels=["ding"])
    ding = ChannelConfig(name="ding", kind="dingtalk", url_env="T_DING_URL", secret_env="T_SECRET")
    return base.model_copy(update={"users": [*base.users, zhao], "channels": [*base.channels, ding],
                                   "digest": base.digest.model_copy(update={"dashboard_url": BASE})})


@pytest.fixture
async def client(app, clock, monkeypatch):
    from monitor.app import sync_people

    monkeypatch.setenv("YUQING_ACTION_SECRET", SECRET)
    await sync_people(app.store, app.settings, clock)  # the PostgreSQL fixture empties every table after build
    await app.pipeline.ingest([RawItem("hotline", "1", "化工厂爆炸", "马街街道化工厂爆炸造成12人死亡",
                                       occurred_at=clock.now() - timedelta(hours=1))], "hotline")
    async with TestClient(TestServer(web_application(app))) as c:
        yield c


async def deadline(app, rule=RULE):
    async with app.store.read() as tx:
        return next(d for d in await tx.deadlines.for_incident(1) if d.rule == rule)


async def audit(app, action):
    async with app.store.read() as tx:
        return [a for a in await tx.audit.list(entity="incident", entity_id=1) if a["action"] == action]


def private(r):
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


async def test_get_shows_what_the_link_will_do_and_never_acts(app, client, clock):
    t = token(clock)
    for _ in range(3):  # a chat app's preview, a mail scanner, the person
        r = await client.get(f"/act/{t}")
        assert r.status == 200
        private(r)
    page = await r.text()
    d = await deadline(app)
    assert fmt_local(d.due_at) == "2026-11-23 13:00"
    for shown in ("化工厂爆炸", "重大", "区应急局", "5小时内发布权威信息", "2026-11-23 13:00", "剩余 4小时",
                  "赵联络员（链接）", '<form method="post"', "确认收到"):
        assert shown in page, shown
    assert d.acked_by is None and not await audit(app, "deadline.acknowledged")
    async with app.store.read() as tx:
        assert await tx.tokens.get(verify(SECRET, t, clock.now()).nonce) is None


async def test_post_acknowledges_once_in_the_recipients_name(app, client, clock):
    t = token(clock)
    clock.advance(timedelta(minutes=5))
    r = await client.post(f"/act/{t}")
    assert r.status == 200 and "已确认收到" in await r.text()
    private(r)
    d = await deadline(app)
    assert d.acked_by == "赵联络员（链接）" and d.acked_at == clock.now()
    assert [a["actor"] for a in await audit(app, "deadline.acknowledged")] == ["赵联络员（链接）"]
    assert (await deadline(app, "press_conference")).acked_by is None  # exactly that rule
    clock.advance(timedelta(minutes=5))
    for again in (client.post(f"/act/{t}"), client.get(f"/act/{t}")):
        r = await again
        text = await r.text()
        assert r.status == 409 and "已于 2026-11-23 09:05（北京时间）由 赵联络员（链接） 使用" in text
        private(r)
    assert (await deadline(app)).acked_at == d.acked_at and len(await audit(app, "deadline.acknowledged")) == 1


async def test_evidence_link_asks_for_the_url_and_closes_the_deadline(app, client, clock):
    t = token(clock, "evidence")
    page = await (await client.get(f"/act/{t}")).text()
    assert 'name="url"' in page and 'name="note"' in page and "权威信息发布" in page
    r = await client.post(f"/act/{t}", data={"url": "javascript:alert(1)", "note": ""})
    assert r.status == 400 and "http" in await r.text()  # refused, nothing changed, the link still works
    assert (await deadline(app)).state == "open"
    r = await client.post(f"/act/{t}", data={"url": "", "note": " "})
    assert r.status == 400 and (await deadline(app)).state == "open"
    r = await client.post(f"/act/{t}", data={"url": "https://xs.gov.cn/fb/1", "note": "已发布通报"})
    assert r.status == 200 and "5小时内发布权威信息" in await r.text()
    d = await deadline(app)
    assert d.state == "satisfied" and (await deadline(app, "press_conference")).state == "open"
    [e] = await audit(app, "evidence.recorded")
    assert e["actor"] == "赵联络员（链接）" and e["detail"]["url"] == "https://xs.gov.cn/fb/1"
    r = await client.post(f"/act/{t}", data={"url": "https://xs.gov.cn/fb/2"})
    assert r.status == 409 and len(await audit(app, "evidence.recorded")) == 1


async def test_an_ack_refused_by_the_service_does_not_use_the_link(app, client, clock):
    t = token(clock, rule="policy_interpretation")  # this incident has no such deadline
    r = await client.post(f"/act/{t}")
    assert r.status == 400 and "policy_interpretation" in await r.text()
    async with app.store.read() as tx:
        assert await tx.tokens.get(verify(SECRET, t, clock.now()).nonce) is None


@pytest.mark.parametrize("action", ["ack", "evidence"])
async def test_concurrent_posts_act_exactly_once(app, client, clock, action):
    t = token(clock, action)
    data = {"url": "https://xs.gov.cn/fb/1"} if action == "evidence" else None
    answers = await asyncio.gather(*(client.post(f"/act/{t}", data=data) for _ in range(6)))
    assert sorted(r.status for r in answers) == [200, 409, 409, 409, 409, 409]
    audited = "deadline.acknowledged" if action == "ack" else "evidence.recorded"
    assert len(await audit(app, audited)) == 1
    async with app.store.read() as tx:
        assert len(await tx.ledger.for_incident(1)) == (1 if action == "evidence" else 0)


async def test_tampered_expired_and_malformed_links_are_refused_with_a_page(app, client, clock):
    t = token(clock)
    flipped = t[:10] + ("A" if t[10] != "A" else "B") + t[11:]
    for bad, status in ((flipped, 403), (token(clock, secret="other"), 403), ("not-a-token", 400)):
        for method in (client.get, client.post):
            r = await method(f"/act/{bad}")
            assert r.status == status and "链接无效" in await r.text()
            private(r)
    clock.advance(timedelta(hours=2))
    for method in (client.get, client.post):
        r = await method(f"/act/{t}")
        text = await r.text()
        assert r.status == 410 and "已于 2026-11-23 11:00（北京时间）过期" in text and 'href="/incidents/1"' in text
    assert (await deadline(app)).acked_by is None and not await audit(app, "deadline.acknowledged")


async def test_scraped_markup_stays_text_on_the_page(app, client, clock):
    hostile = "<script>alert(1)</script><b>化工厂爆炸</b>"
    await app.pipeline.ingest([RawItem("hotline", "2", hostile, "西山区碧鸡街道另一化工厂爆炸造成12人死亡 " + hostile,
                                       occurred_at=clock.now())], "hotline")
    async with app.store.read() as tx:
        [incident] = [i for i in await tx.incidents.list(status=None) if "script" in i.title]
    t = token(clock, "evidence", incident_id=incident.id, user='"><img src=x onerror=alert(1)>')
    page = await (await client.get(f"/act/{t}")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;" in page
    assert "<script>" not in page and "<img" not in page and "&#34;&gt;&lt;img" in page
    r = await client.post(f"/act/{t}", data={"url": 'https://x.cn/"><script>', "note": "<b>n</b>"})
    page = await r.text()
    assert "<script>" not in page and "<b>n</b>" not in page


async def test_without_a_secret_the_page_explains_and_messages_carry_no_links(app, client, clock, monkeypatch):
    t = token(clock)
    monkeypatch.delenv("YUQING_ACTION_SECRET")
    for method in (client.get, client.post):
        r = await method(f"/act/{t}")
        text = await r.text()
        assert r.status == 503 and "一键操作未启用" in text and "YUQING_ACTION_SECRET" in text
        private(r)
    assert (await deadline(app)).acked_by is None


# --------------------------------------------------------------------------- end to end through a robot
@pytest.fixture
async def robot(monkeypatch):
    fake = FakeRobots()
    robot_app = web.Application()
    robot_app.router.add_post("/robot/send", fake.dingtalk)
    async with TestServer(robot_app) as server:
        monkeypatch.setenv("T_DING_URL", str(server.make_url("/robot/send?access_token=ding-token")))
        monkeypatch.setenv("T_SECRET", ROBOT_SECRET)
        yield fake


async def send_reminders(app, clock):
    clock.advance(timedelta(hours=2, seconds=1))  # authoritative_release: first step 2 h before it is due
    await app.escalator.sweep()
    async with aiohttp.ClientSession() as session:
        return await Deliverer(app.store, app.clock, app.settings, session, owner="test").deliver_due()


async def test_a_dingtalk_reminder_carries_links_that_work(app, client, clock, robot):
    assert await send_reminders(app, clock) == 1
    [body] = robot.accepted["dingtalk"]
    text = body["markdown"]["text"]
    assert body["at"]["atMobiles"] == ["13800000000"]
    links = dict(re.findall(r"\[(确认收到|登记证据)\]\((\S+?)\)", text))
    assert set(links) == {"确认收到", "登记证据"} and all(u.startswith(f"{BASE}/act/") for u in links.values())
    ack = links["确认收到"].removeprefix(BASE)
    clock.advance(timedelta(minutes=10))
    assert "赵联络员（链接）" in await (await client.get(ack)).text()
    assert (await client.post(ack)).status == 200
    assert (await deadline(app)).acked_by == "赵联络员（链接）"
    r = await client.post(links["登记证据"].removeprefix(BASE), data={"url": "https://xs.gov.cn/fb/9"})
    assert r.status == 200 and (await deadline(app)).state == "satisfied"
    clock.advance(timedelta(hours=2))  # the links expire with their ttl (2 h by default)
    assert (await client.get(ack)).status == 409  # used beats expired: the person learns who used it


async def test_without_a_secret_the_robot_message_has_no_action_links(app, client, clock, robot, monkeypatch):
    monkeypatch.delenv("YUQING_ACTION_SECRET")
    assert await send_reminders(app, clock) == 1
    text = robot.accepted["dingtalk"][0]["markdown"]["text"]
    assert "/act/" not in text and text.count("](") == 1 and f"{BASE}/incidents/1" in text
