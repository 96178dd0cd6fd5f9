"""Injected time. Everything asks a Clock for "now"; nothing calls datetime.now() directly.

Times are aware datetimes in UTC inside the program and in the store; they are shown in
Asia/Shanghai (fixed UTC+8, no DST) to people.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

UTC = timezone.utc
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: for tests, the demo and replaying exports."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = as_utc(when)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


def as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be Asia/Shanghai wall time (what Chinese sources mean)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(UTC)


def local(value: datetime) -> datetime:
    return as_utc(value).astimezone(SHANGHAI)


def fmt_local(value: datetime | None, with_seconds: bool = False) -> str:
    """How people read a time: 2026-11-23 20:05 (Asia/Shanghai)."""
    if value is None:
        return "—"
    return local(value).strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def fmt_delta(delta: timedelta) -> str:
    """A signed, short Chinese duration: 4小时12分 / 已超时 35分."""
    seconds = int(delta.total_seconds())
    overdue = seconds < 0
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(f"{days}天")
    if hours:
        parts.append(f"{hours}小时")
    if minutes or not parts:
        parts.append(f"{minutes}分")
    text = "".join(parts)
    return f"已超时 {text}" if overdue else text
