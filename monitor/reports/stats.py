"""The statistics page's numbers for a month, quarter or year (月检查/季通报), pure: incidents and reports per
Beijing day, incidents per department and severity, and the on-time rate per department and per rule. The
counting is the reports' (monitor.reports.period and monitor.deadlines.outcomes): deadlines count in the period
they fall due, one event counts once, pending ones are left out of the rate. One structure serves the JSON the
charts draw and the tables beside them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from monitor.core.clock import local
from monitor.core.model import Severity
from monitor.deadlines.outcomes import Rate, counted, is_promise, outcome
from monitor.reports.period import PeriodData, build as build_period

PROMISES = "promise"  # every commitment's deadline counted under one row


@dataclass
class StatsData:
    data: PeriodData  # the period's deadlines, incidents per department (monitor.reports.job.load_period)
    incidents_by_day: dict[date, int]
    reports_by_day: dict[date, int]
    by_severity: dict[int, int]
    rule_titles: dict[str, str]  # rule name → its Chinese title, from the config


def _rate(r: Rate) -> dict:
    return {"deadlines": r.total, "on_time": r.on_time, "late": r.late, "missing": r.missing,
            "pending": r.pending, "on_time_rate": None if r.value is None else round(r.value, 4)}


def days(start: datetime, end: datetime, at: datetime) -> list[date]:
    """The Beijing days of [start, end) up to the day of `at` (a period still running has no future days)."""
    first, last = local(start).date(), local(min(end, at) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def build(s: StatsData, department: str | None = None) -> dict:
    """The numbers of the period; with `department`, that department's only (a liaison's view)."""
    data, period = s.data, s.data.period
    report = build_period(data)
    rows = [r for r in report.rows if department is None or r.department == department]
    by_day = [{"date": d.isoformat(), "incidents": s.incidents_by_day.get(d, 0),
               "reports": s.reports_by_day.get(d, 0)} for d in days(period.start, period.end, data.at)]
    rules: dict[str, Counter] = {}
    titles: dict[str, str] = {}
    for d in counted(data.deadlines, data.incidents, period.start, period.end):
        if department is not None and d.department != department:
            continue
        key = PROMISES if is_promise(d) else d.rule
        titles.setdefault(key, "承诺事项" if key == PROMISES else s.rule_titles.get(d.rule) or d.title or d.rule)
        rules.setdefault(key, Counter())[outcome(d, data.at)] += 1
    order = [*(n for n in s.rule_titles if n in rules), *sorted(k for k in rules if k not in s.rule_titles)]
    total = Rate.of(sum(rules.values(), Counter()))
    return {
        "period": {"kind": period.kind, "key": period.key, "label": period.label, "start": period.start.isoformat(),
                   "end": period.end.isoformat(), "at": data.at.isoformat()},
        "department": department,
        "totals": {"incidents": sum(x["incidents"] for x in by_day), "reports": sum(x["reports"] for x in by_day),
                   **_rate(total)},
        "days": by_day,
        "departments": [{"department": r.department, "rank": r.rank, "incidents": r.incidents, **_rate(r.deadlines)}
                        for r in rows],
        "severity": [{"severity": sev.zh, "level": sev.roman, "incidents": s.by_severity.get(int(sev), 0)}
                     for sev in sorted(Severity, reverse=True)],
        "rules": [{"rule": k, "title": titles[k], **_rate(Rate.of(rules[k]))} for k in order],
    }
