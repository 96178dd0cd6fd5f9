"""The triage queue: incidents the understanding was not sure about (low domain confidence, ambiguous
routing) wait for a person, who accepts them as they are or corrects them.

Accepting and correcting are monitor.service commands (one transaction each, audited); this module
validates corrections and reads the queue. Every correction is a row of `corrections` (so `yuqing train
--with-corrections` learns from it). Correcting the department moves the open deadlines with their clocks
unchanged; correcting the severity opens or cancels deadlines exactly as a re-grade does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.core.model import Incident, Severity
from monitor.core.errors import ServiceError

FIELDS = ("domain", "department", "co_departments", "severity", "response_type")
MAX_LEN = 100


@dataclass
class Outcome:
    incident: Incident
    changes: dict  # field -> [old, new]
    deadlines_moved: int = 0
    opened: list = field(default_factory=list)
    cancelled: list = field(default_factory=list)


def parse_changes(values: dict) -> dict:
    """Validate a correction: known fields only, non-empty short strings, a real severity."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ServiceError(f"{unknown[0]}: unknown field (use {', '.join(FIELDS)})")
    out: dict = {}
    for key, value in values.items():
        if value is None:
            continue
        if key == "severity":
            try:
                out[key] = Severity.parse(value)
            except ValueError as exc:
                raise ServiceError(f"severity: {exc}") from None
        elif key == "co_departments":
            if isinstance(value, str):
                value = [v for v in value.replace("，", ",").replace("、", ",").split(",")]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ServiceError("co_departments: a list of department names")
            out[key] = [v.strip() for v in value if v.strip()]
        else:
            if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_LEN:
                raise ServiceError(f"{key}: a non-empty text of at most {MAX_LEN} characters")
            out[key] = value.strip()
    if not out:
        raise ServiceError(f"nothing to correct (give one of {', '.join(FIELDS)})")
    return out


async def pending(tx, limit: int = 200) -> list[Incident]:
    return await tx.incidents.list(status="open", triage="pending", limit=limit)


def text(value) -> str:
    if isinstance(value, Severity):
        return value.zh
    if isinstance(value, list):
        return "、".join(value)
    return str(value)
