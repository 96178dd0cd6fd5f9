"""`yuqing import --workers N`: worker processes read the records' text, one writer stores them in order, and
the store ends up exactly as with one process — every table, row by row — on real 12345/board rows, the bundled
sample, multi-report events that open legal deadlines, and a re-import that updates. A worker that dies is
reported with the rows it held, nothing of them is stored, and running the import again finishes it."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.app import build
from monitor.cli.main import main
from monitor.config.settings import BUNDLED_CONFIG, load_settings
from monitor.core.model import RawItem
from monitor.sources import parallel
from monitor.sources.importer import import_file, records
from monitor.store.schema import metadata
from tests.conftest import SHARED_DATA, _truncate
from tests.event_scenarios import scenarios

BATCH = 250  # several transactions per file: later batches meet stored candidates and open events
HEADER = ["工单编号", "标题", "诉求内容", "受理时间", "事发地址", "诉求人", "办理状态", "点赞数"]


@pytest.fixture(scope="module")
def pool():
    p = parallel.Pool(load_settings(BUNDLED_CONFIG / "demo.yaml"), 2)
    yield p
    p.close()


def real_rows(n: int) -> list[list[str]]:
    """n real board messages (../shared/data), then a tenth of them re-submitted under new numbers, some
    word for word and some with a salutation added: exact and near duplicates."""
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_path(str(SHARED_DATA / "raw" / "tipdm2020C_fj3_full4326_likes.xlsx"))
    table = sheet.get_sheet_by_index(0).to_python()
    head = [str(h).strip() for h in table[0]]
    at = {k: head.index(k) for k in ("留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "点赞数")}
    out = [[f"B{r[at['留言编号']]}", str(r[at["留言主题"]]), str(r[at["留言详情"]]), str(r[at["留言时间"]]), "",
            str(r[at["留言用户"]]), "办理中", str(int(float(r[at["点赞数"]] or 0)))] for r in table[1:n + 1]]
    rng = random.Random(20)
    for k, row in enumerate(rng.sample(out, n // 10)):
        body = row[2] if k % 2 else "尊敬的领导：" + row[2]
        out.append([f"R{k}", row[1], body, row[3], row[4], f"U{k}", "办理中", "0"])
    return out


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="gb18030", errors="replace", newline="") as f:
        csv.writer(f).writerows([HEADER, *rows])
    return path


def event_reports(path: Path, clock) -> Path:
    """The multi-report scenarios of tests/data/events, three hours apart over the last week: explosions,
    collapses, rising tolls — incidents graded 重大 with their 5-hour and 24-hour deadlines, regrades, joins."""
    start = clock.now() - timedelta(days=7)
    with path.open("w", encoding="utf-8") as f:
        for n, s in enumerate(scenarios()):
            for r in s["reports"]:
                at = start + timedelta(hours=3 * n, minutes=r["minutes"])
                f.write(json.dumps({"id": r["id"], "title": r["title"], "body": r["body"], "time": at.isoformat(),
                                    "location": r.get("location", "")}, ensure_ascii=False) + "\n")
    return path


async def run_imports(settings, url: str, clock, jobs: list[tuple[Path, str]], pool) -> tuple[list, dict]:
    app = await build(settings, url, clock)
    try:
        if app.store.dialect == "postgresql":
            await _truncate(app.store)
        stats = [(await import_file(app.pipeline, settings, path, source, BATCH, show_progress=False, pool=pool))
                 .as_json() for path, source in jobs]
        tables = {}
        async with app.store.engine.connect() as conn:
            for table in metadata.sorted_tables:
                rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
                tables[table.name] = [tuple(r) for r in rows]
        return stats, tables
    finally:
        await app.close()


async def test_two_workers_store_exactly_what_one_process_stores(settings, db_url, clock, tmp_path, shared_data,
                                                                  pool):
    rows = real_rows(400)
    export = write_csv(tmp_path / "board.csv", rows)
    later = [r[:6] + ["已办结"] + r[7:] for r in rows[:150]]  # a newer export: handled, one edited text
    later[5] = later[5][:2] + [later[5][2] + "补充：问题仍未解决。"] + later[5][3:]
    newer = write_csv(tmp_path / "board_newer.csv", later)
    jobs = [(export, "board"), (BUNDLED_CONFIG / "demo" / "hotline_sample.csv", "hotline"),
            (event_reports(tmp_path / "events.jsonl", clock), "push"), (newer, "board")]
    one_stats, one = await run_imports(settings, db_url, clock, jobs, None)
    url = db_url if db_url.startswith("postgresql") else f"sqlite:///{tmp_path / 'workers.db'}"
    two_stats, two = await run_imports(settings, url, clock, jobs, pool)

    assert [{k: v for k, v in x.items() if k != "seconds"} for x in two_stats] == \
        [{k: v for k, v in x.items() if k != "seconds"} for x in one_stats]
    for name, expected in one.items():
        assert two[name] == expected, name
    # the comparison is about something: events graded 重大 opened their legal deadlines, reports were grouped,
    # the newer export updated records
    rule = [c.name for c in metadata.tables["deadlines"].columns].index("rule")
    assert {r[rule] for r in one["deadlines"]} >= {"authoritative_release", "press_conference"}
    assert one_stats[0]["duplicates"] > 0 and one_stats[3]["updated"] == 150
    assert len(one["items"]) > len(one["incidents"]) > 500


async def test_a_worker_killed_mid_import_is_reported_and_a_rerun_finishes(settings, db_url, clock, tmp_path,
                                                                           shared_data):
    export = write_csv(tmp_path / "board.csv", real_rows(600)[:600])
    lines = [r.extra["row"] for r in records(export, "board", settings)]  # bodies may hold line breaks
    app = await build(settings, db_url, clock)
    doomed = parallel.Pool(settings, 1)
    try:
        if app.store.dialect == "postgresql":
            await _truncate(app.store)
        os.kill(doomed.pids[0], signal.SIGKILL)  # as if out of memory
        with pytest.raises(parallel.WorkerFailed) as failed:
            await import_file(app.pipeline, settings, export, "board", BATCH, show_progress=False, pool=doomed)
        assert f"第 {lines[0]}–{lines[BATCH - 1]} 行未导入" in str(failed.value)
        assert "退出码 -9" in str(failed.value) and "重新运行同一命令即可继续" in str(failed.value)
        async with app.store.read() as tx:
            assert await tx.items.count() == 0  # the batch it held was not half stored, nor any after it
        again = await import_file(app.pipeline, settings, export, "board", BATCH, show_progress=False)
        async with app.store.read() as tx:
            assert await tx.items.count() == 600
        assert (again.read, again.inserted + again.duplicates) == (600, 600)
    finally:
        doomed.close(finished=False)
        await app.close()


def test_a_record_a_worker_cannot_read_is_reported_with_its_row(pool):
    # a lone surrogate, as a JSON "\\ud800" escape delivers it: the text cannot be encoded to be hashed
    batch = [RawItem("push", "ok-1", "路灯不亮", "金碧街道路灯坏了", extra={"row": 6}),
             RawItem("push", "bad-7", "\ud800", "马街街道噪音", extra={"row": 7})]
    with pytest.raises(parallel.WorkerFailed) as failed:
        pool.result(pool.submit(batch), len(batch))
    assert "第 7 行（编号 bad-7）时出错：UnicodeEncodeError" in str(failed.value)
    assert "该批次未导入" in str(failed.value)
    fine = pool.submit(batch[:1])  # the worker goes on with the next batch
    assert pool.result(fine, 1)[0].understanding.department


@pytest.mark.parametrize("value", ["0", "-2", "two", "65"])
def test_workers_must_be_a_whole_number_from_1(value, tmp_path, capsys):
    export = write_csv(tmp_path / "a.csv", [["A1", "路灯不亮", "金碧街道路灯坏了", "2026-11-01 08:00", "", "", "", "0"]])
    code = main(["--db", f"sqlite:///{tmp_path / 'x.db'}", "import", str(export), "--workers", value])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("错误 (error): --workers") and "进程数应为 1 到 64 的整数" in err
    assert not (tmp_path / "x.db").exists()  # refused before the store is opened


def test_a_small_import_starts_no_worker(tmp_path, capfd):
    export = write_csv(tmp_path / "a.csv", [[f"A{i}", "路灯不亮", f"金碧街道{i}号路灯坏了", "2026-11-01 08:00", "", "", "",
                                              "0"] for i in range(50)])
    code = main(["--db", f"sqlite:///{tmp_path / 'x.db'}", "import", str(export), "--workers", "4", "--json"])
    out, err = capfd.readouterr()
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["inserted"] == 50
    assert parallel.MIN_ROWS > 50 and "import workers" not in err and "导入进程" not in err
