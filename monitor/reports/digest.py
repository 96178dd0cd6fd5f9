"""The daily digest (舆情日报) a leader reads in the morning (pure: data in, a view out; no I/O, no clock).

The digest of date D covers the 24 hours up to D at the configured time (default 08:00 Beijing) and shows the
state at that moment — or now, for a preview before it. In this order: what is overdue; the new incidents by
department and severity; the deadlines met, late and still open with the time left; commitments (承诺事项)
falling due; the top topics and places; the triage queue; the last seven days (new incidents, on-time rate).

Counting is monitor.deadlines.outcomes' (the ledger's and the reports'): one event counts once. "New" means
arrived in the window about something first seen no longer than the deadline horizon before it (older reports
are a historical import and are counted apart).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from monitor.core.clock import SHANGHAI, as_utc, fmt_delta, fmt_local, local
from monitor.core.model import Deadline, Incident, Severity
from monitor.deadlines.outcomes import Rate, as_of, counted, is_promise, outcome

CHART_DAYS = 7
PROMISE_HORIZON = timedelta(hours=72)  # commitments due within this are listed as falling due
MAX_LINES = 10  # per list; the rest are counted ("另有 N 项")
TOP = 5  # topics, places
WEEKDAYS = "一二三四五六日"


# --------------------------------------------------------------------------- the window
@dataclass(frozen=True)
class Window:
    day: date  # the digest's date (Beijing)
    start: datetime  # UTC: the previous digest's moment
    end: datetime  # UTC: this digest's moment
    as_of: datetime  # the state shown: `end`, or now when that is earlier (a preview)

    @property
    def chart_days(self) -> list[date]:
        """The seven whole Beijing days before the digest's date."""
        return [self.day - timedelta(days=n) for n in range(CHART_DAYS, 0, -1)]

    @property
    def chart_bounds(self) -> list[datetime]:
        """[start of each chart day …, start of the digest's date] in UTC."""
        return [day_start(d) for d in [*self.chart_days, self.day]]


def day_start(d: date) -> datetime:
    return as_utc(datetime.combine(d, time(0, 0), SHANGHAI))


def window(day: date, hour: int, minute: int, now: datetime) -> Window:
    end = as_utc(datetime.combine(day, time(hour, minute), SHANGHAI))
    return Window(day, end - timedelta(days=1), end, min(end, now))


def digest_due(now: datetime, hour: int, minute: int) -> date | None:
    """The digest date whose moment has come by `now` (today's, Beijing), or None before today's moment."""
    today = local(now).date()
    return today if window(today, hour, minute, now).end <= now else None


def next_moment(now: datetime, hour: int, minute: int) -> datetime:
    """The next digest moment strictly after `now` (UTC)."""
    today = local(now).date()
    for d in (today, today + timedelta(days=1)):
        at = window(d, hour, minute, now).end
        if at > now:
            return at
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- input and view
@dataclass
class DigestData:
    """What the store holds for one digest (monitor.reports.job.load reads it)."""

    window: Window
    new: list[Incident]  # arrived in the window, not historical, not merged
    historical: int  # arrived in the window about things first seen long before
    deadlines: list[Deadline]  # open at as_of, or closed/due since the first chart day (cancelled left out)
    incidents: dict[int, Incident]  # every incident the deadlines belong to
    places: dict[int, list[str]]  # new incident → places its reports name
    triage_pending: int
    arrivals: list[int]  # new incidents per chart day
    dashboard_url: str = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Line:
    """One incident or deadline in a list, every text already made safe (`clean`)."""

    incident_id: int
    title: str
    department: str
    severity: str
    what: str  # the deadline's title, or the incident's domain
    when: str  # a Beijing time
    note: str  # 已超时 3小时 / 剩余 4小时 / 逾期 20分 …
    url: str
    promise: bool = False


@dataclass(frozen=True)
class DayPoint:
    day: date
    label: str  # 12-01
    weekday: str  # 周二
    new: int
    rate: Rate

    @property
    def percent(self) -> int | None:
        return None if self.rate.value is None else round(100 * self.rate.value)


@dataclass
class Digest:
    day: date
    title: str  # 西山区舆情日报 2026年12月7日（星期一）
    subject: str
    as_of: str
    window_text: str
    overdue: list[Line]
    new_total: int
    historical: int
    by_severity: list[tuple[str, int]]
    by_department: list[tuple[str, int, str]]  # name, count, "重大 1、一般 2"
    notable: list[Line]
    notable_more: int
    met: list[Line]
    late: list[Line]
    open: list[Line]
    open_more: int
    promises: list[Line]
    topics: list[tuple[str, int]]
    sensitive: list[tuple[str, int]]
    places: list[tuple[str, int]]
    triage_pending: int
    days: list[DayPoint]
    dashboard_url: str
    counts: dict[str, int] = field(default_factory=dict)  # the headline numbers, for tests and the CLI

    @property
    def overdue_more(self) -> int:
        return self.counts["overdue"] - len(self.overdue)


_CONTROL = re.compile(r"\s+")


def clean(text: object, limit: int = 60) -> str:
    """Scraped text made safe for a mail's text part and a subject: no control or format characters (no
    line breaks, bidi overrides, zero-width tricks), whitespace collapsed, at most `limit` characters.
    HTML escaping is the template's (autoescape)."""
    s = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in str(text or ""))
    s = _CONTROL.sub(" ", s).strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"


def build(data: DigestData, organisation: str = "", own_names: tuple[str, ...] = ()) -> Digest:
    """The digest's view. `organisation` heads the title; places named `own_names` (the jurisdiction itself)
    say nothing about where and are not counted among the top places."""
    w = data.window
    at = w.as_of
    url = data.dashboard_url.rstrip("/")
    incidents = data.incidents
    # one event counts once; each deadline as it stood at the digest's moment
    live = [v for v in (as_of(d, at) for d in counted(data.deadlines, incidents)) if v is not None]

    def line(d: Deadline, note: str) -> Line:
        inc = incidents[d.incident_id]
        return Line(inc.id, clean(inc.title), clean(d.department, 30), Severity(inc.severity).zh,
                    clean(d.title, 40), fmt_local(d.due_at), note, f"{url}/incidents/{inc.id}", is_promise(d))

    overdue = sorted((d for d in live if outcome(d, at) == "missing"), key=lambda d: (d.due_at, d.id))
    rules = [d for d in live if not is_promise(d)]
    closed = [d for d in rules if d.closed_at is not None and w.start <= d.closed_at <= at]
    met = [line(d, f"{fmt_local(d.closed_at)} 完成") for d in closed if outcome(d, at) == "on_time"]
    late = [line(d, f"{fmt_local(d.closed_at)} 完成，逾期 {fmt_delta(d.closed_at - d.due_at)}")
            for d in closed if outcome(d, at) == "late"]
    pending = sorted((d for d in rules if outcome(d, at) == "pending"), key=lambda d: (d.due_at, d.id))
    promises = sorted((d for d in live if is_promise(d) and outcome(d, at) == "pending"
                       and d.due_at <= at + PROMISE_HORIZON), key=lambda d: (d.due_at, d.id))

    new = sorted(data.new, key=lambda i: (-i.severity, -i.item_count, i.first_seen_at, i.id))
    sev = Counter(i.severity for i in new)
    by_dept: dict[str, Counter] = {}
    for inc in new:
        by_dept.setdefault(clean(inc.department, 30) or "（未分办）", Counter())[inc.severity] += 1
    departments = sorted(by_dept.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    places: Counter = Counter()
    for inc in new:
        found = list(data.places.get(inc.id, [])) + list((inc.event or {}).get("places", []))
        for p in dict.fromkeys(clean(p, 20) for p in found if clean(p, 20) and p not in own_names):
            places[p] += 1

    days = []
    for i, d in enumerate(w.chart_days):
        lo, hi = w.chart_bounds[i], w.chart_bounds[i + 1]
        c = Counter(outcome(x, at) for x in rules if lo <= x.due_at < hi)
        days.append(DayPoint(d, d.strftime("%m-%d"), "周" + WEEKDAYS[d.weekday()], data.arrivals[i], Rate.of(c)))

    counts = {"overdue": len(overdue), "new": len(new), "major": sum(n for s, n in sev.items() if s >= Severity.MAJOR),
              "met": len(met), "late": len(late), "pending": len(pending), "promises": len(promises),
              "triage": data.triage_pending, "historical": data.historical}
    day_text = f"{w.day.year}年{w.day.month}月{w.day.day}日（星期{WEEKDAYS[w.day.weekday()]}）"
    subject = f"【舆情日报】{w.day.month}月{w.day.day}日：" + "，".join(filter(None, [
        f"{len(overdue)}项期限已超时" if overdue else "无超时期限",
        f"新增事件{len(new)}起" + (f"（重大及以上{counts['major']}起）" if counts["major"] else ""),
    ]))
    return Digest(
        day=w.day,
        title=f"{clean(organisation, 30)}舆情日报 {day_text}",
        subject=subject,
        as_of=fmt_local(at),
        window_text=f"{fmt_local(w.start)} 至 {fmt_local(at)}",
        overdue=[line(d, fmt_delta(d.due_at - at)) for d in overdue[:MAX_LINES]],
        new_total=len(new),
        historical=data.historical,
        by_severity=[(s.zh, sev[s.value]) for s in sorted(Severity, reverse=True)],
        by_department=[(name, sum(c.values()), "、".join(f"{Severity(s).zh} {n}" for s, n in
                                                         sorted(c.items(), reverse=True)))
                       for name, c in departments[:MAX_LINES]]
        + ([("其他单位", sum(sum(c.values()) for _, c in departments[MAX_LINES:]), "")]
           if len(departments) > MAX_LINES else []),
        notable=[Line(i.id, clean(i.title), clean(i.department, 30), Severity(i.severity).zh, clean(i.domain, 20),
                      fmt_local(i.first_seen_at), f"{i.item_count}条反映" if i.item_count > 1 else "",
                      f"{url}/incidents/{i.id}") for i in new[:MAX_LINES]],
        notable_more=max(0, len(new) - MAX_LINES),
        met=met[:MAX_LINES],
        late=late[:MAX_LINES],
        open=[line(d, "剩余 " + fmt_delta(d.due_at - at)) for d in pending[:MAX_LINES]],
        open_more=max(0, len(pending) - MAX_LINES),
        promises=[line(d, "剩余 " + fmt_delta(d.due_at - at)) for d in promises[:MAX_LINES]],
        topics=Counter(clean(i.domain, 20) for i in new if i.domain).most_common(TOP),
        sensitive=Counter(clean(a, 20) for i in new for a in (i.sensitive_areas or [])).most_common(TOP),
        places=places.most_common(TOP),
        triage_pending=data.triage_pending,
        days=days,
        dashboard_url=url,
        counts=counts,
    )
