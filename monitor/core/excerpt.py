"""Bounded copies of text. A cell too long to be a message is kept as its first characters and its size,
never whole: a 500 MB cell once went into the quarantine and made a 525 MB database (issue 19)."""

from __future__ import annotations

from dataclasses import dataclass

EXCERPT = 2000  # characters kept of a cut value
KEEP_WHOLE = 20_000  # a quarantined value up to this long is kept whole, so reprocessing can use it
# (= hotline_export.MAX_FIELD: a longer field is refused anyway)
ROW_BUDGET = 65_536  # characters of whole values per quarantined row; past it values are cut
MAX_VALUES = 1000  # values kept per quarantined row (a row of 16,384 columns keeps the first ones)
KEY_CHARS = 200  # a header name longer than this is cut too


@dataclass(frozen=True)
class Cut:
    """A cell that a reader stopped keeping: its first characters and its full length (characters; for a
    CSV record cut while streaming, characters kept plus bytes skipped)."""

    excerpt: str
    size: int

    def __str__(self) -> str:
        return self.excerpt


def cut(text: str, size: int | None = None) -> Cut:
    return Cut(text[:EXCERPT], len(text) if size is None else size)


def bound_record(raw: object) -> tuple[object, dict[str, int]]:
    """`raw` (cells of a row, or a JSON record) with at most ROW_BUDGET characters kept whole; longer
    values are cut to EXCERPT characters, later ones to nothing once the budget is spent. Returns the bounded
    copy and {path: original size} of what was cut ("诉求内容", "record.body", "#values" if values dropped)."""
    sizes: dict[str, int] = {}
    state = {"left": ROW_BUDGET, "values": 0}

    def text(value: str, path: str) -> str:
        n = len(value)
        if n <= KEEP_WHOLE and n <= state["left"]:
            state["left"] -= n
            return value
        keep = min(EXCERPT, max(0, state["left"]))
        state["left"] -= keep
        sizes[path] = n
        return value[:keep]

    def walk(value: object, path: str) -> object:
        state["values"] += 1
        if isinstance(value, Cut):  # cut by the reader already: its excerpt, and the size it had
            kept = value.excerpt[:min(EXCERPT, max(0, state["left"]))]
            state["left"] -= len(kept)
            sizes[path] = value.size
            return kept
        if isinstance(value, str):
            return text(value, path)
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if state["values"] >= MAX_VALUES:
                    sizes["#values"] = sizes.get("#values", 0) + 1
                    continue
                key = str(k)[:KEY_CHARS]
                out[key] = walk(v, f"{path}.{key}" if path else key)
            return out
        if isinstance(value, (list, tuple)):
            out_list = []
            for i, v in enumerate(value):
                if state["values"] >= MAX_VALUES:
                    sizes["#values"] = sizes.get("#values", 0) + 1
                    continue
                out_list.append(walk(v, f"{path}[{i}]"))
            return out_list
        return value

    return walk(raw, ""), sizes


def unstorable(value: str) -> str | None:
    """Why a string cannot be stored (a NUL, which PostgreSQL refuses; a lone surrogate, which is no UTF-8), or
    None. Shared by the webhook's checks (monitor/web/inputs.py) and JSON-lines imports."""
    if "\x00" in value:
        return "含有 NUL 字符 (contains a NUL character)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "含有无效的 Unicode 字符（孤立代理项） (contains a lone surrogate)"
    return None
