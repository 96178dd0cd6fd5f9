"""月检查、季通报、年考核 (`yuqing report`): per department, ranked, the late and missing items with reasons, a sheet
of charts — and the same counting as the ledger export (one event once; a quarter is the sum of its months)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta

import openpyxl
import pytest

from monitor.config.settings import BUNDLED_CONFIG
from monitor.core.clock import SHANGHAI, as_utc
from monitor.core.model import RawItem
from monitor.deadlines import ledger
from monitor.deadlines.outcomes import Rate
from monitor.reports import period as period_mod
from monitor.reports.job import load_period
from tests.test_digest import bj, deadline, incident


# --------------------------------------------------------------------------- periods
def test_periods_are_beijing_months_quarters_and_years():
    q = period_mod.parse_period(quarter="2026Q4")
    assert (q.key, q.label) == ("2026Q4", "2026年第四季度")
    assert q.start == as_utc(datetime(2026, 10, 1, tzinfo=SHANGHAI)) and q.end == as_utc(datetime(2027, 1, 1, tzinfo=SHANGHAI))
    assert period_mod.parse_period(quarter="2026-q1").end == as_utc(datetime(2026, 4, 1, tzinfo=SHANGHAI))
    m = period_mod.parse_period(month="2026-11")
    assert (m.key, m.label, m.start) == ("2026-11", "2026年11月", as_utc(datetime(2026, 11, 1, tzinfo=SHANGHAI)))
    y = period_mod.parse_period(year="2026")
    assert (y.label, y.end) == ("2026年", as_utc(datetime(2027, 1, 1, tzinfo=SHANGHAI)))
    for bad in ({"quarter": "2026Q5"}, {"year": "26"}, {"month": "2026-13"}, {}):
        with pytest.raises(ValueError):
            period_mod.parse_period(**bad)


# --------------------------------------------------------------------------- counting and ranking (pure)
def test_ranked_by_on_time_rate_one_event_once_with_reasons():
    p = period_mod.parse_period(month="2026-12")
    incs = {1: incident(1, "爆炸", "区应急局", 3, bj(1, 8)), 2: incident(2, "坍塌", "区住房城乡建设局", 3, bj(2, 8)),
            3: incident(3, "爆炸（重复）", "区应急局", 3, bj(1, 9), status="merged"),
            4: incident(4, "政策", "区教育体育局", 1, bj(3, 8))}
    ds = [
        deadline(1, 1, "authoritative_release", "5小时内发布权威信息", "区应急局", bj(1, 13), created=bj(1, 8),
                 state="satisfied", closed=bj(1, 12)),
        deadline(2, 1, "press_conference", "24小时内举行新闻发布会", "区应急局", bj(2, 8), created=bj(1, 8),
                 state="satisfied", closed=bj(2, 10)),
        deadline(3, 2, "authoritative_release", "5小时内发布权威信息", "区住房城乡建设局", bj(2, 13), created=bj(2, 8)),
        deadline(4, 3, "authoritative_release", "5小时内发布权威信息", "区应急局", bj(1, 14), created=bj(1, 9)),
        deadline(5, 2, "press_conference", "24小时内举行新闻发布会", "区住房城乡建设局", bj(3, 8), created=bj(2, 8),
                 state="cancelled", closed=bj(2, 20)),
        deadline(6, 4, "promise_9", "承诺事项：公布处理结果", "区教育体育局", bj(5, 18), created=bj(3, 9),
                 state="satisfied", closed=bj(5, 9)),
        deadline(7, 1, "authoritative_release_2", "下月的期限", "区应急局", as_utc(datetime(2027, 1, 2, 8, tzinfo=SHANGHAI)),
                 created=bj(1, 8)),  # due next year: not this month's
    ]
    data = period_mod.PeriodData(p, bj(10, 8), {"区应急局": 1, "区住房城乡建设局": 1, "区教育体育局": 1}, ds, incs,
                                 {1: bj(1, 12)})
    r = period_mod.build(data)
    by = {row.department: row for row in r.rows}
    assert by["区应急局"].deadlines == Rate(1, 1, 0, 0)  # the merged duplicate's release is not missing
    assert by["区住房城乡建设局"].deadlines == Rate(0, 0, 1, 0)  # the cancelled press conference is nothing
    assert by["区教育体育局"].promises == Rate(1, 0, 0, 0) and by["区教育体育局"].deadlines.total == 0
    assert [(row.rank, row.department) for row in r.rows] == [(1, "区应急局"), (2, "区住房城乡建设局"),
                                                               (None, "区教育体育局")]
    assert by["区应急局"].first_response_hours == 4.0 and by["区住房城乡建设局"].first_response_hours is None
    assert r.total.deadlines == Rate(1, 1, 1, 0) and r.total.incidents == 3
    assert len(r.misses) == 2
    late, missing = ({m.verdict: m for m in r.misses}[v] for v in ("逾期", "未回应"))
    assert (late.incident_id, late.verdict, late.by) == (1, "逾期", "2小时")
    assert "2026-12-02 10:00 才登记新闻发布会" in late.reason
    assert (missing.incident_id, missing.verdict) == (2, "未回应")
    assert missing.reason.startswith("截至 2026-12-10 08:00 未登记权威信息发布，已超时 7天19小时")


# --------------------------------------------------------------------------- on the store, with the ledger
async def seed(app, clock):
    """October: an explosion whose release never comes (missing). November (clock 23 Nov 09:00): explosion A
    30 hours ago, released late now; explosion B 2 hours ago, released on time now, with a promise kept."""
    now = clock.now()
    clock.set(as_utc(datetime(2026, 10, 10, 9, 0, tzinfo=SHANGHAI)))
    await app.pipeline.ingest([RawItem("hotline", "oct", "爆炸C", "仓库爆炸造成20人死亡", occurred_at=clock.now())],
                              "hotline")
    clock.set(now)
    await app.pipeline.ingest([
        RawItem("hotline", "a", "爆炸A", "化工厂爆炸造成12人死亡", occurred_at=now - timedelta(hours=30)),
        RawItem("hotline", "b", "爆炸B", "烟花厂爆炸造成15人死亡", occurred_at=now - timedelta(hours=2)),
    ], "hotline")
    async with app.store.read() as tx:
        ids = {r["external_id"]: r["incident_id"]
               for r in (await tx.items.by_external_ids("hotline", ["oct", "a", "b"])).values()}
    assert len(set(ids.values())) == 3
    await app.service.add_evidence(ids["a"], "zhao", url="https://xs.gov.cn/a", rule="authoritative_release")
    await app.service.add_evidence(ids["b"], "zhao", url="https://xs.gov.cn/b", rule="authoritative_release")
    ledger_id = await app.service.promise(ids["b"], "三日内公布调查结果", now + timedelta(days=2), "zhao")
    clock.advance(timedelta(days=1))
    await app.service.keep_promise(ledger_id, "zhao", "已公布")
    clock.set(as_utc(datetime(2026, 12, 5, 9, 0, tzinfo=SHANGHAI)))
    return ids


async def report_of(app, **spec):
    p = period_mod.parse_period(**spec)
    async with app.store.read() as tx:
        return period_mod.build(await load_period(tx, p, app.clock.now()))


async def test_report_matches_the_ledger_and_a_quarter_is_its_months(app, clock):
    ids = await seed(app, clock)
    oct_, nov, q4 = (await report_of(app, month="2026-10"), await report_of(app, month="2026-11"),
                     await report_of(app, quarter="2026Q4"))
    assert oct_.total.deadlines == Rate(0, 0, 2, 0)  # C: release and press conference, neither recorded
    assert nov.total.deadlines == Rate(1, 1, 2, 0)  # A late + A's press missing; B on time + B's press missing
    assert nov.total.promises == Rate(1, 0, 0, 0)
    for field in ("on_time", "late", "missing", "pending"):
        assert getattr(q4.total.deadlines, field) == getattr(oct_.total.deadlines, field) + getattr(nov.total.deadlines, field)
    assert (await report_of(app, year="2026")).total.deadlines == q4.total.deadlines
    # the ledger export of November counts the same deadlines (its sheet adds the commitments)
    start, end = ledger.month_bounds("2026-11")
    async with app.store.read() as tx:
        incidents, deadlines, entries = await tx.ledger.month(start, end)
    stats = ledger.build(incidents, deadlines, entries, min(clock.now(), end), start, end).stats
    t, p = nov.total.deadlines, nov.total.promises
    assert stats[-1][:6] == ["合计", t.on_time + p.on_time, t.late + p.late, t.missing + p.missing,
                             t.pending + p.pending, t.total + p.total]
    # time to first response: A 30 h, B 2 h → 16 h for 区应急局
    [row] = [r for r in nov.rows if r.deadlines.total]
    assert row.department == "区应急局" and row.first_response_hours == pytest.approx(16.0, abs=0.01)
    assert {(m.incident_id, m.verdict) for m in nov.misses} == {(ids["a"], "逾期"), (ids["a"], "未回应"),
                                                                (ids["b"], "未回应")}


async def test_workbook_has_ranking_misses_charts_and_notes(app, clock, tmp_path):
    await seed(app, clock)
    r = await report_of(app, quarter="2026Q4")
    out = tmp_path / "q.xlsx"
    period_mod.write_xlsx(out, r)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["部门排名", "逾期与未回应", "图表", "统计口径"]
    ws = wb["部门排名"]
    assert [c.value for c in ws[2]] == period_mod.COLUMNS
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=3)]
    assert rows[-1][1] == "合计" and rows[-1][3] == r.total.deadlines.total == 6
    assert rows[0][0] == 1 and rows[0][1] == "区应急局" and ws.cell(3, 9).number_format == "0%"
    misses = wb["逾期与未回应"]
    assert [c.value for c in misses[2]] == period_mod.MISS_COLUMNS and misses.max_row == 2 + len(r.misses) == 2 + 5
    assert len(wb["图表"]._charts) == 2


def test_report_command(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    cfg = str(BUNDLED_CONFIG / "demo.yaml")

    def yuqing(*args):
        return subprocess.run([sys.executable, "-m", "monitor", "--config", cfg, "--db", db, *args],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)

    r = yuqing("report", "--quarter", "2026Q4", "--out", str(tmp_path / "q.xlsx"))
    assert r.returncode == 0, r.stderr
    assert "2026年第四季度" in r.stdout and (tmp_path / "q.xlsx").exists()
    assert yuqing("report", "--quarter", "2026Q5").returncode == 2
    assert yuqing("report").returncode == 2
    assert yuqing("report", "--year", "2026", "--out", str(tmp_path / "none" / "x.xlsx")).returncode == 2
