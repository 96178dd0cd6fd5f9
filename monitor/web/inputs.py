"""What the HTTP edge accepts: ids, paging numbers, JSON bodies and strings are checked here, before they
reach the store, so hostile or clumsy input is a 400 naming the field (Chinese first), never a 500.

Pure: no I/O. The limits follow the store: a PostgreSQL INTEGER, VARCHAR lengths, and text that both
backends can hold (no NUL, which PostgreSQL refuses, and no lone surrogate, which is not encodable UTF-8)."""

from __future__ import annotations

import json
import re
from typing import Mapping

from monitor.core.excerpt import unstorable

MAX_ROW_ID = 2**31 - 1  # PostgreSQL INTEGER: a larger id would make the driver fail, not find nothing
MAX_OFFSET = 10**9
MAX_LIST = 1000  # ids in one split/merge request
_DIGITS = re.compile(r"[0-9]{1,10}")  # ASCII only: int() also takes " 7", "+7", "1_0" and "٧"


class BadInput(ValueError):
    """Input the edge refuses; the message names the field and is shown to the sender as is."""


def row_id(text: str, field: str = "id") -> int:
    """A positive database id from a path segment or query value."""
    if not _DIGITS.fullmatch(text or "") or not 1 <= int(text) <= MAX_ROW_ID:
        raise BadInput(f"{field}: 须为 1–{MAX_ROW_ID} 的整数编号 (must be an integer id from 1 to {MAX_ROW_ID})")
    return int(text)


def query_int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A paging number from the query string, refused outside [low, high] (never clamped into "everything")."""
    text = query.get(name)
    if text is None:
        return default
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise BadInput(f"{name}: 须为 {low}–{high} 的整数 (must be an integer from {low} to {high})")
    return int(text)


def load_json(raw: bytes) -> object:
    """Parse a request body. Invalid UTF-8, bad JSON, nesting deeper than the parser's recursion limit
    (RecursionError) and integers too long to read are all the sender's mistake."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput("body: 不是 UTF-8 编码 (not UTF-8)") from None
    except RecursionError:
        raise BadInput("body: JSON 嵌套过深 (JSON nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, and ints over Python's digit limit
        raise BadInput(f"body: 不是有效的 JSON (not valid JSON: {str(exc)[:100]})") from None


def json_object(raw: bytes) -> dict:
    body = load_json(raw)
    if not isinstance(body, dict):
        raise BadInput("body: 应为 JSON 对象 (expected a JSON object)")
    return body


def storable(value: str, field: str) -> str:
    """A string both stores can hold: no NUL (PostgreSQL) and no lone surrogate (not encodable as UTF-8)."""
    problem = unstorable(value)
    if problem:
        raise BadInput(f"{field}: {problem}")
    return value


def text_field(body: dict, key: str, max_len: int, required: bool = False) -> str | None:
    """body[key] as a storable string of at most max_len characters; None when absent and optional.
    A required one must not be blank."""
    value = body.get(key)
    if value is None:
        if required:
            raise BadInput(f"{key}: 必填 (required string)")
        return None
    if not isinstance(value, str):
        raise BadInput(f"{key}: 须为字符串 (must be a string)")
    if required and not value.strip():
        raise BadInput(f"{key}: 不能为空 (required string)")
    if len(value) > max_len:
        raise BadInput(f"{key}: 超过 {max_len} 个字符 (longer than {max_len} characters)")
    return storable(value, key)


def id_list(body: dict, key: str, what: str) -> list[int]:
    """A non-empty list of database ids (JSON integers, not strings, booleans or floats)."""
    ids = body.get(key)
    if (not isinstance(ids, list) or not ids or len(ids) > MAX_LIST
            or not all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= MAX_ROW_ID for i in ids)):
        raise BadInput(f"{key}: 须为{what}编号列表，1–{MAX_LIST} 个正整数 "
                       f"(a list of 1 to {MAX_LIST} {what} ids, each an integer from 1 to {MAX_ROW_ID})")
    return ids
