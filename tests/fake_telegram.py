"""A local Telegram Bot API for the tests: the HTTP protocol of https://core.telegram.org/bots/api as
python-telegram-bot speaks it — `POST /bot<token>/<method>` with form, JSON or query parameters, answers
`{"ok": true, "result": …}` or `{"ok": false, "error_code", "description", "parameters"?}` — and what a chat
does with a message: HTML parse mode is parsed into plain text and entities the way Telegram does (an
unsupported tag or a bare `<`/`&` is the 400 a real chat would give), 4096 UTF-16 units at most, inline
keyboards checked (callback_data 1–64 bytes, URL buttons http/https/tg), messages kept so they can be edited,
replied to and pressed. getUpdates long-polls a queue of updates the test makes (`command`, `reply`,
`press`), confirmed by `offset`; a getUpdates while another is waiting is the 409 Conflict Telegram gives a
second poller of one token (counted in `conflicts`). `fail()` scripts 429 (with `parameters.retry_after`) and
5xx answers."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import re
import time
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer

BOT = {"id": 7000001, "is_bot": True, "first_name": "舆情哨兵", "username": "yuqing_sentinel_bot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
GROUP = {"id": -1001234567890, "type": "supergroup", "title": "西山区舆情值班群"}

# Parameters Telegram reads as JSON-serialised objects when they arrive as form fields.
_JSON_FIELDS = {"reply_markup", "reply_parameters", "allowed_updates", "commands", "entities", "scope",
                "link_preview_options"}
_INT_FIELDS = {"message_id", "offset", "limit", "timeout", "cache_time"}
_BOOL_FIELDS = {"show_alert", "disable_notification", "drop_pending_updates", "protect_content"}

# HTML parse mode: the tags Telegram supports and the entity each one makes.
_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
         "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "code": "code", "pre": "pre",
         "a": "text_link", "blockquote": "blockquote", "tg-spoiler": "spoiler"}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'))*)\s*>")
_ATTR = re.compile(r"([a-zA-Z-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_CHARREF = re.compile(r"&(#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]+);")
_REQUEST: contextvars.ContextVar[web.Request | None] = contextvars.ContextVar("request", default=None)


class BadRequest(Exception):
    def __init__(self, description: str, code: int = 400, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.description, self.code, self.parameters = description, code, parameters


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _unescape(src: str, at: int, byte_at: int) -> tuple[str, int]:
    m = _CHARREF.match(src, at)
    if not m:
        raise BadRequest(f"Bad Request: can't parse entities: Character entity expected at byte offset {byte_at}")
    ref = m.group(1)
    if ref.startswith("#x"):
        return chr(int(ref[2:], 16)), m.end()
    if ref.startswith("#"):
        return chr(int(ref[1:])), m.end()
    if ref not in _NAMED:
        raise BadRequest(f'Bad Request: can\'t parse entities: Unsupported HTML entity "&{ref};" at byte offset '
                         f"{byte_at}")
    return _NAMED[ref], m.end()


def _attr_value(raw: str) -> str:
    out, i = [], 0
    while i < len(raw):
        if raw[i] == "&":
            ch, i = _unescape(raw, i, 0)
            out.append(ch)
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


def parse_html(src: str) -> tuple[str, list[dict]]:
    """Telegram's HTML parse mode: the message's plain text and its entities (offsets in UTF-16 units)."""
    text: list[str] = []
    units = 0
    stack: list[tuple[str, int, dict]] = []
    entities: list[dict] = []
    i = 0
    while i < len(src):
        c = src[i]
        byte_at = len(src[:i].encode())
        if c == "<":
            m = _TAG.match(src, i)
            if not m:
                raise BadRequest(f"Bad Request: can't parse entities: Unclosed start tag at byte offset {byte_at}")
            closing, name, attrs = m.group(1), m.group(2).lower(), m.group(3)
            if name not in _TAGS:
                raise BadRequest(f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" at byte offset '
                                 f"{byte_at}")
            if closing:
                if not stack or stack[-1][0] != name:
                    raise BadRequest(f"Bad Request: can't parse entities: Unmatched end tag at byte offset {byte_at}, "
                                     f'expected "</{stack[-1][0] if stack else ""}>", found "</{name}>"')
                tag, start, extra = stack.pop()
                if units > start and extra is not None:
                    entities.append({"type": _TAGS[tag], "offset": start, "length": units - start, **extra})
            else:
                values = {k.lower(): _attr_value(a if a is not None else b) for k, a, b in _ATTR.findall(attrs)}
                extra: dict | None = {}
                if name == "a":
                    href = values.get("href", "")
                    if href.startswith("tg://user?id=") and href[13:].isdigit():
                        extra = {"type": "text_mention", "user": {"id": int(href[13:]), "is_bot": False,
                                                                   "first_name": "user"}}
                    elif re.match(r"^(https?|tg)://[^\s]+$", href):
                        extra = {"url": href}
                    else:  # Telegram keeps the text and drops a link it cannot open
                        extra = None
                stack.append((name, units, extra))
            i = m.end()
            continue
        if c == "&":
            ch, i = _unescape(src, i, byte_at)
        elif c == ">":
            raise BadRequest(f"Bad Request: can't parse entities: Unexpected > at byte offset {byte_at}")
        else:
            ch, i = c, i + 1
        text.append(ch)
        units += utf16(ch)
    if stack:
        raise BadRequest(f'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag '
                         f'"{stack[-1][0]}"')
    for e in entities:  # a text_mention is its own type
        if "type" in e and e["type"] == "text_mention":
            e.pop("url", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(text), entities


def _check_markup(markup) -> None:
    if not markup or "inline_keyboard" not in markup:
        return
    for row in markup["inline_keyboard"]:
        for b in row:
            if not b.get("text"):
                raise BadRequest("Bad Request: text buttons are unallowed in the inline keyboard")
            if "callback_data" in b:
                if not 1 <= len(b["callback_data"].encode()) <= 64:
                    raise BadRequest("Bad Request: BUTTON_DATA_INVALID")
            elif "url" in b:
                if not re.match(r"^(https?|tg)://[^\s]+$", b["url"]):
                    raise BadRequest(f"Bad Request: inline keyboard button URL '{b['url']}' is invalid: Wrong HTTP URL")
            else:
                raise BadRequest("Bad Request: can't parse inline keyboard button: Field \"callback_data\" must be "
                                 "of type String")


@dataclass
class FakeTelegram:
    """One bot (`token`) and its chats. `calls`: every request, as (method, parameters). `messages`: the
    chat as Telegram keeps it, {(chat_id, message_id): message}. `blocked`: chats that answer 403."""

    token: str = "7000001:AAF-test-token_abcdefghijklmnopqrstu"
    calls: list[tuple[str, dict]] = field(default_factory=list)
    messages: dict[tuple[int, int], dict] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    migrated: dict[int, int] = field(default_factory=dict)  # a group upgraded to a supergroup: old id → new
    commands: list[dict] = field(default_factory=list)
    answers: list[dict] = field(default_factory=list)  # answerCallbackQuery parameters
    conflicts: int = 0  # getUpdates refused because another was waiting (two pollers of one token)
    _polling: list = field(default_factory=list)  # the requests of the getUpdates waiting now
    _failures: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)
    _updates: list[dict] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(500))
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None

    # ------------------------------------------------------------------ the test's side
    @property
    def base_url(self) -> str:
        """For python-telegram-bot's `base_url` (it appends the token)."""
        assert self.server is not None
        return str(self.server.make_url("/bot"))

    def fail(self, method: str, status: int, retry_after: int | None = None, times: int = 1) -> None:
        self._failures.setdefault(method, []).extend([(status, retry_after)] * times)

    def of(self, method: str) -> list[dict]:
        return [p for m, p in self.calls if m == method]

    def chat(self, chat_id: int) -> list[dict]:
        """Messages in a chat, oldest first, as they read now (edits applied)."""
        return [m for (c, _), m in sorted(self.messages.items(), key=lambda kv: kv[0][1]) if c == chat_id]

    def from_bot(self, chat_id: int = GROUP["id"]) -> list[dict]:
        return [m for m in self.chat(chat_id) if m["from"]["id"] == BOT["id"]]

    async def wait_for(self, check, timeout: float = 3.0):
        """Until `check()` is truthy (the bot works in its own task); returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; calls: {[m for m, _ in self.calls][-20:]}")
            await asyncio.sleep(0.01)

    @staticmethod
    def user(user_id: int, first_name: str = "赵", username: str | None = None) -> dict:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "zh-hans",
                **({"username": username} if username else {})}

    def _push(self, update: dict) -> int:
        update["update_id"] = next(self._update_ids)
        self._updates.append(update)
        self._arrived.set()
        return update["update_id"]

    def _chat_of(self, chat_id: int, user: dict) -> dict:
        return dict(GROUP) if chat_id == GROUP["id"] else {"id": chat_id, "type": "private",
                                                            "first_name": user["first_name"]}

    def say(self, user: dict, text: str, chat_id: int = GROUP["id"], reply_to: int | None = None) -> dict:
        """A person writes in a chat (a command when it starts with /): queued for getUpdates."""
        message = {"message_id": next(self._ids), "from": user, "chat": self._chat_of(chat_id, user),
                   "date": int(time.time()), "text": text}
        m = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
        if m:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16(m.group(0))}]
        if reply_to is not None:
            replied = dict(self.messages[(chat_id, reply_to)])
            replied.pop("reply_to_message", None)  # Telegram nests one level only
            message["reply_to_message"] = replied
        self.messages[(chat_id, message["message_id"])] = message
        self._push({"message": message})
        return message

    def press(self, user: dict, message: dict, data: str) -> str:
        """A person presses an inline button of a bot message: a callback_query update."""
        current = self.messages[(message["chat"]["id"], message["message_id"])]
        query_id = f"cq{next(self._ids)}"
        self._push({"callback_query": {"id": query_id, "from": user, "chat_instance": "ci-1", "data": data,
                                       "message": dict(current)}})
        return query_id

    # ------------------------------------------------------------------ the Bot API
    async def handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        _REQUEST.set(request)
        params = await self._params(request)
        self.calls.append((method, params))
        if token != self.token:
            return self._error(401, "Unauthorized")
        scripted = self._failures.get(method)
        if scripted:
            status, retry_after = scripted.pop(0)
            if status == 429:
                return self._error(429, f"Too Many Requests: retry after {retry_after}",
                                   {"retry_after": retry_after} if retry_after else None)
            return self._error(status, "Internal Server Error" if status == 500 else "Bad Gateway")
        handler = getattr(self, "m_" + method, None)
        if handler is None:
            return self._error(404, "Not Found")
        try:
            result = await handler(params)
        except BadRequest as exc:
            return self._error(exc.code, exc.description, exc.parameters)
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(code: int, description: str, parameters: dict | None = None) -> web.Response:
        body = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    @staticmethod
    async def _params(request: web.Request) -> dict:
        params: dict = dict(request.query)
        ctype = request.content_type
        if ctype == "application/json":
            params.update(await request.json())
            return params
        if request.can_read_body:
            params.update(dict(await request.post()))
        out: dict = {}
        for key, value in params.items():
            if isinstance(value, str):
                if key in _JSON_FIELDS:
                    value = json.loads(value)
                elif key in _INT_FIELDS or (key == "chat_id" and re.fullmatch(r"-?\d+", value)):
                    if not re.fullmatch(r"-?\d+", value):  # Telegram's Integer: "25.0" is not one
                        raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error_code": 400, "description":
                                                 f"Bad Request: field \"{key}\" must be of type Integer"}),
                                                 content_type="application/json")
                    value = int(value)
                elif key in _BOOL_FIELDS:
                    value = value.lower() == "true"
            out[key] = value
        return out

    def _chat_id(self, params: dict) -> int:
        if "chat_id" not in params:
            raise BadRequest("Bad Request: chat_id is empty")
        chat_id = params["chat_id"]
        if chat_id in self.blocked:
            raise BadRequest("Forbidden: bot was blocked by the user" if chat_id > 0
                             else "Forbidden: bot was kicked from the supergroup chat", 403)
        if chat_id in self.migrated:
            raise BadRequest("Bad Request: group chat was upgraded to a supergroup chat", 400,
                             {"migrate_to_chat_id": self.migrated[chat_id]})
        if chat_id != GROUP["id"] and chat_id < 0:
            raise BadRequest("Bad Request: chat not found")
        return chat_id

    @staticmethod
    def _text(params: dict) -> tuple[str, list[dict]]:
        raw = params.get("text", "")
        if params.get("parse_mode") == "HTML":
            text, entities = parse_html(raw)
        else:
            text, entities = raw, params.get("entities") or []
        if not text.strip():
            raise BadRequest("Bad Request: message text is empty")
        if utf16(text) > 4096:
            raise BadRequest("Bad Request: message is too long")
        return text, entities

    async def m_getMe(self, params: dict) -> dict:
        return BOT

    async def m_deleteWebhook(self, params: dict) -> bool:
        return True

    async def m_setMyCommands(self, params: dict) -> bool:
        for c in params.get("commands") or []:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", c["command"]) or not 1 <= len(c["description"]) <= 256:
                raise BadRequest("Bad Request: BOT_COMMAND_INVALID")
        self.commands = params.get("commands") or []
        return True

    async def m_getUpdates(self, params: dict) -> list[dict]:
        request = _REQUEST.get()
        self._polling = [r for r in self._polling if r.transport is not None]  # a stopped poller hung up
        if self._polling:
            self.conflicts += 1
            raise BadRequest("Conflict: terminated by other getUpdates request; make sure that only one bot "
                             "instance is running", 409)
        self._polling.append(request)
        try:
            return await self._get_updates(params)
        finally:
            self._polling = [r for r in self._polling if r is not request]

    async def _get_updates(self, params: dict) -> list[dict]:
        offset = params.get("offset")
        if offset:  # confirmed: Telegram forgets them
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and params.get("timeout"):
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), params["timeout"])
            except asyncio.TimeoutError:
                pass
        return self._updates[: params.get("limit") or 100]

    async def m_sendMessage(self, params: dict) -> dict:
        chat_id = self._chat_id(params)
        text, entities = self._text(params)
        markup = params.get("reply_markup")
        _check_markup(markup)
        message = {"message_id": next(self._ids), "from": BOT, "chat": self._chat_of(chat_id, {"first_name": "x"}),
                   "date": int(time.time()), "text": text}
        if entities:
            message["entities"] = entities
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        reply = params.get("reply_parameters")
        if reply:
            replied = self.messages.get((chat_id, reply["message_id"]))
            if replied is None and not reply.get("allow_sending_without_reply"):
                raise BadRequest("Bad Request: message to be replied not found")
            if replied is not None:
                message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
        message["_raw"] = params.get("text", "")  # what the bot sent, for the tests (not part of the API)
        message["_force_reply"] = bool(markup and markup.get("force_reply"))
        self.messages[(chat_id, message["message_id"])] = message
        return {k: v for k, v in message.items() if not k.startswith("_")}

    def _editable(self, params: dict) -> dict:
        chat_id = self._chat_id(params)
        message = self.messages.get((chat_id, params.get("message_id")))
        if message is None:
            raise BadRequest("Bad Request: message to edit not found")
        if message["from"]["id"] != BOT["id"]:
            raise BadRequest("Bad Request: message can't be edited")
        return message

    async def m_editMessageText(self, params: dict) -> dict:
        message = self._editable(params)
        text, entities = self._text(params)
        markup = params.get("reply_markup")
        _check_markup(markup)
        same = (text, entities, markup) == (message["text"], message.get("entities", []), message.get("reply_markup"))
        if same:
            raise BadRequest("Bad Request: message is not modified: specified new message content and reply markup "
                             "are exactly the same as a current content and reply markup of the message")
        message.update({"text": text, "entities": entities, "edit_date": int(time.time()),
                        "_raw": params.get("text", "")})
        if markup is not None:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return {k: v for k, v in message.items() if not k.startswith("_")}

    async def m_editMessageReplyMarkup(self, params: dict) -> dict:
        message = self._editable(params)
        markup = params.get("reply_markup")
        _check_markup(markup)
        if markup == message.get("reply_markup"):
            raise BadRequest("Bad Request: message is not modified")
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        return {k: v for k, v in message.items() if not k.startswith("_")}

    async def m_answerCallbackQuery(self, params: dict) -> bool:
        if not params.get("callback_query_id"):
            raise BadRequest("Bad Request: query is too old and response timeout expired or query ID is invalid")
        if len(params.get("text", "")) > 200:
            raise BadRequest("Bad Request: MESSAGE_TOO_LONG")
        self.answers.append(params)
        return True


async def start(fake: FakeTelegram) -> TestServer:
    app = web.Application()
    app.router.add_route("*", r"/bot{token}/{method}", fake.handle)
    fake.server = TestServer(app)
    await fake.server.start_server()
    return fake.server
