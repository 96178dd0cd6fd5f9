"""The response ledger (舆情回应台账) for a month: one row per incident in the layout a 政务公开 office hands
in, and the counts for 季通报/年考核 (on time, late, missing, by department). Pure except write_xlsx."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from monitor.core.clock import SHANGHAI, as_utc, fmt_local
from monitor.core.model import Deadline, Incident, Severity
from monitor.deadlines.outcomes import Rate, counted, outcome, tally

__all__ = ["COLUMNS", "STATS_COLUMNS", "Report", "build", "month_bounds", "outcome", "write_xlsx"]

COLUMNS = ["时间", "事件", "责任单位", "等级", "回应方式", "发布时间", "是否按时", "承诺事项", "办理结果"]
STATS_COLUMNS = ["责任单位", "按时", "逾期", "缺失", "进行中", "合计", "按时率"]


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """'2026-11' → [start, end) in UTC of that month in Beijing time."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        start = datetime(year, mon, 1, tzinfo=SHANGHAI)
    except ValueError:
        raise ValueError(f"--month {month!r}: use YYYY-MM, e.g. 2026-11") from None
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=SHANGHAI)
    return as_utc(start), as_utc(end)


_VERDICT = {"missing": "未按时回应", "late": "否（逾期）", "pending": "进行中", "on_time": "是"}


@dataclass
class Report:
    rows: list[list[str]]
    stats: list[list]


def build(incidents: list[Incident], deadlines: dict[int, list[Deadline]], entries: dict[int, list[dict]],
          now: datetime, start: datetime | None = None, end: datetime | None = None) -> Report:
    """The rows, one per event, and the counts by department (monitor.deadlines.outcomes: the same counting as
    the digest and `yuqing report`; with start/end, the deadlines due in that period)."""
    rows = []
    by_id = {inc.id: inc for inc in incidents}
    counts = tally(counted((d for ds in deadlines.values() for d in ds), by_id, start, end), now)
    for inc in incidents:
        if inc.status == "merged":
            continue  # one event, one row: its deadlines and ledger lines are the survivor's (merged_into)
        ds = [d for d in deadlines.get(inc.id, []) if d.state != "cancelled"]
        outcomes = [outcome(d, now) for d in ds]
        verdict = next((_VERDICT[o] for o in ("missing", "late", "pending") if o in outcomes),
                       "是" if outcomes else "—")
        es = entries.get(inc.id, [])
        responses = [e for e in es if not e["promise"]]
        promises = [e for e in es if e["promise"]]
        rows.append([
            fmt_local(inc.first_seen_at), inc.title, inc.department, Severity(inc.severity).zh,
            "、".join(dict.fromkeys(e["method"] for e in responses if e["method"])) or "—",
            fmt_local(min(e["responded_at"] for e in responses)) if responses else "—",
            verdict,
            "；".join(f"{e['promise']}（{fmt_local(e['promise_due_at'])}前）" if e["promise_due_at"] else e["promise"]
                     for e in promises) or "—",
            "；".join(filter(None, [*(e["result"] for e in responses),
                                    *((f"已办结：{e['result']}" if e["kept"] else "未办结") for e in promises)]))
            or "—",
        ])
    stats = []
    total = Counter()
    for dept in sorted(counts):
        c = counts[dept]
        total.update(c)
        stats.append(_stat_row(dept, c))
    if counts:
        stats.append(_stat_row("合计", total))
    return Report(rows, stats)


def _stat_row(name: str, c: Counter) -> list:
    r = Rate.of(c)
    return [name, r.on_time, r.late, r.missing, r.pending, r.total, r.percent()]


def write_xlsx(path: Path, month: str, report: Report) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "回应台账"
    ws.append([f"舆情回应台账（{month}）"])
    ws.append(COLUMNS)
    for row in report.rows:
        ws.append(row)
        for cell in ws[ws.max_row]:
            if cell.data_type == "f":  # scraped text that starts with "=" stays text, never a formula
                cell.data_type = "s"
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for col, width in zip("ABCDEFGHI", (17, 40, 18, 8, 22, 17, 12, 30, 40)):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    st = wb.create_sheet("月度统计")
    st.append([f"期限完成情况（{month}，供季通报、年考核）"])
    st.append(STATS_COLUMNS)
    for row in report.stats:
        st.append(row)
    for cell in st[2]:
        cell.font = Font(bold=True)
    st.column_dimensions["A"].width = 22
    wb.save(path)
