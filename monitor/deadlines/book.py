"""Opening and re-planning deadline rows inside a transaction: the one place that turns rule plans into
rows with their first escalation step, used by the pipeline (new incidents, heat) and the service
(re-grade, triage corrections, promises)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loguru import logger

from monitor.deadlines import rules as deadline_rules
from monitor.deadlines import escalation
from monitor.deadlines.rules import DeadlinePlan
from monitor.deadlines.escalation import Position
from monitor.deadlines.escalation import initial_state
from monitor.core.model import Incident, Severity
from monitor.config.settings import EscalationStep, RuleConfig
from monitor.store import Tx
from monitor.core.workcal import WorkCalendar


@dataclass
class DeadlineBook:
    rules: list[RuleConfig]
    policies: dict[str, list[EscalationStep]]
    calendar: WorkCalendar

    def row(self, incident_id: int, p: DeadlinePlan, department: str, now: datetime) -> dict:
        return {"incident_id": incident_id, "rule": p.rule, "title": p.title, "department": department,
                "starts_at": p.starts_at, "due_at": p.due_at, "state": "open", "satisfied_by": p.satisfied_by,
                "policy": p.policy, **initial_state(self.policies, self.calendar, p.policy, p.due_at),
                "provisional_year": p.provisional_year, "created_at": now, "updated_at": now}

    def plan(self, incident: Incident, severity: Severity) -> list[DeadlinePlan]:
        if incident.transfer:  # outside the jurisdiction: transferred, not ours to answer by these rules
            return []
        start = incident.published_at or incident.first_seen_at
        return deadline_rules.plan(self.rules, severity=severity, kind=incident.kind, domain=incident.domain,
                                   starts_at=start, calendar=self.calendar)

    async def open(self, tx: Tx, incident: Incident, plans: list[DeadlinePlan], now: datetime,
                   actor: str) -> list[str]:
        """Open these plans (a rule already open for the incident is skipped by the store)."""
        await tx.deadlines.open_many([self.row(incident.id, p, incident.department, now) for p in plans])
        await tx.audit.append_many([
            {"at": now, "actor": actor, "action": "deadline.opened", "entity": "incident",
             "entity_id": str(incident.id), "detail": {"rule": p.rule, "due_at": p.due_at.isoformat()}}
            for p in plans])
        return [p.rule for p in plans]

    async def regrade(self, tx: Tx, incident: Incident, severity: Severity, actor: str, reason: str,
                      now: datetime, reasons: list[dict] | None = None) -> dict:
        """Set the severity. Raised: open the deadlines the level requires, counted from the original
        first-seen time. Lowered: cancel open rule deadlines that no longer apply (promises stay).
        The severity reasons shown are replaced by `reasons` (default: one line with `reason`), so what the
        incident says always matches its grade."""
        old = incident.level
        existing = await tx.deadlines.for_incident(incident.id)
        plans = self.plan(incident, severity)
        wanted = {p.rule for p in plans}
        have = {d.rule for d in existing}
        opened = await self.open(tx, incident, [p for p in plans if p.rule not in have], now, actor)
        cancelled = []
        for d in existing:
            if d.state == "open" and d.rule not in wanted and not d.rule.startswith("promise_"):
                await tx.deadlines.update(d.id, {"state": "cancelled", "closed_at": now, "next_at": None,
                                                 "close_reason": f"等级由{old.zh}调整为{severity.zh}：{reason}",
                                                 "updated_at": now}, {"state": "open"})
                cancelled.append(d.rule)
        kept = [r for r in incident.reasons if r.get("stage") != "severity"]
        why = reasons or [{"stage": "severity", "text": f"{severity.zh}（{severity.roman}级）：{reason}"
                                                       + ("" if actor.startswith("system:") else f"（{actor}）")}]
        await tx.incidents.update(incident.id, {"severity": int(severity), "reasons": [*kept, *why],
                                                "updated_at": now})
        await tx.incidents.add_correction({"incident_id": incident.id, "field": "severity", "old": old.zh,
                                           "new": severity.zh, "actor": actor, "at": now})
        return {"opened": opened, "cancelled": cancelled}

    async def replan_provisional(self, tx: Tx, now: datetime) -> int:
        """Deadlines opened early for a year without holiday data, once that year is configured: the due time
        counted in working days. Escalation stays at its step (its next reminder moves with the due time);
        closed ones get their true due time too, so the ledger's on-time figures are right. Returns how many
        changed."""
        rules = {r.name: r for r in self.rules}
        audit = []
        for d in await tx.deadlines.provisional():
            rule = rules.get(d.rule)
            if rule is None or d.provisional_year not in self.calendar.years:
                continue
            p = deadline_rules.due_plan(rule, d.starts_at, self.calendar)
            values = {"due_at": p.due_at, "provisional_year": p.provisional_year, "updated_at": now}
            steps = self.policies.get(d.policy or "") or []
            if d.state == "open" and d.next_at is not None and d.step < len(steps):
                base = escalation.bases(steps, p.due_at, self.calendar.provisional())
                values["next_at"] = escalation.time_of(steps, base, Position(d.step, d.fires))
            if await tx.deadlines.update(d.id, values, {"provisional_year": d.provisional_year}):
                audit.append({"at": now, "actor": "system:calendar", "action": "deadline.replanned",
                              "entity": "incident", "entity_id": str(d.incident_id),
                              "detail": {"rule": d.rule, "from": d.due_at.isoformat(), "to": p.due_at.isoformat(),
                                         "year": d.provisional_year}})
        await tx.audit.append_many(audit)
        if audit:
            logger.info("{} provisional deadline(s) recomputed in working days now that the holiday schedule "
                        "is configured", len(audit))
        return len(audit)
