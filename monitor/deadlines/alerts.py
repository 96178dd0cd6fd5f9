"""Alerts that go out at once, not on a deadline's schedule: an event outside the jurisdiction that must be
transferred (转办) and may spill over, false information for the cyberspace and police bodies. Written to
the outbox in the ingest transaction, keyed `incident:kind:0:channel[:recipient]`, so a restart or a second
import never sends one twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.core.model import DASHBOARD, Severity
from monitor.deadlines.notices import idempotency_key
from monitor.deadlines.sweeper import People
from monitor.store import Tx


@dataclass(frozen=True)
class Alert:
    incident_id: int
    kind: str  # transfer | rumour_cyberspace | rumour_police
    text: str
    roles: tuple[str, ...]  # `responsible` = the users of `department`
    department: str
    severity: Severity


async def queue(tx: Tx, alerts: list[Alert], now: datetime) -> int:
    """Queue each alert for whoever holds its roles now; with nobody to reach it lands on the dashboard. One
    look at the roster for the whole batch. Returns the number of messages queued."""
    if not alerts:
        return 0
    people = await People.load(tx, {r for a in alerts for r in a.roles}, now)
    rows = []
    for a in alerts:
        recipients = people.resolve(list(a.roles), a.department)
        names = [r.display for r in recipients]
        for channel, recipient in [(c, r.name) for r in recipients for c in r.channels] or [(DASHBOARD, "")]:
            key = idempotency_key(a.incident_id, a.kind, "0", channel, recipient)
            rows.append({
                "key": key, "channel": channel, "recipient": recipient, "incident_id": a.incident_id,
                "deadline_id": None, "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
                "payload": {"idempotency_key": key, "incident_id": a.incident_id, "rule": a.kind, "step": "0",
                            "due_at": None, "severity": a.severity.zh, "department": a.department, "text": a.text,
                            "recipients": names},
            })
    await tx.outbox.enqueue(rows)
    return len(rows)
