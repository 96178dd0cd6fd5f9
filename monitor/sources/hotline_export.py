"""12345 hotline exports: CSV (UTF-8/BOM/GB18030/GBK, detected), XLSX/XLS (python-calamine).

Reading is split from mapping (as miniflux splits decoding from adapting): `read_rows` yields raw cells with
row numbers, `map_rows` turns them into RawItems or Rejects with a reason. Every row read comes out as one
or the other, so an import can account for all of them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Iterator

from monitor.clock import as_utc
from monitor.model import RawItem

MAX_FIELD = 20_000  # characters; longer cells are not citizen messages but broken exports

# Field → header names as 12345 platforms and message boards export them (normalised: no spaces).
DEFAULT_HEADERS: dict[str, list[str]] = {
    "external_id": ["工单编号", "工单号", "编号", "留言编号", "受理编号", "id", "ID", "序号"],
    "title": ["标题", "留言主题", "诉求标题", "主题", "工单标题"],
    "body": ["内容", "诉求内容", "留言详情", "投诉件内容", "来电内容", "问题描述", "诉求描述", "留言内容"],
    "occurred_at": ["时间", "来电时间", "受理时间", "留言时间", "登记时间", "创建时间", "诉求时间"],
    "location": ["地址", "事发地址", "所属区域", "事发地点", "区域", "所在区域"],
    "reporter": ["留言用户", "来电人", "诉求人", "反映人", "用户"],
    "handler": ["承办单位", "办理单位", "责任单位", "处理部门"],
    "status": ["办理状态", "状态", "工单状态"],
    "channel": ["来源", "信息来源", "来电渠道", "渠道"],
    "likes": ["点赞数", "点赞", "支持数"],
    "reply": ["答复意见", "回复", "回复内容", "办理结果", "回复1", "答复内容"],
    "replied_at": ["答复时间", "回复时间", "办结时间"],
}
REQUIRED_ANY = ("title", "body")


class ExportError(Exception):
    """The file as a whole cannot be read (corrupt, truncated, no header)."""


@dataclass
class Reject:
    row_no: int
    reason: str
    raw: dict


def _norm_header(name: object) -> str:
    return re.sub(r"\s+", "", str(name or ""))


def header_map(headers: list[object], extra: dict[str, list[str]] | None = None) -> dict[str, int]:
    """Column index per field; the first matching column wins, the configured names before the defaults."""
    names = [_norm_header(h) for h in headers]
    out: dict[str, int] = {}
    for field, defaults in DEFAULT_HEADERS.items():
        for candidate in [*(extra or {}).get(field, []), *defaults]:
            candidate = _norm_header(candidate)
            if candidate in names:
                out[field] = names.index(candidate)
                break
    return out


# --------------------------------------------------------------------------- decoding
def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Text and encoding. UTF-8 (with or without BOM) first, then GB18030 (a superset of GBK/GB2312),
    then whatever charset-normalizer finds best."""
    if declared:
        return data.decode(declared), declared
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ExportError("无法识别文件编码 (cannot detect the text encoding)")
    return str(best), best.encoding


def _csv_rows(path: Path, encoding: str | None) -> Iterator[tuple[int, list]]:
    data = path.read_bytes()
    try:
        text, _ = decode_bytes(data, encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ExportError(f"编码错误 (encoding): {exc}") from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise ExportError(f"CSV 格式错误 (malformed CSV) at line {reader.line_num}: {exc}") from None


def _sheet_rows(path: Path, sheet: str | int | None) -> Iterator[tuple[int, list]]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for corrupt/truncated files
        raise ExportError(f"无法打开表格 (cannot open workbook): {exc}") from None
    names = workbook.sheet_names
    if sheet is None:
        candidates = names
    elif isinstance(sheet, int):
        candidates = [names[sheet]] if 0 <= sheet < len(names) else []
    else:
        candidates = [sheet] if sheet in names else []
    if not candidates:
        raise ExportError(f"找不到工作表 (no sheet) {sheet!r}; sheets: {names}")
    chosen = None
    for name in candidates:
        rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
        if _find_header(rows[:20]) is not None:
            chosen = rows
            break
    if chosen is None:
        chosen = workbook.get_sheet_by_name(candidates[0]).to_python(skip_empty_area=False)
    for i, row in enumerate(chosen, start=1):
        yield i, list(row)


def read_rows(path: Path, encoding: str | None = None, sheet: str | int | None = None) -> Iterator[tuple[int, list]]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"):
        return _sheet_rows(path, sheet)
    return _csv_rows(path, encoding)


def _find_header(rows: list[list], extra: dict[str, list[str]] | None = None) -> int | None:
    """Index of the header row: the first of the top rows that names a text field and at least one more.
    Titles above the header and merged header rows are skipped."""
    for i, row in enumerate(rows):
        mapped = header_map(row, extra)
        if any(f in mapped for f in REQUIRED_ANY) and len(mapped) >= 2:
            return i
    return None


# --------------------------------------------------------------------------- mapping
_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d",
    "%Y%m%d%H%M%S", "%Y%m%d", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日", "%Y.%m.%d",
    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S.%f",
    # Excel in an English locale writes month/day/year (seen in the Fuzhou export: 12/31/2016)
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y",
)


def parse_time(value: object) -> datetime | None:
    """A cell to an aware UTC datetime (naive values are Beijing time). Empty → None; garbage → ValueError."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return as_utc(datetime.combine(value, time(0)))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20000 < value < 80000:  # an Excel serial date that arrived as a number
            from datetime import timedelta

            return as_utc(datetime(1899, 12, 30) + timedelta(days=float(value)))
        raise ValueError(f"not a time: {value!r}")
    text = str(value).strip().replace("Z", "+00:00")
    if not text:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return as_utc(datetime.strptime(text, fmt))
        except ValueError:
            continue
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(f"无法识别的时间 (not a time): {text[:40]!r}") from None


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 1.0 → "1": ids and counts come out of Excel as floats
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value).strip()


def map_rows(
    rows: Iterator[tuple[int, list]],
    source: str,
    extra: dict[str, list[str]] | None = None,
    scan: int = 20,
) -> Iterator[RawItem | Reject]:
    """RawItems from a header-led table. The RawItem's extra holds the row number and original cells."""
    buffered: list[tuple[int, list]] = []
    columns: dict[str, int] | None = None
    headers: list[str] = []
    for row_no, row in rows:
        if columns is None:
            buffered.append((row_no, row))
            found = _find_header([r for _, r in buffered], extra)
            if found is not None:
                headers = [_norm_header(h) for h in buffered[found][1]]
                columns = header_map(buffered[found][1], extra)
                # rows between a title line and the header are not data
                continue
            if len(buffered) >= scan:
                raise ExportError("找不到表头：前 20 行中没有可识别的标题/内容列 "
                                  "(no header: none of the first 20 rows names a title or content column)")
            continue
        yield _map_row(row_no, row, columns, headers, source)
    if columns is None and buffered:
        raise ExportError("找不到表头 (no header row with a title or content column)")


def _map_row(row_no: int, row: list, columns: dict[str, int], headers: list[str], source: str) -> RawItem | Reject:
    raw = {headers[i] or f"col{i + 1}": _cell_text(v) for i, v in enumerate(row) if i < len(headers) and v not in (None, "")}
    if not any(v not in (None, "") for v in row):
        return Reject(row_no, "空行 (empty row)", raw)

    def cell(field: str) -> object:
        i = columns.get(field)
        return row[i] if i is not None and i < len(row) else None

    values = {f: _cell_text(cell(f)) for f in columns}
    for field, value in values.items():
        if len(value) > MAX_FIELD:
            return Reject(row_no, f"字段过长 (field too long): {field} has {len(value)} characters", raw)
    title, body = values.get("title", ""), values.get("body", "")
    if not title and not body:
        return Reject(row_no, "没有标题和内容 (no text)", raw)
    try:
        occurred = parse_time(cell("occurred_at"))
        replied = parse_time(cell("replied_at"))
    except ValueError as exc:
        return Reject(row_no, f"时间格式错误 (bad date): {exc}", raw)
    likes_text = values.get("likes", "") or "0"
    try:
        likes = int(float(likes_text))
    except ValueError:
        return Reject(row_no, f"点赞数不是数字 (likes is not a number): {likes_text[:20]!r}", raw)
    external_id = values.get("external_id", "")
    if not external_id:
        from monitor.normalize import content_hash

        external_id = "h:" + content_hash(title, body)
    return RawItem(
        source=source,
        external_id=external_id[:200],
        title=title,
        body=body,
        occurred_at=occurred,
        location=values.get("location", "")[:300],
        reporter=values.get("reporter", "")[:200],
        likes=likes,
        status=values.get("status", "")[:50],
        handler=values.get("handler", "")[:200],
        channel=values.get("channel", "")[:100],
        reply=values.get("reply", ""),
        replied_at=replied,
        extra={"row": row_no, "cells": raw},
    )
