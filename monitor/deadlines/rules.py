"""Which deadlines an incident gets and when each is due (pure).

A rule applies when every condition in `applies_to` holds. The clock starts at the incident's first-seen
time, or for a policy at its publication time, and never moves afterwards: reassigning or re-grading an
incident keeps it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

from monitor.core.errors import ServiceError
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


# --------------------------------------------------------------------------- a rule named by a person
class UnknownRule(ServiceError):
    """A rule that is neither a rule's name nor its title; `allowed` lists what would be understood."""

    def __init__(self, value: str, allowed: list[str]) -> None:
        self.value, self.allowed = value, allowed
        shown = value if len(value) <= 60 else value[:60] + "…"
        super().__init__(f"rule: 未知的期限「{shown}」；可选：{'、'.join(allowed) or '无'} "
                         f"(unknown rule; give a rule name or its title)")


def _rule_key(text: str) -> str:
    """What a typed rule is compared by: full-width digits and letters as half-width (５小时 = 5小时), no spaces
    or quotes around it, letters in any case."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(text.split()).strip("\"'“”‘’「」『』《》").casefold()


def resolve_rule(value: str, known: Iterable[tuple[str, str]]) -> str:
    """The rule name that `value` names, by name (authoritative_release) or by title (5小时内发布权威信息).
    `known`: (name, title) pairs — the configured rules and the incident's own deadlines (a promise's title).
    Raises UnknownRule listing the titles and names that would be understood."""
    pairs = list(dict.fromkeys((n, t) for n, t in known if n))
    key = _rule_key(value or "")
    for name, title in pairs:  # a name wins over another rule's identical title
        if key == _rule_key(name):
            return name
    for name, title in pairs:
        if title and key == _rule_key(title):
            return name
    raise UnknownRule(value, [f"{t}（{n}）" if t and t != n else n for n, t in pairs])


def known_rules(rules: Sequence[RuleConfig], deadlines: Iterable = ()) -> list[tuple[str, str]]:
    """(name, title) of the configured rules, then of the given deadlines (their stored titles)."""
    return [*((r.name, rule_title(r)) for r in rules), *((d.rule, d.title) for d in deadlines)]
