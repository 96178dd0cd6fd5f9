"""The province's check of a month, quarter or year (月检查、季通报、年考核), per department (pure except write_xlsx):
incidents, response deadlines due in the period — on time, late, missing, pending — the average time from an
incident's first report to its first response, commitments (承诺事项) kept; ranked by on-time rate; with every late
and missing item and why it counts so; and a sheet of charts.

The counting is the ledger's (monitor.deadlines.outcomes): one event counts once, deadlines are counted in the
period they fall due, so three months add up to their quarter, and `yuqing ledger export` of a month shows the
same totals (its 月度统计 = this report's deadlines plus commitments)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from monitor.core.clock import SHANGHAI, as_utc, fmt_delta, fmt_local
from monitor.core.model import Deadline, Incident
from monitor.deadlines.ledger import month_bounds
from monitor.deadlines.outcomes import Rate, counted, is_promise, outcome
from monitor.deadlines.rules import EVIDENCE_NAMES

_QUARTERS = "一二三四"


@dataclass(frozen=True)
class Period:
    kind: str  # month | quarter | year
    key: str  # 2026-11 | 2026Q4 | 2026
    label: str  # 2026年11月 | 2026年第四季度 | 2026年
    start: datetime  # UTC, Beijing period
    end: datetime


def parse_period(month: str | None = None, quarter: str | None = None, year: str | None = None) -> Period:
    """One of --month 2026-11, --quarter 2026Q4, --year 2026 (Beijing time). ValueError says how to write it."""
    if month is not None:
        start, end = month_bounds(month)
        y, m = (int(x) for x in month.split("-"))
        return Period("month", f"{y}-{m:02d}", f"{y}年{m}月", start, end)
    if quarter is not None:
        found = re.fullmatch(r"\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*", quarter)
        if not found:
            raise ValueError(f"--quarter {quarter!r}: use YYYYQn, e.g. 2026Q4")
        y, q = int(found[1]), int(found[2])
        start = as_utc(datetime(y, 3 * q - 2, 1, tzinfo=SHANGHAI))
        end = as_utc(datetime(y + (q == 4), 3 * q % 12 + 1, 1, tzinfo=SHANGHAI))
        return Period("quarter", f"{y}Q{q}", f"{y}年第{_QUARTERS[q - 1]}季度", start, end)
    if year is not None:
        if not re.fullmatch(r"\s*\d{4}\s*", year):
            raise ValueError(f"--year {year!r}: use YYYY, e.g. 2026")
        y = int(year)
        return Period("year", str(y), f"{y}年", as_utc(datetime(y, 1, 1, tzinfo=SHANGHAI)),
                      as_utc(datetime(y + 1, 1, 1, tzinfo=SHANGHAI)))
    raise ValueError("请给出 --month、--quarter 或 --year 之一 (give one of --month, --quarter, --year)")


@dataclass
class PeriodData:
    """What the store holds for a period (monitor.reports.job.load_period reads it)."""

    period: Period
    at: datetime  # outcomes judged at: the period's end, or now if earlier
    incident_counts: dict[str, int]  # department → incidents first seen in the period (merged left out)
    deadlines: list[Deadline]  # every deadline due in the period
    incidents: dict[int, Incident]  # of those deadlines
    first_responses: dict[int, datetime]  # incident → its first response in the ledger


@dataclass
class DepartmentRow:
    department: str
    incidents: int
    deadlines: Rate
    promises: Rate
    responded: int  # incidents with a first response
    first_response_hours: float | None  # their average time to it
    rank: int | None = None

    def cells(self) -> list:
        d, p = self.deadlines, self.promises
        return [self.rank if self.rank is not None else "—", self.department, self.incidents, d.total, d.on_time,
                d.late, d.missing, d.pending, d.value if d.value is not None else "—",
                round(self.first_response_hours, 1) if self.first_response_hours is not None else "—",
                p.total, p.on_time, p.late, p.missing, p.pending]


COLUMNS = ["排名", "责任单位", "新增事件", "回应期限", "按时", "逾期", "未回应", "进行中", "按时率", "平均首次回应（小时）",
           "承诺到期", "按时兑现", "逾期兑现", "未兑现", "承诺进行中"]
MISS_COLUMNS = ["类别", "事件编号", "事件", "责任单位", "期限", "到期时间", "完成时间", "结果", "超出", "原因"]


@dataclass(frozen=True)
class Miss:
    kind: str  # 回应期限 | 承诺事项
    incident_id: int
    title: str
    department: str
    what: str
    due: str
    closed: str
    verdict: str  # 逾期 | 未回应 | 逾期兑现 | 未兑现
    by: str  # how much too late
    reason: str

    def cells(self) -> list:
        return [self.kind, self.incident_id, self.title, self.department, self.what, self.due, self.closed,
                self.verdict, self.by, self.reason]


@dataclass
class PeriodReport:
    period: Period
    at: datetime
    rows: list[DepartmentRow]  # ranked
    total: DepartmentRow
    misses: list[Miss]
    notes: list[str] = field(default_factory=list)


NOTES = [
    "统计口径：回应期限与承诺事项按到期时间计入所在期间；月、季、年逐级相加一致。",
    "一个事件只计一次：已并入其他事件的事件不计，其期限与台账由合并后的事件承担；已取消的期限（降级、合并重复）不计。",
    "按时率 = 按时 ÷（按时 + 逾期 + 未回应）；进行中的不计入分母。",
    "未回应：到期时仍未登记证据（发布链接、发布会记录、解读链接）。逾期：证据登记晚于到期时间。",
    "平均首次回应：有回应期限的事件，从首次发现到回应台账中第一条回应（不含承诺）的时间。",
    "责任单位按期限所属单位统计（改派时未完成的期限随之改派）；新增事件与首次回应按事件当前责任单位统计。",
]


def build(data: PeriodData) -> PeriodReport:
    at = data.at
    live = counted(data.deadlines, data.incidents, data.period.start, data.period.end)
    rules: dict[str, Counter] = {}
    promises: dict[str, Counter] = {}
    for d in live:
        (promises if is_promise(d) else rules).setdefault(d.department, Counter())[outcome(d, at)] += 1
    waits: dict[str, list[float]] = {}
    for incident_id in sorted({d.incident_id for d in live if not is_promise(d)}):
        inc = data.incidents[incident_id]
        first = data.first_responses.get(incident_id)
        if first is not None:
            waits.setdefault(inc.department, []).append(max(0.0, (first - inc.first_seen_at).total_seconds() / 3600))
    names = sorted(set(data.incident_counts) | set(rules) | set(promises) | set(waits))
    rows = [DepartmentRow(n, data.incident_counts.get(n, 0), Rate.of(rules.get(n, Counter())),
                          Rate.of(promises.get(n, Counter())), len(waits.get(n, [])),
                          sum(waits[n]) / len(waits[n]) if waits.get(n) else None) for n in names]
    rows.sort(key=lambda r: (r.deadlines.value is None, -(r.deadlines.value or 0), r.deadlines.missing,
                             -r.deadlines.decided, r.department))
    for i, r in enumerate(rows):
        if r.deadlines.value is not None:
            r.rank = i + 1
    all_waits = [w for ws in waits.values() for w in ws]
    total = DepartmentRow("合计", sum(data.incident_counts.values()), Rate.of(sum(rules.values(), Counter())),
                          Rate.of(sum(promises.values(), Counter())), len(all_waits),
                          sum(all_waits) / len(all_waits) if all_waits else None)
    misses = [_miss(d, data.incidents[d.incident_id], at) for d in live if outcome(d, at) in ("late", "missing")]
    return PeriodReport(data.period, at, rows, total, misses, list(NOTES))


def _miss(d: Deadline, inc: Incident, at: datetime) -> Miss:
    promise = is_promise(d)
    evidence = "办理结果" if promise else EVIDENCE_NAMES.get(d.satisfied_by, d.satisfied_by)
    if outcome(d, at) == "late":
        verdict = "逾期兑现" if promise else "逾期"
        by = fmt_delta(d.closed_at - d.due_at)
        reason = f"{fmt_local(d.closed_at)} 才登记{evidence}，晚于期限 {by}"
        if d.close_reason:
            reason += f"；{d.close_reason}"
    else:
        verdict = "未兑现" if promise else "未回应"
        by = fmt_delta(at - d.due_at)
        reason = f"截至 {fmt_local(at)} 未登记{evidence}，已超时 {by}"
        if d.acked_at is not None:
            reason += f"；{d.acked_by or '有人'}已于 {fmt_local(d.acked_at)} 确认收到提醒"
    return Miss("承诺事项" if promise else "回应期限", inc.id, inc.title, d.department, d.title, fmt_local(d.due_at),
                fmt_local(d.closed_at) if d.state == "satisfied" else "—", verdict, by, reason)


# --------------------------------------------------------------------------- the workbook
def write_xlsx(path: Path, report: PeriodReport) -> None:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "部门排名"
    ws.append([f"舆情回应情况通报（{report.period.label}，统计截至 {fmt_local(report.at)}）"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(COLUMNS)
    for row in [*report.rows, report.total]:
        _append(ws, row.cells())
        cell = ws.cell(ws.max_row, COLUMNS.index("按时率") + 1)
        if isinstance(cell.value, float):
            cell.number_format = "0%"
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for col, width in zip("ABCDEFGHIJKLMNO", (6, 22, 9, 9, 7, 7, 8, 8, 8, 12, 9, 9, 9, 8, 10)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "C3"

    ms = wb.create_sheet("逾期与未回应")
    ms.append([f"逾期与未回应事项（{report.period.label}）"])
    ms["A1"].font = Font(bold=True, size=14)
    ms.append(MISS_COLUMNS)
    for m in report.misses:
        _append(ms, m.cells())
    for cell in ms[2]:
        cell.font = Font(bold=True)
    for col, width in zip("ABCDEFGHIJ", (10, 9, 36, 18, 24, 17, 17, 9, 12, 50)):
        ms.column_dimensions[col].width = width
    for row in ms.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    cs = wb.create_sheet("图表")
    cs.append([f"图表（{report.period.label}）：数据取自「部门排名」"])
    n = len(report.rows)
    if n:
        cats = Reference(ws, min_col=2, min_row=3, max_row=2 + n)
        rate = BarChart()
        rate.type, rate.title, rate.y_axis.title = "bar", "各单位按时率", "按时率"
        rate.add_data(Reference(ws, min_col=9, min_row=2, max_row=2 + n), titles_from_data=True)
        rate.set_categories(cats)
        rate.y_axis.scaling.min, rate.y_axis.scaling.max, rate.y_axis.number_format = 0, 1, "0%"
        rate.height, rate.width, rate.legend = max(7.5, 0.8 * n + 3), 18, None
        cs.add_chart(rate, "A3")
        stacked = BarChart()
        stacked.type, stacked.grouping, stacked.overlap = "bar", "stacked", 100
        stacked.title = "各单位回应期限：按时、逾期、未回应"
        stacked.add_data(Reference(ws, min_col=5, max_col=7, min_row=2, max_row=2 + n), titles_from_data=True)
        stacked.set_categories(cats)
        stacked.height, stacked.width = max(7.5, 0.8 * n + 3), 18
        cs.add_chart(stacked, f"A{int(max(7.5, 0.8 * n + 3) * 2) + 6}")
    else:
        cs.append(["本期间没有到期的回应期限。"])

    ns = wb.create_sheet("统计口径")
    for line in report.notes:
        ns.append([line])
    ns.column_dimensions["A"].width = 100
    wb.save(path)


def _append(ws, values: list) -> None:
    ws.append(values)
    for cell in ws[ws.max_row]:
        if cell.data_type == "f":  # scraped text that starts with "=" stays text, never a formula
            cell.data_type = "s"
