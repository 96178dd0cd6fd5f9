"""Commands that change an incident: acknowledge, record evidence, reassign, re-grade, promise, keep.

The CLI, the HTTP API and (later) the chat bots all come through here, so each rule is enforced once:
every change is one transaction with its audit entry and the notifications it causes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.core.clock import Clock
from monitor.deadlines.rules import EVIDENCE_NAMES, DeadlinePlan
from monitor.deadlines.escalation import Position, last_fired
from monitor.deadlines.book import DeadlineBook
from monitor.core.model import Deadline, Incident, Severity
from monitor.core.errors import NotFound, ServiceError
from monitor.config.settings import Settings
from monitor.store import Store, Tx
from monitor.understanding.triage import Outcome, parse_changes, text
from monitor.core.workcal import WorkCalendar

__all__ = ["Service", "ServiceError", "NotFound"]




@dataclass
class Service:
    store: Store
    clock: Clock
    settings: Settings
    calendar: WorkCalendar

    def __post_init__(self) -> None:
        self.book = DeadlineBook(self.settings.rules, self.settings.escalation_policies, self.calendar)

    async def _incident(self, tx: Tx, incident_id: int) -> Incident:
        incident = await tx.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"没有事件 #{incident_id} (no such incident)")
        if incident.status == "merged":  # its items, evidence and deadlines are the survivor's now
            raise ServiceError(f"事件 #{incident_id} 已并入事件 #{incident.merged_into}，请对事件 #{incident.merged_into} "
                               f"操作 (merged into incident {incident.merged_into})", 409)
        return incident

    @staticmethod
    def _select(deadlines: list[Deadline], rule: str | None, state: str = "open") -> list[Deadline]:
        chosen = [d for d in deadlines if d.state == state and (rule is None or d.rule == rule)]
        if rule is not None and not any(d.rule == rule for d in deadlines):
            names = "、".join(sorted({d.rule for d in deadlines})) or "无"
            raise ServiceError(f"事件没有期限 {rule}（现有：{names}）(no deadline {rule} on this incident)")
        return chosen

    async def acknowledge(self, incident_id: int, actor: str, rule: str | None = None) -> list[Deadline]:
        """Stop repeats of the step last sent; the deadline stays open and later steps still fire."""
        now = self.clock.now()
        async with self.store.write() as tx:
            await self._incident(tx, incident_id)
            open_ = self._select(await tx.deadlines.for_incident(incident_id), rule)
            if not open_:
                raise ServiceError(f"事件 #{incident_id} 没有进行中的期限 (no open deadline)")
            for d in open_:
                acked = last_fired(Position(d.step, d.fires))
                await tx.deadlines.update(d.id, {"acked_step": acked, "acked_by": actor, "acked_at": now,
                                                 "updated_at": now})
                await tx.audit.append(now, actor, "deadline.acknowledged", "incident", incident_id,
                                      {"rule": d.rule, "step": acked})
            return [await tx.deadlines.get(d.id) for d in open_]

    async def add_evidence(self, incident_id: int, actor: str, url: str = "", note: str = "",
                           rule: str | None = None, kind: str | None = None) -> list[Deadline]:
        """Evidence (a release URL, a press-conference record, an interpretation link) closes the open
        deadlines it satisfies and becomes a line of the response ledger (回应台账)."""
        if not (url or note).strip():
            raise ServiceError("证据需要链接或说明 (evidence needs a url or a note)")
        if url and not url.startswith(("http://", "https://")):
            raise ServiceError(f"链接必须以 http:// 或 https:// 开头 (url must be http/https): {url[:80]}")
        now = self.clock.now()
        async with self.store.write() as tx:
            incident = await self._incident(tx, incident_id)
            deadlines = await tx.deadlines.for_incident(incident_id)
            if rule is not None:
                chosen = self._select(deadlines, rule, state="open")
                kind = kind or next(d.satisfied_by for d in deadlines if d.rule == rule)
            elif kind is None:
                raise ServiceError("请指明期限 --rule 或证据类型 kind (name the rule or the evidence kind)")
            else:
                chosen = [d for d in deadlines if d.state == "open" and d.satisfied_by == kind]
            evidence_id = await tx.deadlines.add_evidence(
                {"incident_id": incident_id, "kind": kind, "url": url, "note": note, "actor": actor, "at": now})
            for d in chosen:
                await tx.deadlines.update(d.id, {"state": "satisfied", "closed_at": now, "evidence_id": evidence_id,
                                                 "next_at": None, "updated_at": now}, {"state": "open"})
            await tx.ledger.add({"incident_id": incident_id, "responded_at": now,
                                 "response_type": incident.response_type,
                                 "method": EVIDENCE_NAMES.get(kind, kind), "published_url": url,
                                 "result": note, "actor": actor, "created_at": now})
            await tx.audit.append(now, actor, "evidence.recorded", "incident", incident_id, {
                "kind": kind, "url": url, "closes": [d.rule for d in chosen],
                "late": [d.rule for d in chosen if d.due_at < now]})
            return [await tx.deadlines.get(d.id) for d in chosen]

    async def reassign(self, incident_id: int, department: str, actor: str, reason: str = "") -> Incident:
        """Move the incident and its open deadlines to another department; the clock does not restart."""
        department = department.strip()
        if not department:
            raise ServiceError("请给出新的责任单位 (department is required)")
        now = self.clock.now()
        async with self.store.write() as tx:
            incident = await self._incident(tx, incident_id)
            if department == incident.department:
                raise ServiceError(f"事件已由 {department} 负责 (already assigned)")
            moved = await self._move_department(tx, incident, department, actor, now)
            await tx.audit.append(now, actor, "incident.reassigned", "incident", incident_id,
                                  {"from": incident.department, "to": department, "reason": reason,
                                   "deadlines_moved": moved})
            return await tx.incidents.get(incident_id)  # type: ignore[return-value]

    async def regrade(self, incident_id: int, severity: Severity, actor: str, reason: str) -> dict:
        """Raise: open the deadlines the new level requires, counted from the original first-seen time.
        Lower: cancel the open deadlines that no longer apply, recording why."""
        if not reason.strip():
            raise ServiceError("调整等级需要说明理由 (a reason is required)")
        now = self.clock.now()
        async with self.store.write() as tx:
            incident = await self._incident(tx, incident_id)
            if severity == incident.level:
                raise ServiceError(f"事件已是{severity.zh} (already {severity.zh})")
            result = await self.book.regrade(tx, incident, severity, actor, reason, now)
            await tx.audit.append(now, actor, "incident.regraded", "incident", incident_id, {
                "from": incident.level.zh, "to": severity.zh, "reason": reason, **result})
            return result

    async def accept_triage(self, incident_id: int, actor: str) -> Outcome:
        """The person agrees with what the understanding concluded."""
        now = self.clock.now()
        async with self.store.write() as tx:
            incident = await self._incident(tx, incident_id)
            if incident.triage != "pending":
                raise ServiceError(f"incident {incident_id} is not waiting for triage (triage={incident.triage})", 409)
            await tx.incidents.update(incident_id, {"triage": "accepted", "updated_at": now})
            await tx.audit.append(now, actor, "triage.accepted", "incident", incident_id,
                                  {"domain": incident.domain, "department": incident.department,
                                   "severity": incident.severity})
            return Outcome(await tx.incidents.get(incident_id), {})  # type: ignore[arg-type]

    async def correct(self, incident_id: int, values: dict, actor: str) -> Outcome:
        """A person's correction of domain, department, co-handlers, severity or response type (any triage
        state). Department and severity changes act exactly as reassign and regrade do."""
        changes = parse_changes(values)
        now = self.clock.now()
        async with self.store.write() as tx:
            incident = await self._incident(tx, incident_id)
            old = {"domain": incident.domain, "department": incident.department,
                   "co_departments": list(incident.co_departments or []), "severity": incident.level,
                   "response_type": incident.response_type}
            diff = {k: [old[k], v] for k, v in changes.items() if old[k] != v}
            if not diff:
                raise ServiceError("the correction changes nothing (与现有结果相同)", 409)
            plain = {k: after for k, (_, after) in diff.items() if k not in ("department", "severity")}
            for key, after in plain.items():
                await tx.incidents.add_correction({"incident_id": incident_id, "field": key, "old": text(old[key]),
                                                   "new": text(after), "actor": actor, "at": now})
            await tx.incidents.update(incident_id, {**plain, "triage": "corrected", "updated_at": now})
            outcome = Outcome(incident, {k: [text(a), text(b)] for k, (a, b) in diff.items()})
            if "department" in diff:
                outcome.deadlines_moved = await self._move_department(
                    tx, incident, diff["department"][1], actor, now, keep_co="co_departments" in diff)
            if "severity" in diff:
                result = await self.book.regrade(tx, incident, diff["severity"][1], actor, "人工研判更正", now)
                outcome.opened, outcome.cancelled = result["opened"], result["cancelled"]
            await tx.audit.append(now, actor, "triage.corrected", "incident", incident_id, {
                **outcome.changes, "deadlines_moved": outcome.deadlines_moved, "opened": outcome.opened,
                "cancelled": outcome.cancelled})
            outcome.incident = await tx.incidents.get(incident_id)  # type: ignore[assignment]
            return outcome

    async def _move_department(self, tx: Tx, incident: Incident, department: str, actor: str, now: datetime,
                               keep_co: bool = False) -> int:
        values: dict = {"department": department, "updated_at": now}
        if not keep_co:  # the new lead is no longer a co-handler of itself
            values["co_departments"] = [d for d in incident.co_departments or [] if d != department]
        await tx.incidents.update(incident.id, values)
        await tx.incidents.add_correction({"incident_id": incident.id, "field": "department",
                                           "old": incident.department, "new": department, "actor": actor, "at": now})
        return await tx.deadlines.reassign_open(incident.id, department, now)

    async def promise(self, incident_id: int, text: str, due_at: datetime, actor: str,
                      department: str | None = None) -> int:
        """A commitment made in a response (承诺事项): a ledger line and a deadline that only keeping it closes."""
        if not text.strip():
            raise ServiceError("承诺内容不能为空 (promise text is required)")
        now = self.clock.now()
        async with self.store.write() as tx:
            incident = await self._incident(tx, incident_id)
            ledger_id = await tx.ledger.add({
                "incident_id": incident_id, "responded_at": now, "response_type": incident.response_type,
                "method": "承诺", "promise": text, "promised_by": department or incident.department,
                "promise_due_at": due_at, "actor": actor, "created_at": now})
            rule = f"promise_{ledger_id}"
            plan = DeadlinePlan(rule, f"承诺事项：{text[:40]}", now, due_at, rule, "routine"
                                if "routine" in self.settings.escalation_policies else None)
            [deadline_id] = await tx.deadlines.open_many([self.book.row(
                incident_id, plan, department or incident.department, now)])
            await tx.ledger.update(ledger_id, {"deadline_id": deadline_id})
            await tx.audit.append(now, actor, "promise.made", "incident", incident_id,
                                  {"ledger_id": ledger_id, "text": text, "due_at": due_at.isoformat()})
            return ledger_id

    async def keep_promise(self, ledger_id: int, actor: str, result: str, url: str = "") -> bool:
        """Record that a promise was carried out; closes its deadline. Returns whether it was on time."""
        now = self.clock.now()
        async with self.store.write() as tx:
            entry = await tx.ledger.get(ledger_id)
            if entry is None or not entry["promise"]:
                raise NotFound(f"台账中没有承诺 #{ledger_id} (no such promise)")
            if entry["kept"] is not None:
                raise ServiceError(f"承诺 #{ledger_id} 已登记办理结果 (already recorded)")
            on_time = entry["promise_due_at"] is None or now <= entry["promise_due_at"]
            evidence_id = await tx.deadlines.add_evidence({
                "incident_id": entry["incident_id"], "kind": f"promise_{ledger_id}", "url": url, "note": result,
                "actor": actor, "at": now})
            await tx.ledger.update(ledger_id, {"kept": True, "result": result,
                                               "published_url": url or entry["published_url"]})
            if entry["deadline_id"]:
                await tx.deadlines.update(entry["deadline_id"], {
                    "state": "satisfied", "closed_at": now, "evidence_id": evidence_id, "next_at": None,
                    "updated_at": now}, {"state": "open"})
            await tx.audit.append(now, actor, "promise.kept", "incident", entry["incident_id"],
                                  {"ledger_id": ledger_id, "on_time": on_time, "result": result})
            return on_time
