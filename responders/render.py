"""The words of a chat message, apart from sending them (pure: no I/O, time passed in).

`card()` turns an outbox row's payload (monitor/deadlines/notices.py, alerts.py) into a Card: lines of spans,
each span plain text or bold text or a link. A format per channel kind writes the Card in that platform's
markup and escapes every span for it; `fit()` trims the spans until the output is within the platform's limit.
Trimming happens on the raw text before escaping, so it can never cut an entity, an escape or a tag in half.

Markdown (DingTalk, WeCom) has no escape that every client honours, so scraped text has its markup characters
replaced by their full-width forms (＊ ［ ］ （ ） ＜ …), which read naturally in Chinese and cannot be parsed as
markup; every line starts with our own label, so no list or heading can be begun by scraped text either.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from monitor.core.clock import fmt_delta, fmt_local

# The Card and its parts live in cards.py (group_render.py builds Cards too); re-exported here.
from responders.cards import MARKS, Card, Line, Mention, Span, Style, _cut, clean  # noqa: E402,F401


def card(payload: dict, now: datetime, base_url: str, mentions: Sequence[Mention] = (),
         rule_titles: dict[str, str] | None = None, actions: Sequence[tuple[str, str]] = ()) -> Card:
    """What a reminder or an alert says, in Chinese: severity mark, incident, department, the rule and its
    countdown (or how late it is), what to do next, who must act, and the link to the incident page, followed
    on the same line by the one-click `actions` ((label, URL) pairs, responders/actionlinks.py)."""
    if isinstance(payload.get("group"), list):  # a burst grouped into one message (another module's words)
        from responders.group_render import group_card

        return group_card(payload, now, base_url, mentions, rule_titles)
    severity = clean(payload.get("severity")) or "一般"
    incident_id = payload.get("incident_id")
    title = clean(payload.get("title") or _first_line(payload.get("text")))
    head = f"{MARKS.get(severity, '⚪')}【{severity}】" + (f"#{incident_id} " if incident_id is not None else "")
    lines: list[Line] = [(Span(head, "bold"), Span(title, "bold"))]
    if payload.get("department"):
        lines.append((Span("责任单位："), Span(clean(payload["department"]))))
    rule = clean(payload.get("rule"))
    rule_title = clean(payload.get("rule_title") or (rule_titles or {}).get(rule) or rule)
    if payload.get("due_at"):
        due = datetime.fromisoformat(payload["due_at"])
        left = due - now
        state = f"剩余 {fmt_delta(left)}" if left.total_seconds() > 0 else f"已超期 {fmt_delta(-left)}"
        lines.append((Span("期限："), Span(rule_title), Span(f"，{state}（{fmt_local(due)} 到期）")))
        evidence = clean(payload.get("evidence")) or "回应"
        lines.append((Span("下一步："), Span(f"完成{evidence}后登记证据；已知悉请先确认收到。")))
    else:  # an alert (转办, 辟谣线索): its text says what happened and what to do
        lines.append((Span("内容："), Span(clean(payload.get("text")))))
    names = [clean(m.name) for m in mentions] or [clean(n) for n in payload.get("recipients") or []]
    if names:
        lines.append((Span("提醒："), Span("、".join(n for n in names if n))))
    if payload.get("missed"):
        lines.append((Span(f"说明：服务中断期间错过 {int(payload['missed'])} 次提醒，现合并发送"),))
    if incident_id is not None and base_url:
        lines.append((Span("详情："), Span("打开事件页面", "link", f"{base_url.rstrip('/')}/incidents/{incident_id}")))
    if actions:
        links = tuple(s for label, href in actions for s in (Span("　"), Span(label, "link", href)))
        if lines[-1][0].text == "详情：":
            lines[-1] = lines[-1] + links
        else:
            lines.append((Span("操作："),) + links[1:])
    preview = f"【{severity}】{title}" if title else f"【{severity}】舆情哨兵提醒"
    return Card(preview, tuple(lines), tuple(mentions))


def _first_line(text: object) -> str:
    s = str(text or "")
    return s.splitlines()[0] if s else ""


# --------------------------------------------------------------------------- formats
# Characters that mean something in DingTalk's or WeCom's markdown (or the HTML/@ they accept), each replaced
# by its full-width form in scraped text.
MARKDOWN_SPECIAL = "\\`*_[]()<>!|~{}&@$"
_FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in MARKDOWN_SPECIAL})


def md_text(text: str) -> str:
    return text.translate(_FULLWIDTH)


def _md_href(url: str) -> str:
    """A link target of our own (config base URL): spaces and parentheses would end it early."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _merged(line: Line) -> list[Span]:
    """Adjacent bold spans as one: `**a****b**` is not bold in every client."""
    out: list[Span] = []
    for s in line:
        if out and s.style == out[-1].style == "bold":
            out[-1] = Span(out[-1].text + s.text, "bold")
        else:
            out.append(s)
    return out


def _marked(spans, escape, bold, link) -> str:
    """One line of spans in a markup: text escaped, bold and link written the markup's way."""
    parts = []
    for s in spans:
        t = escape(s.text)
        if s.style == "bold" and t.strip():
            parts.append(bold(t))
        elif s.style == "link":
            parts.append(link(t, s.href))
        else:
            parts.append(t)
    return "".join(parts)


def markdown(c: Card, at_mobiles: bool = False) -> str:
    """DingTalk / WeCom markdown: bold with **, links [text](url), a blank line between lines."""
    out = [_marked(_merged(line), md_text, lambda t: f"**{t.strip()}**", lambda t, h: f"[{t}]({_md_href(h)})")
           for line in c.lines]
    if at_mobiles and c.mobiles:  # DingTalk highlights an @ only when the text names the mobile
        out.append(" ".join(f"@{m}" for m in c.mobiles))
    return "\n\n".join(out)


def dingtalk_markdown(c: Card) -> str:
    return markdown(c, at_mobiles=True)


def wecom_markdown(c: Card) -> str:
    return markdown(c)


def plain(c: Card) -> str:
    """WeCom's text message (the one that can @ by mobile): no markup, the link written out; `<` in text is
    made full-width because WeCom reads `<@userid>` in a text message as a mention."""
    return "\n".join("".join(f"{s.text.replace('<', '＜')} {s.href}" if s.style == "link" else s.text.replace("<", "＜")
                             for s in line) for line in c.lines)


def telegram_html(c: Card) -> str:
    return "\n".join(_marked(line, lambda t: html.escape(t, quote=False), lambda t: f"<b>{t}</b>",
                              lambda t, h: f'<a href="{html.escape(h, quote=True)}">{t}</a>') for line in c.lines)


def feishu_post(c: Card) -> dict:
    """Feishu's rich-text `post`: text elements are shown literally (nothing to escape), links are `a`
    elements. Custom robots can @ only by open_id, so people are named in the text."""
    content = []
    for line in c.lines:
        row = []
        for s in line:
            if s.style == "link":
                row.append({"tag": "a", "text": s.text, "href": s.href})
            elif s.text:
                row.append({"tag": "text", "text": s.text} | ({"style": ["bold"]} if s.style == "bold" else {}))
        content.append(row)
    return {"post": {"zh_cn": {"title": c.title, "content": content}}}


# --------------------------------------------------------------------------- limits
def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def json_bytes(value: object) -> int:
    return utf8_bytes(json.dumps(value, ensure_ascii=False))


@dataclass(frozen=True)
class Format:
    write: Callable[[Card], object]
    measure: Callable[[object], int]
    limit: int


# Telegram: 4096 characters (UTF-16 units) per message; WeCom: markdown content 4096 bytes, text 2048 bytes;
# Feishu: the request body at most 20 KB (the content is kept under 18,000 bytes for the envelope); DingTalk
# documents no markdown limit that holds across clients, so 5,000 bytes, a long phone screen, is our own.
FORMATS: dict[str, Format] = {
    "telegram": Format(telegram_html, utf16_units, 4096),
    "dingtalk": Format(dingtalk_markdown, utf8_bytes, 5000),
    "wecom": Format(wecom_markdown, utf8_bytes, 4096),
    "wecom_text": Format(plain, utf8_bytes, 2048),
    "feishu": Format(feishu_post, json_bytes, 18000),
}


def fit(c: Card, kind: str) -> tuple[object, Card]:
    """The output for `kind` within its limit, and the Card it was written from. The longest texts are cut
    first (one cap for all, found by bisection: output length grows with the cap)."""
    fmt = FORMATS[kind]
    out = fmt.write(c)
    if fmt.measure(out) <= fmt.limit:
        return out, c
    lo, hi = 0, c.longest()  # the largest cap that fits is in [lo, hi)
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if fmt.measure(fmt.write(c.capped(mid))) <= fmt.limit:
            lo = mid
        else:
            hi = mid
    small = c.capped(lo)
    return fmt.write(small), small


def render(payload: dict, kind: str, now: datetime, base_url: str, mentions: Sequence[Mention] = (),
           rule_titles: dict[str, str] | None = None,
           actions: Sequence[tuple[str, str]] = ()) -> tuple[object, Card]:
    return fit(card(payload, now, base_url, mentions, rule_titles, actions), kind)
