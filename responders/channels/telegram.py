"""Telegram (`kind: telegram`): reminders and alerts sent by python-telegram-bot's `Bot` to the channel's
`chat_id`, in HTML parse mode (responders/render.py escapes scraped text and keeps it within 4096 UTF-16
units), with inline buttons 确认收到 · 登记证据 · 转办 · 详情 that responders/telegram_bot.py answers.

PTB's errors map onto the outbox's rules: RetryAfter (429 with `retry_after`) waits as long as Telegram asks;
network errors, timeouts and 5xx are retried with backoff; 400 (chat not found, bad markup), 403 (bot blocked
or removed) and 401/404 (a wrong token) are not. The token is read from `token_env` at send time and masked in
every log line and stored error. Bot API requests go over the delivery loop's aiohttp session
(`AiohttpRequest`), so the channel holds no connection pool of its own to close."""

from __future__ import annotations

import asyncio
import os
import warnings
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import aiohttp
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from loguru import logger
from telegram.error import (BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter,
                            TelegramError, TimedOut)
from telegram.request import BaseRequest, RequestData
from telegram.warnings import PTBDeprecationWarning

from monitor.config.settings import ChannelConfig, Settings
from monitor.core import logs
from monitor.core.model import OutboxMessage
from responders.base import DeliveryError, register
from responders.ratelimit import Budget
from responders.render import Mention, render

# PTB 22 warns on every RetryAfter that `retry_after` will become a timedelta; opt in to that now, as its
# warning says (retry_seconds() reads either form).
os.environ.setdefault("PTB_TIMEDELTA", "true")

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
CALLBACK_LIMIT = 64  # bytes of callback_data Telegram accepts


# --------------------------------------------------------------------------- HTTP under PTB
class AiohttpRequest(BaseRequest):
    """PTB's transport over an aiohttp session we already own (PTB parses the answers and raises its errors)."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float = 10.0) -> None:
        self.session, self.timeout = session, timeout

    @property
    def read_timeout(self) -> float | None:
        return self.timeout

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:  # the session belongs to whoever passed it
        pass

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=BaseRequest.DEFAULT_NONE, write_timeout=BaseRequest.DEFAULT_NONE,
                         connect_timeout=BaseRequest.DEFAULT_NONE, pool_timeout=BaseRequest.DEFAULT_NONE
                         ) -> tuple[int, bytes]:
        if request_data is not None and request_data.multipart_data:
            raise TelegramError("file uploads are not supported by this transport")
        total = self.timeout if read_timeout is BaseRequest.DEFAULT_NONE or read_timeout is None \
            else float(read_timeout) + self.timeout  # a long poll's wait plus the usual margin
        data = request_data.json_parameters if request_data is not None else None
        try:
            async with self.session.request(method, url, data=data,
                                            timeout=aiohttp.ClientTimeout(total=total)) as r:
                return r.status, await r.read()
        except asyncio.TimeoutError as exc:
            raise TimedOut() from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(logs.redact(f"aiohttp.{type(exc).__name__}: {exc}")) from exc


# --------------------------------------------------------------------------- buttons
@dataclass(frozen=True)
class Callback:
    """What a button press asks for: `verb` ack | ev (evidence) | re (show departments) | rd (reassign to the
    department at `index`, whose name's checksum is `check`) | rx (back to the actions); `rule` "" = every open
    deadline of the incident, "#<id>" = the deadline with that id (a rule name too long for 64 bytes)."""

    verb: str
    incident_id: int
    rule: str = ""
    index: int = -1
    check: str = ""

    def pack(self) -> str:
        tail = f":{self.index}.{self.check}" if self.verb == "rd" else ""
        return f"{self.verb}:{self.incident_id}:{self.rule}{tail}"


def parse_callback(data: str | None) -> Callback | None:
    try:
        verb, incident, rest = (data or "").split(":", 2)
        rule, _, tail = rest.partition(":")
        index, _, check = tail.partition(".")
        if verb not in ("ack", "ev", "re", "rd", "rx") or (verb == "rd") != bool(tail):
            return None
        return Callback(verb, int(incident), rule, int(index) if tail else -1, check)
    except ValueError:
        return None


def rule_token(rule: str, deadline_id: int | None, incident_id: int) -> str:
    """The rule as buttons carry it: its name when every button's data stays within 64 bytes, else its
    deadline's id, else nothing (the buttons then act on every open deadline of the incident)."""
    longest = len(Callback("rd", incident_id, rule, 999, "ffff").pack().encode())
    if longest <= CALLBACK_LIMIT:
        return rule
    return f"#{deadline_id}" if deadline_id else ""


def name_check(name: str) -> str:
    """A short checksum of a department's name: a keyboard from before a config change cannot pick another."""
    return f"{zlib.crc32(name.encode()) & 0xFFFF:04x}"


def action_keyboard(incident_id: int, rule: str, detail_url: str = "") -> InlineKeyboardMarkup:
    def button(text: str, verb: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text, callback_data=Callback(verb, incident_id, rule).pack())

    rows = [[button("确认收到", "ack"), button("登记证据", "ev")], [button("转办", "re")]]
    if detail_url:
        rows[1].append(InlineKeyboardButton("详情", url=detail_url))
    return InlineKeyboardMarkup(rows)


def department_keyboard(incident_id: int, rule: str, departments: list[str], current: str = ""
                        ) -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(name, callback_data=Callback("rd", incident_id, rule, i, name_check(name)).pack())
               for i, name in enumerate(departments) if name != current]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton("取消", callback_data=Callback("rx", incident_id, rule).pack())])
    return InlineKeyboardMarkup(rows)


def incident_url(settings: Settings | None, incident_id: int | None) -> str:
    """The incident page, only when `digest.dashboard_url` is configured: Telegram refuses URL buttons to
    local addresses, and the default 127.0.0.1 listen address means nothing on a phone."""
    base = (settings.digest.dashboard_url or "").rstrip("/") if settings else ""
    return f"{base}/incidents/{incident_id}" if base and incident_id is not None else ""


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB_TIMEDELTA set by someone else to false: accept the int too
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def token_from_env(config: ChannelConfig) -> str:
    name = config.token_env or ""
    token = os.environ.get(name, "").strip()
    if not token:
        raise DeliveryError(f"环境变量 {name} 未设置 (渠道 {config.name} 的机器人令牌) (environment variable {name} "
                            f"is not set)")
    logs.register_secret(token)  # before PTB logs the API URL, which carries it
    return token


def delivery_error(exc: TelegramError) -> DeliveryError:
    """A PTB error as the outbox's DeliveryError (message masked: it is stored with the row)."""
    text = logs.redact(f"telegram {type(exc).__name__}: {exc}")
    if isinstance(exc, RetryAfter):
        return DeliveryError(text, retry_after=timedelta(seconds=retry_seconds(exc)))
    if isinstance(exc, (BadRequest, InvalidToken, Forbidden)):  # (PTB's BadRequest is a NetworkError)
        return DeliveryError(text, recoverable=False)
    return DeliveryError(text)  # TimedOut, NetworkError (5xx, unreachable), an unreadable answer


# --------------------------------------------------------------------------- the channel
class TelegramNotifier:
    """One outbox row → one message in `chat_id`, rendered at send time, with the action buttons."""

    def __init__(self, config: ChannelConfig, session: aiohttp.ClientSession, settings: Settings | None = None,
                 timeout: float = 10.0) -> None:
        if not config.token_env or config.chat_id is None:
            raise ValueError(f"channel {config.name}: kind telegram needs token_env and chat_id")
        self.config, self.settings = config, settings
        self.request = AiohttpRequest(session, timeout)
        self.chat_id: int | str = config.chat_id
        self.users = {u.name: u for u in settings.users} if settings else {}
        self.rule_titles = {r.name: r.title for r in settings.rules if r.title} if settings else {}
        self.base_url = (settings.digest.dashboard_url or "") if settings else ""
        # Telegram: at most 20 messages a minute in one group (a private chat only has RetryAfter)
        group = isinstance(self.chat_id, str) or self.chat_id < 0
        self.limiter = Budget(*(((20, 60.0),) if group else ()))
        self.now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        self._bot: tuple[str, Bot] | None = None
        logs.register_secret_envs([config.token_env])

    def use_clock(self, clock) -> None:
        """The delivery loop's clock (monitor.core.clock.Clock) for countdowns and the send budget."""
        self.now = clock.now
        self.limiter.set_clock(lambda: clock.now().timestamp())

    def bot(self) -> Bot:
        token = token_from_env(self.config)
        if self._bot is None or self._bot[0] != token:  # an operator may change the variable and restart
            self._bot = (token, Bot(token, base_url=self.config.base_url or DEFAULT_BASE_URL,
                                    request=self.request, get_updates_request=self.request))
        return self._bot[1]

    def mentions(self, message: OutboxMessage) -> list[Mention]:
        if message.recipient:
            u = self.users.get(message.recipient)
            return [Mention((u.display or u.name) if u else message.recipient)]
        return [Mention(n) for n in message.payload.get("recipients") or []]

    async def send(self, message: OutboxMessage) -> None:
        bot = self.bot()  # no token: the row waits, and takes no slot of the budget
        wait = self.limiter.wait()
        if wait:
            raise DeliveryError(f"Telegram 群 {self.config.name} 发送过快，{wait:.0f} 秒后再发 (send budget spent)",
                                retry_after=timedelta(seconds=wait), deferred=True)
        payload = message.payload
        text, _ = render(payload, "telegram", self.now(), self.base_url, self.mentions(message), self.rule_titles)
        markup = None
        incident_id = payload.get("incident_id")
        if incident_id is not None:
            rule = payload.get("rule") if payload.get("due_at") else ""  # an alert's "rule" is its kind
            markup = action_keyboard(incident_id, rule_token(rule or "", message.deadline_id, incident_id),
                                     incident_url(self.settings, incident_id))
        try:
            try:
                await self._send(bot, self.chat_id, str(text), markup)
            except ChatMigrated as exc:  # the group became a supergroup: same people, a new id
                logger.warning("Telegram 渠道 {} 的群已升级，chat_id {} 改为 {}：请更新配置 (chat migrated; update "
                               "chat_id)", self.config.name, self.chat_id, exc.new_chat_id)
                self.chat_id = exc.new_chat_id
                await self._send(bot, self.chat_id, str(text), markup)
        except TelegramError as exc:
            raise delivery_error(exc) from None

    @staticmethod
    async def _send(bot: Bot, chat_id, text: str, markup) -> None:
        await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
                               link_preview_options=LinkPreviewOptions(is_disabled=True))


register("telegram")(TelegramNotifier)
