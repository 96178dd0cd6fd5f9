"""Issue 19, items 5–6: imports read with bounded memory, and import keys that keep files and complaints apart.

The bombs are built here (bench/import_bombs.py builds them at the issue's sizes and prints peak RSS and store
growth): a cell far over the cap is read as an excerpt and its size while streaming and its row is quarantined;
a sheet of empty rows is counted, not quarantined; zips the reader should not unpack are refused before they
are. Memory is asserted with tracemalloc (a cell of 50 MB never exists as a string), not with timings."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from sqlalchemy import text

from bench.import_bombs import HEADER, write_cell_bomb, write_csv_bomb, write_xml_bomb
from monitor.config.settings import Settings
from monitor.core.errors import ExportError, Reject, Skipped
from monitor.core.excerpt import EXCERPT, Cut
from monitor.core.model import RawItem
from monitor.sources.csvfile import bounded_lines
from monitor.sources.hotline_export import check_readable, map_rows, read_rows
from monitor.sources.importer import default_source, import_files
from monitor.sources.limits import ImportLimits

MB = 1_000_000


def accounted(stats) -> bool:
    return stats.read == stats.inserted + stats.updated + stats.duplicates + stats.quarantined


def mapped(path: Path, limits: ImportLimits = ImportLimits()) -> tuple[list, int]:
    """The mapped rows of a file and the peak of Python memory allocated while reading them."""
    tracemalloc.start()
    try:
        out = list(map_rows(read_rows(path, limits=limits), "h"))
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def settings_with(**hotline) -> Settings:
    return Settings.model_validate({"sources": [{"name": "hotline", "kind": "hotline_export", **hotline}]})


async def quarantine_rows(app) -> list[dict]:
    async with app.store.read() as tx:
        return await tx.items.quarantined()


async def stored_quarantine_chars(app) -> int:
    """Characters the quarantine's raw, detail and reason take as stored (the same measure on both backends)."""
    async with app.store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT CAST(raw AS TEXT), CAST(detail AS TEXT), reason FROM quarantine"))).all()
    return sum(len(r or "") for row in rows for r in row)


# --------------------------------------------------------------------------- readers
@pytest.mark.parametrize("where", ["shared", "inline", "number"])
def test_a_50_mb_cell_is_read_as_an_excerpt_and_its_size_never_whole(tmp_path, where):
    path = write_cell_bomb(tmp_path / "bomb.xlsx", 50 * MB, where)
    assert path.stat().st_size < 200_000  # 50 MB of text in a small file
    out, peak = mapped(path)
    assert peak < 8 * 2**20, peak  # the cell alone would be 50 MB
    assert [type(r) for r in out] == [RawItem, Reject, RawItem]
    bomb = out[1]
    assert "field too long" in bomb.reason and bomb.detail == {"sizes": {"诉求内容": 50 * MB}}
    assert isinstance(bomb.raw["诉求内容"], Cut) and len(bomb.raw["诉求内容"].excerpt) <= EXCERPT
    assert out[2].external_id == "G2" and out[2].body.startswith("前卫街道")


def test_a_sheet_of_empty_rows_is_counted_and_read_in_little_memory(tmp_path):
    path = write_xml_bomb(tmp_path / "empty.xlsx", 10_000)
    out, peak = mapped(path)
    assert [type(r) for r in out[:2]] == [RawItem, Skipped] and len(out) == 10_001
    assert sum(isinstance(r, Skipped) for r in out) == 10_000
    assert peak < 4 * 2**20, peak  # the rows are not kept: about what one row needs
    assert check_readable(path) == 10_002  # the fast check counts the rows it does not build


def test_a_sheet_over_the_row_limit_is_refused_by_the_check(tmp_path):
    path = write_xml_bomb(tmp_path / "rows.xlsx", 2_000)
    with pytest.raises(ExportError, match="行数上限"):
        check_readable(path, limits=ImportLimits(rows=1_000))
    with pytest.raises(ExportError, match="行数上限"):
        list(read_rows(path, limits=ImportLimits(rows=1_000)))


def test_a_csv_field_of_8_mb_over_many_lines_quarantines_its_row_only(tmp_path):
    path = write_csv_bomb(tmp_path / "bomb.csv", 8 * MB)
    check_readable(path)  # the file is whole: no error
    out, peak = mapped(path)
    assert peak < 16 * 2**20, peak
    assert [type(r) for r in out] == [RawItem, Reject, RawItem]
    assert out[1].detail["sizes"]["诉求内容"] > 7 * MB and len(out[1].raw["诉求内容"].excerpt) <= EXCERPT
    lines = path.read_bytes().count(b"\n")
    assert out[2].external_id == "G2" and out[2].extra["row"] == lines  # row numbers go on right after it


def test_a_csv_line_over_the_cap_keeps_the_quoting_of_the_next_rows(tmp_path):
    limits = ImportLimits(row_chars=4096)
    # the cut falls inside a quoted field; the part dropped holds an escaped quote and the closing one
    long_field = '"' + "长" * 3000 + '说""好""' + "a" * 10 + '"'
    body = ",".join(HEADER) + "\n" + f"X1,超长,{long_field},2026-11-20 08:00\n" + "X2,第二行,\"引号,逗号\",2026-11-21\n"
    path = tmp_path / "cut.csv"
    path.write_text(body, encoding="utf-8")
    out, _ = mapped(path, limits)
    assert [type(r) for r in out] == [Reject, RawItem]
    assert out[0].detail["sizes"]["诉求内容"] > 4096
    assert out[1].external_id == "X2" and out[1].body == "引号,逗号"


def test_a_utf8_header_over_gbk_rows_imports(tmp_path):
    path = tmp_path / "mixed.csv"
    rows = [["A1", "路灯不亮", "金碧街道路灯坏了一个月", "2026-11-20 08:00"],
            ["A2", "噪音扰民", "前卫街道工地夜间施工", "2026-11-21 23:00"]]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes((",".join(HEADER) + "\r\n").encode("utf-8") + buf.getvalue().encode("gbk"))
    out, _ = mapped(path)
    assert [(r.external_id, r.title, r.body) for r in out] == [tuple(r[:3]) for r in rows]
    # and the other way round: a GBK header over UTF-8 rows
    path.write_bytes((",".join(HEADER) + "\r\n").encode("gbk") + buf.getvalue().encode("utf-8"))
    out, _ = mapped(path)
    assert [(r.external_id, r.title, r.body) for r in out] == [tuple(r[:3]) for r in rows]


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"\xe4\xb8\xad", b'"', b",", b"\r", b"\n", b"\r\n", b"xyz" * 7]),
                max_size=80), st.lists(st.integers(1, 40), min_size=1, max_size=10), st.integers(4, 40))
def test_bounded_lines_splits_as_csv_does_and_never_keeps_more_than_the_cap(pieces, cuts, cap):
    data = b"".join(pieces)
    chunks, at = [], 0
    for n in cuts * (len(data) // max(1, sum(cuts)) + 1):
        chunks.append(data[at:at + n])
        at += n
    chunks.append(data[at:])
    reference = re.findall(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", data)
    got = list(bounded_lines(iter(chunks), cap))
    assert len(got) == len(reference)
    for (line, n), ref in zip(got, reference):
        body = ref.rstrip(b"\r\n")
        if len(body) <= cap:
            assert line == ref
        else:  # cut: its start, the closing quote its dropped part needs, its line end; the full length
            end = ref[len(body):]
            dropped_quotes = body[cap:].count(b'"')
            assert line == body[:cap] + (b'"' if dropped_quotes % 2 else b"") + end and n == len(body)


def _zip(path: Path, parts: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    """A workbook from a bomb's skeleton with some parts replaced (compressed with `method`)."""
    base = write_cell_bomb(path.with_suffix(".base.xlsx"), 10)
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(path, "w") as out:
        for info in src.infolist():
            data = parts.pop(info.filename, None)
            out.writestr(info.filename, src.read(info) if data is None else data,
                         compress_type=method if data is not None else zipfile.ZIP_DEFLATED)
        for name, data in parts.items():
            out.writestr(name, data, compress_type=method)
    return path


_SHEET = ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
          '<sheetData>{}</sheetData></worksheet>')


@pytest.mark.parametrize("case,message", [
    ("bzip2", "不支持的压缩方式"),
    ("doctype", "DOCTYPE"),
    ("attribute", "XML 标记"),
    ("members", "条目过多"),
    ("unpacked", "超过上限"),
    ("not_a_zip", "无法打开表格"),
])
def test_workbooks_the_reader_should_not_unpack_are_refused_with_the_reason(tmp_path, case, message):
    limits = ImportLimits()
    path = tmp_path / f"{case}.xlsx"
    if case == "bzip2":  # bzip2 can expand a millionfold: only stored and deflated parts are read
        _zip(path, {"xl/worksheets/sheet1.xml": _SHEET.format("").encode()}, zipfile.ZIP_BZIP2)
    elif case == "doctype":  # entity expansion ("billion laughs") needs a DOCTYPE: none is accepted
        laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
                  '<worksheet><sheetData><row><c t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>')
        _zip(path, {"xl/worksheets/sheet1.xml": laughs.encode()})
    elif case == "attribute":  # a tag that expat would have to buffer whole
        _zip(path, {"xl/worksheets/sheet1.xml": _SHEET.format(f'<row><c r="A1" t="{"x" * 3_000_000}"/></row>').encode()})
    elif case == "members":
        _zip(path, {f"junk/{i}.xml": b"<a/>" for i in range(30)})
        limits = ImportLimits(zip_members=20)
    elif case == "unpacked":
        write_cell_bomb(path, 20 * MB)
        limits = ImportLimits(unpacked_bytes=10 * MB)
    else:
        path.write_bytes(b"PK\x03\x04" + b"\x00" * 300)
    with pytest.raises(ExportError, match=message):
        list(read_rows(path, limits=limits))


def test_a_cell_past_the_last_column_is_dropped_not_a_crash(tmp_path):
    cells = ('<row r="1"><c r="A1" t="inlineStr"><is><t>标题</t></is></c><c r="B1" t="inlineStr"><is><t>内容</t></is></c></row>'
             '<row r="2"><c r="A2" t="inlineStr"><is><t>路灯</t></is></c><c r="ZZZZZZZZ2" t="inlineStr"><is><t>x</t></is></c>'
             '<c t="inlineStr"><is><t>y</t></is></c></row>')
    path = _zip(tmp_path / "cols.xlsx", {"xl/worksheets/sheet1.xml": _SHEET.format(cells).encode()})
    rows = list(read_rows(path))
    assert rows == [(1, ["标题", "内容"]), (2, ["路灯"])]


def test_an_xls_over_the_size_limit_is_refused_before_calamine_reads_it(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200_000)
    with pytest.raises(ExportError, match="XLSX 或 CSV"):
        list(read_rows(path, limits=ImportLimits(whole_bytes=100_000)))


def test_the_streaming_reader_reads_the_shared_exports_as_python_calamine_does(shared_data):
    from python_calamine import CalamineWorkbook

    from monitor.sources.xlsx import Workbook

    for path in sorted((shared_data / "raw").glob("*.xlsx")):
        theirs_book = CalamineWorkbook.from_path(str(path))
        with Workbook(path) as book:
            assert book.sheet_names == theirs_book.sheet_names
            for name in book.sheet_names:
                sheet = theirs_book.get_sheet_by_name(name)
                top, left = sheet.start or (0, 0)  # calamine's rows start at the first used cell
                theirs = {(top + i, left + j): v for i, row in enumerate(sheet.iter_rows())
                          for j, v in enumerate(row) if v != ""}
                mine = {(n - 1, j): v for n, row in book.rows(name) for j, v in enumerate(row) if v != ""}
                assert mine == theirs, (path.name, name)


# --------------------------------------------------------------------------- imports into the store
async def test_a_cell_bomb_imports_its_good_rows_and_quarantines_an_excerpt_once(app, tmp_path):
    path = write_cell_bomb(tmp_path / "bomb.xlsx", 50 * MB)
    stats = await import_files(app.pipeline, app.settings, [path], "hotline")
    assert (stats.read, stats.inserted, stats.quarantined) == (3, 2, 1) and accounted(stats)
    [q] = await quarantine_rows(app)
    assert q["detail"]["sizes"] == {"诉求内容": 50 * MB} and q["row_no"] == 3
    assert len(q["raw"]["诉求内容"]) <= EXCERPT and q["raw"]["工单编号"] == "BOMB"
    again = await import_files(app.pipeline, app.settings, [path], "hotline")
    assert again.quarantined == 1 and len(await quarantine_rows(app)) == 1  # keyed by file and row
    assert await stored_quarantine_chars(app) < 8_000


async def test_empty_rows_are_counted_not_quarantined_and_a_reimport_adds_no_rows(app, tmp_path):
    path = write_xml_bomb(tmp_path / "empty.xlsx", 5_000)
    stats = await import_files(app.pipeline, app.settings, [path], "hotline")
    assert (stats.read, stats.inserted, stats.empty, stats.quarantined) == (1, 1, 5_000, 0) and accounted(stats)
    assert stats.empty == 5_000 and "empty" not in stats.as_json()  # the --json keys are fixed
    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(HEADER) + "\n" + "\n" * 3 + "X1,,,2026-11-20\nX2,标题,内容,去年冬天\n", encoding="utf-8")
    for _ in range(3):
        stats = await import_files(app.pipeline, app.settings, [bad], "hotline")
        assert (stats.empty, stats.quarantined) == (3, 2)
    assert [r["row_no"] for r in await quarantine_rows(app)] == [5, 6]


async def test_an_oversized_csv_field_quarantines_its_row_not_the_file(app, tmp_path):
    path = write_csv_bomb(tmp_path / "bomb.csv", 5 * MB)
    stats = await import_files(app.pipeline, app.settings, [path], "hotline")
    assert (stats.read, stats.inserted, stats.quarantined) == (3, 2, 1) and accounted(stats)
    [q] = await quarantine_rows(app)
    # an excerpt of 2,000 characters (stored JSON-escaped, 6 bytes a character), not 5 MB
    assert q["detail"]["sizes"]["诉求内容"] > 4 * MB and await stored_quarantine_chars(app) < 20_000


async def test_rows_over_the_configured_limit_refuse_the_file_before_anything_is_stored(app, tmp_path):
    app.settings = settings_with(max_rows=1_000)
    path = tmp_path / "many.csv"
    path.write_text(",".join(HEADER) + "\n" + "".join(f"R{i},路灯,路灯坏了{i},2026-11-20\n" for i in range(1_500)),
                    encoding="utf-8")
    with pytest.raises(ExportError, match="行数上限"):
        await import_files(app.pipeline, app.settings, [path], "hotline")
    async with app.store.read() as tx:
        assert await tx.items.count() == 0


async def test_the_quarantine_keeps_excerpts_and_sizes_whatever_the_source(app, clock):
    async with app.store.write() as tx:
        await tx.items.quarantine([{"source": "board", "file": "", "row_no": 0, "reason": "原因" * 5000,
                                    "created_at": clock.now(),
                                    "raw": {"record": {"body": "长" * 1_000_000, "list": ["短"] * 3000}}}])
    [q] = await quarantine_rows(app)
    assert q["detail"]["sizes"]["record.body"] == 1_000_000 and len(q["raw"]["record"]["body"]) <= EXCERPT
    assert "#values" in q["detail"]["sizes"] and len(q["reason"]) <= EXCERPT
    assert await stored_quarantine_chars(app) < 80_000


# --------------------------------------------------------------------------- import keys (item 6)
def _export(path: Path, rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, *rows])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


async def test_files_imported_without_a_source_keep_their_ids_apart(app, tmp_path):
    a = _export(tmp_path / "西山区12345_11月.csv", [[f"{i}", "路灯不亮", f"金碧街道{i}号路灯坏了", "2026-11-20"] for i in range(5)])
    b = _export(tmp_path / "fuzhou.csv", [[f"{i}", "河道黑臭", f"{i}号内河发黑发臭，蚊虫很多", "2026-11-21"] for i in range(5)])
    assert default_source(a, app.settings) == "hotline:西山区12345_11月"
    stats = await import_files(app.pipeline, app.settings, [a, b], None)
    assert (stats.inserted, stats.updated, stats.quarantined) == (10, 0, 0)
    async with app.store.read() as tx:
        assert (await tx.items.by_external_ids("hotline:fuzhou", ["3"]))["3"]["title"] == "河道黑臭"
        assert (await tx.items.by_external_ids("hotline:西山区12345_11月", ["3"]))["3"]["title"] == "路灯不亮"


async def test_a_known_id_holding_another_complaint_is_a_conflict_and_a_small_edit_an_update(app, tmp_path):
    first = _export(tmp_path / "a.csv", [
        ["GD1", "生了二胎要强制结扎吗", "J4县计生办要求生了二胎的妇女必须结扎，请问合法吗", "2026-11-20"],
        ["GD2", "小区噪音扰民", "楼下酒吧每晚噪音严重，凌晨两点还在放音乐，影响休息", "2026-11-20"]])
    second = _export(tmp_path / "b.csv", [
        ["GD1", "请求合理进行拆旧改造", "彭市乡塘家湾村的旧房拆迁补偿不合理，请求重新评估", "2026-11-21"],
        ["GD2", "小区噪音扰民", "楼下酒吧每晚噪音严重，凌晨三点还在放音乐，严重影响休息", "2026-11-21"]])
    await import_files(app.pipeline, app.settings, [first], "hotline")
    stats = await import_files(app.pipeline, app.settings, [second], "hotline")
    assert (stats.updated, stats.quarantined) == (1, 1) and accounted(stats)
    async with app.store.read() as tx:
        items = await tx.items.by_external_ids("hotline", ["GD1", "GD2"])
    assert items["GD1"]["title"] == "生了二胎要强制结扎吗"  # not overwritten
    assert "凌晨三点" in items["GD2"]["body"]  # the small edit is applied
    [q] = await quarantine_rows(app)
    conflict = q["detail"]["conflict"]
    assert "编号冲突" in q["reason"] and conflict["item_id"] == items["GD1"]["id"] and conflict["similarity"] < 0.2
    assert conflict["stored"]["title"] == "生了二胎要强制结扎吗" and conflict["incoming"]["title"] == "请求合理进行拆旧改造"
    await import_files(app.pipeline, app.settings, [second], "hotline")
    assert len(await quarantine_rows(app)) == 1  # the same conflict is not quarantined twice


async def test_the_shared_real_exports_imported_one_after_another_overwrite_nothing(app, shared_data, tmp_path):
    """The issue's case: different complaints that share a number in the tipdm board export and the Fuzhou
    12345 export. Without --source each file keeps its own ids; under one source they are conflicts."""
    from monitor.sources.importer import records

    raw = shared_data / "raw"
    board = {r.external_id: r for r in records(raw / "tipdm2020C_fj2_testphase2801_unlabeled.xlsx", "x", Settings())
             if isinstance(r, RawItem)}
    fuzhou = [r for r in records(raw / "fuzhou12345_heichou_1464.xlsx", "x", Settings())
              if isinstance(r, RawItem) and r.external_id in board]
    assert len(fuzhou) >= 30  # (the excerpt is built from the shared files, not committed)
    a = _export(tmp_path / "board.csv", [[r.external_id, board[r.external_id].title, board[r.external_id].body[:500],
                                          "2019-05-01"] for r in fuzhou])
    b = _export(tmp_path / "fuzhou.csv", [[r.external_id, r.title, r.body[:500], "2019-05-02"] for r in fuzhou])
    apart = await import_files(app.pipeline, app.settings, [a, b], None)
    assert (apart.updated, apart.quarantined, apart.inserted) == (0, 0, 2 * len(fuzhou))
    together = await import_files(app.pipeline, app.settings, [a, b], "one-source")
    assert together.updated == 0 and together.quarantined == len(fuzhou)


# --------------------------------------------------------------------------- the watched folder
async def test_healthz_answers_while_the_folder_imports_a_large_file(app, tmp_path):
    import aiohttp

    from monitor.web.server import serve
    from tests.harness import free_port

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rows = 3_000
    _export(inbox / "big.csv", [[f"F{i}", f"第{i}号路灯不亮", f"金碧街道{i}号路灯坏了{i % 97}天，晚上出行不便", "2026-11-20"]
                                for i in range(rows)])
    app.settings = settings_with(path=str(inbox), settle="0s", batch=50)
    stop = asyncio.Event()
    ready = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve(app, f"127.0.0.1:{free_port()}", ready=ready.set_result, stop=stop))
    url = await ready

    async def progress() -> dict:
        async with app.store.read() as tx:
            row = await tx.sources.get("hotline")
        return ((row or {}).get("cursor") or {}).get("files", {}).get("big.csv", {})

    try:
        while not (p := await progress()).get("rows"):  # the worker has committed its first batches
            await asyncio.sleep(0.05)
        assert not p["done"]
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/healthz") as r:
                assert r.status == 200 and await r.json() == {"status": "ok"}
        while not (await progress()).get("done"):
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await server
    async with app.store.read() as tx:
        assert await tx.items.count() == rows


async def test_a_worker_killed_mid_import_is_reported_and_the_file_imports_once_it_changes(app, tmp_path):
    import multiprocessing
    import os
    import signal

    from monitor.sources.registry import make_collector
    from monitor.sources.runner import SourceRunner

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rows = 2_000
    big = _export(inbox / "big.csv", [[f"K{i}", f"第{i}号楼道灯坏了", f"马街街道{i}号楼{i % 97}单元楼道灯坏了{i % 13}天",
                                       "2026-11-20"] for i in range(rows)])
    app.settings = settings_with(path=str(inbox), settle="0s", batch=50)
    cfg = app.settings.source("hotline")
    runner = SourceRunner(app, cfg, make_collector(cfg, app.settings))

    async def files() -> dict:
        async with app.store.read() as tx:
            return ((await tx.sources.get("hotline") or {}).get("cursor") or {}).get("files", {})

    poll = asyncio.create_task(runner.poll())
    while not (await files()).get("big.csv", {}).get("rows"):
        await asyncio.sleep(0.05)
    [worker] = [p for p in multiprocessing.active_children() if p.name == "import:big.csv"]
    os.kill(worker.pid, signal.SIGKILL)  # as the kernel's OOM killer would
    ctx = await poll
    assert ctx.error is None  # the source is healthy: one file failed, and says why
    entry = (await files())["big.csv"]
    assert "异常退出" in entry["error"] and 0 < entry["rows"] < rows and not entry["done"]
    os.utime(big, (big.stat().st_atime, big.stat().st_mtime - 5))  # the file changes: it is imported again
    ctx = await runner.poll()
    assert (await files())["big.csv"]["done"]
    async with app.store.read() as tx:
        assert await tx.items.count() == rows


def test_json_lines_are_read_line_by_line_and_a_long_line_is_an_excerpt(tmp_path):
    from monitor.sources.jsonlines import read_jsonlines

    path = tmp_path / "push.jsonl"
    good = {"id": "1", "title": "路灯", "body": "路灯坏了", "time": "2026-11-20T08:00:00+08:00"}
    with path.open("w", encoding="utf-8") as f:
        f.write(json.dumps(good, ensure_ascii=False) + "\n\n")
        f.write(json.dumps({**good, "id": "2", "body": "长" * 8_000_000}, ensure_ascii=False) + "\n")  # 24 MB
        f.write(json.dumps({**good, "id": "3"}, ensure_ascii=False) + "\n")
    tracemalloc.start()
    out = list(read_jsonlines(path, "push"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [type(r) for r in out] == [RawItem, Skipped, Reject, RawItem]
    assert peak < 12 * 2**20, peak  # a few 1 MB pieces, never the line
    assert "line too long" in out[2].reason and out[2].detail["sizes"]["line"] > 24_000_000
