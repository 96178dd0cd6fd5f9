"""Grouping, filters and quiet hours for chat channels (responders/grouping.py, group_render.py, outbox.py):
the pure decisions, then end to end through the Deliverer and a local fake DingTalk robot that verifies each
request's signature. Nothing is lost, nothing is sent twice, bursts become one message, a chat resumes in order
after an outage, and the robot's send budget is met by grouping."""

import re
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.config.settings import ChannelConfig, Settings
from monitor.core.clock import SHANGHAI
from monitor.core.model import OutboxMessage, Severity
from responders import grouping
from responders.group_render import group_card
from responders.grouping import GROUP_MAX, HOLD, Lane, plan, quiet_end
from responders.outbox import Deliverer
from responders.render import Mention, render
from tests.test_chat_robots import SECRET, FakeRobots

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday morning in Beijing
BASE = "https://yuqing.example.gov.cn"


def row(i, at=T0, severity="较大", department="区应急局", recipient="", attempts=0, channel="ding", **extra):
    payload = {"idempotency_key": f"{i}:r:1:{channel}", "incident_id": i, "rule": "authoritative_release",
               "step": "1", "due_at": (at + timedelta(hours=2)).isoformat(), "severity": severity,
               "department": department, "title": f"事件{i}", "rule_title": "5小时内发布权威信息",
               "recipients": ["赵联络员"], "text": f"【舆情哨兵】事件{i}"} | extra
    return OutboxMessage(id=i, key=payload["idempotency_key"], channel=channel, recipient=recipient, incident_id=i,
                         deadline_id=None, payload=payload, status="pending", attempts=attempts,
                         next_attempt_at=at, lease_owner="t", lease_until=None, last_error=None, created_at=at,
                         sent_at=None)


def channel(**over):
    return ChannelConfig.model_validate({"name": "ding", "kind": "dingtalk", "url_env": "T_DING_URL"} | over)


def sends(p):
    return [[m.id for m in s.rows] for lane in p.lanes for s in lane]


# --------------------------------------------------------------------------- filters
def test_filters_record_the_reason_and_never_touch_the_dashboard():
    c = channel(min_severity="较大", departments=["区应急局"])
    rows = [row(1, severity="一般"), row(2, severity="较大"), row(3, severity="重大", department="区卫生健康局"),
            row(4, severity="特别重大")]
    p = plan(c, rows, T0)
    assert sends(p) == [[2], [4]]
    reasons = {m.id: why for m, why in p.filtered}
    assert set(reasons) == {1, 3}
    assert "一般低于本渠道最低等级较大" in reasons[1] and "min_severity" in reasons[1]
    assert "区卫生健康局" in reasons[3] and "departments" in reasons[3]
    # the dashboard always gets everything, even if someone gave it filters and quiet hours
    dash = ChannelConfig(name="dashboard", kind="log", min_severity="特别重大", departments=["x"],
                         quiet_hours="00:00-23:59")
    assert sends(plan(dash, [row(1, severity="一般", channel="dashboard")], T0)) == [[1]]
    # a row that is not a reminder (the digest mail) has no severity: no filter applies
    digest = row(5)
    digest.payload.pop("severity")
    assert sends(plan(channel(min_severity="重大"), [digest], T0)) == [[5]]


# --------------------------------------------------------------------------- quiet hours
@pytest.mark.parametrize("local_time,ends", [
    ("21:59", None),
    ("22:00", "2026-11-24 07:00"),
    ("23:30", "2026-11-24 07:00"),
    ("00:10", "2026-11-23 07:00"),
    ("06:59", "2026-11-23 07:00"),
    ("07:00", None),
])
def test_quiet_hours_run_across_midnight_in_beijing_time(local_time, ends):
    h, m = map(int, local_time.split(":"))
    now = T0.replace(hour=h, minute=m).astimezone(timezone.utc)  # stored and passed in UTC
    got = quiet_end("22:00-07:00", now)
    assert (got and got.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")) == (ends or None)
    assert got is None or got.tzinfo == timezone.utc


def test_quiet_hours_within_a_day_and_empty():
    assert quiet_end("12:00-14:00", T0.replace(hour=13)) == T0.replace(hour=14)
    assert quiet_end("12:00-14:00", T0.replace(hour=14)) is None
    assert quiet_end("08:00-08:00", T0) is None


def test_quiet_hours_hold_below_major_and_never_major():
    night = T0.replace(hour=23)
    rows = [row(1, night, "一般"), row(2, night, "较大"), row(3, night, "重大"), row(4, night, "特别重大")]
    p = plan(channel(quiet_hours="22:00-07:00"), rows, night)
    assert sends(p) == [[3], [4]]
    assert [(m.id, until) for m, until, _ in p.held] == [(1, T0.replace(day=24, hour=7)), (2, T0.replace(day=24, hour=7))]
    assert all(why.startswith(HOLD) and "07:00" in why for _, _, why in p.held)


# --------------------------------------------------------------------------- grouping
def test_a_burst_within_group_wait_is_held_then_sent_as_one_message():
    c = channel(group_wait="1m", group_interval="5m")
    burst = [row(i, T0 + timedelta(seconds=10 * i)) for i in range(1, 6)]  # 10 s … 50 s
    p = plan(c, burst[:3], T0 + timedelta(seconds=30))
    assert not p.lanes and {until for _, until, _ in p.held} == {T0 + timedelta(seconds=70)}  # first + 1 m
    # a row arriving later joins the same group: the lane's oldest pending row is what counts
    p = plan(c, burst[3:], T0 + timedelta(seconds=50), lambda _k: Lane(oldest=burst[0].created_at))
    assert {until for _, until, _ in p.held} == {T0 + timedelta(seconds=70)}
    p = plan(c, burst, T0 + timedelta(seconds=70))
    assert sends(p) == [[1, 2, 3, 4, 5]] and p.lanes[0][0].grouped


def test_group_interval_spaces_messages_but_major_waits_only_group_wait():
    c = channel(group_wait="30s", group_interval="10m")
    last = T0
    now = T0 + timedelta(minutes=2)
    p = plan(c, [row(1, now, "较大")], now, lambda _k: Lane(last_sent=last))
    assert [until for _, until, _ in p.held] == [last + timedelta(minutes=10)]
    p = plan(c, [row(1, now - timedelta(seconds=40), "较大"), row(2, now, "重大")], now, lambda _k: Lane(last_sent=last))
    assert [(m.id, until) for m, until, _ in p.held] == [(1, last + timedelta(minutes=10)), (2, now + timedelta(seconds=30))]
    later = now + timedelta(seconds=30)  # the major row's group_wait is over: it goes, and the due rows ride along
    p = plan(c, [row(1, now - timedelta(seconds=40), "较大"), row(2, now, "重大")], later,
             lambda _k: Lane(last_sent=last))
    assert sends(p) == [[1, 2]]


def test_a_row_joins_the_group_already_set_to_go_and_none_starves():
    c = channel(group_wait="30s", group_interval="5m")
    # a 重大 row joins the group its lane has set to go in 10 s rather than waiting its own 30 s alone
    p = plan(c, [row(1, T0, "重大")], T0, lambda _k: Lane(oldest=T0 - timedelta(seconds=20),
                                                           next_at=T0 + timedelta(seconds=10)))
    assert [until for _, until, _ in p.held] == [T0 + timedelta(seconds=10)]
    # 重大 sends restart group_interval, yet the oldest row waits at most group_wait + group_interval
    now = T0 + timedelta(minutes=5, seconds=30)
    p = plan(c, [row(1, T0, "较大")], now, lambda _k: Lane(last_sent=now - timedelta(seconds=1)))
    assert sends(p) == [[1]]


def test_backoff_and_send_budget_hold_every_row_of_the_lane_major_too():
    c = channel()
    until = T0 + timedelta(minutes=3)
    p = plan(c, [row(1, severity="重大"), row(2, severity="一般")], T0, lambda _k: Lane(backoff_until=until))
    assert not p.lanes and [u for _, u, _ in p.held] == [until, until]
    assert "渠道重试或限速中" in p.held[0][2]
    p = plan(c, [row(1)], T0, lambda _k: Lane(budget_until=T0 + timedelta(seconds=20)))
    assert [u for _, u, _ in p.held] == [T0 + timedelta(seconds=20)]
    assert sends(plan(c, [row(1)], until, lambda _k: Lane(backoff_until=until))) == [[1]]


def test_lanes_robots_share_one_chat_people_get_their_own():
    rows = [row(1, recipient="zhao"), row(2, recipient="qian"), row(3, recipient="zhao")]
    ding = plan(channel(group_wait="0s"), rows, T0)
    assert sends(ding) == [[1, 2, 3]]  # one group chat: recipients are only @-mentions
    tg = plan(ChannelConfig(name="tg", kind="telegram", token_env="X", chat_id=1, group_wait="0s"), rows, T0)
    assert sorted(sends(tg)) == [[1, 3], [2]]  # a person's rows never join another's
    hook = plan(ChannelConfig(name="h", kind="webhook", url="http://x", group_wait="1m"), rows, T0)
    assert sorted(sends(hook)) == [[1], [2], [3]]  # grouping is for chat channels only


def test_a_big_burst_goes_as_several_messages_in_order():
    rows = [row(i) for i in range(1, 46)]
    got = sends(plan(channel(group_wait="0s"), rows, T0))
    assert [len(s) for s in got] == [20, 20, 5] and sum(got, []) == list(range(1, 46))


# --------------------------------------------------------------------------- the grouped message
def test_group_card_heading_order_and_one_line_per_reminder():
    now = T0.astimezone(timezone.utc)
    items = [row(1, severity="较大").payload, row(2, severity="特别重大").payload,
             row(3, severity="重大", due_at=(T0 - timedelta(minutes=35)).isoformat()).payload,
             row(4, severity="重大").payload]
    dup = dict(items[0], recipients=["钱值班员"])  # the same reminder addressed to another person
    c = group_card({"group": items + [dup], "channel": "ding"}, now, BASE, [Mention("赵联络员", "13800000000")])
    assert c.title == "舆情哨兵提醒：4 条（特别重大 1、重大 2）"
    text = [("".join(s.text for s in line)) for line in c.lines]
    assert [re.search(r"#(\d+)", t).group(1) for t in text[1:5]] == ["2", "3", "4", "1"]  # most urgent first
    assert "已超期 35分" in text[2] and "剩余 2小时" in text[1] and "区应急局" in text[1]
    assert text[-1] == "提醒：赵联络员"
    assert [s.href for line in c.lines for s in line if s.style == "link"][0] == f"{BASE}/incidents/2"


HOSTILE = "<b>粗</b></a>*星*[x](javascript:alert(1))<@all>" + "长" * 10_000


@pytest.mark.parametrize("kind,fmt,mobile", [("dingtalk", "dingtalk", "13800000000"), ("wecom", "wecom", ""),
                                             ("wecom", "wecom_text", "13800000000"), ("feishu", "feishu", ""),
                                             ("telegram", "telegram", "")])
def test_a_full_group_fits_each_platform_and_keeps_every_item(kind, fmt, mobile):
    now = T0.astimezone(timezone.utc)
    n = GROUP_MAX[kind]
    payload = {"group": [row(1000 + i, severity="重大", title=HOSTILE).payload for i in range(n)], "channel": "c"}
    out, c = render(payload, fmt, now, BASE, [Mention("赵联络员", mobile)])
    text = out if isinstance(out, str) else str(out)
    links = [f"{BASE}/incidents/{1000 + i}" for i in range(n)]
    for i in range(n):  # each item keeps its number, its countdown and its link
        assert f"#{1000 + i}" in text and links[i] in text
    assert text.count("剩余 2小时") == n
    assert max(len(line[1].text) for line in c.lines[1:n + 1]) >= 10  # titles cut, yet still readable
    # no markup but ours: the scraped title is text in every format
    if fmt in ("dingtalk", "wecom"):
        assert "<" not in text and "](javascript" not in text and re.findall(r"\]\(([^)]*)\)", text) == links
    elif fmt == "wecom_text":
        assert "<" not in text
    elif fmt == "telegram":
        assert set(re.findall(r"<(/?\w+)", text)) == {"b", "/b", "a", "/a"}
        assert re.findall(r'href="([^"]*)"', text) == links
    else:
        elements = [e for line in out["post"]["zh_cn"]["content"] for e in line]
        assert [e["href"] for e in elements if e["tag"] == "a"] == links
        assert {e["tag"] for e in elements} == {"text", "a"}


# --------------------------------------------------------------------------- end to end
class Robot(FakeRobots):
    """The fake DingTalk robot of test_chat_robots (signature checked the documented way), which can be down:
    it then answers 500 and 429 in turn."""

    def __init__(self):
        super().__init__()
        self.down = False
        self.refusals = 0
        self.clock = None
        self.times = []  # the test clock's time of each accepted message

    def _scripted(self, kind, code_key):
        if self.down:
            self.refusals += 1
            return web.Response(status=500 if self.refusals % 2 else 429, text="busy")
        answer = super()._scripted(kind, code_key)
        if answer is None and self.clock is not None:
            self.times.append(self.clock.now())
        return answer

    def incidents(self):
        """Per accepted message, the incident numbers it names, in the order it names them."""
        return [[int(n) for n in re.findall(r"#(\d+)", b["markdown"]["text"])] for b in self.accepted["dingtalk"]]


@pytest.fixture
async def robot(monkeypatch):
    r = Robot()
    app = web.Application()
    app.router.add_post("/robot/send", r.dingtalk)
    async with TestServer(app) as server:
        monkeypatch.setenv("T_DING_URL", str(server.make_url("/robot/send?access_token=ding-token")))
        monkeypatch.setenv("T_SECRET", SECRET)
        yield r


def settings(**ding):
    return Settings.model_validate({
        "digest": {"dashboard_url": BASE},
        "users": [{"name": "zhao", "display": "赵联络员", "mobile": "13800000000"},
                  {"name": "qian", "display": "钱值班员", "mobile": "13900000000"}],
        "channels": [{"name": "ding", "kind": "dingtalk", "url_env": "T_DING_URL", "secret_env": "T_SECRET"} | ding],
    })


async def enqueue(store, clock, i, severity="较大", recipient="", channel="ding", department="区应急局"):
    now = clock.now()
    key = f"{i}:authoritative_release:1:{channel}" + (f":{recipient}" if recipient else "")
    payload = {"idempotency_key": key, "incident_id": i, "rule": "authoritative_release", "step": "1",
               "due_at": (T0 + timedelta(hours=5)).isoformat(), "severity": severity, "department": department,
               "text": f"【舆情哨兵】事件{i}", "title": f"事件{i}", "rule_title": "5小时内发布权威信息",
               "recipients": ["赵联络员"]}
    async with store.write() as tx:
        await tx.outbox.enqueue([{"key": key, "channel": channel, "recipient": recipient, "payload": payload,
                                  "next_attempt_at": now, "created_at": now}])
    return key


async def enqueue_many(store, clock, ids):
    for i in ids:
        await enqueue(store, clock, i)


async def rows(store):
    async with store.read() as tx:
        return sorted(await tx.outbox.list(limit=5000), key=lambda m: m.id)


async def run_until(d, clock, until, arrivals=()):
    """The delivery loop on a manual clock: jump to the next arrival or the next row due, deliver, repeat."""
    arrivals = sorted(arrivals, key=lambda a: a[0])
    for _ in range(5000):
        for at, add in [a for a in arrivals if a[0] <= clock.now()]:
            await add()
            arrivals.remove((at, add))
        next_at = await d.tick()
        times = [t for t in [next_at] + [a[0] for a in arrivals] if t is not None]
        if not times or min(times) > until:
            return
        clock.set(max(min(times), clock.now()))
    raise AssertionError("the delivery loop does not settle")


async def test_thirty_reminders_within_group_wait_become_two_messages_each_sent_once(store, clock, robot):
    async with aiohttp.ClientSession() as session:
        d = Deliverer(store, clock, settings(group_wait="1m", group_interval="5m"), session, owner="test")
        start = clock.now()
        arrivals = [(start + timedelta(seconds=i), lambda i=i: enqueue_many(store, clock, range(3 * i - 2, 3 * i + 1)))
                    for i in range(1, 11)]  # three at a time, over ten seconds
        await run_until(d, clock, start + timedelta(seconds=59), arrivals)
        assert robot.accepted["dingtalk"] == []  # still within group_wait of the first
        assert all(m.status == "pending" and m.attempts == 0 and m.last_error.startswith(HOLD)
                   for m in await rows(store))
        await run_until(d, clock, start + timedelta(hours=1))
    assert robot.incidents() == [list(range(1, 21)), list(range(21, 31))]  # 20 a message (GROUP_MAX), in order
    first = robot.accepted["dingtalk"][0]
    assert first["markdown"]["title"] == "舆情哨兵提醒：20 条" and first["at"]["atMobiles"] == ["13800000000"]
    got = await rows(store)
    assert len(got) == 30 and all(m.status == "sent" and m.attempts == 1 for m in got)
    assert {m.sent_at for m in got} == {start + timedelta(seconds=61)}  # due at +1 s, held for one minute


async def test_a_stream_of_major_reminders_goes_in_few_messages_in_order(store, clock, robot):
    async with aiohttp.ClientSession() as session:
        d = Deliverer(store, clock, settings(group_wait="5s", group_interval="1m"), session, owner="test")
        start = clock.now()
        arrivals = [(start + timedelta(seconds=i), lambda i=i: enqueue(store, clock, i, "重大")) for i in range(1, 41)]
        robot.clock = clock
        await run_until(d, clock, start + timedelta(hours=1), arrivals)
    assert sum(robot.incidents(), []) == list(range(1, 41))  # in order, each once
    # a message per group_wait window, not one a reminder: rows 1–6 go at +6 s (the one due then rides along)
    assert [len(ids) for ids in robot.incidents()] == [6, 6, 6, 6, 6, 6, 4]
    got = await rows(store)
    assert all(m.sent_at - m.created_at <= timedelta(seconds=5) for m in got)  # none waited past group_wait


async def test_an_outage_loses_nothing_and_resumes_in_order_each_key_once(store, clock, robot):
    robot.down = True
    async with aiohttp.ClientSession() as session:
        d = Deliverer(store, clock, settings(), session, owner="test")  # no grouping: one message a row
        start = clock.now()
        arrivals = [(start + timedelta(seconds=45 * i), lambda i=i: enqueue(store, clock, i)) for i in range(1, 13)]
        await run_until(d, clock, start + timedelta(minutes=10), arrivals)
        during = await rows(store)
        assert len(during) == 12 and all(m.status == "pending" for m in during) and not robot.accepted["dingtalk"]
        assert robot.refusals <= 9  # the chat is retried as one, with backoff (5 s, 10 s … ): not once per row
        assert {m.next_attempt_at for m in during} == {max(m.next_attempt_at for m in during)}  # all wait together
        robot.down = False
        recovered = clock.now()
        await run_until(d, clock, recovered + timedelta(hours=1))
    assert sum(robot.incidents(), []) == list(range(1, 13))  # in order, each once
    got = await rows(store)
    assert all(m.status == "sent" for m in got)
    assert max(m.sent_at for m in got) - recovered <= timedelta(minutes=12)  # the longest backoff, with jitter


async def test_a_grouped_chat_fails_and_is_retried_as_one(store, clock, robot):
    robot.down = True
    async with aiohttp.ClientSession() as session:
        d = Deliverer(store, clock, settings(group_wait="10s"), session, owner="test")
        start = clock.now()
        arrivals = [(start + timedelta(seconds=i), lambda i=i: enqueue(store, clock, i, "重大")) for i in range(1, 8)]
        await run_until(d, clock, start + timedelta(minutes=10), arrivals)
        during = await rows(store)
        assert robot.refusals >= 3 and all(m.status == "pending" for m in during)
        assert len({(m.attempts, m.next_attempt_at) for m in during}) == 1  # one group: same attempts, same retry
        robot.down = False
        await run_until(d, clock, clock.now() + timedelta(hours=1))
    assert robot.incidents() == [list(range(1, 8))]
    assert all(m.status == "sent" for m in await rows(store))


async def test_quiet_hours_and_filters_end_to_end(store, clock, robot):
    clock.set(T0.replace(hour=23))
    cfg = settings(quiet_hours="22:00-07:00", departments=["区应急局"])
    async with aiohttp.ClientSession() as session:
        d = Deliverer(store, clock, cfg, session, owner="test")
        quiet = await enqueue(store, clock, 1, "一般")
        urgent = await enqueue(store, clock, 2, "重大")
        other = await enqueue(store, clock, 3, "重大", department="区卫生健康局")
        dash = await enqueue(store, clock, 3, "一般", channel="dashboard", department="区卫生健康局")
        assert await d.deliver_due() == 2  # the 重大 reminder and the dashboard's line
        got = {m.key: m for m in await rows(store)}
        assert got[urgent].status == got[dash].status == "sent"
        assert got[quiet].status == "pending" and got[quiet].attempts == 0 and "免打扰" in got[quiet].last_error
        assert got[quiet].next_attempt_at == T0.replace(day=24, hour=7)
        assert got[other].status == "filtered" and "区卫生健康局" in got[other].last_error
        clock.set(T0.replace(day=24, hour=6, minute=59))
        assert await d.deliver_due() == 0
        clock.set(T0.replace(day=24, hour=7))
        assert await d.deliver_due() == 1
    assert robot.incidents() == [[2], [1]]
    assert (await rows(store))[-1].status == "sent"  # the dashboard is not held, filtered or grouped


async def test_the_send_budget_is_met_by_grouping_never_by_dropping(store, clock, robot):
    async with aiohttp.ClientSession() as session:
        d = Deliverer(store, clock, settings(group_wait="0s"), session, owner="test")
        start = clock.now()
        # 50 reminders a second apart, for two people: one message each would be 50 messages in a minute
        arrivals = [(start + timedelta(seconds=i), lambda i=i: enqueue(store, clock, i, "重大",
                                                                        recipient=("zhao", "qian")[i % 2]))
                    for i in range(1, 51)]
        robot.clock = clock
        await run_until(d, clock, start + timedelta(hours=1), arrivals)
    sent_at = robot.times
    assert sorted(sum(robot.incidents(), [])) == list(range(1, 51))  # all, once
    assert all(len([t for t in sent_at if s <= t < s + timedelta(seconds=60)]) <= 20 for s in sent_at)
    assert len(sent_at) < 50  # some messages carried several reminders
    assert {frozenset(b["at"]["atMobiles"]) for b in robot.accepted["dingtalk"] if len(b["at"]["atMobiles"]) > 1} \
        == {frozenset({"13800000000", "13900000000"})}  # a group @-mentions everyone its rows name
    assert all(m.status == "sent" for m in await rows(store))


def test_grouping_applies_to_chat_kinds_only():
    assert grouping.grouping(channel(group_wait="1m"))
    assert not grouping.grouping(channel())
    assert not grouping.grouping(ChannelConfig(name="h", kind="webhook", url="http://x", group_wait="1m"))
    assert Severity.parse("重大") >= grouping.URGENT
