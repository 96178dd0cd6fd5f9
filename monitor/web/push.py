"""A pushed message (POST /api/v1/ingest) checked field by field into a RawItem. Pure: the receipt time is
given, nothing is read or stored.

- `id` is a string compared exactly: a JSON number is refused (1 and "1" would otherwise be one id, or two,
  depending on the sender's serialiser), and an id longer than the store's column is refused, never cut.
- `time` is ISO 8601 (`2026-11-23T08:00:00+08:00`; without an offset it is Beijing time). An epoch number,
  anything unparseable and any time outside 2000–2099 is refused. The sender's clock never sets a legal
  deadline: the item is dated the earlier of its time and the receipt, and a time more than
  FUTURE_TOLERANCE ahead is reported back as replaced. The sender's claim stays in the item's raw record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.core.clock import UTC, as_utc, fmt_local
from monitor.core.model import RawItem
from monitor.web.inputs import BadInput, text_field

MAX_ID = 200  # items.external_id
FUTURE_TOLERANCE = timedelta(minutes=10)  # clock skew we absorb without telling the sender
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# the field, its largest length (the store's column, or the longest message text we keep)
FIELDS = {"title": 20_000, "body": 20_000, "source": 100, "location": 300, "reporter": 200}

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}"
                  r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?", re.ASCII)
_EPOCH = re.compile(r"[+-]?\d{9,13}(?:\.\d*)?", re.ASCII)


@dataclass
class Push:
    item: RawItem
    time_replaced: dict | None = None  # {"sent", "used", "reason"} when the sender's time was in the future


def parse_time(value: object) -> datetime:
    """The sender's time as aware UTC. Raises BadInput naming `time`."""
    if not isinstance(value, str):
        raise BadInput("time: 须为 ISO 8601 时间字符串，如 2026-11-23T08:00:00+08:00 (must be an ISO 8601 string)")
    text = value.strip()
    if _EPOCH.fullmatch(text):
        raise BadInput(f"time: {text[:40]!r} 像是 Unix 时间戳，请改用 ISO 8601 时间，如 2026-11-23T08:00:00+08:00 "
                       "(looks like an epoch number: send an ISO 8601 time)")
    if not _ISO.fullmatch(text):
        raise BadInput(f"time: {text[:40]!r} 不是 ISO 8601 时间，如 2026-11-23T08:00:00+08:00 (not an ISO 8601 time)")
    try:
        at = as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # 2026-02-30, 24:00, or an offset that leaves datetime's range
        raise BadInput(f"time: {text[:40]!r} 不是有效的时间 (not a valid time)") from None
    if not EARLIEST <= at < LATEST:
        raise BadInput(f"time: {text[:40]!r} 超出 2000–2099 年范围 (outside the years 2000–2099)")
    return at


def parse_push(obj: object, source: str, received_at: datetime) -> Push:
    """Validate one pushed record. Raises BadInput whose message names the bad field."""
    if not isinstance(obj, dict):
        raise BadInput("body: 应为 JSON 对象 (expected a JSON object)")
    for key in ("id", "title", "body", "time"):
        if key not in obj:
            raise BadInput(f"{key}: 缺少必填字段 (required field is missing)")
    ext = obj["id"]
    if not isinstance(ext, str):
        raise BadInput("id: 须为字符串，数字编号请加引号，如 \"1024\" (must be a string: quote numeric ids)")
    if not ext.strip() or any(ord(c) < 32 or c == "\x7f" for c in ext):
        raise BadInput("id: 不能为空或含控制字符 (must not be blank or hold control characters)")
    if len(ext) > MAX_ID:
        raise BadInput(f"id: 超过 {MAX_ID} 个字符 (longer than {MAX_ID} characters; ids are never cut)")
    text_field(obj, "id", MAX_ID)
    values = {key: text_field(obj, key, limit) or "" for key, limit in FIELDS.items()}
    if not values["title"].strip() and not values["body"].strip():
        raise BadInput("title/body: 标题和内容都为空 (both are empty)")
    sent = parse_time(obj["time"])
    used, replaced = min(sent, received_at), None
    if sent > received_at + FUTURE_TOLERANCE:
        replaced = {"sent": obj["time"], "used": used.isoformat(),
                    "reason": f"发送方时间晚于接收时间超过 {int(FUTURE_TOLERANCE.total_seconds() // 60)} 分钟，"
                              f"按接收时间 {fmt_local(used)} 计 (the sender's time is in the future: "
                              "the receipt time is used)"}
    # the raw record keeps what was sent (known fields only: nothing unchecked reaches the store)
    raw = {key: obj[key] for key in ("id", "title", "body", "time", *FIELDS) if obj.get(key) is not None}
    raw["received_at"] = received_at.isoformat()
    if replaced:
        raw["time_replaced"] = replaced
    item = RawItem(source=source, external_id=ext, title=values["title"], body=values["body"], occurred_at=used,
                   location=values["location"], reporter=values["reporter"], channel=values["source"],
                   extra={"row": 0, "cells": raw})
    return Push(item, replaced)
