"""XLSX read as a stream with bounds (issue 19: a 511 KB file holding one 500 MB cell took 2.7 GB through
python-calamine, which builds every sheet whole).

1. The zip is inspected before anything is unpacked: a central directory of at most `zip_members` entries,
   only stored or deflated parts (bzip2/lzma members can expand a millionfold), each XML part we read at most
   `unpacked_bytes` uncompressed and at most `ratio` times its compressed size.
2. Parts are parsed with expat in 64 KB pieces. Text is collected up to the cell cap and then only counted, so
   a longer cell becomes a `Cut` (excerpt and size) while it is read and is never joined whole; a tag that
   grows past 1 MB without an event (a 500 MB attribute) refuses the file; a DOCTYPE (entity bombs) too.
3. The shared-strings table is spilled to a temporary file as it is parsed and read back by index, so a table
   of millions of strings is not millions of objects in memory.

Values come out as python-calamine gives them (tests compare both on the shared real exports): strings, floats,
bools, date/datetime/time for date-formatted numbers, "" for empty and error cells."""

from __future__ import annotations

import os
import re
import struct
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator
from xml.parsers import expat

from monitor.core.errors import ExportError
from monitor.core.excerpt import EXCERPT, Cut
from monitor.sources.limits import DEFAULT, ImportLimits

_PIECE = 64 * 1024
_TOKEN = 1 << 20  # bytes an XML tag, comment or attribute may take before expat reports it
_META = 16 << 20  # workbook, relationships and styles parts: small by nature
MAX_COLUMNS = 16_384  # Excel's last column, XFD
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")  # OOXML's escape for control characters (_x000D_ = \r)


def _local(name: str) -> str:
    return name[name.find(":") + 1:]  # "x:row" → "row": strict and transitional OOXML, any prefix


def _refuse_doctype(*_args) -> None:
    raise ExportError("表格含 DOCTYPE 声明，拒绝读取 (the workbook's XML declares a DOCTYPE: refused)")


def _parse(zf: zipfile.ZipFile, info: zipfile.ZipInfo, start: Callable | None = None, end: Callable | None = None,
           text: Callable | None = None, raw: Callable[[bytes], None] | None = None) -> Iterator[None]:
    """Feed one part to expat in pieces, yielding after each (the handlers have done their work; `raw` sees
    each piece of bytes first). Without handlers expat only checks the XML, at C speed."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = _PIECE
    if start is not None:
        parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = _refuse_doctype
    fed = 0
    try:
        with zf.open(info) as stream:
            while piece := stream.read(_PIECE):
                if raw is not None:
                    raw(piece)
                parser.Parse(piece, False)
                fed += len(piece)
                if fed - parser.CurrentByteIndex > _TOKEN:
                    raise ExportError(f"{info.filename}: XML 标记超过 {_TOKEN >> 20} MB，拒绝读取 "
                                      "(an XML tag longer than 1 MB: refused)")
                yield
            parser.Parse(b"", True)
            yield
    except expat.ExpatError as exc:
        raise ExportError(f"{info.filename}: XML 格式错误，文件损坏 (malformed XML): {exc}") from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:  # a bad CRC, a cut stream, an inflate error
        raise ExportError(f"{info.filename}: 压缩数据损坏 (corrupt compressed data): {exc}") from None
    except Exception as exc:
        if type(exc).__name__ == "error" and type(exc).__module__ == "zlib":
            raise ExportError(f"{info.filename}: 压缩数据损坏 (corrupt compressed data): {exc}") from None
        raise


def _drain(parts: Iterator[None]) -> None:
    for _ in parts:
        pass


# --------------------------------------------------------------------------- the zip
def _zip_entries(path: Path) -> int:
    """Entries in the zip's central directory, read from its end record before zipfile loads the directory."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65_557))  # the end record (22 bytes) and a comment of at most 65,535
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise ExportError("无法打开表格，文件损坏或被截断 (cannot open workbook: corrupt or truncated): 缺少 zip 目录 "
                          "(no zip directory)")
    return struct.unpack_from("<H", tail, at + 10)[0]


def open_zip(path: Path, limits: ImportLimits) -> zipfile.ZipFile:
    entries = _zip_entries(path)
    if entries == 0xFFFF or entries > limits.zip_members:
        raise ExportError(f"压缩包条目过多 (too many zip entries: {entries}); 不像工作簿 (not a workbook)")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ExportError(f"无法打开表格，文件损坏或被截断 (cannot open workbook: corrupt or truncated): {exc}") from None
    if len(zf.infolist()) > limits.zip_members:
        zf.close()
        raise ExportError("压缩包条目过多 (too many zip entries)")
    return zf


def check_part(info: zipfile.ZipInfo, cap: int, limits: ImportLimits) -> None:
    """Refuse a part before unpacking it: an unusual method, a size over the cap, a ratio deflate cannot make."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ExportError(f"{info.filename}: 不支持的压缩方式 {info.compress_type} (unsupported compression); "
                          "请用 Excel/WPS 另存为 XLSX (save it again as XLSX)")
    ratio = info.file_size / max(1, info.compress_size)
    if info.file_size > cap:
        raise ExportError(f"{info.filename}: 解压后 {info.file_size:,} 字节（压缩比 {ratio:.0f}:1），超过上限 {cap:,} "
                          f"(unpacks to {info.file_size:,} bytes, over the limit): 疑似压缩炸弹或超大文件，请拆分后导入")
    if ratio > limits.ratio and info.file_size > (1 << 20):
        raise ExportError(f"{info.filename}: 压缩比 {ratio:.0f}:1 异常 (compression ratio {ratio:.0f}:1 is "
                          "beyond what deflate makes): 疑似压缩炸弹 (a compression bomb?)")


# --------------------------------------------------------------------------- text with a cap
class _Text:
    """Character data of one value, kept up to `cap` characters and counted past it."""

    __slots__ = ("parts", "kept", "size", "cap")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.kept = self.size = 0
        self.cap = 0

    def reset(self, cap: int) -> None:
        self.parts.clear()
        self.kept = self.size = 0
        self.cap = cap

    def add(self, data: str) -> None:
        self.size += len(data)
        room = self.cap - self.kept
        if room > 0:
            piece = data if len(data) <= room else data[:room]
            self.parts.append(piece)
            self.kept += len(piece)

    def value(self) -> str | Cut:
        text = "".join(self.parts)
        if self.size > self.kept:
            return Cut(_unescape(text[:EXCERPT]), self.size)
        return _unescape(text)


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


# --------------------------------------------------------------------------- shared strings
class SharedStrings:
    """The table spilled to a temporary file as parsed: per string a record (offset, characters) in an
    index file and its UTF-8 in a data file, read back with pread. Short strings read are cached."""

    _ENTRY = struct.Struct("<QQ")  # data offset, characters (the original size of a cut string)

    def __init__(self) -> None:
        self.data = tempfile.TemporaryFile()
        self.index = tempfile.TemporaryFile()
        self.count = 0
        self._offset = 0
        self._pending: list[bytes] = []
        self._cache: dict[int, str] = {}
        self._cache_by_text: dict[str, str] = {}  # the same, keyed by the index as written in the sheet
        self.cut: set[int] = set()

    def add(self, value: str | Cut) -> None:
        if isinstance(value, Cut):
            self.cut.add(self.count)
            raw, chars = value.excerpt.encode("utf-8", "surrogatepass"), value.size
        else:
            raw, chars = value.encode("utf-8", "surrogatepass"), len(value)
        self._pending.append(self._ENTRY.pack(self._offset, chars))
        self.data.write(raw)
        self._offset += len(raw)
        self.count += 1
        if len(self._pending) >= 4096:
            self.index.write(b"".join(self._pending))
            self._pending.clear()

    def finish(self) -> None:
        self._pending.append(self._ENTRY.pack(self._offset, 0))  # the end of the last string
        self.index.write(b"".join(self._pending))
        self._pending.clear()
        self.data.flush()
        self.index.flush()

    def chars(self, i: int) -> int:
        """Length in characters of string i (without reading it)."""
        if not 0 <= i < self.count:
            return 0
        return self._ENTRY.unpack(os.pread(self.index.fileno(), 16, 16 * i))[1]

    def get(self, i: int, room: int) -> str | Cut:
        """String i, or a Cut when it was cut at parse time or is longer than `room` characters."""
        if not 0 <= i < self.count:
            return ""  # a dangling index reads as empty, as python-calamine reads it
        hit = self._cache.get(i)
        if hit is not None and len(hit) <= room:
            return hit
        start, chars, end, _ = struct.unpack("<QQQQ", os.pread(self.index.fileno(), 32, 16 * i))
        if i in self.cut or chars > room:
            head = os.pread(self.data.fileno(), min(end - start, 4 * EXCERPT), start)
            return Cut(head.decode("utf-8", "ignore")[:EXCERPT], chars)
        text = os.pread(self.data.fileno(), end - start, start).decode("utf-8", "surrogatepass")
        if chars <= 256:
            if len(self._cache) >= 65_536:
                self._cache.clear()
                self._cache_by_text.clear()
            self._cache[i] = self._cache_by_text[str(i)] = text
        return text

    def close(self) -> None:
        self.data.close()
        self.index.close()


def read_shared_strings(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ImportLimits) -> SharedStrings:
    table = SharedStrings()
    text = _Text()
    depth = {"si": False, "t": False, "rph": 0}

    def start(name, _attrs):
        tag = _local(name)
        if tag == "si":
            depth["si"] = True
            text.reset(limits.cell_chars)
        elif tag == "t" and depth["si"] and not depth["rph"]:
            depth["t"] = True
        elif tag == "rPh":
            depth["rph"] += 1  # phonetic runs are not part of the value

    def end(name):
        tag = _local(name)
        if tag == "t":
            depth["t"] = False
        elif tag == "rPh":
            depth["rph"] -= 1
        elif tag == "si":
            depth["si"] = False
            table.add(text.value())

    def chars(data):
        if depth["t"]:
            text.add(data)

    try:
        _drain(_parse(zf, info, start, end, chars))
        table.finish()
    except BaseException:
        table.close()
        raise
    return table


# --------------------------------------------------------------------------- styles: which cells hold dates
_DATE_IDS = {*range(14, 23), 45, 46, 47}
_ELAPSED = re.compile(r"\[(h+|m+|s+)\]", re.I)


def is_date_format(code: str) -> bool:
    """Whether a number format shows a date or time: a d, m, y, h or s outside quotes, escapes and
    [colour]/[condition] brackets, in its first section; or AM/PM."""
    escaped = quoted = False
    brackets = 0
    lowered = code.lower()
    if lowered.startswith("general"):
        return False
    for i, ch in enumerate(lowered):
        if escaped:
            escaped = False
        elif ch in "_\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == ";":
            return False
        elif ch == "[":
            if _ELAPSED.match(lowered, i):
                return True
            brackets += 1
        elif ch == "]":
            brackets = max(0, brackets - 1)
        elif brackets:
            continue
        elif ch in "dmyhs" or lowered.startswith(("am/pm", "a/p"), i):
            return True
    return False


def read_date_styles(zf: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> list[bool]:
    """Per cell style (cellXfs index): whether it formats numbers as dates."""
    if info is None:
        return []
    formats: dict[int, str] = {}
    xf_ids: list[int] = []
    where = {"cellXfs": False}

    def start(name, attrs):
        tag = _local(name)
        if tag == "numFmt":
            try:
                formats[int(attrs.get("numFmtId", "-1"))] = attrs.get("formatCode", "")
            except ValueError:
                pass
        elif tag == "cellXfs":
            where["cellXfs"] = True
        elif tag == "xf" and where["cellXfs"]:
            try:
                xf_ids.append(int(attrs.get("numFmtId", "0")))
            except ValueError:
                xf_ids.append(0)

    def end(name):
        if _local(name) == "cellXfs":
            where["cellXfs"] = False

    _drain(_parse(zf, info, start, end))
    return [i in _DATE_IDS or (i in formats and is_date_format(formats[i])) for i in xf_ids]


def excel_date(serial: float, date1904: bool):
    """An Excel serial as python-calamine gives it: a date when whole, a time under one day, else a datetime
    to the millisecond."""
    if date1904:
        serial += 1462
    try:
        if 0 <= serial < 1:
            return (datetime(2000, 1, 1) + timedelta(milliseconds=round(serial * 86_400_000))).time()
        moment = datetime(1899, 12, 30) + timedelta(milliseconds=round(serial * 86_400_000))
    except (OverflowError, ValueError):
        return serial
    return moment.date() if serial == int(serial) else moment


# --------------------------------------------------------------------------- the workbook
_REL_OFFICE = "/officeDocument"


def _target(base: str, target: str) -> str:
    """A relationship target as a zip name (relative to the part's folder, or absolute from the root)."""
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = []
    for piece in (PurePosixPath(base).parent / target).parts:
        if piece == "..":
            if parts:
                parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _rels_name(part: str) -> str:
    folder, _, name = part.rpartition("/")
    return f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels"


def _rels(zf: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """(id, type, target zip name) of a part's relationships."""
    info = _member(zf, _rels_name(part))
    if info is None:
        return []
    out: list[tuple[str, str, str]] = []

    def start(tag, attrs):
        if _local(tag) == "Relationship" and attrs.get("TargetMode") != "External":
            out.append((attrs.get("Id", ""), attrs.get("Type", ""), _target(part, attrs.get("Target", ""))))

    _drain(_parse(zf, info, start))
    return out


def _member(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo | None:
    try:
        return zf.getinfo(name)
    except KeyError:
        # some writers differ in case from their relationships (Windows tools)
        lowered = name.lower()
        return next((i for i in zf.infolist() if i.filename.lower() == lowered), None)


class Workbook:
    """An XLSX opened for streaming: sheet names in order, then rows of one sheet at a time."""

    def __init__(self, path: Path, limits: ImportLimits = DEFAULT) -> None:
        self.limits = limits
        self.zf = open_zip(path, limits)
        self._strings: SharedStrings | None = None
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    def _meta(self, name: str) -> zipfile.ZipInfo | None:
        info = _member(self.zf, name)
        if info is not None:
            check_part(info, _META, self.limits)
        return info

    def _load(self) -> None:
        self._meta("_rels/.rels")
        book = next((t for _, typ, t in _rels(self.zf, "") if typ.endswith(_REL_OFFICE)), "xl/workbook.xml")
        info = self._meta(book)
        if info is None:
            raise ExportError("不是有效的 XLSX：缺少 workbook.xml (not an XLSX: no workbook part)")
        self._meta(_rels_name(book))
        rels = _rels(self.zf, book)
        by_id = {rid: target for rid, _, target in rels}
        sheets: list[tuple[str, str]] = []
        flags = {"date1904": False}

        def start(tag, attrs):
            local = _local(tag)
            if local == "sheet":
                rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
                sheets.append((attrs.get("name", ""), by_id.get(rid, "")))
            elif local == "workbookPr":
                flags["date1904"] = attrs.get("date1904", "0").lower() in ("1", "true")

        _drain(_parse(self.zf, info, start))
        self.sheets = sheets
        self.sheet_names = [name for name, _ in sheets]
        self.date1904 = flags["date1904"]
        self._strings_part = next((t for _, typ, t in rels if typ.endswith("/sharedStrings")), None)
        styles = next((t for _, typ, t in rels if typ.endswith("/styles")), None)
        self.date_styles = read_date_styles(self.zf, self._meta(styles) if styles else None)

    def _shared(self) -> SharedStrings | None:
        if self._strings is None and self._strings_part:
            info = _member(self.zf, self._strings_part)
            if info is not None:
                check_part(info, self.limits.unpacked_bytes, self.limits)
                self._strings = read_shared_strings(self.zf, info, self.limits)
        return self._strings

    def rows(self, name: str) -> Iterator[tuple[int, list]]:
        target = dict(self.sheets).get(name)
        info = _member(self.zf, target) if target else None
        if info is None:
            raise ExportError(f"工作表 {name} 缺失 (sheet {name} is missing from the file)")
        check_part(info, self.limits.unpacked_bytes, self.limits)
        return _sheet_rows(self.zf, info, self._shared(), self.date_styles, self.date1904, self.limits)

    def count_rows(self, name: str) -> int:
        """Check a sheet (and the shared strings) to their end — compressed data, XML, size limits — without
        building cells: expat with no handlers, and the row tags counted in the bytes (text cannot hold a
        "<", so every match is a tag; one in a comment would count too, never one too few). Refuses more
        than the row limit."""
        target = dict(self.sheets).get(name)
        info = _member(self.zf, target) if target else None
        if info is None:
            raise ExportError(f"工作表 {name} 缺失 (sheet {name} is missing from the file)")
        check_part(info, self.limits.unpacked_bytes, self.limits)
        if self._strings_part and (strings := _member(self.zf, self._strings_part)) is not None:
            check_part(strings, self.limits.unpacked_bytes, self.limits)
            _drain(_parse(self.zf, strings))
        counter = _RowTags(self.limits.rows)
        _drain(_parse(self.zf, info, raw=counter.feed))
        return counter.rows

    def close(self) -> None:
        if self._strings is not None:
            self._strings.close()
            self._strings = None
        self.zf.close()

    def __enter__(self) -> "Workbook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _RowTags:
    """Row start tags counted in the raw bytes of a sheet, across piece boundaries."""

    _TAG = re.compile(rb"<(?:[A-Za-z_][\w.\-]{0,40}:)?row[\s/>]")

    def __init__(self, limit: int) -> None:
        self.rows, self.limit, self.tail = 0, limit, b""

    def feed(self, piece: bytes) -> None:
        both = self.tail + piece
        # matches reaching into this piece: those of tail+piece less those inside the tail (counted before)
        self.rows += len(self._TAG.findall(both)) - len(self._TAG.findall(self.tail))
        self.tail = both[-64:]
        if self.rows > self.limit:
            raise ExportError(f"工作表超过行数上限 {self.limit:,} 行 (more than {self.limit:,} rows)；"
                              "请拆分文件或调高 max_rows (split the file or raise max_rows)")


# --------------------------------------------------------------------------- a sheet, row by row
_COLUMNS: dict[str, int] = {}


def _column(ref: str) -> int:
    """0-based column of a cell reference ("B7" → 1); -1 when there is none."""
    letters = ref.rstrip("0123456789")
    col = _COLUMNS.get(letters)
    if col is None:
        col = 0
        for ch in letters.upper():
            if not "A" <= ch <= "Z":
                return -1
            col = col * 26 + ord(ch) - 64
            if col > MAX_COLUMNS:
                break
        col -= 1
        if len(_COLUMNS) < 20_000:
            _COLUMNS[letters] = col
    return col


_C, _V, _T, _ROW, _IS, _RPH, _DIM = range(7)
_TAGS = {"c": _C, "v": _V, "t": _T, "row": _ROW, "is": _IS, "rPh": _RPH, "dimension": _DIM}


class _SheetReader:
    """expat handlers for one sheet: complete rows are appended to `done`. Per cell the text is kept up to the
    cell cap (and the row's remaining `room`), counted past it; the common cell — a shared-string index or a
    number — takes the short path."""

    def __init__(self, name: str, strings: SharedStrings | None, date_styles: list[bool], date1904: bool,
                 limits: ImportLimits) -> None:
        self.name, self.strings, self.date_styles, self.date1904 = name, strings, date_styles, date1904
        self.limits, self.cell_cap = limits, limits.cell_chars
        self.done: list[tuple[int, list]] = []
        self.tags = dict(_TAGS)
        self.cache = strings._cache_by_text if strings is not None else {}
        self.row: list | None = None
        self.row_no = self.rows = self.style = self.rph = self.width = self.size = 0
        self.col = -1
        self.kind = "n"
        self.parts: list[str] = []
        self.capture = self.has_value = self.in_is = False
        self.room = self.cap = limits.row_chars

    def _tag(self, name: str) -> int:
        code = self.tags.get(name)
        if code is None:
            code = self.tags[name] = _TAGS.get(_local(name), -1)
        return code

    def start(self, name, attrs):
        tag = self.tags.get(name)
        if tag is None:
            tag = self._tag(name)
        if tag == _C:
            ref = attrs.get("r")
            # a reference past Excel's last column is no cell of a sheet: it is read and dropped (col −1)
            col = _column(ref) if ref else self.col + 1 if self.col >= -1 else -2
            self.col = col if 0 <= col < MAX_COLUMNS else -2
            self.kind = kind = attrs.get("t", "n")
            s = attrs.get("s")
            self.style = int(s) if s and s.isdigit() else 0
            self.has_value = False
            self.parts.clear()
            self.size = 0
            # a shared-string index is a short number: more is no index
            self.cap = 32 if kind == "s" else min(self.cell_cap, max(self.room, 0))
        elif tag == _V or (tag == _T and self.in_is and not self.rph):
            self.capture = self.has_value = True
        elif tag == _ROW:
            r = attrs.get("r")
            self.row_no = int(r) if r and r.isdigit() else self.row_no + 1
            self.rows += 1
            if self.rows > self.limits.rows:
                raise ExportError(f"工作表超过行数上限 {self.limits.rows:,} 行 (more than {self.limits.rows:,} rows)；"
                                  "请拆分文件或调高 max_rows (split the file or raise max_rows)")
            self.row, self.col, self.room = [], -1, self.limits.row_chars
        elif tag == _IS:
            self.in_is = True
        elif tag == _RPH:
            self.rph += 1
        elif tag == _DIM:
            ref = attrs.get("ref", "")
            last = _column(ref.rpartition(":")[2]) + 1 if ref else 0
            self.width = last if 0 < last <= MAX_COLUMNS else 0

    def chars(self, data):
        if self.capture:
            self.size += len(data)
            if self.size <= self.cap:
                self.parts.append(data)
            else:  # past the cap: keep up to it, count the rest
                kept = sum(map(len, self.parts))
                if kept < self.cap:
                    self.parts.append(data[: self.cap - kept])

    def end(self, name):
        tag = self.tags.get(name)
        if tag is None:
            tag = self._tag(name)
        if tag == _C:
            if self.has_value:
                parts = self.parts
                text = parts[0] if len(parts) == 1 else "".join(parts)
                if self.size > len(text):
                    value = Cut(_unescape(text[:EXCERPT]), self.size)
                elif self.kind == "s":
                    # most cells of an export: a short shared string read before (statuses, places, "")
                    value = self.cache.get(text)
                    if value is None or len(value) > self.room:
                        value = self._shared(text)
                else:
                    value = _cell(self.kind, _unescape(text), self.style, self.date_styles, self.date1904)
            else:
                value = ""
            if value != "":
                row, col = self.row, self.col
                if row is not None and col >= 0:
                    if col >= len(row):
                        row.extend([""] * (col - len(row) + 1))
                    row[col] = value
                self.room -= len(value) if isinstance(value, str) else len(value.excerpt) if isinstance(value, Cut) else 0
            self.in_is = self.capture = False
        elif tag == _V or tag == _T:
            self.capture = False  # rich-text runs: the next <t> adds to the same value
        elif tag == _ROW:
            row = self.row
            if self.width > len(row):
                row.extend([""] * (self.width - len(row)))
            self.done.append((self.row_no, row))
            self.row = None
        elif tag == _RPH:
            self.rph -= 1

    def _shared(self, index: str):
        if self.strings is None or not index.isdigit():
            return ""
        return self.strings.get(int(index), max(0, min(self.room, self.cell_cap)))


def _sheet_rows(zf: zipfile.ZipFile, info: zipfile.ZipInfo, strings: SharedStrings | None, date_styles: list[bool],
                date1904: bool, limits: ImportLimits) -> Iterator[tuple[int, list]]:
    reader = _SheetReader(info.filename, strings, date_styles, date1904, limits)
    done = reader.done
    for _ in _parse(zf, info, reader.start, reader.end, reader.chars):
        if done:
            yield from done
            done.clear()


def _cell(kind: str, value: str, style: int, date_styles: list[bool], date1904: bool):
    """A cell's value from its type and text (shared strings are looked up by the reader)."""
    if kind in ("inlineStr", "str"):
        return value
    if kind == "b":
        return value.strip() in ("1", "true")
    if kind == "e":
        return ""  # #N/A, #DIV/0!… read as empty, as python-calamine reads them
    if kind == "d":
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return value
    try:
        number = float(value)
    except ValueError:
        return value
    if style < len(date_styles) and date_styles[style]:
        return excel_date(number, date1904)
    return number
