"""The triage queue: incidents the understanding was not sure about (low domain confidence, ambiguous
routing) wait for a person, who accepts them as they are or corrects them.

Used by `yuqing triage …` and the API (responders/dashboard/triage_api.py); both go through these
functions, one transaction each. Every correction is a row of `corrections` (so `yuqing train
--with-corrections` learns from it) and an audit entry. Correcting the department moves the incident's
open deadlines to the new department; their clocks stay unchanged. A corrected severity is stored as
such; re-planning deadlines after a re-grade belongs to the deadlines service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.model import Incident, Severity

FIELDS = ("domain", "department", "co_departments", "severity", "response_type")
MAX_LEN = 100


class TriageError(ValueError):
    """A request that cannot be carried out; the message says why (shown to the user, exit 2 / HTTP 4xx)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Outcome:
    incident: Incident
    changes: dict  # field -> [old, new]
    deadlines_moved: int = 0


def parse_changes(values: dict) -> dict:
    """Validate a correction: known fields only, non-empty short strings, a real severity."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise TriageError(f"{unknown[0]}: unknown field (use {', '.join(FIELDS)})")
    out: dict = {}
    for key, value in values.items():
        if value is None:
            continue
        if key == "severity":
            try:
                out[key] = Severity.parse(value)
            except ValueError as exc:
                raise TriageError(f"severity: {exc}") from None
        elif key == "co_departments":
            if isinstance(value, str):
                value = [v for v in value.replace("，", ",").replace("、", ",").split(",")]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TriageError("co_departments: a list of department names")
            out[key] = [v.strip() for v in value if v.strip()]
        else:
            if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_LEN:
                raise TriageError(f"{key}: a non-empty text of at most {MAX_LEN} characters")
            out[key] = value.strip()
    if not out:
        raise TriageError(f"nothing to correct (give one of {', '.join(FIELDS)})")
    return out


async def pending(tx, limit: int = 200) -> list[Incident]:
    return await tx.incidents.list(status="open", triage="pending", limit=limit)


async def accept(tx, incident_id: int, actor: str, now: datetime) -> Outcome:
    incident = await _get(tx, incident_id)
    if incident.triage != "pending":
        raise TriageError(f"incident {incident_id} is not waiting for triage (triage={incident.triage})", 409)
    await tx.incidents.update(incident_id, {"triage": "accepted", "updated_at": now})
    await tx.audit.append(now, actor, "triage.accepted", "incident", incident_id,
                          {"domain": incident.domain, "department": incident.department,
                           "severity": incident.severity})
    return Outcome(await tx.incidents.get(incident_id), {})


async def correct(tx, incident_id: int, values: dict, actor: str, now: datetime) -> Outcome:
    """Apply a correction (any triage state: a person may correct an accepted incident later too)."""
    changes = parse_changes(values)
    incident = await _get(tx, incident_id)
    old = {"domain": incident.domain, "department": incident.department,
           "co_departments": list(incident.co_departments or []), "severity": Severity(incident.severity),
           "response_type": incident.response_type}
    diff = {k: [old[k], v] for k, v in changes.items() if old[k] != v}
    if not diff:
        raise TriageError("the correction changes nothing (与现有结果相同)", 409)
    update: dict = {"triage": "corrected", "updated_at": now}
    for key, (before, after) in diff.items():
        update[key] = int(after) if key == "severity" else after
        await tx.incidents.add_correction({"incident_id": incident_id, "field": key, "old": _text(before),
                                           "new": _text(after), "actor": actor, "at": now})
    if "department" in diff and "co_departments" not in diff:
        # The new lead is no longer a co-handler of itself.
        update["co_departments"] = [d for d in old["co_departments"] if d != diff["department"][1]]
    await tx.incidents.update(incident_id, update)
    moved = 0
    if "department" in diff:
        moved = await tx.deadlines.reassign_open(incident_id, diff["department"][1], now)
    await tx.audit.append(now, actor, "triage.corrected", "incident", incident_id,
                          {k: [_text(a), _text(b)] for k, (a, b) in diff.items()} | {"deadlines_moved": moved})
    return Outcome(await tx.incidents.get(incident_id), {k: [_text(a), _text(b)] for k, (a, b) in diff.items()},
                   moved)


async def _get(tx, incident_id: int) -> Incident:
    incident = await tx.incidents.get(incident_id)
    if incident is None:
        raise TriageError(f"incident {incident_id} not found (没有这个事件)", 404)
    return incident


def _text(value) -> str:
    if isinstance(value, Severity):
        return value.zh
    if isinstance(value, list):
        return "、".join(value)
    return str(value)
