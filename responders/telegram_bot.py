"""The interactive side of Telegram, run under `yuqing serve` by long polling (python-telegram-bot's
Application inside our event loop, stopped with the serve stop event).

- Buttons under an alert (responders/channels/telegram.py): 确认收到 → Service.acknowledge; 转办 → a keyboard
  of departments → Service.reassign; 登记证据 → a ForceReply prompt whose first line names the incident, the
  rule and the alert, so the reply is recorded with Service.add_evidence even after a restart. Afterwards the
  alert is edited to show the incident's state now and who did what when (Beijing time).
- Commands: /status /overdue /incident ID /mine /duty /help /start, answered in Chinese, escaped.
- Only users whose `telegram_user_id` is in the config may act or ask; anyone else is refused politely and
  audited. Actions go through the service layer as the CLI's do, so their audit entries name the user.
- Every call to Telegram waits out RetryAfter (bounded) and never lets a handler crash.
- One poller per token across processes (the Bot API answers a second getUpdates with 409 Conflict): only the
  holder of the lease `telegram:<sha256 of the token, 16 hex>` (monitor/core/lease.py, the sources' lease
  table) polls, renewing it every third of LEASE; the others try to take it every LEASE (sooner when the
  holder's lease runs out earlier), so a killed holder is replaced within about one LEASE. Sending alerts
  (responders/channels/telegram.py, the outbox) runs in every process.

`app` is monitor.app.App, not imported: responders reach the program only through its service commands and
the store (tests/test_layout.py)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import timedelta
from typing import Any, Awaitable, Callable

from loguru import logger
from telegram import BotCommand, ForceReply, LinkPreviewOptions, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import RetryAfter, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from monitor.config.settings import ChannelConfig, UserConfig
from monitor.core import logs
from monitor.core.errors import ServiceError
from monitor.core.lease import Lease, owner_id
from monitor.core.model import Deadline
from responders import telegram_views as views
from responders.channels.telegram import (DEFAULT_BASE_URL, Callback, action_keyboard, department_keyboard,
                                          incident_url, name_check, parse_callback, retry_seconds)

COMMANDS = [("status", "当前状态：未关闭事件与期限"), ("overdue", "已超期的期限"), ("incident", "事件详情：/incident 编号"),
            ("mine", "本单位须回应、点名我的期限"), ("duty", "当前与下一班值班人员"), ("help", "使用说明")]
KEYBOARD_MAX = 60  # departments offered as buttons (Telegram allows 100; a province's thousands of places do not fit)
LEASE = timedelta(seconds=60)  # the poller's lease: a killed holder is replaced within about this long


class TelegramBot:
    def __init__(self, app: Any, config: ChannelConfig, departments: list[str] | None = None,
                 check_department: Callable[[str], str] | None = None, poll_timeout: int = 25) -> None:
        self.app, self.config = app, config
        settings = app.settings
        self.users: dict[int, UserConfig] = {u.telegram_user_id: u for u in settings.users
                                             if u.telegram_user_id is not None}
        self.displays = {u.name: u.display or u.name for u in settings.users}
        self.titles = {r.name: r.title for r in settings.rules if r.title}
        self.departments = keyboard_departments(app.jurisdiction, departments or [])
        self.check_department = check_department or (lambda name: name)
        self.poll_timeout = poll_timeout
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # flood waits (tests inject time)
        self.flood_retries, self.flood_max_wait = 3, 60.0
        self.application: Application | None = None
        self.owner = owner_id()
        self.lease = LEASE
        self.lease_retry = self.lease_renew = None  # real seconds (None: LEASE, LEASE / 3); tests shorten them

    @property
    def now(self):
        return self.app.clock.now()

    # ------------------------------------------------------------------ running
    def build(self, token: str) -> Application:
        application = (Application.builder().token(token).base_url(self.config.base_url or DEFAULT_BASE_URL)
                       .job_queue(None).build())
        application.add_handler(CommandHandler(["start", "help"], self.guard(self.cmd_help)))
        application.add_handler(CommandHandler("status", self.guard(self.cmd_status)))
        application.add_handler(CommandHandler("overdue", self.guard(self.cmd_overdue)))
        application.add_handler(CommandHandler("incident", self.guard(self.cmd_incident)))
        application.add_handler(CommandHandler("mine", self.guard(self.cmd_mine)))
        application.add_handler(CommandHandler("duty", self.guard(self.cmd_duty)))
        application.add_handler(CallbackQueryHandler(self.guard(self.on_button)))
        application.add_handler(MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND,
                                               self.guard(self.on_reply)))
        application.add_error_handler(self.on_error)
        return application

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` while holding the token's lease; a missing token or an unreachable Bot API is
        retried, never fatal to serve."""
        wait, waiting = 5.0, False
        while not stop.is_set():
            token = os.environ.get(self.config.token_env or "", "").strip()
            if not token:
                logger.error("Telegram 机器人未启动：环境变量 {} 未设置 (bot token not set)", self.config.token_env)
            else:
                logs.register_secret(token)
                lease = Lease(self.app.store, self.app.clock, lease_name(token), "telegram", self.lease, self.owner)
                if not await self._claim(lease):
                    if not waiting:
                        logger.info("Telegram 机器人由另一进程接收消息，本进程待命 (another process polls the bot)")
                    waiting = True
                    await pause(stop, await self._until_free(lease))
                    continue
                waiting = False
                try:
                    outcome = await self._poll(token, stop, lease)
                finally:
                    await asyncio.shield(self._release(lease))
                if outcome == "stopped":
                    return
                if outcome == "lost":
                    continue
            if await pause(stop, wait):
                wait = min(wait * 2, 300.0)

    async def _claim(self, lease: Lease) -> bool:
        try:
            return await lease.claim()
        except Exception:  # the store is unreachable: try again later
            logger.exception("Telegram 机器人租约获取失败 (lease claim failed)")
            return False

    async def _until_free(self, lease: Lease) -> float:
        """Real seconds until the next try: one lease period, or sooner when the holder's lease runs out."""
        every = self.lease.total_seconds() if self.lease_retry is None else self.lease_retry
        try:
            _, until = await lease.holder()
        except Exception:
            return every
        left = (until - self.now).total_seconds() if until else 0.0
        return min(every, max(0.05, left + 0.05))

    async def _release(self, lease: Lease) -> None:
        try:
            await lease.release()
        except Exception:
            logger.exception("Telegram 机器人租约释放失败 (lease release failed)")

    async def _renew(self, lease: Lease) -> bool:
        try:
            return await lease.renew()
        except Exception:  # the store is unreachable: keep polling (another process cannot claim either)
            logger.exception("Telegram 机器人租约续期失败 (lease renewal failed)")
            return True

    async def _poll(self, token: str, stop: asyncio.Event, lease: Lease) -> str:
        """Poll while the lease is ours: "stopped" (by `stop`), "lost" (another process took the lease: this
        one was stalled past it) or "failed" (the start failed; retried later)."""
        application = self.application = self.build(token)
        try:
            await application.initialize()
            await self.call("setMyCommands", application.bot.set_my_commands,
                            [BotCommand(c, d) for c, d in COMMANDS])
            await application.start()
            await application.updater.start_polling(timeout=int(self.poll_timeout),  # Bot API: an Integer
                                                    allowed_updates=["message", "callback_query"],
                                                    error_callback=polling_failed)
        except Exception as exc:  # TelegramError mostly (wrong token, Bot API unreachable): try again later
            logger.error("Telegram 机器人启动失败，稍后重试 (bot start failed): {}", logs.redact(repr(exc)))
            await self._shutdown(application)
            return "failed"
        logger.info("Telegram 机器人 @{} 开始接收消息 (polling)", application.bot.username)
        renew = self.lease.total_seconds() / 3 if self.lease_renew is None else self.lease_renew
        try:
            while await pause(stop, renew):
                if not await self._renew(lease):
                    logger.warning("Telegram 机器人租约已被另一进程接管，本进程停止接收 (lease lost: another "
                                   "process polls now)")
                    return "lost"
            return "stopped"
        finally:
            await self._shutdown(application)

    @staticmethod
    async def _shutdown(application: Application) -> None:
        for step in (lambda: application.updater.stop() if application.updater.running else None,
                     lambda: application.stop() if application.running else None, application.shutdown):
            try:
                pending = step()
                if pending is not None:
                    await pending
            except Exception as exc:  # stopping must go on whatever one part says
                logger.warning("Telegram 机器人停止时出错 (stopping): {}", logs.redact(repr(exc)))

    # ------------------------------------------------------------------ talking to Telegram
    async def call(self, what: str, fn: Callable[..., Awaitable[Any]], *args, **kwargs) -> Any:
        """`fn(*args)`, waiting out Telegram's flood control a few times; any other error is logged and None
        is returned (a reply that cannot be sent must not undo an action that was recorded)."""
        for attempt in range(self.flood_retries + 1):
            try:
                return await fn(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_seconds(exc)
                if attempt == self.flood_retries or seconds > self.flood_max_wait:
                    logger.warning("Telegram {} 限流，放弃 (flood control, gave up): {} s", what, seconds)
                    return None
                await self.sleep(seconds)
            except TelegramError as exc:
                logger.warning("Telegram {} 失败 (failed): {}", what, logs.redact(str(exc)))
                return None
        return None

    async def reply(self, update: Update, text: str, **kwargs) -> Any:
        message = update.effective_message
        if message is None:
            return None
        return await self.call("sendMessage", message.reply_html, text, do_quote=message.chat.type != "private",
                               link_preview_options=LinkPreviewOptions(is_disabled=True), **kwargs)

    async def answer(self, update: Update, text: str, alert: bool = False) -> None:
        await self.call("answerCallbackQuery", update.callback_query.answer, text[:200], show_alert=alert)

    def guard(self, handler: Callable[[Update, UserConfig, ContextTypes.DEFAULT_TYPE], Awaitable[None]]):
        """Who may use the bot, and no handler that crashes: a refused person is answered and audited."""

        async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            try:
                person = update.effective_user
                user = self.users.get(person.id) if person else None
                if user is None:
                    if handler == self.on_reply and not self._prompt_of(update, context):
                        return  # a reply to someone else's message: not ours to answer
                    await self.refuse(update)
                    return
                await handler(update, user, context)
            except Exception:
                logger.exception("Telegram 处理更新失败 (handler failed)")
                try:
                    if update.callback_query:
                        await self.answer(update, "处理失败，请稍后重试或在值班台操作。(internal error)", alert=True)
                    else:
                        await self.reply(update, "处理失败，请稍后重试或在值班台操作。(internal error)")
                except Exception:
                    pass

        return guarded

    async def refuse(self, update: Update) -> None:
        person, chat = update.effective_user, update.effective_chat
        user_id = person.id if person else 0
        request = (update.callback_query.data if update.callback_query else
                   (update.effective_message.text if update.effective_message else "")) or ""
        async with self.app.store.write() as tx:
            await tx.audit.append(self.now, f"telegram:{user_id}", "telegram.refused", "telegram", user_id, {
                "user_id": user_id, "name": person.full_name if person else "", "username":
                (person.username or "") if person else "", "chat_id": chat.id if chat else None,
                "request": request[:200]})
        logger.warning("Telegram 用户 {} 无权使用机器人 (refused): {}", user_id, request[:80])
        if update.callback_query:
            await self.answer(update, "抱歉，您尚未获授权使用舆情哨兵机器人，请联系值班室管理员。(not authorised)", alert=True)
        else:
            await self.reply(update, views.refusal_text(user_id))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.warning("Telegram 机器人错误 (bot error): {}", logs.redact(repr(context.error)))

    # ------------------------------------------------------------------ commands
    async def cmd_help(self, update: Update, user: UserConfig, context) -> None:
        await self.reply(update, views.help_text(user.display or user.name))

    async def cmd_status(self, update: Update, user: UserConfig, context) -> None:
        now = self.now
        async with self.app.store.read() as tx:
            by_severity = dict(await tx.incidents.counts("severity", "open"))
            counts = await tx.deadlines.counts(now)
        await self.reply(update, views.status_text(by_severity, counts, now))

    async def cmd_overdue(self, update: Update, user: UserConfig, context) -> None:
        now = self.now
        async with self.app.store.read() as tx:
            late = await tx.deadlines.list(state="open", overdue_at=now)
            incidents = await tx.incidents.get_many(d.incident_id for d in late)
        rows = [(d, incidents.get(d.incident_id)) for d in late]
        await self.reply(update, views.overdue_text(rows, now, self.titles))

    async def cmd_incident(self, update: Update, user: UserConfig, context) -> None:
        args = context.args or []
        if len(args) != 1 or not args[0].lstrip("#").isdigit():
            await self.reply(update, "用法：/incident 事件编号，例如 /incident 281 (usage: /incident ID)")
            return
        incident_id = int(args[0].lstrip("#"))
        async with self.app.store.read() as tx:
            incident = await tx.incidents.get(incident_id)
            deadlines = await tx.deadlines.for_incident(incident_id) if incident else []
        if incident is None:
            await self.reply(update, f"没有事件 #{incident_id} (no such incident)")
            return
        url = incident_url(self.app.settings, incident_id)
        await self.reply(update, views.incident_text(incident, deadlines, self.now, url))

    async def cmd_mine(self, update: Update, user: UserConfig, context) -> None:
        now = self.now
        async with self.app.store.read() as tx:
            open_ = await tx.deadlines.list(state="open", limit=5000)
            on_duty = {r["role"] for r in await tx.people.roster(now, now + timedelta(seconds=1))
                       if r["user"] == user.name and r["starts_at"] <= now < r["ends_at"]}
            mine = [d for d in open_ if self._names(d, user, on_duty)]
            incidents = await tx.incidents.get_many(d.incident_id for d in mine)
        rows = [(d, incidents.get(d.incident_id)) for d in mine]
        await self.reply(update, views.mine_text(user.display or user.name, user.department, rows, now, self.titles))

    def _names(self, d: Deadline, user: UserConfig, on_duty: set[str]) -> bool:
        """The user's department answers it, or its escalation policy names the user or a role they hold now."""
        if user.department and d.department == user.department:
            return True
        roles = set(user.roles) | on_duty
        steps = self.app.settings.escalation_policies.get(d.policy or "", [])
        return any(user.name in s.notify or roles & set(s.notify) for s in steps)

    async def cmd_duty(self, update: Update, user: UserConfig, context) -> None:
        now = self.now
        async with self.app.store.read() as tx:
            shifts = await tx.people.roster(now, now + timedelta(days=31))
            people = await tx.people.users()

        def name(n: str) -> str:
            return (people.get(n) or {}).get("display") or n

        current = [(s["role"], name(s["user"]), s["ends_at"]) for s in shifts if s["starts_at"] <= now < s["ends_at"]]
        upcoming = []
        for role in dict.fromkeys(s["role"] for s in shifts):
            later = [s for s in shifts if s["role"] == role and s["starts_at"] > now]
            if later:
                first = min(s["starts_at"] for s in later)
                upcoming += [(role, name(s["user"]), s["starts_at"], s["ends_at"]) for s in later
                             if s["starts_at"] == first]
        standing = [(r, name(n)) for n, u in people.items() for r in (u.get("roles") or [])]
        await self.reply(update, views.duty_text(current, upcoming, standing, now))

    # ------------------------------------------------------------------ buttons
    async def on_button(self, update: Update, user: UserConfig, context) -> None:
        cb = parse_callback(update.callback_query.data)
        if cb is None:
            await self.answer(update, "按钮已失效 (unknown button)", alert=True)
            return
        rule = await self._rule(cb)
        if cb.rule and not rule:
            await self.answer(update, "该期限已不存在 (no such deadline)", alert=True)
            return
        handler = {"ack": self._ack, "ev": self._ask_evidence, "re": self._show_departments,
                   "rx": self._back, "rd": self._reassign}[cb.verb]
        try:
            await handler(update, user, cb, rule)
        except ServiceError as exc:
            await self.answer(update, str(exc), alert=True)

    async def _rule(self, cb: Callback) -> str:
        """The rule a button names ("#<id>": by its deadline)."""
        if not cb.rule.startswith("#"):
            return cb.rule
        async with self.app.store.read() as tx:
            d = await tx.deadlines.get(int(cb.rule[1:])) if cb.rule[1:].isdigit() else None
        return d.rule if d is not None and d.incident_id == cb.incident_id else ""

    async def _ack(self, update: Update, user: UserConfig, cb: Callback, rule: str) -> None:
        if rule:
            done = await self.app.service.acknowledge(cb.incident_id, actor=user.name, rule=rule)
            text = "已确认收到：" + "、".join(d.title or d.rule for d in done)
        else:  # an alert (转办, 辟谣线索) has no deadline of its own: the acknowledgement is the record
            async with self.app.store.write() as tx:
                if await tx.incidents.get(cb.incident_id) is None:
                    raise ServiceError(f"没有事件 #{cb.incident_id} (no such incident)")
                await tx.audit.append(self.now, user.name, "alert.acknowledged", "incident", cb.incident_id,
                                      {"via": "telegram"})
            text = "已确认收到提醒"
        await self.refresh(update.get_bot(), alert_of(update), cb, rule, update.callback_query.message)
        await self.answer(update, text)

    async def _ask_evidence(self, update: Update, user: UserConfig, cb: Callback, rule: str) -> None:
        async with self.app.store.read() as tx:
            incident = await tx.incidents.get(cb.incident_id)
            deadlines = await tx.deadlines.for_incident(cb.incident_id) if incident else []
        open_ = [d for d in deadlines if d.state == "open" and (not rule or d.rule == rule)]
        if incident is None or not open_:
            await self.answer(update, "该事件没有需要登记证据的进行中期限 (no open deadline)", alert=True)
            return
        d = open_[0]
        alert = alert_of(update)
        prompt = views.Prompt(cb.incident_id, d.rule, alert[1] if alert else 0)
        text = views.prompt_text(prompt, user.telegram_user_id or 0, user.display or user.name, incident.title,
                                 d.title or d.rule)
        chat_id = alert[0] if alert else update.effective_user.id
        reply_to = ReplyParameters(alert[1], allow_sending_without_reply=True) if alert else None
        await self.call("sendMessage", update.get_bot().send_message, chat_id, text, parse_mode=ParseMode.HTML,
                        reply_parameters=reply_to,
                        reply_markup=ForceReply(selective=True, input_field_placeholder="https://…"))
        await self.answer(update, "请回复机器人的提示消息，发送已发布的链接")

    async def _show_departments(self, update: Update, user: UserConfig, cb: Callback, rule: str) -> None:
        async with self.app.store.read() as tx:
            incident = await tx.incidents.get(cb.incident_id)
        if incident is None:
            raise ServiceError(f"没有事件 #{cb.incident_id} (no such incident)")
        q = update.callback_query
        await self.call("editMessageReplyMarkup", q.edit_message_reply_markup,
                        department_keyboard(cb.incident_id, cb.rule, self.departments, incident.department))
        await self.answer(update, f"现由 {incident.department} 负责，请选择新的责任单位")

    async def _back(self, update: Update, user: UserConfig, cb: Callback, rule: str) -> None:
        q = update.callback_query
        await self.call("editMessageReplyMarkup", q.edit_message_reply_markup,
                        action_keyboard(cb.incident_id, cb.rule, incident_url(self.app.settings, cb.incident_id)))
        await self.answer(update, "已取消转办")

    async def _reassign(self, update: Update, user: UserConfig, cb: Callback, rule: str) -> None:
        if not 0 <= cb.index < len(self.departments) or name_check(self.departments[cb.index]) != cb.check:
            await self.answer(update, "部门列表已更新，请重新点击「转办」选择 (stale keyboard)", alert=True)
            return
        department = self.check_department(self.departments[cb.index])
        incident = await self.app.service.reassign(cb.incident_id, department, actor=user.name,
                                                   reason="Telegram 转办")
        await self.refresh(update.get_bot(), alert_of(update), cb, rule, update.callback_query.message)
        await self.answer(update, f"已转办至 {incident.department}")

    # ------------------------------------------------------------------ evidence replies
    def _prompt_of(self, update: Update, context) -> views.Prompt | None:
        message = update.effective_message
        replied = message.reply_to_message if message else None
        if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
            return None
        return views.parse_prompt(replied.text)

    async def on_reply(self, update: Update, user: UserConfig, context) -> None:
        prompt = self._prompt_of(update, context)
        if prompt is None:
            return
        url, note = views.split_evidence(update.effective_message.text or "")
        if not url:
            await self.reply(update, "未找到链接：请回复以 http:// 或 https:// 开头的发布链接 (no link found)")
            return
        try:
            closed = await self.app.service.add_evidence(prompt.incident_id, actor=user.name, url=url, note=note,
                                                         rule=prompt.rule)
        except ServiceError as exc:
            await self.reply(update, f"未能登记证据：{views.esc(exc, 300)}")
            return
        names = "、".join(views.esc(d.title or d.rule, 60) for d in closed) or "无（期限已关闭）"
        await self.reply(update, f"✅ 已登记事件 #{prompt.incident_id} 的证据，关闭期限：{names}")
        if prompt.message_id:
            await self.refresh(context.bot, (update.effective_chat.id, prompt.message_id),
                               Callback("ev", prompt.incident_id, prompt.rule), prompt.rule)

    # ------------------------------------------------------------------ the alert, edited
    async def refresh(self, bot, where, cb: Callback, rule: str, original=None) -> None:
        """Rewrite the alert (`where`: its (chat id, message id)) to show who did what when. A reminder is
        rendered again from the store (its countdown, department and state now); an alert without a deadline
        (转办, 辟谣线索) keeps its own words (`original`, the pressed message) with the lines added below."""
        if where is None:
            return
        async with self.app.store.read() as tx:
            incident = await tx.incidents.get(cb.incident_id)
            if incident is None:
                return
            deadlines = await tx.deadlines.for_incident(cb.incident_id)
            entries = await tx.audit.latest("incident", cb.incident_id, views.ACTIONS, 4)
        actions = [views.action_text(e, self.displays, self.titles) for e in entries]
        url = incident_url(self.app.settings, cb.incident_id)
        text = None
        if not rule and original is not None and getattr(original, "text", None) and actions:
            text = views.appended(original.text_html, actions[-1])
        if text is None:
            deadline = next((d for d in deadlines if d.rule == rule), None)
            text = views.handled_card(views.payload_now(incident, deadline, self.titles), actions, self.now,
                                      self.app.settings.digest.dashboard_url or "")
        await self.call("editMessageText", bot.edit_message_text, text, chat_id=where[0], message_id=where[1],
                        parse_mode=ParseMode.HTML, reply_markup=action_keyboard(cb.incident_id, cb.rule, url),
                        link_preview_options=LinkPreviewOptions(is_disabled=True))


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop`; True when the time ran out."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        return True
    return False


def lease_name(token: str) -> str:
    """The poller's lease row: the token's hash, never the token."""
    return "telegram:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def polling_failed(exc: TelegramError) -> None:
    """PTB retries getUpdates (1 s growing to 30 s); one line each time instead of a traceback."""
    logger.warning("Telegram 接收消息失败，稍后重试 (getUpdates failed, retrying): {}", logs.redact(repr(exc)))


def alert_of(update: Update) -> tuple[int, int] | None:
    """The (chat id, message id) of the message whose button was pressed (None: Telegram no longer shows it)."""
    message = update.callback_query.message if update.callback_query else None
    return (message.chat.id, message.message_id) if message is not None and message.message_id else None


def keyboard_departments(jurisdiction: Any, names: list[str]) -> list[str]:
    """The jurisdiction's own departments and its office, cyberspace and police bodies; the rest of `names`
    (street offices, towns) too when all fit on one keyboard."""
    core = [d.name for d in jurisdiction.departments] + [jurisdiction.office, jurisdiction.cyberspace,
                                                         jurisdiction.police]
    core = list(dict.fromkeys(n for n in core if n))
    everything = list(dict.fromkeys(core + names))
    return everything if len(everything) <= KEYBOARD_MAX else core[:KEYBOARD_MAX]


def telegram_workers(app: Any, departments: list[str] | None = None,
                     check_department: Callable[[str], str] | None = None) -> list:
    """One long-polling bot per token of the configured telegram channels (none: no worker)."""
    seen: dict[str, ChannelConfig] = {}
    for c in app.settings.channels:
        if c.kind == "telegram" and c.token_env and c.token_env not in seen:
            seen[c.token_env] = c
    return [TelegramBot(app, c, departments, check_department).run for c in seen.values()]
