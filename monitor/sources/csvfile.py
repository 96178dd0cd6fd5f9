"""CSV exports read with bounded memory and an encoding per row.

Lines are split here from the bytes, not by a text layer that would build a 500 MB line whole: a line longer
than the cap is cut while it is read and only its length is counted, and a quoted field that runs on over
many lines is cut the same way once its record passes the cap. The cut cell comes out as a `Cut` (excerpt
and size), so its row is quarantined and the rest of the file imports.

csv parses the lines as latin-1 (one character per byte: delimiters, quotes and line ends are found in any
ASCII-compatible encoding), and each row is then decoded on its own: UTF-8 when it is valid UTF-8, else the
file's encoding. A UTF-8 header over GBK rows (an export stitched by two tools) imports; a row of broken
bytes is rejected alone. (Of the 11,407 real messages in the shared data, encoded as GBK, none is valid
UTF-8 as a row, so trying UTF-8 first misreads no GBK row.)
"""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path
from typing import BinaryIO, Iterator

from monitor.core.errors import ExportError
from monitor.core.excerpt import Cut, cut
from monitor.sources.limits import DEFAULT, ImportLimits

_SAMPLE = 256 * 1024  # bytes read to detect the encoding and the delimiter
_CHUNK = 1 << 20
_EOL = re.compile(rb"\r\n|\r|\n")  # what csv's newline="" mode takes for a line end


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


def _delimiter(first_line: str) -> str:
    """The delimiter the header line uses most. (csv.Sniffer guesses quoting from the sample too, and
    guesses wrong on Chinese text with quotes in it, shifting whole rows.)"""
    counts = {d: first_line.count(d) for d in ",\t;|"}
    return max(counts, key=counts.get) if any(counts.values()) else ","


def _bytes_as_they_are(encoding: str, delimiter: str) -> bool:
    """Whether delimiter, quote and line ends are the same single bytes in this encoding and never half of
    a character. GBK, Big5 and Shift-JIS trail bytes reach down to 0x40, so '|' (0x7C) may be half of one."""
    name = codecs.lookup(encoding).name
    if name == "utf-8-sig":  # its BOM is skipped before reading
        name = "utf-8"
    probe = "\r\n\",;\t|"
    try:
        if probe.encode(name) != probe.encode("ascii"):
            return False  # UTF-16/32: every character is several bytes
    except UnicodeError:
        return False
    return delimiter < "\x40" or name in ("utf-8", "utf-8-sig", "ascii", "latin-1", "cp1252")


def _chunks(raw: BinaryIO) -> Iterator[bytes]:
    while chunk := raw.read(_CHUNK):
        yield chunk


def _transcoded(raw: BinaryIO, encoding: str) -> Iterator[bytes]:
    """The file as UTF-8 bytes, decoded chunk by chunk (undecodable bytes kept as surrogate escapes, so
    their row is rejected, not the file)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="surrogateescape")
    for chunk in _chunks(raw):
        yield decoder.decode(chunk).encode("utf-8", "surrogateescape")
    yield decoder.decode(b"", final=True).encode("utf-8", "surrogateescape")


def _closed(head: bytes, dropped_quotes: int, end: bytes) -> bytes:
    # A line cut short keeps csv's quoting state: quotes toggle it ("" twice), so an odd number of quotes
    # in the part dropped is made up by one closing quote.
    return head + b'"' + end if dropped_quotes % 2 else head + end


def bounded_lines(chunks: Iterator[bytes], cap: int) -> Iterator[tuple[bytes, int]]:
    """(line with its line end, its length in the file: more than `cap` when it was cut). A line longer
    than `cap` bytes comes out as its first `cap` bytes; the rest is only counted, never held."""
    carry = b""  # the start of a line not ended yet (shorter than cap)
    head: bytes | None = None  # the kept start of an unended line that passed the cap
    over = quotes = 0  # bytes dropped from it, and quotes among them
    for chunk in chunks:
        if not chunk:
            continue
        data = carry + chunk if carry else chunk
        carry = b""
        end = len(data) - 1 if data.endswith(b"\r") else len(data)  # "\r" may be half of "\r\n"
        if head is None:  # the usual chunk: split in C, every line under the cap
            lines = (data[:end] if end < len(data) else data).splitlines(True)
            rest = lines.pop() if lines and lines[-1][-1:] not in (b"\n", b"\r") else b""
            if len(rest) <= cap and (not lines or max(map(len, lines)) <= cap):
                for line in lines:
                    yield line, len(line)
                carry = rest + data[end:]
                continue
        pos = 0
        for m in _EOL.finditer(data, 0, end):
            start, pos = pos, m.end()
            if head is not None:
                part = data[start:m.start()]
                yield _closed(head, quotes + part.count(b'"'), m.group()), len(head) + over + len(part)
                head, over, quotes = None, 0, 0
            elif m.start() - start > cap:
                yield _closed(data[start:start + cap], data.count(b'"', start + cap, m.start()), m.group()), \
                    m.start() - start
            else:
                yield data[start:pos], m.start() - start
        if head is None and end - pos > cap:
            head, over, quotes = data[pos:pos + cap], end - pos - cap, data.count(b'"', pos + cap, end)
        elif head is not None:
            over += end - pos
            quotes += data.count(b'"', pos, end)
        else:
            carry = data[pos:end]
        carry += data[end:]  # a held-back "\r"
    if head is not None:
        yield _closed(head, quotes, carry), len(head) + over
    elif carry:
        yield carry, len(carry.rstrip(b"\r"))


class _Record:
    """Where csv.reader is in the file: the physical line, and the record it is reading (bytes in the file,
    bytes handed over, quotes among them, whether it was cut)."""

    __slots__ = ("line_no", "size", "kept", "quotes", "cut")

    def __init__(self) -> None:
        self.line_no = 0
        self.size = self.kept = self.quotes = 0
        self.cut = False

    def end(self) -> int:
        """After csv made a row of the lines read: its size in the file if it was cut, else 0."""
        size = self.size if self.cut else 0
        self.size = self.kept = self.quotes = 0
        self.cut = False
        return size


def _record_lines(lines: Iterator[tuple[bytes, int]], budget: int, rec: _Record) -> Iterator[str]:
    """The lines csv.reader reads (as latin-1), one record at a time: a quoted field may span lines. A record
    that grows past `budget` bytes inside a quoted field is cut: its further lines are skipped up to the one
    where its quotes close, and csv is handed a closing quote instead."""
    for line, n in lines:
        rec.line_no += 1
        rec.size += n
        if n > budget:
            rec.cut = True  # one line cut by bounded_lines
        if rec.kept + len(line) > budget and rec.quotes % 2:
            rec.cut = True
            quotes = rec.quotes
            while (quotes + line.count(b'"')) % 2:
                quotes += line.count(b'"')
                line, n = next(lines, (None, 0))
                if line is None:
                    return  # the end of the file inside quotes: csv calls it truncated
                rec.line_no += 1
                rec.size += n
            line = b'"' + line[len(line.rstrip(b"\r\n")):]
        rec.quotes += line.count(b'"')
        rec.kept += len(line)
        yield line.decode("latin-1")


def _decodings(declared: str | None, detected: str) -> tuple[str, ...]:
    if declared:
        return (declared,) if codecs.lookup(declared).name == "utf-8" else (declared, "utf-8")
    name = codecs.lookup(detected).name
    return ("utf-8", "gb18030") if name in ("utf-8", "utf-8-sig", "ascii") else ("utf-8", detected)


def _decode_row(cells: list[str], encodings: tuple[str, ...]) -> list[str]:
    joined = "\x00".join(cells)
    if joined.isascii():
        return cells
    raw = joined.encode("latin-1")
    if joined.count("\x00") == len(cells) - 1:  # one decode per row (NUL is never part of a character)
        for encoding in encodings:
            try:
                return raw.decode(encoding).split("\x00")
            except UnicodeDecodeError:
                continue
    else:
        for encoding in encodings:
            try:
                return [c.encode("latin-1").decode(encoding) for c in cells]
            except UnicodeDecodeError:
                continue
    # kept as surrogate escapes: the row is rejected as undecodable, the file goes on
    return [c.encode("latin-1").decode(encodings[-1], "surrogateescape") for c in cells]


def csv_rows(path: Path, encoding: str | None = None, strict: bool = False,
             limits: ImportLimits = DEFAULT) -> Iterator[tuple[int, list]]:
    """(line number, cells) per record; a cell cut for its size is a `Cut` (the last cell of its row: the
    cells after it were not read)."""
    with path.open("rb") as raw:
        sample = raw.read(_SAMPLE)
        try:
            detected = encoding or detect_encoding(sample, len(sample) < _SAMPLE)
            codecs.lookup(detected)
        except LookupError:
            raise ExportError(f"未知编码 (unknown encoding) {detected!r}") from None
        bom = codecs.BOM_UTF8 if sample.startswith(codecs.BOM_UTF8) and codecs.lookup(detected).name.startswith(
            "utf-8") else b""
        first = re.split(r"\r\n|\r|\n", sample[len(bom):].decode(detected, "replace"), maxsplit=1)[0]
        delimiter = _delimiter(first)
        raw.seek(len(bom))
        if _bytes_as_they_are(detected, delimiter):
            chunks, encodings = _chunks(raw), _decodings(encoding, detected)
        else:
            chunks, encodings = _transcoded(raw, detected), ("utf-8",)

        class Export(csv.excel):
            pass

        Export.delimiter = delimiter
        budget = max(limits.row_chars, 1024)
        # csv's own limit is global to the process: only ever raised, to what a bounded record can hold
        csv.field_size_limit(max(csv.field_size_limit(), 2 * budget + 16))
        rec = _Record()
        reader = csv.reader(_record_lines(bounded_lines(chunks, budget), budget, rec), Export, strict=strict)
        n, cap = 0, limits.cell_chars
        try:
            for row in reader:
                n += 1
                if n > limits.rows:
                    raise ExportError(f"超过行数上限 {limits.rows:,} 行 (more than {limits.rows:,} rows)；"
                                      "请拆分文件或调高 max_rows (split the file or raise max_rows)")
                size = rec.end()
                if size:
                    yield rec.line_no, _capped(_cut_row(row, size, encodings), cap)
                    continue
                cells = _decode_row(row, encodings)
                yield rec.line_no, _capped(cells, cap) if cells and max(map(len, cells)) > cap else cells
        except csv.Error as exc:
            hint = "（文件可能被截断 / the file may be truncated）" if "end of data" in str(exc) else ""
            raise ExportError(f"CSV 格式错误 (malformed CSV) at line {rec.line_no}: {exc}{hint}") from None


def _cut_row(row: list[str], size: int, encodings: tuple[str, ...]) -> list:
    """A record cut while read: its cells as far as they were kept, the last one a Cut with the size the
    record had (its other cells counted in: the file says no more)."""
    if not row:
        return [Cut("", size)]
    raw = [c.encode("latin-1") for c in row]
    # the cut may have split a character: the encoding that reads the kept bytes with the fewest gaps
    cells = min(([b.decode(e, "replace") for b in raw] for e in encodings), key=lambda cs: sum(c.count("\ufffd") for c in cs))
    kept_before = sum(len(c) + 1 for c in row[:-1])
    return [*cells[:-1], cut(cells[-1], max(size - kept_before, len(cells[-1])))]


def _capped(cells: list, cap: int) -> list:
    if any(len(c) > cap for c in cells if isinstance(c, str)):
        return [cut(c) if isinstance(c, str) and len(c) > cap else c for c in cells]
    return cells
