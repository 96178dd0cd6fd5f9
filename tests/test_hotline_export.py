"""Export reading: encodings, header detection, row accounting."""

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest

from monitor.core.clock import SHANGHAI
from monitor.core.model import RawItem
from monitor.core.errors import ExportError, Reject, Skipped
from monitor.sources.hotline_export import map_rows, parse_time, read_rows

HEADER = ["工单编号", "标题", "诉求内容", "受理时间", "事发地址", "办理状态", "点赞数"]
ROWS = [
    ["A001", "小区噪音扰民", "楼下酒吧每晚噪音严重，影响休息", "2026/11/20 21:05:00", "马街街道", "办理中", "3"],
    ["A002", "拖欠工资", "某工地拖欠农民工工资三个月", "2026-11-21 09:00", "前卫街道", "已办结", ""],
]


def write_csv(path: Path, rows, encoding: str, prefix_rows=()) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    for r in [*prefix_rows, HEADER, *rows]:
        w.writerow(r)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def items(path: Path):
    return list(map_rows(read_rows(path), "hotline"))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_encodings_are_detected(tmp_path, encoding):
    out = items(write_csv(tmp_path / "x.csv", ROWS, encoding))
    assert [i.external_id for i in out] == ["A001", "A002"]
    assert out[0].title == "小区噪音扰民" and out[0].location == "马街街道" and out[0].likes == 3
    assert out[0].occurred_at == datetime(2026, 11, 20, 21, 5, tzinfo=SHANGHAI)


def test_title_rows_above_the_header_are_skipped(tmp_path):
    path = write_csv(tmp_path / "x.csv", ROWS, "gb18030",
                     prefix_rows=[["12345热线工单导出（2026年11月）"], ["导出时间：2026-11-22"]])
    out = items(path)
    assert [i.external_id for i in out] == ["A001", "A002"]
    assert out[0].extra["row"] == 4


def test_bad_rows_are_rejected_with_reasons(tmp_path):
    bad = [
        ["A003", "", "", "2026-11-21", "", "", ""],  # no text
        ["A004", "时间坏了", "内容", "去年冬天", "", "", ""],  # broken date
        ["A005", "赞不是数", "内容", "2026-11-21", "", "", "很多"],
        ["", "", "", "", "", "", ""],  # empty row
        ["A006", "超长", "长" * 20001, "2026-11-21", "", "", ""],
    ]
    out = items(write_csv(tmp_path / "x.csv", [*ROWS, *bad], "utf-8"))
    rejects = [r for r in out if isinstance(r, Reject)]
    assert len(out) == 7 and len(rejects) == 4
    assert [r.row_no for r in out if isinstance(r, Skipped)] == [7]  # the empty row: counted, not a reject
    reasons = " | ".join(r.reason for r in rejects)
    for expected in ("no text", "bad date", "likes is not a number", "field too long"):
        assert expected in reasons
    assert rejects[0].row_no == 4 and rejects[1].raw["受理时间"] == "去年冬天"


def test_missing_id_gets_a_stable_content_id(tmp_path):
    rows = [["", "标题", "内容", "2026-11-21", "", "", ""]]
    a = items(write_csv(tmp_path / "a.csv", rows, "utf-8"))[0]
    b = items(write_csv(tmp_path / "b.csv", rows, "gb18030"))[0]
    assert a.external_id == b.external_id and a.external_id.startswith("h:")


def test_no_header_is_an_error_naming_the_problem(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(ExportError, match="no header"):
        items(path)


def test_xlsx_with_dates_and_formulas(tmp_path):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2026年11月工单"])  # a merged title row above the header
    ws.merge_cells("A1:E1")
    ws.append(["编号", "留言主题", "留言详情", "留言时间", "点赞数"])
    ws.append([1, "路灯不亮", "金碧街道路灯坏了一个月", datetime(2026, 11, 20, 8, 30), 2])
    ws.append([2, "噪音", "工地夜间施工", datetime(2026, 11, 21, 23, 0), "=B1"])
    ws["E4"] = "=E3+1"
    path = tmp_path / "x.xlsx"
    wb.save(path)
    out = items(path)
    assert [i.external_id for i in out] == ["1", "2"]
    assert out[0].occurred_at == datetime(2026, 11, 20, 8, 30, tzinfo=SHANGHAI)
    # openpyxl writes no cached values for formulas: the cell reads as empty, not as the formula text
    assert isinstance(out[1], RawItem) and out[1].likes == 0


def test_real_exports_read_with_default_headers(shared_data):
    for name, expect_min in [("tipdm2020C_fj2_testphase2801_unlabeled.xlsx", 2800),
                             ("fuzhou12345_heichou_1464.xlsx", 1400)]:
        out = items(shared_data / "raw" / name)
        good = [i for i in out if isinstance(i, RawItem)]
        assert len(good) >= expect_min, name
        assert all(i.title or i.body for i in good)


@pytest.mark.parametrize(
    "value,expected",
    [("2019/12/30 17:06:14", datetime(2019, 12, 30, 17, 6, 14, tzinfo=SHANGHAI)),
     ("2020-09-03", datetime(2020, 9, 3, tzinfo=SHANGHAI)),
     ("2020年1月6日", datetime(2020, 1, 6, tzinfo=SHANGHAI)),
     ("2026-11-23T12:00:00Z", datetime(2026, 11, 23, 20, 0, tzinfo=SHANGHAI)),
     (44000.5, datetime(2020, 6, 18, 12, 0, tzinfo=SHANGHAI)),
     ("", None), (None, None)],
)
def test_parse_time(value, expected):
    assert parse_time(value) == expected


def test_legacy_xls_with_a_merged_title_a_formula_and_a_junk_footer():
    out = items(Path(__file__).parent / "fixtures" / "hotline_legacy.xls")
    good = [r for r in out if isinstance(r, RawItem)]
    assert [r.external_id for r in good] == ["X1", "X2", "X3"]
    assert good[0].occurred_at == datetime(2026, 11, 20, 22, 15, tzinfo=SHANGHAI) and good[0].likes == 3
    assert [r.reason for r in out if isinstance(r, Reject)][-1].startswith("没有标题和内容")


def test_quotes_inside_chinese_text_do_not_shift_rows(tmp_path):
    # csv.Sniffer once guessed the quoting from such a sample and shifted every later row by a column
    body = ['物业说"马上修"，但一个月了没人来', '他们回复""已处理""，实际没有', "正常内容"]
    rows = [[f"Q{i}", "电梯", b, "2026-11-20 08:00", "", "", ""] for i, b in enumerate(body * 40)]
    out = items(write_csv(tmp_path / "q.csv", rows, "gb18030"))
    assert all(isinstance(r, RawItem) for r in out) and len(out) == 120
    assert out[0].body == body[0] and out[1].body == body[1]
