"""Which deadlines an incident gets and when each is due (pure).

A rule applies when every condition in `applies_to` holds. The clock starts at the incident's first-seen
time, or for a policy at its publication time, and never moves afterwards: reassigning or re-grading an
incident keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from monitor.core.model import Severity
from monitor.config.settings import RuleConfig
from monitor.core.workcal import CalendarUnavailable, WorkCalendar

RULE_TITLES = {
    "authoritative_release": "5小时内发布权威信息",
    "press_conference": "24小时内举行新闻发布会",
    "policy_interpretation": "3个工作日内发布政策解读",
}
EVIDENCE_NAMES = {
    "release": "权威信息发布",
    "press_conference": "新闻发布会",
    "interpretation": "政策解读",
    "reply": "答复",
    "promise": "承诺办结",
}


def provisional_note(year: int) -> str:
    """What a duty officer reads beside a deadline counted early (empty when the due time is final)."""
    return f"暂定：缺少{year}年节假日安排，按自然日提前计算" if year else ""


@dataclass(frozen=True)
class DeadlinePlan:
    rule: str
    title: str
    starts_at: datetime
    due_at: datetime
    satisfied_by: str
    policy: str | None
    # No holiday schedule for this year: due counted with every day a working day (early, never late)
    # until config/holidays/<year>.yaml exists; 0 when the due time is final.
    provisional_year: int = 0


def rule_title(rule: RuleConfig) -> str:
    return rule.title or RULE_TITLES.get(rule.name) or f"{rule.name}（{rule.due.describe_zh()}内）"


def applies(rule: RuleConfig, severity: Severity, kind: str, domain: str) -> bool:
    cond = rule.applies_to
    if cond.severity_at_least is not None and severity < cond.severity_at_least:
        return False
    if cond.kind is not None and kind != cond.kind:
        return False
    if cond.domains is not None and domain not in cond.domains:
        return False
    return True


def plan(
    rules: Sequence[RuleConfig],
    *,
    severity: Severity,
    kind: str,
    domain: str,
    starts_at: datetime,
    calendar: WorkCalendar,
) -> list[DeadlinePlan]:
    """The deadlines an incident must have. A working-day deadline in a year with no holiday data is
    planned provisionally (see DeadlinePlan.provisional_year) rather than not at all."""
    return [due_plan(rule, starts_at, calendar) for rule in rules if applies(rule, severity, kind, domain)]


def due_plan(rule: RuleConfig, starts_at: datetime, calendar: WorkCalendar) -> DeadlinePlan:
    try:
        due, year = rule.due.after(starts_at, calendar), 0
    except CalendarUnavailable as exc:
        due, year = rule.due.after(starts_at, calendar.provisional()), exc.year
    return DeadlinePlan(rule.name, rule_title(rule), starts_at, due, rule.satisfied_by, rule.escalation, year)
