"""The response ledger: promises become deadlines; the monthly XLSX has the office's layout and counts."""

import subprocess
import sys
from datetime import datetime, timedelta

import openpyxl

from monitor.deadlines import ledger
from monitor.core.clock import SHANGHAI
from monitor.core.model import RawItem
from monitor.config.settings import BUNDLED_CONFIG


async def test_promise_is_a_deadline_closed_only_by_keeping_it(app, clock):
    await app.pipeline.ingest([RawItem("hotline", "1", "化工厂爆炸", "化工厂爆炸造成12人死亡",
                                       occurred_at=clock.now())], "hotline")
    due = clock.now() + timedelta(days=7)
    ledger_id = await app.service.promise(1, "一周内公布事故调查结果", due, "zhao")
    async with app.store.read() as tx:
        d = {x.rule: x for x in await tx.deadlines.for_incident(1)}[f"promise_{ledger_id}"]
    assert d.due_at == due and d.state == "open" and d.satisfied_by == f"promise_{ledger_id}"
    clock.advance(timedelta(days=8))
    assert await app.service.keep_promise(ledger_id, "zhao", "已公布调查报告", "https://xs.gov.cn/r") is False
    async with app.store.read() as tx:
        d = {x.rule: x for x in await tx.deadlines.for_incident(1)}[f"promise_{ledger_id}"]
        entry = await tx.ledger.get(ledger_id)
    assert d.state == "satisfied" and entry["kept"] is True and entry["result"] == "已公布调查报告"


async def test_month_report_counts_on_time_late_missing(app, clock):
    now = clock.now()  # 2026-11-23 09:00 Beijing
    await app.pipeline.ingest([
        RawItem("hotline", "a", "爆炸A", "化工厂爆炸造成12人死亡", occurred_at=now - timedelta(hours=30)),
        RawItem("hotline", "b", "爆炸B", "仓库爆炸造成15人死亡", occurred_at=now - timedelta(hours=2)),
    ], "hotline")
    # A: release late (after its 5 h), press conference never → missing; B: release on time
    await app.service.add_evidence(1, "zhao", url="https://xs.gov.cn/a", rule="authoritative_release")
    await app.service.add_evidence(2, "zhao", url="https://xs.gov.cn/b", rule="authoritative_release")
    start, end = ledger.month_bounds("2026-11")
    async with app.store.read() as tx:
        incidents, deadlines, entries = await tx.ledger.month(start, end)
    report = ledger.build(incidents, deadlines, entries, now)
    by_title = {row[1]: row for row in report.rows}
    assert by_title["爆炸A"][6] == "未按时回应" and by_title["爆炸B"][6] == "进行中"
    assert by_title["爆炸A"][4] == "权威信息发布" and by_title["爆炸A"][2] == "区应急局"
    total = report.stats[-1]
    assert total[:6] == ["合计", 1, 1, 1, 1, 4]  # on time, late, missing, pending, all


def test_month_bounds_are_beijing_months():
    start, end = ledger.month_bounds("2026-12")
    assert start == datetime(2026, 12, 1, tzinfo=SHANGHAI) and end == datetime(2027, 1, 1, tzinfo=SHANGHAI)


def test_export_command_writes_the_layout(tmp_path):
    db = f"sqlite:///{tmp_path / 'l.db'}"
    cfg = str(BUNDLED_CONFIG / "demo.yaml")
    jl = tmp_path / "x.jsonl"
    now = datetime.now(SHANGHAI)
    jl.write_text('{"id": "1", "title": "=HYPERLINK(\\"http://evil\\")爆炸", "body": "化工厂爆炸造成12人死亡", '
                  f'"time": "{now.isoformat()}"}}\n', encoding="utf-8")

    def yuqing(*args):
        return subprocess.run([sys.executable, "-m", "monitor", "--config", cfg, "--db", db, *args],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)

    assert yuqing("import", str(jl)).returncode == 0
    assert yuqing("evidence", "1", "--rule", "authoritative_release", "--url", "https://xs.gov.cn/1").returncode == 0
    month = now.strftime("%Y-%m")
    out = tmp_path / "l.xlsx"
    r = yuqing("ledger", "export", "--month", month, "--out", str(out))
    assert r.returncode == 0, r.stderr
    wb = openpyxl.load_workbook(out)
    ws = wb["回应台账"]
    assert [c.value for c in ws[2]] == ledger.COLUMNS
    row = [c.value for c in ws[3]]
    assert row[1].startswith('=HYPERLINK("http://evil")') and ws["B3"].data_type == "s"  # text, not a formula
    assert row[4] == "权威信息发布"
    assert [c.value for c in wb["月度统计"][2]] == ledger.STATS_COLUMNS
    assert yuqing("ledger", "export", "--month", "2026-13").returncode == 2
