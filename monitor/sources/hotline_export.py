"""12345 hotline exports: CSV (UTF-8/BOM/GB18030/GBK, detected per row: csvfile.py), XLSX (streamed:
xlsx.py), XLS/XLSB/ODS (python-calamine behind a size guard: sheets.py).

Reading is split from mapping (as miniflux splits decoding from adapting): `read_rows` yields raw cells with
row numbers, `map_rows` turns them into RawItems, Rejects with a reason, or Skipped for an empty row. Every
row read comes out as one of them, so an import can account for all of them.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Iterator

from monitor.core.clock import as_utc
from monitor.core.errors import ExportError, Reject, Skipped
from monitor.core.excerpt import Cut
from monitor.core.model import RawItem
from monitor.sources.csvfile import csv_rows
from monitor.sources.limits import DEFAULT, ImportLimits
from monitor.sources.sheets import SUFFIXES as SHEET_SUFFIXES, count_rows, sheet_rows

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


# --------------------------------------------------------------------------- reading
_SURROGATE = re.compile("[\udc80-\udcff]")  # bytes that did not decode (errors="surrogateescape")


def read_rows(path: Path, encoding: str | None = None, sheet: str | int | None = None,
              limits: ImportLimits = DEFAULT, strict: bool = False) -> Iterator[tuple[int, list]]:
    """(row number, cells) of a CSV or a workbook, streamed with the caps of `limits`: a cell over the cap is
    a `Cut`, more rows than the cap refuse the file."""
    if path.suffix.lower() in SHEET_SUFFIXES:
        return sheet_rows(path, sheet, lambda top: _find_header(top) is not None, limits)
    return csv_rows(path, encoding, strict, limits)


def check_readable(path: Path, encoding: str | None = None, sheet: str | int | None = None,
                   limits: ImportLimits = DEFAULT) -> int:
    """Read the whole file once without keeping it, so that a truncated or corrupt file is refused before
    anything is stored. Returns the number of physical rows."""
    if path.suffix.lower() in SHEET_SUFFIXES:
        return count_rows(path, sheet, lambda top: _find_header(top) is not None, limits)
    n = 0
    for n, _ in enumerate(read_rows(path, encoding, sheet, limits, strict=True), start=1):
        pass
    return n


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


_ISO_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")  # exactly what the first format reads


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
    if len(text) == 19 and _ISO_SECONDS.fullmatch(text):  # the usual export format: one C call, not strptime
        return as_utc(datetime.fromisoformat(text))
    for fmt in _DATE_FORMATS:
        try:
            return as_utc(datetime.strptime(text, fmt))
        except ValueError:
            continue
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(f"无法识别的时间 (not a time): {text[:40]!r}") from None


def _visible(text: str) -> str:
    """Undecodable bytes shown as \\xNN, so that the quarantined row can be stored and read."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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
) -> Iterator[RawItem | Reject | Skipped]:
    """RawItems from a header-led table. The RawItem's extra holds the row number and original cells. An
    empty row is Skipped (counted, not quarantined); empty rows above the header are not scanned for it."""
    buffered: list[tuple[int, list]] = []
    columns: dict[str, int] | None = None
    headers: list[str] = []
    names: list[str] | None = None
    text_headers: set[str] = set()
    for row_no, row in rows:
        if columns is None:
            if not any(v not in (None, "") for v in row):
                continue
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
        if names is None:
            names = [h or f"col{i + 1}" for i, h in enumerate(headers)]
            text_headers = {headers[columns[f]] for f in ("title", "body") if f in columns and columns[f] < len(headers)}
        if all(type(v) is str for v in row):  # CSV: every cell a string
            yield _map_text_row(row_no, row, columns, names, text_headers, source)
        else:
            yield _map_row(row_no, row, columns, headers, source)
    if columns is None and buffered:
        raise ExportError("找不到表头 (no header row with a title or content column)")


def _map_text_row(row_no: int, row: list[str], columns: dict[str, int], names: list[str], text_headers: set[str],
                  source: str) -> RawItem | Reject | Skipped:
    """_map_row for a row of strings (CSV), the same result with less work per cell: each cell stripped
    once, one surrogate search per row."""
    if not any(row):
        return Skipped(row_no)
    stripped = [v.strip() for v in row]
    raw = {name: text for name, v, text in zip(names, row, stripped) if v}
    if _SURROGATE.search("".join(row)):
        raw = {k: _visible(v) for k, v in raw.items()}
        return Reject(row_no, "无法解码的字节 (undecodable bytes): 编码不一致或文件损坏", raw)
    n = len(row)
    values = {f: stripped[i] if i < n else "" for f, i in columns.items()}
    return _to_item(row_no, values, raw, text_headers, source,
                    lambda f: row[columns[f]] if f in columns and columns[f] < n else None)


def _map_row(row_no: int, row: list, columns: dict[str, int], headers: list[str],
             source: str) -> RawItem | Reject | Skipped:
    if not any(v not in (None, "") for v in row):
        return Skipped(row_no)
    if any(type(v) is Cut for v in row):
        return _oversized(row_no, row, headers)
    raw = {headers[i] or f"col{i + 1}": _cell_text(v) for i, v in enumerate(row) if i < len(headers) and v not in (None, "")}

    def cell(field: str) -> object:
        i = columns.get(field)
        return row[i] if i is not None and i < len(row) else None

    if any(isinstance(v, str) and _SURROGATE.search(v) for v in row):
        raw = {k: _visible(v) for k, v in raw.items()}
        return Reject(row_no, "无法解码的字节 (undecodable bytes): 编码不一致或文件损坏", raw)
    values = {f: _cell_text(cell(f)) for f in columns}
    text_headers = {headers[columns[f]] for f in ("title", "body") if f in columns and columns[f] < len(headers)}
    return _to_item(row_no, values, raw, text_headers, source, cell)


def _oversized(row_no: int, row: list, headers: list[str]) -> Reject:
    """A row with a cell the reader cut for its size: quarantined with excerpts (the store keeps them
    bounded) and each cut cell's size, never the cell."""
    def name(i: int) -> str:
        return (headers[i] if i < len(headers) else "") or f"col{i + 1}"

    raw = {name(i): Cut(_visible(v.excerpt), v.size) if type(v) is Cut else _visible(_cell_text(v))
           for i, v in enumerate(row) if v not in (None, "")}
    sizes = {name(i): v.size for i, v in enumerate(row) if type(v) is Cut}
    first = max(sizes, key=sizes.get)
    return Reject(row_no, f"字段过长 (field too long): 「{first}」有 {sizes[first]:,} 个字符，超过单元格或整行的上限，"
                          f"只保留摘录 (over the cell or row limit: an excerpt is kept)", raw, detail={"sizes": sizes})


def _to_item(row_no: int, values: dict[str, str], raw: dict[str, str], text_headers: set[str], source: str,
             cell) -> RawItem | Reject:
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
    except (ValueError, OverflowError):
        return Reject(row_no, f"点赞数不是数字 (likes is not a number): {likes_text[:20]!r}", raw)
    if not 0 <= likes < 1_000_000_000:
        return Reject(row_no, f"点赞数超出范围 (likes out of range): {likes_text[:20]!r}", raw)
    external_id = values.get("external_id", "")
    if not external_id:
        from monitor.understanding.normalize import content_hash

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
        # the title/body cells are stored in their columns: the rest of the row is kept for provenance
        extra={"row": row_no, "cells": {k: v for k, v in raw.items() if k not in text_headers}},
    )
