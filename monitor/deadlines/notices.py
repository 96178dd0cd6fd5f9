"""The words of a reminder (pure). One payload per outbox row, in the generic webhook shape of docs/design.md §5;
each channel formats (and escapes) `text` for itself at delivery."""

from __future__ import annotations

from datetime import datetime

from monitor.core.clock import fmt_delta, fmt_local
from monitor.deadlines.rules import EVIDENCE_NAMES
from monitor.deadlines.escalation import Position
from monitor.core.model import Deadline, Incident, Severity


def idempotency_key(incident_id: int, rule: str, step: str, channel: str, recipient: str = "") -> str:
    """incident:rule:step:channel[:recipient] — the same reminder is never delivered twice."""
    key = f"{incident_id}:{rule}:{step}:{channel}"
    return f"{key}:{recipient}" if recipient else key


def reminder_text(incident: Incident, deadline: Deadline, pos: Position, missed: int, now: datetime,
                  recipients: list[str]) -> str:
    left = deadline.due_at - now
    if left.total_seconds() > 0:
        state = f"将于 {fmt_local(deadline.due_at)} 到期（剩余 {fmt_delta(left)}）"
    else:
        state = f"已于 {fmt_local(deadline.due_at)} 到期（{fmt_delta(left)}）"
    evidence = EVIDENCE_NAMES.get(deadline.satisfied_by, deadline.satisfied_by)
    lines = [
        f"【舆情哨兵】{Severity(incident.severity).zh}事件 #{incident.id}：{incident.title}",
        f"期限「{deadline.title}」{state}。",
        f"责任单位：{deadline.department}。请在完成{evidence}后登记证据（yuqing evidence {incident.id} "
        f"--rule {deadline.rule} --url 链接）。",
    ]
    if recipients:
        lines.append("提醒：" + "、".join(recipients))
    if pos.fires:
        lines.append(f"（第 {pos.fires + 1} 次提醒）")
    if missed:
        lines.append(f"（服务中断或补录期间错过 {missed} 次提醒，现合并发送）")
    return "\n".join(lines)


def reminder_payload(incident: Incident, deadline: Deadline, pos: Position, missed: int, now: datetime,
                     channel: str, recipients: list[str], key: str) -> dict:
    return {
        "idempotency_key": key,
        "incident_id": incident.id,
        "rule": deadline.rule,
        "step": pos.key,
        "due_at": deadline.due_at.isoformat(),
        "severity": Severity(incident.severity).zh,
        "department": deadline.department,
        "text": reminder_text(incident, deadline, pos, missed, now, recipients),
        "title": incident.title,
        "rule_title": deadline.title,
        "evidence": EVIDENCE_NAMES.get(deadline.satisfied_by, deadline.satisfied_by),
        "recipients": recipients,
        "missed": missed,
        "overdue": deadline.due_at <= now,
    }
