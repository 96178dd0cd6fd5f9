"""12345 hotline exports: CSV (UTF-8/BOM/GB18030/GBK, detected), XLSX/XLS (python-calamine).

Reading is split from mapping (as miniflux splits decoding from adapting): `read_rows` yields raw cells with
row numbers, `map_rows` turns them into RawItems or Rejects with a reason. Every row read comes out as one
or the other, so an import can account for all of them.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Iterator

from monitor.core.clock import as_utc
from monitor.core.errors import ExportError, Reject
from monitor.core.model import RawItem

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


# --------------------------------------------------------------------------- decoding
_SAMPLE = 256 * 1024  # bytes read to detect the encoding and the CSV dialect
_SURROGATE = re.compile("[\udc80-\udcff]")  # bytes that did not decode (errors="surrogateescape")


def detect_encoding(sample: bytes, at_eof: bool) -> str:
    """The encoding of a file from its first bytes. A multi-byte character cut at the end of the sample is
    not evidence against an encoding; a few undecodable bytes later in the file become row rejects."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=at_eof)
            return encoding
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is not None:
        return best.encoding
    # Mostly one encoding with a few broken bytes: take the one that breaks least; those rows are rejected.
    errors = {enc: sample.decode(enc, "replace").count("\ufffd") for enc in ("utf-8", "gb18030")}
    best_enc = min(errors, key=lambda e: (errors[e], e != "utf-8"))
    if errors[best_enc] > max(8, len(sample) // 50):
        raise ExportError("无法识别文件编码 (cannot detect the text encoding)")
    return best_enc


def _open_text(path: Path, encoding: str | None) -> tuple[io.TextIOWrapper, str]:
    raw = path.open("rb")
    sample = raw.read(_SAMPLE)
    at_eof = len(sample) < _SAMPLE
    try:
        encoding = encoding or detect_encoding(sample, at_eof)
        codecs.lookup(encoding)
    except LookupError:
        raw.close()
        raise ExportError(f"未知编码 (unknown encoding) {encoding!r}") from None
    except ExportError:
        raw.close()
        raise
    raw.seek(0)
    # Streamed, so a million-row export never sits in memory as one string; bytes that do not decode are
    # kept as surrogates and the row holding them is rejected, not the file.
    return io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline=""), encoding


def _dialect(text: io.TextIOWrapper) -> type[csv.Dialect]:
    """Excel's CSV rules with the delimiter the first line uses most. (csv.Sniffer guesses quoting from
    the sample too, and guesses wrong on Chinese text with quotes in it, shifting whole rows.)"""
    first = text.readline()
    text.seek(0)
    counts = {d: first.count(d) for d in ",\t;|"}
    delimiter = max(counts, key=counts.get) if any(counts.values()) else ","

    class Export(csv.excel):
        pass

    Export.delimiter = delimiter
    return Export


def _csv_rows(path: Path, encoding: str | None, strict: bool = False) -> Iterator[tuple[int, list]]:
    text, _ = _open_text(path, encoding)
    with text:
        reader = csv.reader(text, _dialect(text), strict=strict)
        try:
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:
            hint = "（文件可能被截断 / the file may be truncated）" if "end of data" in str(exc) else ""
            raise ExportError(f"CSV 格式错误 (malformed CSV) at line {reader.line_num}: {exc}{hint}") from None
        except UnicodeDecodeError as exc:  # only with an explicitly declared strict codec
            raise ExportError(f"编码错误 (encoding): {exc}") from None


_SHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")


def _sheet_rows(path: Path, sheet: str | int | None) -> Iterator[tuple[int, list]]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        names = workbook.sheet_names
    except Exception as exc:  # calamine raises its own error types for corrupt/truncated files
        raise ExportError(f"无法打开表格，文件损坏或被截断 (cannot open workbook: corrupt or truncated): {exc}") from None
    if sheet is None:
        candidates = names
    elif isinstance(sheet, int):
        candidates = [names[sheet]] if 0 <= sheet < len(names) else []
    else:
        candidates = [sheet] if sheet in names else []
    if not candidates:
        raise ExportError(f"找不到工作表 (no sheet) {sheet!r}; sheets: {names}")
    chosen = candidates[0]
    for name in candidates:
        try:
            top = list(itertools.islice(workbook.get_sheet_by_name(name).iter_rows(), 20))
        except Exception as exc:
            raise ExportError(f"工作表 {name} 无法读取 (unreadable sheet): {exc}") from None
        if _find_header(top) is not None:
            chosen = name
            break
    try:
        for i, row in enumerate(workbook.get_sheet_by_name(chosen).iter_rows(), start=1):
            yield i, list(row)
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(f"工作表 {chosen} 读取失败 (cannot read sheet): {exc}") from None


def read_rows(path: Path, encoding: str | None = None, sheet: str | int | None = None) -> Iterator[tuple[int, list]]:
    if path.suffix.lower() in _SHEET_SUFFIXES:
        return _sheet_rows(path, sheet)
    return _csv_rows(path, encoding)


def check_readable(path: Path, encoding: str | None = None, sheet: str | int | None = None) -> int:
    """Read the whole file once without keeping it, so that a truncated or corrupt file is refused before
    anything is stored. Returns the number of physical rows."""
    rows = _sheet_rows(path, sheet) if path.suffix.lower() in _SHEET_SUFFIXES else _csv_rows(path, encoding, True)
    n = 0
    for n, _ in enumerate(rows, start=1):
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
) -> Iterator[RawItem | Reject]:
    """RawItems from a header-led table. The RawItem's extra holds the row number and original cells."""
    buffered: list[tuple[int, list]] = []
    columns: dict[str, int] | None = None
    headers: list[str] = []
    names: list[str] | None = None
    text_headers: set[str] = set()
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
                  source: str) -> RawItem | Reject:
    """_map_row for a row of strings (CSV), the same result with less work per cell: each cell stripped
    once, one surrogate search per row."""
    stripped = [v.strip() for v in row]
    raw = {name: text for name, v, text in zip(names, row, stripped) if v}
    if not any(row):
        return Reject(row_no, "空行 (empty row)", raw)
    if _SURROGATE.search("".join(row)):
        raw = {k: _visible(v) for k, v in raw.items()}
        return Reject(row_no, "无法解码的字节 (undecodable bytes): 编码不一致或文件损坏", raw)
    n = len(row)
    values = {f: stripped[i] if i < n else "" for f, i in columns.items()}
    return _to_item(row_no, values, raw, text_headers, source,
                    lambda f: row[columns[f]] if f in columns and columns[f] < n else None)


def _map_row(row_no: int, row: list, columns: dict[str, int], headers: list[str], source: str) -> RawItem | Reject:
    raw = {headers[i] or f"col{i + 1}": _cell_text(v) for i, v in enumerate(row) if i < len(headers) and v not in (None, "")}
    if not any(v not in (None, "") for v in row):
        return Reject(row_no, "空行 (empty row)", raw)

    def cell(field: str) -> object:
        i = columns.get(field)
        return row[i] if i is not None and i < len(row) else None

    if any(isinstance(v, str) and _SURROGATE.search(v) for v in row):
        raw = {k: _visible(v) for k, v in raw.items()}
        return Reject(row_no, "无法解码的字节 (undecodable bytes): 编码不一致或文件损坏", raw)
    values = {f: _cell_text(cell(f)) for f in columns}
    text_headers = {headers[columns[f]] for f in ("title", "body") if f in columns and columns[f] < len(headers)}
    return _to_item(row_no, values, raw, text_headers, source, cell)


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
