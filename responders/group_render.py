"""The words of a grouped chat message (pure): several reminders and alerts of one channel as one Card
(responders/cards.py; render.card() hands a payload {"group": [...]} here), a heading with the count, then one line per item, most urgent first.

Each line keeps its parts in short spans (mark and number, title, department, rule, countdown, link), so
that when render's `fit()` trims the message to the platform's limit it cuts the long titles first and every
item keeps its number, countdown and link. Rows addressed to several people about one reminder are one line.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Sequence

from monitor.core.clock import fmt_delta
from responders.cards import MARKS, Card, Line, Mention, Span, clean

_ORDER = {"特别重大": 4, "重大": 3, "较大": 2, "一般": 1}
_COUNTED = ("特别重大", "重大")  # named in the heading: they carry the legal 5 h / 24 h deadlines


def _first_line(text: object) -> str:
    s = str(text or "")
    return s.splitlines()[0] if s else ""


def _due(p: dict) -> datetime | None:
    try:
        return datetime.fromisoformat(p["due_at"]) if p.get("due_at") else None
    except (TypeError, ValueError):
        return None


def items(payload: dict) -> list[dict]:
    """The group's payloads, one per reminder (incident, rule, step), most urgent first: higher severity,
    then the earliest due (the latest overdue first), alerts after reminders of their level."""
    seen: set[tuple] = set()
    out = []
    for p in payload.get("group") or []:
        if not isinstance(p, dict):
            continue
        key = (p.get("incident_id"), p.get("rule"), p.get("step")) if p.get("incident_id") is not None \
            else (p.get("idempotency_key"), id(p))
        if key in seen:
            continue
        seen.add(key)
        out.append(p)

    def urgency(p: dict) -> tuple:
        due = _due(p)
        return (-_ORDER.get(clean(p.get("severity")), 0), due is None, due.timestamp() if due else 0.0)

    return sorted(out, key=urgency)


def heading(found: list[dict]) -> str:
    counts = Counter(clean(p.get("severity")) for p in found)
    named = "、".join(f"{s} {counts[s]}" for s in _COUNTED if counts[s])
    return f"舆情哨兵提醒：{len(found)} 条" + (f"（{named}）" if named else "")


def item_line(p: dict, now: datetime, base_url: str, rule_titles: dict[str, str] | None = None) -> Line:
    severity = clean(p.get("severity")) or "一般"
    incident_id = p.get("incident_id")
    spans = [Span(f"{MARKS.get(severity, '⚪')}" + (f"#{incident_id} " if incident_id is not None else " "), "bold"),
             Span(clean(p.get("title") or _first_line(p.get("text"))) or "（无标题）")]
    if p.get("department"):
        spans.append(Span(f"｜{clean(p['department'])}"))
    due = _due(p)
    if due is not None:
        rule = clean(p.get("rule"))
        spans.append(Span(f"｜{clean(p.get('rule_title') or (rule_titles or {}).get(rule) or rule)}"))
        left = due - now
        spans.append(Span(f"，剩余 {fmt_delta(left)}" if left.total_seconds() > 0 else f"，已超期 {fmt_delta(-left)}"))
    if incident_id is not None and base_url:
        spans += [Span(" "), Span("详情", "link", f"{base_url.rstrip('/')}/incidents/{incident_id}")]
    return tuple(spans)


def group_card(payload: dict, now: datetime, base_url: str, mentions: Sequence[Mention] = (),
               rule_titles: dict[str, str] | None = None) -> Card:
    found = items(payload)
    head = heading(found)
    lines: list[Line] = [(Span(head, "bold"),)]
    lines += [item_line(p, now, base_url, rule_titles) for p in found]
    names = [clean(m.name) for m in mentions] or [clean(n) for n in payload.get("recipients") or []]
    if any(names):
        lines.append((Span("提醒："), Span("、".join(n for n in names if n))))
    missed = sum(int(p.get("missed") or 0) for p in found)
    if missed:
        lines.append((Span(f"说明：服务中断期间错过 {missed} 次提醒，现合并发送"),))
    return Card(head, tuple(lines), tuple(mentions))
