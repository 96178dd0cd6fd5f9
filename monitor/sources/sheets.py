"""Workbooks, whatever their format, as rows of one chosen sheet.

XLSX/XLSM are streamed with bounds (monitor/sources/xlsx.py). XLS, XLSB and ODS go to python-calamine, which
builds a sheet whole: only files that are small enough — the file itself (XLS), or the sum of its unpacked parts
(XLSB, ODS: zips, inspected first) — are handed to it, and its cells get the same cell and row caps after."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable, Iterator

from monitor.core.errors import ExportError
from monitor.core.excerpt import cut
from monitor.sources.limits import DEFAULT, ImportLimits
from monitor.sources.xlsx import Workbook, check_part, open_zip

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
_CORRUPT = "无法打开表格，文件损坏或被截断 (cannot open workbook: corrupt or truncated)"


class _Calamine:
    """python-calamine behind the size guard, with the caps applied to what it returns."""

    def __init__(self, path: Path, limits: ImportLimits) -> None:
        from python_calamine import CalamineWorkbook

        self.limits = limits
        try:
            self.book = CalamineWorkbook.from_path(str(path))
            self.sheet_names = self.book.sheet_names
        except Exception as exc:  # calamine raises its own error types for corrupt/truncated files
            raise ExportError(f"{_CORRUPT}: {exc}") from None

    def rows(self, name: str) -> Iterator[tuple[int, list]]:
        try:
            rows = self.book.get_sheet_by_name(name).iter_rows()
            for i, row in enumerate(rows, start=1):
                if i > self.limits.rows:
                    raise ExportError(f"工作表超过行数上限 {self.limits.rows:,} 行 (more than {self.limits.rows:,} rows)")
                cap = self.limits.cell_chars
                yield i, [cut(v) if isinstance(v, str) and len(v) > cap else v for v in row]
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(f"工作表 {name} 读取失败 (cannot read sheet): {exc}") from None

    def close(self) -> None:
        pass


def _guard_whole(path: Path, zipped: bool, limits: ImportLimits) -> None:
    if zipped:
        with open_zip(path, limits) as zf:
            total = 0
            for info in zf.infolist():
                check_part(info, limits.whole_bytes, limits)
                total += info.file_size
    else:
        total = path.stat().st_size
    if total > limits.whole_bytes:
        raise ExportError(f"{path.suffix.upper().lstrip('.')} 文件内容 {total:,} 字节，超过上限 {limits.whole_bytes:,} "
                          f"(over the limit for this format): 请在 Excel/WPS 中另存为 XLSX 或 CSV 后导入 "
                          "(save it as XLSX or CSV, which are read as a stream)")


def open_book(path: Path, limits: ImportLimits = DEFAULT):
    with path.open("rb") as f:
        magic = f.read(8)
    if magic.startswith(b"PK"):
        with open_zip(path, limits) as zf:
            names = {i.filename.lower() for i in zf.infolist()}
        if "xl/workbook.bin" in names or "content.xml" in names:  # XLSB, ODS
            _guard_whole(path, True, limits)
            return _Calamine(path, limits)
        return Workbook(path, limits)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):  # the OLE container of XLS (and of encrypted workbooks)
        _guard_whole(path, False, limits)
        return _Calamine(path, limits)
    raise ExportError(_CORRUPT)


def sheet_rows(path: Path, sheet: str | int | None, has_header: Callable[[list[list]], bool],
               limits: ImportLimits = DEFAULT) -> Iterator[tuple[int, list]]:
    """Rows of the named sheet, or of the first whose top rows hold a header (`has_header`)."""
    book = open_book(path, limits)
    try:
        yield from book.rows(_choose(book, sheet, has_header))
    finally:
        book.close()


def count_rows(path: Path, sheet: str | int | None, has_header: Callable[[list[list]], bool],
               limits: ImportLimits = DEFAULT) -> int:
    """Read the chosen sheet to its end without keeping it (an XLSX without building its cells): a corrupt
    or cut file, or one over the limits, raises ExportError. Returns its rows."""
    book = open_book(path, limits)
    try:
        name = _choose(book, sheet, has_header)
        if isinstance(book, Workbook):
            return book.count_rows(name)
        return sum(1 for _ in book.rows(name))
    finally:
        book.close()


def _choose(book, sheet: str | int | None, has_header: Callable[[list[list]], bool]) -> str:
    """The named sheet, or the first whose top 20 non-empty rows hold a header."""
    names = book.sheet_names
    if sheet is None:
        candidates = names
    elif isinstance(sheet, int):
        candidates = [names[sheet]] if 0 <= sheet < len(names) else []
    else:
        candidates = [sheet] if sheet in names else []
    if not candidates:
        raise ExportError(f"找不到工作表 (no sheet) {sheet!r}; sheets: {names[:50]}")
    for name in candidates if len(candidates) > 1 else ():
        top = list(itertools.islice((r for _, r in book.rows(name) if any(v not in (None, "") for v in r)), 20))
        if has_header(top):
            return name
    return candidates[0]
