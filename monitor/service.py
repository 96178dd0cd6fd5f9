"""Commands that change an incident: acknowledge, record evidence, reassign, re-grade, promise, keep, note,
close (办结) and reopen.

The CLI, the HTTP API and (later) the chat bots all come through here, so each rule is enforced once:
every change is one transaction with its audit entry and the notifications it causes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.core.clock import Clock, fmt_local
from monitor.deadlines import closing
from monitor.deadlines.rules import EVIDENCE_NAMES, DeadlinePlan, known_rules, resolve_rule
from monitor.deadlines.escalation import Position, last_fired
from monitor.deadlines.book import DeadlineBook
from monitor.core.model import Deadline, Incident, Severity
from monitor.core.errors import NotFound, ServiceError
from monitor.config.settings import Settings
from monitor.store import Store, Tx
from monitor.understanding.triage import Outcome, parse_changes, text
from monitor.core.workcal import WorkCalendar

__all__ = ["Service", "ServiceError", "NotFound"]
NOTE_MAX = 2000  # characters of a note in the timeline
SHIFT_MAX = timedelta(days=31)  # a manual shift longer than this is a typo, not a shift




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

    def _rule(self, rule: str | None, deadlines: list[Deadline]) -> str | None:
        """The rule a person named, by name or by title (5小时内发布权威信息); None when none was named."""
        if rule is None or not rule.strip():
            return None
        return resolve_rule(rule, known_rules(self.settings.rules, deadlines))

    @staticmethod
    def _select(deadlines: list[Deadline], rule: str | None, state: str = "open") -> list[Deadline]:
        chosen = [d for d in deadlines if d.state == state and (rule is None or d.rule == rule)]
        if rule is not None and not any(d.rule == rule for d in deadlines):
            names = "、".join(sorted({f"{d.title}（{d.rule}）" for d in deadlines})) or "无"
            raise ServiceError(f"事件没有期限 {rule}（现有：{names}）(no deadline {rule} on this incident)")
        return chosen

    async def acknowledge(self, incident_id: int, actor: str, rule: str | None = None) -> list[Deadline]:
        """Stop repeats of the step last sent; the deadline stays open and later steps still fire."""
        now = self.clock.now()
        async with self.store.write() as tx:
            await self._incident(tx, incident_id)
            deadlines = await tx.deadlines.for_incident(incident_id)
            open_ = self._select(deadlines, self._rule(rule, deadlines))
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
            rule = self._rule(rule, deadlines)
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
            if chosen or kind == closing.REPLY:
                await self._close_if_done(tx, incident, actor, now)
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

    async def regrade(self, incident_id: int, severity: Severity, actor: str, reason: str = "") -> dict:
        """Raise: open the deadlines the new level requires, counted from the original first-seen time.
        Lower: only with a reason, which cancels the open deadlines that no longer apply (as a triage
        correction does). A closed incident must be reopened before it is raised (new deadlines need an owner)."""
        reason = reason.strip()
        now = self.clock.now()
        async with self.store.write() as tx:
            incident = await self._incident(tx, incident_id)
            if severity == incident.level:
                raise ServiceError(f"事件已是{severity.zh} (already {severity.zh})")
            if severity < incident.level and not reason:
                raise ServiceError(f"降低等级（{incident.level.zh}→{severity.zh}）需要说明理由 "
                                   "(lowering a grade needs a reason)")
            if severity > incident.level and incident.status == "closed":
                raise ServiceError(f"事件 #{incident_id} 已办结：请先重新打开再上调等级 (closed: reopen it first)", 409)
            reason = reason or "人工上调等级"
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

    async def correct(self, incident_id: int, values: dict, actor: str, reason: str = "") -> Outcome:
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
                result = await self.book.regrade(tx, incident, diff["severity"][1], actor,
                                                 reason.strip() or "人工研判更正", now)
                outcome.opened, outcome.cancelled = result["opened"], result["cancelled"]
            await tx.audit.append(now, actor, "triage.corrected", "incident", incident_id, {
                **outcome.changes, **({"reason": reason.strip()} if reason.strip() else {}),
                "deadlines_moved": outcome.deadlines_moved, "opened": outcome.opened, "cancelled": outcome.cancelled})
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
            if incident.status == "closed":  # a promise is a deadline: it needs an open incident to answer it
                raise ServiceError(f"事件 #{incident_id} 已办结：请先重新打开再登记承诺 (closed: reopen it first)", 409)
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
            incident = await tx.incidents.get(entry["incident_id"])
            if entry["deadline_id"] and incident is not None:
                await self._close_if_done(tx, incident, actor, now)
            return on_time

    # ----------------------------------------------------------------------- note, close (办结), reopen
    async def note(self, incident_id: int, actor: str, text: str) -> None:
        """A free-text note in the incident's timeline (what was said on the phone, who was told…)."""
        text = text.strip()
        if not text:
            raise ServiceError("备注不能为空 (a note needs text)")
        if len(text) > NOTE_MAX:
            raise ServiceError(f"备注最多 {NOTE_MAX} 个字符 (a note has at most {NOTE_MAX} characters)")
        now = self.clock.now()
        async with self.store.write() as tx:
            await self._incident(tx, incident_id)
            await tx.audit.append(now, actor, "incident.noted", "incident", incident_id, {"text": text})

    async def close(self, incident_id: int, actor: str, reply_url: str = "", note: str = "") -> dict:
        """Close (办结): refused, naming them, while deadlines are open; needs the reply — given here (its URL or
        a note, recorded as evidence of kind `reply`) or already on record (monitor/deadlines/closing.py)."""
        reply_url, note = reply_url.strip(), note.strip()
        if reply_url and not reply_url.startswith(("http://", "https://")):
            raise ServiceError(f"链接必须以 http:// 或 https:// 开头 (url must be http/https): {reply_url[:80]}")
        now = self.clock.now()
        async with self.store.write() as tx:
            incident = await self._incident(tx, incident_id)
            if incident.status == "closed":
                raise ServiceError(f"事件 #{incident_id} 已于 {fmt_local(incident.closed_at)} 办结 (already closed)",
                                   409)
            blocking = closing.open_deadlines(await tx.deadlines.for_incident(incident_id))
            if blocking:
                raise ServiceError(
                    f"事件 #{incident_id} 还有未完成的期限：{closing.blockers_text(blocking)}；请先登记证据，或调整等级"
                    f"取消不再适用的期限后再办结 (open deadlines: {', '.join(d.rule for d in blocking)})", 409)
            if reply_url or note:
                await tx.deadlines.add_evidence({"incident_id": incident_id, "kind": closing.REPLY, "url": reply_url,
                                                 "note": note, "actor": actor, "at": now})
                reply = reply_url or note
            else:
                reply = await self._reply_on_record(tx, incident_id)
                if reply is None:
                    raise ServiceError(f"事件 #{incident_id} 尚未登记答复：请填写答复链接或说明（12345 工单「已办结」视为"
                                       "已答复）(no reply on record: give the reply's url or a note)", 409)
            return await self._close(tx, incident, actor, now, reply, auto=False)

    async def reopen(self, incident_id: int, actor: str, reason: str) -> None:
        """Open a closed incident again (a person's decision; a new report reopens it by itself)."""
        if not reason.strip():
            raise ServiceError("重新打开需要说明理由 (a reason is required)")
        now = self.clock.now()
        async with self.store.write() as tx:
            incident = await self._incident(tx, incident_id)
            if incident.status != "closed":
                raise ServiceError(f"事件 #{incident_id} 未办结，无需重新打开 (not closed)", 409)
            await tx.incidents.update(incident_id, {"status": "open", "closed_at": None, "closed_by": None,
                                                    "updated_at": now})
            await tx.audit.append(now, actor, "incident.reopened", "incident", incident_id,
                                  {"reason": reason.strip()})

    async def _reply_on_record(self, tx: Tx, incident_id: int) -> str | None:
        recorded = [e for e in await tx.deadlines.evidence_for(incident_id) if e["kind"] == closing.REPLY]
        if recorded:
            return recorded[-1]["url"] or recorded[-1]["note"]
        return closing.reply_of_items(await tx.items.for_incident(incident_id, limit=1_000_000))

    async def _close_if_done(self, tx: Tx, incident: Incident, actor: str, now: datetime) -> None:
        """Automatic 办结: the evidence just recorded left no deadline open and the reply is on record."""
        if incident.status != "open" or closing.open_deadlines(await tx.deadlines.for_incident(incident.id)):
            return
        reply = await self._reply_on_record(tx, incident.id)
        if reply is not None:
            await self._close(tx, incident, actor, now, reply, auto=True)

    async def _close(self, tx: Tx, incident: Incident, actor: str, now: datetime, reply: str, auto: bool) -> dict:
        await tx.incidents.update(incident.id, {"status": "closed", "closed_at": now, "closed_by": actor[:100],
                                                "reply": reply, "updated_at": now})
        await tx.audit.append(now, actor, "incident.closed", "incident", incident.id, {"reply": reply, "auto": auto})
        return {"incident_id": incident.id, "status": "closed", "closed_at": now.isoformat(), "reply": reply,
                "auto": auto}

    # -- the duty roster (值班表): manual shifts beside the config's, kept across restarts
    async def add_shift(self, role: str, user: str, starts_at: datetime, ends_at: datetime, actor: str) -> int:
        if ends_at <= starts_at:
            raise ServiceError("结束时间须晚于开始时间 (the shift must end after it starts)")
        if ends_at <= self.clock.now():
            raise ServiceError("该班次已经结束，无需排班 (the shift is already over)")
        if ends_at - starts_at > SHIFT_MAX:
            raise ServiceError(f"一个班次最长 {SHIFT_MAX.days} 天 (a shift lasts at most {SHIFT_MAX.days} days)")
        now = self.clock.now()
        async with self.store.write() as tx:
            people = set(await tx.people.users()) | {a["name"] for a in await tx.accounts.list()}
            if user not in people:
                raise ServiceError(f"user: 未知人员「{user[:60]}」：请先在配置 users 中登记或创建账号 "
                                   "(unknown person: add them to the config's users or create an account)")
            shift_id = await tx.people.add_shift({"role": role, "user": user, "starts_at": starts_at,
                                                  "ends_at": ends_at, "origin": "manual"})
            await tx.audit.append(now, actor, "roster.shift_added", "roster", shift_id, {
                "role": role, "user": user, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()})
            return shift_id

    async def remove_shift(self, shift_id: int, actor: str) -> dict:
        now = self.clock.now()
        async with self.store.write() as tx:
            shift = await tx.people.shift(shift_id)
            if shift is None:
                raise NotFound(f"没有班次 #{shift_id} (no such shift)")
            if shift["origin"] != "manual" or not await tx.people.remove_shift(shift_id):
                raise ServiceError(f"班次 #{shift_id} 来自配置文件，只能在配置中修改 (a shift of the config: edit the "
                                   "config's roster)", 409)
            await tx.audit.append(now, actor, "roster.shift_removed", "roster", shift_id, {
                "role": shift["role"], "user": shift["user"], "starts_at": shift["starts_at"].isoformat(),
                "ends_at": shift["ends_at"].isoformat()})
            return shift
