"""Alerts that go out at once, not on a deadline's schedule: an event outside the jurisdiction that must be
transferred (转办) and may spill over, false information for the cyberspace and police bodies. Written to
the outbox in the ingest transaction, keyed `incident:kind:0:channel[:recipient]`, so a restart or a second
import never sends one twice."""

from __future__ import annotations

from datetime import datetime

from monitor.core.model import DASHBOARD, Severity
from monitor.deadlines.notices import idempotency_key
from monitor.deadlines.sweeper import People
from monitor.store import Tx


async def alert(tx: Tx, incident_id: int, kind: str, text: str, roles: list[str], department: str,
                severity: Severity, now: datetime) -> int:
    """Queue `text` for whoever holds `roles` now (`responsible` = the users of `department`); with nobody to
    reach it lands on the dashboard. Returns the number of messages queued."""
    people = await People.load(tx, set(roles), now)
    recipients = people.resolve(roles, department)
    targets = [(c, r.name) for r in recipients for c in r.channels] or [(DASHBOARD, "")]
    names = [r.display for r in recipients]
    rows = []
    for channel, recipient in targets:
        key = idempotency_key(incident_id, kind, "0", channel, recipient)
        rows.append({
            "key": key, "channel": channel, "recipient": recipient, "incident_id": incident_id, "deadline_id": None,
            "payload": {"idempotency_key": key, "incident_id": incident_id, "rule": kind, "step": "0", "due_at": None,
                        "severity": severity.zh, "department": department, "text": text, "recipients": names},
            "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
        })
    await tx.outbox.enqueue(rows)
    return len(rows)
