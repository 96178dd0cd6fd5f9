"""How much of an import file is ever held in memory (issue 19: a 511 KB XLSX holding one 500 MB cell took
2.7 GB). Readers check these while streaming, before a cell or a line exists whole."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImportLimits:
    # A longer cell is kept as an excerpt and its size, and its row is quarantined (not a citizen's message).
    cell_chars: int = 65_536
    # Text kept of one row (CSV: bytes of one record); past it the rest of the row is counted, not kept.
    row_chars: int = 1 << 20
    # Physical rows per sheet or file (empty rows included); past it the file is refused whole.
    rows: int = 1_000_000
    # Declared uncompressed size of one XML part of an XLSX (sheet, sharedStrings): more is refused.
    unpacked_bytes: int = 1 << 30
    # Uncompressed/compressed. Deflate cannot pass ≈1032:1, so only another method or a forged header does.
    ratio: float = 1100.0
    # Formats python-calamine reads whole (XLS, XLSB, ODS): file size, or the sum of their unpacked parts.
    whole_bytes: int = 64 << 20
    # Zip members: an XLSX has tens; a central directory of millions is a memory bomb of its own.
    zip_members: int = 10_000


DEFAULT = ImportLimits()
