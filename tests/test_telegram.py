"""The Telegram channel and bot against a local Bot API (tests/fake_telegram.py) that speaks the real HTTP
protocol and parses HTML the way Telegram does: alerts through the outbox with buttons, escaping and length,
429/5xx answers, and the bot's buttons, evidence replies and commands by long polling, with who may use them.
Never the real network."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest

from monitor.config.settings import BUNDLED_CONFIG, ChannelConfig, RosterEntry, UserConfig, load_settings
from monitor.core import logs
from monitor.core.model import RawItem
from monitor.understanding.names import check_department, department_names
from responders.channels.telegram import Callback, parse_callback, rule_token
from responders.outbox import Deliverer
from responders.telegram_bot import TelegramBot
from tests.fake_telegram import GROUP, FakeTelegram, parse_html, start, utf16

TOKEN_ENV = "T_TELEGRAM_TOKEN"
DASHBOARD = "https://yuqing.example.gov.cn"
ZHAO = FakeTelegram.user(1001, "赵")  # 区应急局's liaison
QIAN = FakeTelegram.user(1002, "钱")  # on duty this morning
STRANGER = FakeTelegram.user(666, "陌生人", "stranger")


@pytest.fixture
async def fake(monkeypatch):
    f = FakeTelegram()
    await start(f)
    monkeypatch.setenv(TOKEN_ENV, f.token)
    yield f
    await f.server.close()


@pytest.fixture
def settings(fake):
    """The demo config with a Telegram group channel, two people who may use the bot, and a roster."""
    base = load_settings(BUNDLED_CONFIG / "demo.yaml")
    users = [*base.users,
             UserConfig(name="zhao", display="赵联络员", department="区应急局", channels=["tg"], telegram_user_id=1001),
             UserConfig(name="qian", display="钱值班", telegram_user_id=1002)]
    roster = [RosterEntry.model_validate({"role": "duty_officer", "user": u, "from": f, "to": t}) for u, f, t in (
        ("qian", "2026-11-23T08:00+08:00", "2026-11-23T20:00+08:00"),
        ("duty", "2026-11-23T20:00+08:00", "2026-11-24T08:00+08:00"))]
    channel = ChannelConfig(name="tg", kind="telegram", token_env=TOKEN_ENV, chat_id=GROUP["id"],
                            base_url=fake.base_url)
    return base.model_copy(update={"users": users, "roster": roster, "channels": [*base.channels, channel],
                                   "digest": base.digest.model_copy(update={"dashboard_url": DASHBOARD})})


@pytest.fixture
async def incident(app, clock):
    """#1: 12 dead, 重大, 区应急局; 5 h and 24 h deadlines from an hour ago."""
    await app.pipeline.ingest([RawItem("hotline", "1", "马街街道一化工厂发生爆炸", "马街街道化工厂爆炸造成12人死亡",
                                       occurred_at=clock.now() - timedelta(hours=1))], "hotline")
    return 1


def new_bot(app) -> TelegramBot:
    bot = TelegramBot(app, next(c for c in app.settings.channels if c.kind == "telegram"),
                      department_names(app.jurisdiction), lambda n: check_department(app.jurisdiction, n),
                      poll_timeout=1)
    bot.waits = []

    async def sleep(seconds):  # flood waits are recorded, not slept
        bot.waits.append(seconds)

    bot.sleep = sleep
    return bot


class Running:
    def __init__(self, app, fake):
        self.app, self.fake = app, fake

    async def start(self) -> TelegramBot:
        self.stop, self.bot = asyncio.Event(), new_bot(self.app)
        polls = len(self.fake.of("getUpdates"))
        self.task = asyncio.create_task(self.bot.run(self.stop))
        await self.fake.wait_for(lambda: len(self.fake.of("getUpdates")) > polls)
        return self.bot

    async def halt(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 5)


@pytest.fixture
async def bot(app, fake):
    running = Running(app, fake)
    await running.start()
    yield running
    await running.halt()


async def deliver(app, clock) -> int:
    async with aiohttp.ClientSession() as session:
        return await Deliverer(app.store, clock, app.settings, session, owner="test").deliver_due()


async def deliver_all(app, clock) -> int:
    """Deliver until nothing more goes at this instant: a slow machine may split one burst over several
    rounds (a lane yields after LANE_ROUND seconds of real time), which must not change what is sent."""
    sent = 0
    while n := await deliver(app, clock):
        sent += n
    return sent


async def enqueue(app, clock, title="马街街道一化工厂发生爆炸", incident_id=281, rule="authoritative_release"):
    key = f"{incident_id}:{rule}:1:tg"
    payload = {"idempotency_key": key, "incident_id": incident_id, "rule": rule, "step": "1",
               "due_at": (clock.now() + timedelta(hours=2)).isoformat(), "severity": "重大", "department": "区应急局",
               "text": "【舆情哨兵】…", "title": title, "rule_title": "5小时内发布权威信息", "evidence": "权威信息发布",
               "recipients": ["赵联络员"]}
    async with app.store.write() as tx:
        await tx.outbox.enqueue([{"key": key, "channel": "tg", "recipient": "", "payload": payload,
                                  "next_attempt_at": clock.now(), "created_at": clock.now()}])
    return key


async def outbox(app) -> dict:
    async with app.store.read() as tx:
        return {m.key: m for m in await tx.outbox.list()}


async def alert(app, clock, fake) -> dict:
    """The 2-hours-before reminder of #1's 5-hour deadline, sent to the group through sweeper and outbox."""
    clock.advance(timedelta(hours=2))
    assert await app.escalator.sweep() == 1
    assert await deliver(app, clock) == 1
    [message] = fake.from_bot()
    return message


def buttons(message: dict) -> list[list[tuple[str, str]]]:
    return [[(b["text"], b.get("callback_data") or b["url"]) for b in row]
            for row in message["reply_markup"]["inline_keyboard"]]


async def audit(app, action=None) -> list[dict]:
    async with app.store.read() as tx:
        return [e for e in await tx.audit.list(limit=1000) if action is None or e["action"] == action]


async def deadline(app, rule="authoritative_release", incident_id=1):
    async with app.store.read() as tx:
        return next(d for d in await tx.deadlines.for_incident(incident_id) if d.rule == rule)


# --------------------------------------------------------------------------- the channel
async def test_alert_goes_through_the_outbox_with_buttons(app, clock, fake, incident):
    message = await alert(app, clock, fake)
    text = message["text"]
    assert "马街街道一化工厂发生爆炸" in text and "责任单位：区应急局" in text and "剩余 2小时" in text
    assert "提醒：赵联络员" in text
    assert buttons(message) == [[("确认收到", "ack:1:authoritative_release"), ("登记证据", "ev:1:authoritative_release")],
                                [("转办", "re:1:authoritative_release"), ("详情", f"{DASHBOARD}/incidents/1")]]
    [sent] = fake.of("sendMessage")
    assert sent["parse_mode"] == "HTML" and sent["chat_id"] == GROUP["id"]
    assert [m.status for m in (await outbox(app)).values()] == ["sent"]
    assert await deliver(app, clock) == 0 and len(fake.of("sendMessage")) == 1


async def test_hostile_titles_arrive_as_text(app, clock, fake):
    title = '<b>粗</b></a>&amp; *星* [x](javascript:alert(1)) <a href="javascript:alert(2)">点我</a> <tg-spoiler>'
    await enqueue(app, clock, title=title)
    assert await deliver(app, clock) == 1
    [message] = fake.from_bot()  # the fake parsed it as Telegram does: a stray tag would have been a 400
    assert title in message["text"]
    assert {e["type"] for e in message["entities"]} == {"bold", "text_link"}
    assert [e["url"] for e in message["entities"] if e["type"] == "text_link"] == [f"{DASHBOARD}/incidents/281"]


async def test_a_10kb_title_stays_within_4096_units(app, clock, fake):
    title = "长" * 6000 + "𠮷" * 2000  # 𠮷 is two UTF-16 units: Telegram counts those
    await enqueue(app, clock, title=title)
    assert await deliver(app, clock) == 1
    [sent] = fake.of("sendMessage")
    assert utf16(sent["text"]) <= 4096
    [message] = fake.from_bot()
    assert "…" in message["text"] and "责任单位：区应急局" in message["text"] and "剩余 2小时" in message["text"]


async def test_flood_control_waits_as_asked_and_sends_once(app, clock, fake):
    fake.fail("sendMessage", 429, retry_after=40)
    key = await enqueue(app, clock)
    assert await deliver(app, clock) == 0
    row = (await outbox(app))[key]
    assert row.status == "pending" and row.attempts == 1 and "RetryAfter" in row.last_error
    assert row.next_attempt_at - clock.now() >= timedelta(seconds=40)
    clock.advance(timedelta(seconds=20))
    assert await deliver(app, clock) == 0 and len(fake.of("sendMessage")) == 1  # not before Telegram allows
    clock.advance(timedelta(seconds=25))
    assert await deliver(app, clock) == 1
    clock.advance(timedelta(hours=1))
    assert await deliver(app, clock) == 0
    assert len(fake.from_bot()) == 1 and list(await outbox(app)) == [key] and (await outbox(app))[key].status == "sent"


async def test_server_errors_are_retried(app, clock, fake):
    fake.fail("sendMessage", 500, times=2)
    key = await enqueue(app, clock)
    for _ in range(2):
        assert await deliver(app, clock) == 0
        clock.advance(timedelta(minutes=1))
    assert (await outbox(app))[key].attempts == 2
    assert await deliver(app, clock) == 1
    assert len(fake.from_bot()) == 1 and (await outbox(app))[key].status == "sent"


async def test_a_removed_bot_is_not_retried_and_a_missing_token_waits(app, clock, fake, monkeypatch):
    fake.blocked.add(GROUP["id"])
    k1 = await enqueue(app, clock, incident_id=281)
    assert await deliver(app, clock) == 0
    row = (await outbox(app))[k1]
    assert row.status == "dead" and "Forbidden" in row.last_error and fake.token not in row.last_error
    fake.blocked.clear()
    monkeypatch.delenv(TOKEN_ENV)
    k2 = await enqueue(app, clock, incident_id=282)
    assert await deliver(app, clock) == 0
    row = (await outbox(app))[k2]
    assert row.status == "pending" and TOKEN_ENV in row.last_error


async def test_a_group_gets_20_a_minute_and_the_rest_wait(app, clock, fake):
    keys = [await enqueue(app, clock, incident_id=i) for i in range(1, 22)]
    assert await deliver_all(app, clock) == 20
    [waiting] = [m for m in (await outbox(app)).values() if m.status == "pending"]
    assert waiting.attempts == 0 and waiting.next_attempt_at > clock.now()  # postponed, not failed
    clock.advance(timedelta(seconds=61))
    assert await deliver_all(app, clock) == 1
    assert len(fake.from_bot()) == 21 == len(keys) and len(fake.of("sendMessage")) == 21


async def test_a_migrated_group_gets_the_message_at_its_new_id(app, clock, fake, settings):
    old_id = -4001
    fake.migrated[old_id] = GROUP["id"]
    app.settings = settings.model_copy(update={"channels": [c.model_copy(update={"chat_id": old_id})
                                                            if c.kind == "telegram" else c for c in settings.channels]})
    key = await enqueue(app, clock)
    assert await deliver(app, clock) == 1
    assert [p["chat_id"] for p in fake.of("sendMessage")] == [old_id, GROUP["id"]]
    assert len(fake.from_bot()) == 1 and (await outbox(app))[key].status == "sent"


async def test_the_token_is_masked_in_logs(fake, settings):
    from monitor.cli.common import register_secrets

    register_secrets(settings)
    line = logs.redact(f"POST {fake.base_url}{fake.token}/sendMessage failed")
    assert fake.token not in line and "***" in line


def test_callback_data_fits_64_bytes_whatever_the_rule():
    assert rule_token("authoritative_release", 7, 281) == "authoritative_release"
    long_rule = "policy_interpretation_for_documents_of_the_district_government"
    token = rule_token(long_rule, 12345, 281)
    assert token == "#12345" and len(Callback("rd", 281, token, 59, "ffff").pack().encode()) <= 64
    assert rule_token(long_rule, None, 281) == ""
    assert parse_callback("rd:281:#12345:3.0a1f") == Callback("rd", 281, "#12345", 3, "0a1f")
    assert parse_callback("ack:281:") == Callback("ack", 281, "")
    for junk in ("", "ack", "boom:1:x", "ack:x:y", "rd:1:r", None):
        assert parse_callback(junk) is None


def test_the_example_configs_telegram_channel_is_valid_and_checked():
    import yaml

    from tests.conftest import ROOT

    line = next(x for x in (ROOT / "config" / "yuqing.example.yaml").read_text(encoding="utf-8").splitlines()
                if "kind: telegram" in x and x.strip().startswith("# -"))
    channel = yaml.safe_load(line.strip()[2:])[0]
    assert ChannelConfig.model_validate(channel).chat_id == -1001234567890
    for missing in ("token_env", "chat_id"):
        with pytest.raises(ValueError, match=missing):
            ChannelConfig.model_validate({k: v for k, v in channel.items() if k != missing})


def test_the_fake_parses_html_as_telegram_does():
    assert parse_html("<b>a</b>&lt;𠮷&amp;") == ("a<𠮷&", [{"type": "bold", "offset": 0, "length": 1}])
    for bad in ("<x>a</x>", "a < b", "a & b", "<b>a", "&nbsp;"):
        with pytest.raises(Exception):
            parse_html(bad)


# --------------------------------------------------------------------------- the bot: buttons
async def test_ack_by_an_allowed_user_is_recorded_and_shown(app, clock, fake, incident, bot):
    message = await alert(app, clock, fake)
    fake.press(ZHAO, message, "ack:1:authoritative_release")
    await fake.wait_for(lambda: fake.answers)
    assert fake.answers[0]["text"].startswith("已确认收到")
    d = await deadline(app)
    assert d.acked_by == "zhao" and d.state == "open"
    [entry] = await audit(app, "deadline.acknowledged")
    assert entry["actor"] == "zhao" and entry["detail"]["rule"] == "authoritative_release"
    edited = fake.messages[(GROUP["id"], message["message_id"])]
    assert "赵联络员 于 2026-11-23 11:00 确认收到「5小时内发布权威信息」" in edited["text"]  # Beijing time
    assert buttons(edited) == buttons(message)  # still there: evidence comes later


async def test_an_alert_without_a_deadline_keeps_its_words_when_acknowledged(app, clock, fake, incident, bot):
    key = "1:transfer:0:tg"
    payload = {"idempotency_key": key, "incident_id": 1, "rule": "transfer", "step": "0", "due_at": None,
               "severity": "重大", "department": "区应急局", "text": "事件发生在辖区外（盘龙区），请转交 <盘龙区> 处理",
               "recipients": []}
    async with app.store.write() as tx:
        await tx.outbox.enqueue([{"key": key, "channel": "tg", "recipient": "", "payload": payload,
                                  "next_attempt_at": clock.now(), "created_at": clock.now()}])
    assert await deliver(app, clock) == 1
    [message] = fake.from_bot()
    assert buttons(message)[0] == [("确认收到", "ack:1:"), ("登记证据", "ev:1:")]
    fake.press(QIAN, message, "ack:1:")
    await fake.wait_for(lambda: fake.of("editMessageText"))
    edited = fake.messages[(GROUP["id"], message["message_id"])]
    assert "请转交 <盘龙区> 处理" in edited["text"] and "✅ 钱值班 于 2026-11-23 09:00 确认收到提醒" in edited["text"]
    assert {e["type"] for e in edited["entities"]} == {"bold", "text_link"}  # its markup rebuilt as it was
    assert [e["actor"] for e in await audit(app, "alert.acknowledged")] == ["qian"]
    assert (await deadline(app)).acked_by is None  # the deadlines were not what was acknowledged


async def test_a_rejected_token_is_retried_without_stopping_serve(app, fake, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "123:wrong")
    stop, bot = asyncio.Event(), new_bot(app)
    task = asyncio.create_task(bot.run(stop))
    await fake.wait_for(lambda: fake.of("getMe"))
    await asyncio.sleep(0.05)
    assert not task.done() and not fake.of("getUpdates")
    stop.set()
    await asyncio.wait_for(task, 2)


async def test_a_stranger_changes_nothing_and_is_audited(app, clock, fake, incident, bot):
    message = await alert(app, clock, fake)
    fake.press(STRANGER, message, "ack:1:authoritative_release")
    fake.say(STRANGER, "/status")
    await fake.wait_for(lambda: fake.answers and len(fake.from_bot()) == 2)
    assert fake.answers[0]["show_alert"] and "未获授权" in fake.answers[0]["text"]
    refusal = fake.from_bot()[-1]
    assert "未获授权" in refusal["text"] and "666" in refusal["text"]
    assert (await deadline(app)).acked_by is None and not fake.of("editMessageText")
    refused = await audit(app, "telegram.refused")
    assert [(e["actor"], e["detail"]["request"]) for e in refused] == [
        ("telegram:666", "ack:1:authoritative_release"), ("telegram:666", "/status")]
    assert refused[0]["detail"]["username"] == "stranger"


async def test_reassign_through_the_department_keyboard(app, clock, fake, incident, bot):
    message = await alert(app, clock, fake)
    fake.press(ZHAO, message, "re:1:authoritative_release")
    await fake.wait_for(lambda: fake.of("editMessageReplyMarkup"))
    keyboard = buttons(fake.messages[(GROUP["id"], message["message_id"])])
    names = [text for row in keyboard for text, _ in row]
    assert "区卫生健康局" in names and "区应急局" not in names and names[-1] == "取消"
    assert all(len(data.encode()) <= 64 for row in keyboard for _, data in row)
    health = next(data for row in keyboard for text, data in row if text == "区卫生健康局")
    fake.press(ZHAO, message, health)
    await fake.wait_for(lambda: fake.of("editMessageText"))
    async with app.store.read() as tx:
        assert (await tx.incidents.get(1)).department == "区卫生健康局"
    assert (await deadline(app)).department == "区卫生健康局"
    [entry] = await audit(app, "incident.reassigned")
    assert entry["actor"] == "zhao" and entry["detail"]["to"] == "区卫生健康局"
    edited = fake.messages[(GROUP["id"], message["message_id"])]
    assert "转办：区应急局 → 区卫生健康局" in edited["text"] and "责任单位：区卫生健康局" in edited["text"]
    assert buttons(edited)[0][0] == ("确认收到", "ack:1:authoritative_release")  # the actions are back


async def test_evidence_by_reply_survives_a_restart(app, clock, fake, incident, bot):
    message = await alert(app, clock, fake)
    fake.press(ZHAO, message, "ev:1:authoritative_release")
    prompt = await fake.wait_for(lambda: next((m for m in fake.from_bot() if m["_force_reply"]), None))
    assert prompt["text"].startswith("📎 登记证据｜事件 #1｜期限 authoritative_release")
    assert prompt["reply_to_message"]["message_id"] == message["message_id"]
    assert any(e["type"] == "text_mention" and e["user"]["id"] == ZHAO["id"] for e in prompt["entities"])
    await bot.halt()  # the prompt's own text is all the bot needs
    await bot.start()
    fake.say(ZHAO, "https://www.xishan.gov.cn/xxgk/2026/1123.html 已发布情况通报", reply_to=prompt["message_id"])
    await fake.wait_for(lambda: fake.of("editMessageText"))
    d = await deadline(app)
    assert d.state == "satisfied"
    [entry] = await audit(app, "evidence.recorded")
    assert entry["actor"] == "zhao" and entry["detail"]["url"] == "https://www.xishan.gov.cn/xxgk/2026/1123.html"
    assert any("已登记事件 #1 的证据" in m["text"] for m in fake.from_bot())
    edited = fake.messages[(GROUP["id"], message["message_id"])]
    assert "登记证据 https://www.xishan.gov.cn/xxgk/2026/1123.html" in edited["text"] and "已完成" in edited["text"]
    async with app.store.read() as tx:
        [line] = await tx.ledger.for_incident(1)
    assert line["result"] == "已发布情况通报" and line["actor"] == "zhao"


async def test_a_reply_without_a_link_records_nothing(app, clock, fake, incident, bot):
    message = await alert(app, clock, fake)
    fake.press(ZHAO, message, "ev:1:authoritative_release")
    prompt = await fake.wait_for(lambda: next((m for m in fake.from_bot() if m["_force_reply"]), None))
    fake.say(STRANGER, "https://fake.example.com/x", reply_to=prompt["message_id"])
    fake.say(ZHAO, "已经发了", reply_to=prompt["message_id"])
    await fake.wait_for(lambda: any("未找到链接" in m["text"] for m in fake.from_bot()))
    assert (await deadline(app)).state == "open" and not await audit(app, "evidence.recorded")
    assert [e["actor"] for e in await audit(app, "telegram.refused")] == ["telegram:666"]


# --------------------------------------------------------------------------- the bot: commands
async def ask(fake, user, text) -> str:
    before = len(fake.from_bot())
    fake.say(user, text)
    await fake.wait_for(lambda: len(fake.from_bot()) > before)
    return fake.from_bot()[-1]["text"]


async def test_commands_answer_in_chinese(app, clock, fake, incident, bot):
    assert "/incident 编号" in await ask(fake, QIAN, "/help")
    status = await ask(fake, QIAN, "/status")
    assert "未关闭事件 1 件" in status and "重大 1" in status and "进行中期限 2 项，其中已超期 0 项" in status
    assert "目前没有超期" in await ask(fake, QIAN, "/overdue")
    detail = await ask(fake, QIAN, "/incident 1")
    assert "#1 马街街道一化工厂发生爆炸" in detail and "等级：重大" in detail and "责任单位：区应急局" in detail
    assert "5小时内发布权威信息：剩余 4小时（2026-11-23 13:00 到期）" in detail
    assert "没有事件 #99" in await ask(fake, QIAN, "/incident 99")
    assert "用法" in await ask(fake, QIAN, "/incident abc")
    mine = await ask(fake, ZHAO, "/mine")
    assert "区应急局" in mine and mine.count("• #1 ") == 2
    duty = await ask(fake, QIAN, "/duty")
    assert "值班员：钱值班（至 2026-11-23 20:00）" in duty
    assert "值班员：值班员（2026-11-23 20:00 至 2026-11-24 08:00）" in duty
    assert "办公室负责人：办公室负责人" in duty  # a standing role
    clock.advance(timedelta(hours=5))
    overdue = await ask(fake, QIAN, "/overdue")
    assert "已超期期限 1 项" in overdue and "已超期 1小时" in overdue
    assert [c["command"] for c in fake.commands] == ["status", "overdue", "incident", "mine", "duty", "help"]


async def test_mine_finds_what_names_a_role_i_hold(app, clock, fake, incident, bot):
    """钱值班 has no department; the major-incident policy names duty_officer, which the roster gives him now."""
    mine = await ask(fake, QIAN, "/mine")
    assert "点名钱值班" in mine and mine.count("• #1 ") == 2
    clock.advance(timedelta(hours=12))  # off duty
    assert "目前没有" in await ask(fake, QIAN, "/mine")


async def test_answers_escape_scraped_text(app, clock, fake, bot):
    await app.pipeline.ingest([RawItem("hotline", "9", "<b>投诉</b> & <a href='x'>链接</a>", "小区噪音扰民",
                                       occurred_at=clock.now())], "hotline")
    answer = await ask(fake, QIAN, "/incident 1")
    assert "<b>投诉</b> & <a href='x'>链接</a>" in answer  # shown literally (the fake would 400 on a stray tag)


async def test_flood_control_on_a_reply_waits_and_retries(app, clock, fake, bot):
    fake.fail("sendMessage", 429, retry_after=3)
    status = await ask(fake, QIAN, "/status")
    assert "当前状态" in status and bot.bot.waits == [3.0]
    assert len(fake.of("sendMessage")) == 2 and len(fake.from_bot()) == 1


async def test_serve_runs_the_bot_only_when_a_channel_is_configured(app, fake):
    from monitor.web.server import workers

    async with aiohttp.ClientSession() as session:
        names = [getattr(w, "__qualname__", "") for w in workers(app, session)]
        assert "TelegramBot.run" in names
        app.settings = app.settings.model_copy(update={"channels": [c for c in app.settings.channels
                                                                    if c.kind != "telegram"]})
        assert "TelegramBot.run" not in [getattr(w, "__qualname__", "") for w in workers(app, session)]
