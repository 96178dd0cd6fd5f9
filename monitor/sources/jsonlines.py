"""JSON lines (one message per line: {"id", "title", "body", "time", "source"?, "location"?, "reporter"?}),
the same shape as the webhook's body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from monitor.core.model import RawItem
from monitor.core.errors import ExportError, Reject
from monitor.sources.hotline_export import MAX_FIELD, parse_time

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


def read_jsonlines(path: Path, source: str) -> Iterator[RawItem | Reject]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportError(f"JSON 行文件必须是 UTF-8 (JSON lines must be UTF-8): {exc}") from None
    for row_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Reject(row_no, f"JSON 格式错误 (bad JSON): {exc.msg}", {"line": line[:2000]})
            continue
        try:
            yield record_to_item(obj, source, row_no)
        except ValueError as exc:
            yield Reject(row_no, str(exc), obj if isinstance(obj, dict) else {"value": obj})
