"""JSON lines (one message per line: {"id", "title", "body", "time", "source"?, "location"?, "reporter"?}),
the same shape as the webhook's body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from monitor.core.model import RawItem
from monitor.core.errors import ExportError, Reject, Skipped
from monitor.core.excerpt import cut, unstorable
from monitor.sources.csvfile import bounded_lines
from monitor.sources.hotline_export import MAX_FIELD, parse_time
from monitor.sources.limits import DEFAULT, ImportLimits

JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")


def record_to_item(obj: object, source: str, row_no: int = 0) -> RawItem:
    """Validate one pushed/JSON record. Raises ValueError naming the bad field."""
    if not isinstance(obj, dict):
        raise ValueError("body: expected a JSON object")
    for key in ("id", "title", "body", "time"):
        if key not in obj:
            raise ValueError(f"{key}: required field is missing")
    ext = obj["id"]
    if not isinstance(ext, (str, int)) or isinstance(ext, bool) or str(ext).strip() == "":
        raise ValueError("id: must be a non-empty string or integer")
    for key in ("title", "body", "source", "location", "reporter"):
        if key in obj and obj[key] is not None and not isinstance(obj[key], str):
            raise ValueError(f"{key}: must be a string")
        if len(obj.get(key) or "") > MAX_FIELD:
            raise ValueError(f"{key}: longer than {MAX_FIELD} characters")
    for key in ("id", "title", "body", "time", "source", "location", "reporter"):
        problem = isinstance(obj.get(key), str) and unstorable(obj[key])
        if problem:
            raise ValueError(f"{key}: {problem}")
    if not (obj["title"] or "").strip() and not (obj["body"] or "").strip():
        raise ValueError("title/body: both are empty")
    if not isinstance(obj["time"], str):
        raise ValueError("time: must be an ISO 8601 string")
    try:
        occurred = parse_time(obj["time"])
    except ValueError:
        raise ValueError(f"time: {obj['time'][:40]!r} is not an ISO 8601 time") from None
    if occurred is None:
        raise ValueError("time: must not be empty")
    return RawItem(
        source=source, external_id=str(ext)[:200], title=obj["title"] or "", body=obj["body"] or "",
        occurred_at=occurred, location=obj.get("location") or "", reporter=obj.get("reporter") or "",
        channel=obj.get("source") or "", extra={"row": row_no, "cells": obj},
    )


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        first = f.read(1 << 20)
        yield first[3:] if first.startswith(b"\xef\xbb\xbf") else first
        while chunk := f.read(1 << 20):
            yield chunk


def read_jsonlines(path: Path, source: str, limits: ImportLimits = DEFAULT) -> Iterator[RawItem | Reject | Skipped]:
    """Line by line, never the whole file: a line longer than limits.row_chars bytes is rejected with an
    excerpt and its size, without being held."""
    for row_no, (raw, size) in enumerate(bounded_lines(_chunks(path), limits.row_chars), start=1):
        if row_no > limits.rows:
            raise ExportError(f"超过行数上限 {limits.rows:,} 行 (more than {limits.rows:,} lines)")
        if size > limits.row_chars:  # cut while read (perhaps inside a character)
            yield Reject(row_no, f"行过长 (line too long): {size:,} 字节，超过上限 {limits.row_chars:,}",
                         {"line": cut(raw.decode("utf-8", "replace"), size)}, detail={"sizes": {"line": size}})
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ExportError(f"JSON 行文件必须是 UTF-8 (JSON lines must be UTF-8): line {row_no}: {exc}") from None
        if not line.strip():
            yield Skipped(row_no)
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Reject(row_no, f"JSON 格式错误 (bad JSON): {exc.msg}", {"line": line[:2000]})
            continue
        except RecursionError:
            yield Reject(row_no, "JSON 嵌套过深 (JSON nested too deeply)", {"line": line[:2000]})
            continue
        try:
            yield record_to_item(obj, source, row_no)
        except ValueError as exc:
            yield Reject(row_no, str(exc), obj if isinstance(obj, dict) else {"value": obj})
