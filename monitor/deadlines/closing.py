"""Closing an incident (办结): when it may close, what counts as its reply, and reopening when a new report
joins a closed one (docs/dashboard.md, "事件页与办结").

An incident closes when none of its deadlines is open (each satisfied by evidence, or cancelled with a
reason) and its reply is on record: a reply recorded by a person (evidence kind `reply`), or a report whose
source says it was answered — a 12345 export's 办理状态 「已办结」, a board's 「已回复」, or, for a source with
no status column, a reply text (答复意见). An interim reply of a case still 「办理中」 is not one.
The rules here are pure; `reopen_joined` is the one step that writes (inside the pipeline's transaction).
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from monitor.core.clock import fmt_local
from monitor.core.model import Deadline

REPLY = "reply"  # the evidence kind of a reply recorded by a person
_DONE = ("办结", "完结", "已回复", "已答复", "已反馈", "已办理")
_NOT_YET = ("未", "待", "不", "非", "正在")


def status_done(status: str) -> bool:
    """Whether a source's status says the case was answered: 已办结, 办结, 已回复 … (not 未办结, 待办结)."""
    s = "".join((status or "").split())
    return any(d in s for d in _DONE) and not s.startswith(_NOT_YET)


def item_replied(status: str, reply: str) -> bool:
    """A report counts as answered by its status; a source without a status column, by its reply text."""
    if (status or "").strip():
        return status_done(status)
    return bool((reply or "").strip())


def reply_of_items(items: Iterable[dict]) -> str | None:
    """What counts as the incident's reply among its reports (a line for the timeline), or None."""
    for it in items:
        if item_replied(it.get("status") or "", it.get("reply") or ""):
            state = (it.get("status") or "").strip()
            label = f"{it.get('source', '')}:{it.get('external_id', '')}"
            if state:
                return f"来源记录的办理状态为「{state[:20]}」（留言 {label[:80]}）"
            return f"来源已有答复（留言 {label[:80]}）"
    return None


def open_deadlines(deadlines: Iterable[Deadline]) -> list[Deadline]:
    return [d for d in deadlines if d.state == "open"]


def blockers_text(deadlines: Iterable[Deadline]) -> str:
    """The open deadlines a close waits for, named: 「5小时内发布权威信息」（到期 2026-11-23 14:00）."""
    return "、".join(f"「{d.title or d.rule}」（到期 {fmt_local(d.due_at)}）" for d in deadlines)


async def reopen_joined(tx, reports: Iterable[tuple[int, str]], now: datetime) -> list[int]:
    """Incidents that were closed and just gained new reports (`reports`: (incident id, report label) of each
    new report that joined an existing incident) open again, saying why in their timeline: a new report of a
    closed event is never silently filed away. Returns the reopened ids."""
    joined: dict[int, list[str]] = {}
    for incident_id, label in reports:
        joined.setdefault(incident_id, []).append(label)
    if not joined:
        return []
    status = await tx.incidents.heat_inputs(joined)  # id → (status, …): one light query per batch
    reopened = sorted(i for i, row in status.items() if row[0] == "closed")
    for incident_id in reopened:
        labels = joined[incident_id]
        shown = "、".join(labels[:5]) + (f" 等 {len(labels)} 条" if len(labels) > 5 else "")
        await tx.incidents.update(incident_id, {"status": "open", "closed_at": None, "closed_by": None,
                                                "updated_at": now})
        await tx.audit.append(now, "system:pipeline", "incident.reopened", "incident", incident_id,
                              {"reason": f"已办结事件收到新的留言 {shown}", "items": labels[:50], "auto": True})
    return reopened
