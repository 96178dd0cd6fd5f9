"""The one-way pipeline: raw items → normalised, de-duplicated, understood → incidents and deadlines (rows).

One call of `ingest` is one transaction: a batch is stored completely or not at all, so an interrupted
import resumes by simply importing again (items are keyed by source and external id).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from array import array
from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable, Sequence

import numpy as np
from loguru import logger

from monitor import prework
from monitor.deadlines import rules as deadline_rules
from monitor.core.clock import Clock
from monitor.core.model import RawItem, Severity, Understanding
from monitor.dedupe import minhash
from monitor.core.durations import Duration
from monitor.deadlines.book import DeadlineBook
from monitor.deadlines.closing import reopen_joined
from monitor.understanding.heat import HeatPolicy, adjust, signals
from monitor.understanding.normalize import clean_display, normalize
from monitor.config.settings import EscalationStep, RuleConfig
from monitor.core.errors import Reject, Skipped
from monitor.core.excerpt import EXCERPT
from monitor.core.textsim import jaccard
from monitor.store import Store, Tx
from monitor.dedupe import events
from monitor.deadlines.alerts import Alert
from monitor.deadlines.alerts import queue as queue_alerts
from monitor.understanding import severity as severity_rules
from monitor.understanding.understander import Understander, prepare
from monitor.core.workcal import WorkCalendar

# Fields whose change on a re-imported record is an update worth a history entry.
TRACKED = ("title", "body", "status", "handler", "reply", "replied_at", "likes", "location")


@dataclass
class ImportStats:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    quarantined: int = 0
    empty: int = 0  # empty rows of a file: skipped and counted here, not in `read`, not quarantined
    near_duplicates: int = 0  # of `inserted`: new items that joined an existing incident as near-duplicates
    known: int = 0  # records whose (source, id) was already stored: `updated` plus the unchanged duplicates
    incidents: int = 0
    deadlines: int = 0
    seconds: float = 0.0
    # a compact array, not a list: an import's totals hold one per new incident (≈30 MB less at 1M rows)
    new_incident_ids: array = field(default_factory=lambda: array("q"))

    def add(self, other: "ImportStats") -> None:
        for name in ("read", "inserted", "updated", "duplicates", "quarantined", "empty", "near_duplicates", "known",
                     "incidents", "deadlines", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.new_incident_ids.extend(other.new_incident_ids)

    def as_json(self) -> dict:
        """The `import --json` line, exactly the keys docs/design.md fixes (scripts compare them); empty rows
        are not records and are told apart in the summary on stderr."""
        return {"read": self.read, "inserted": self.inserted, "updated": self.updated,
                "duplicates": self.duplicates, "quarantined": self.quarantined,
                "incidents": self.incidents, "seconds": round(self.seconds, 3)}


@dataclass
class Pipeline:
    store: Store
    clock: Clock
    understander: Understander
    rules: list[RuleConfig]
    calendar: WorkCalendar
    policies: dict[str, list[EscalationStep]] = field(default_factory=dict)
    horizon: Duration = Duration(7, "d")
    timings: "StageTimings" = field(default_factory=lambda: StageTimings())
    heat: HeatPolicy = field(default_factory=HeatPolicy)
    bands: minhash.BandIndex = field(default_factory=minhash.BandIndex)
    counts: dict[str, int] = field(default_factory=dict)  # work done (the benchmark prints it)  # filled from the store on first ingest

    def __post_init__(self) -> None:
        self.book = DeadlineBook(self.rules, self.policies, self.calendar)
        self._ingest_lock = asyncio.Lock()
        self.events = prework.events_reader(self.understander)

    async def ingest(self, records: list[RawItem | Reject | Skipped], source: str, file: str = "",
                     in_tx: Callable[[Tx, datetime], Awaitable[None]] | None = None,
                     id_conflicts: bool = False,
                     ready: Sequence[prework.Ready | None] | None = None) -> ImportStats:
        """Store one batch in one transaction. `in_tx` runs inside the same transaction (collectors save
        their cursor there, so a batch and the position after it commit together or not at all).
        `id_conflicts` (file imports): a stored id whose new text is plainly another complaint is quarantined
        as a conflict, not applied as an update (SAME_COMPLAINT_MIN).
        `ready`: per record, what its text says (monitor.prework, computed by import workers), or None to
        compute it here; the results are the same."""
        started = _mark()
        empty = sum(1 for r in records if isinstance(r, Skipped))
        stats = ImportStats(read=len(records) - empty, empty=empty)
        now = self.clock.now()
        rejects = [r for r in records if isinstance(r, Reject)]
        latest: dict[tuple[str, str], RawItem] = {}
        ready_of: dict[int, prework.Ready] = {}  # id(record) → its Ready (records live as long as this call)
        for n, r in enumerate(records):
            if isinstance(r, RawItem):
                if (r.source, r.external_id) in latest:
                    stats.duplicates += 1  # the same record twice in one batch: the later one wins
                latest[(r.source, r.external_id)] = r
                if ready is not None and ready[n] is not None:
                    ready_of[id(r)] = ready[n]
        # One ingest at a time per process (collector tasks run concurrently): the band index follows one
        # transaction at a time. The database serialises writers anyway (SQLite; an advisory lock on PostgreSQL).
        async with self._ingest_lock:
            self.bands.begin()
            try:
                async with self.store.write() as tx:
                    await self._ingest_tx(tx, rejects, latest, source, file, in_tx, now, stats, id_conflicts,
                                          ready_of)
                    t_commit = _mark()
            except BaseException:
                self.bands.rollback()  # the batch's items were not stored: forget their bands too
                raise
            self.bands.commit()
        self.timings.add("commit", t_commit)
        stats.seconds = self.timings.whole(started)
        return stats

    async def _ingest_tx(self, tx: Tx, rejects: list[Reject], latest: dict[tuple[str, str], RawItem], source: str,
                         file: str, in_tx, now: datetime, stats: ImportStats, id_conflicts: bool = False,
                         ready_of: dict[int, prework.Ready] | None = None) -> None:
        t0 = _mark()
        await tx.items.lock_ingest()
        await self._sync_bands(tx)
        self.timings.add("near_dedupe: index sync", t0)
        if rejects:
            await tx.items.quarantine([
                {"source": source, "file": file, "row_no": r.row_no, "reason": r.reason, "raw": r.raw,
                 "created_at": now, "row_key": r.key, "detail": r.detail} for r in rejects
            ])
            stats.quarantined = len(rejects)
        by_source: dict[str, list[RawItem]] = {}
        for item in latest.values():
            by_source.setdefault(item.source, []).append(item)
        touched: set[int] = set()
        for src, batch in by_source.items():
            await self._ingest_source(tx, src, batch, now, stats, touched, file if id_conflicts else None,
                                      ready_of or {})
        t0 = _mark()
        if touched:
            await tx.incidents.refresh_stats(touched, now)
            await self._apply_heat(tx, touched - set(stats.new_incident_ids), now)
        self.timings.add("heat refresh", t0)
        if in_tx is not None:
            await in_tx(tx, now)

    async def _sync_bands(self, tx: Tx) -> None:
        """Fold into the band index what other writers stored since it last looked (all items on the first
        batch): new items by id, changed signatures by minhash_changes. Ingests are serialised (SQLite's
        single writer, an advisory lock on PostgreSQL), so ids and change numbers only grow between looks."""
        index = self.bands
        oldest, newest = await tx.items.minhash_change_bounds()
        if oldest > index.seen_change + 1 and (index.seen_id or index.seen_change):
            index.clear()  # changes this index never saw were pruned (see minhash.CHANGES_KEPT): read all again
        fresh = not (index.seen_id or index.seen_change)
        while True:
            rows = await tx.items.minhashes_after(index.seen_id, _SYNC_ROWS)
            if not rows:
                break
            _index_signatures(index, [(i, m) for i, m in rows if m is not None])
            index.seen_id = rows[-1][0]
            if len(rows) < _SYNC_ROWS:
                break
        if fresh:  # every stored signature was read as it is now: no logged change to replay
            index.seen_change = newest
            return
        changes = await tx.items.minhash_changes_after(index.seen_change)
        if changes:
            _index_signatures(index, [(i, m) for _, i, m in changes if m is not None])
            index.seen_change = changes[-1][0]

    async def _ingest_source(self, tx: Tx, source: str, batch: list[RawItem], now: datetime,
                             stats: ImportStats, touched: set[int], conflicts_of: str | None = None,
                             ready_of: dict[int, prework.Ready] | None = None) -> None:
        """`conflicts_of`: the file whose rows are checked for id conflicts (None: no check)."""
        t0 = _mark()
        known = await tx.items.by_external_ids(source, [i.external_id for i in batch])
        stats.known += len(known)
        self.timings.add("lookup known ids", t0)
        t0 = _mark()
        fresh: list[_Prepared] = []
        history: list[dict] = []
        audit: list[dict] = []
        rebanded: list[_Prepared] = []
        reread: list[tuple[_Prepared, dict, list[str]]] = []
        conflicts: list[dict] = []
        for item in batch:
            item.title, item.body = clean_display(item.title), clean_display(item.body)
            pre = ready_of.get(id(item)) if ready_of else None
            if pre is None:
                title_norm, body_norm = normalize(item.title), normalize(item.body)
                # the same words about another place are another matter: the place is part of "the same text"
                prepared = _Prepared(item, prework.digest_of(title_norm, body_norm, item.location), title_norm,
                                     body_norm)
            else:
                prepared = _Prepared(item, pre.digest, pre.title_norm, pre.body_norm, ready=pre)
            old = known.get(item.external_id)
            if old is None:
                fresh.append(prepared)
                continue
            changes = _changes(old, item)
            if not changes:
                stats.duplicates += 1
                continue
            if conflicts_of is not None and ("title" in changes or "body" in changes):
                similarity = _text_similarity(old, prepared.title_norm, prepared.body_norm)
                if similarity < SAME_COMPLAINT_MIN:
                    conflicts.append(_conflict_row(source, conflicts_of, old, prepared, similarity, now))
                    continue
            values = {f: getattr(item, f) for f in changes} | {"content_hash": prepared.digest, "updated_at": now}
            await tx.items.update(old["id"], values)
            history.append({"item_id": old["id"], "at": now, "changes": {
                f: [_jsonable(old[f]), _jsonable(getattr(item, f))] for f in changes}})
            stats.updated += 1
            if old["incident_id"]:
                touched.add(old["incident_id"])
                if "reply" in changes and item.reply:
                    audit.append(_reply_audit(old["incident_id"], old["id"], item, now))
            prepared.item_id = old["id"]
            if "title" in changes or "body" in changes:
                rebanded.append(prepared)
            if {"title", "body", "location"} & set(changes):
                reread.append((prepared, old, changes))
        await tx.items.add_history(history)
        if conflicts:
            await tx.items.quarantine(conflicts)
            stats.quarantined += len(conflicts)
        self.timings.add("normalize", t0)
        if rebanded:
            keys = _fingerprint(rebanded)
            for p in rebanded:
                await tx.items.update(p.item_id, {"minhash": minhash.to_bytes(p.sig)})
            # other processes' indexes learn of the new text from minhash_changes; this one directly
            self.bands.seen_change = await tx.items.log_minhash_changes([p.item_id for p in rebanded],
                                                                        keep=minhash.CHANGES_KEPT)
            self.bands.add([p.item_id for p in rebanded], keys, np.vstack([p.sig for p in rebanded]))
        if reread:
            await self._reread(tx, reread, now, audit)
        if fresh:
            await self._insert_fresh(tx, source, fresh, now, stats, touched, audit)
        await tx.audit.append_many(audit)

    async def _insert_fresh(self, tx: Tx, source: str, fresh: list[_Prepared], now: datetime,
                            stats: ImportStats, touched: set[int], audit: list[dict]) -> None:
        t0 = _mark()
        # 1. Exact duplicates: the same text already belongs to an incident, or appears earlier in this batch.
        by_hash = await tx.items.incidents_by_hash(sorted({p.digest for p in fresh}))
        leader_by_digest: dict[str, _Prepared] = {}
        novel: list[_Prepared] = []
        for p in fresh:
            if p.digest in by_hash:
                p.incident_id, p.reason = by_hash[p.digest], "与已有留言内容相同"
                stats.duplicates += 1
            elif p.digest in leader_by_digest:
                p.same_as = leader_by_digest[p.digest]
                p.reason = f"与同批留言 {_label(p.same_as.item)} 内容相同"
                stats.duplicates += 1
            else:
                leader_by_digest[p.digest] = p
                novel.append(p)
        self.timings.add("exact_dedupe", t0)

        # 2. Near duplicates (monitor.dedupe.minhash): stored items and earlier items of this batch that share an LSH
        # band are candidates; the most similar one above the threshold decides the incident.
        t0 = _mark()
        novel_keys = _fingerprint(novel)
        t1 = self.timings.add("near_dedupe: fingerprints", t0)
        if novel:
            novel_sigs = np.vstack([p.sig for p in novel])
            found = self.bands.candidates(novel_keys)
            for p, stored in zip(novel, self.bands.may_pass_estimate(novel_sigs, found)):
                p.stored = stored
        t1 = self.timings.add("near_dedupe: band lookup", t1)
        sigs = await tx.items.signatures({i for p in novel for i in p.stored})
        self.counts["candidate signatures read"] = self.counts.get("candidate signatures read", 0) + len(sigs)
        for p in novel:  # the signature's estimate picks the few stored candidates worth reading
            if not p.stored:
                continue  # most items: no candidate
            scored = []
            for item_id in p.stored:
                incident_id, sig_bytes = sigs.get(item_id, (None, None))
                other = minhash.from_bytes(sig_bytes) if incident_id is not None else None
                if other is not None and (est := minhash.estimate(p.sig, other)) >= minhash.ESTIMATE_MIN:
                    scored.append((est, item_id))
            p.stored = [i for _, i in sorted(scored, reverse=True)[: minhash.EXACT_CHECKS]]
        t1 = self.timings.add("near_dedupe: candidate signatures", t1)
        stored = await tx.items.texts({i for p in novel for i in p.stored})
        places = await tx.items.locations(stored) if stored else {}
        self.counts["candidate texts read"] = self.counts.get("candidate texts read", 0) + len(stored)
        t0 = self.timings.add("near_dedupe: candidate texts", t1)
        stored_grams: dict[int, minhash.Candidate] = {}
        stored_shingled = dict(zip(stored, minhash.shingle_texts(
            [(normalize(row["title"]), normalize(row["body"])) for row in stored.values()])))
        # earlier novel items of this batch sharing a band key with each one (most share none)
        sharing = _earlier_sharing(novel_keys) if novel else {}
        groups: list[list[_Prepared]] = []
        for seq, p in enumerate(novel):
            p.seq = seq
            candidates: list[minhash.Candidate] = []
            for item_id in p.stored:
                if item_id not in stored_grams:
                    row = stored[item_id]
                    stored_grams[item_id] = minhash.Candidate(
                        item_id, row["incident_id"],
                        minhash.grams(stored_shingled[item_id]),
                        row["occurred_at"] or row["received_at"], f"#{item_id}（{row['source']}:{row['external_id']}）")
                candidates.append(stored_grams[item_id])
            # ranked by estimate, then batch position (never id(): the same ranking in every run)
            earlier = sharing.get(seq, ())
            scored_batch = sorted(((minhash.estimate(p.sig, novel[j].sig), j) for j in earlier), reverse=True)
            for est, oid in scored_batch[: minhash.EXACT_CHECKS]:
                if est >= minhash.ESTIMATE_MIN:
                    other = novel[oid]
                    candidates.append(minhash.Candidate(oid, other, _grams_of(other), other.item.occurred_at or now,
                                                       _label(other.item)))
            match = minhash.best_match(_grams_of(p), p.item.occurred_at or now, candidates) if candidates else None
            if match is not None and self._conflict(p, match.candidate, stored, places):
                match = None  # alike in wording, but another street, estate or company: another matter
            if match is None:
                p.group = len(groups)
                groups.append([p])
            elif isinstance(match.candidate.incident, _Prepared):
                other = match.candidate.incident
                p.reason = match.reason()
                if other.group is not None:
                    p.group = other.group
                    groups[other.group].append(p)
                else:
                    p.incident_id = other.incident_id
                stats.near_duplicates += 1
            else:
                p.incident_id, p.reason = match.candidate.incident, match.reason()
                stats.near_duplicates += 1
        for p in fresh:
            if p.same_as is not None:
                p.group, p.incident_id = p.same_as.group, p.same_as.incident_id
                if p.group is not None:
                    groups[p.group].append(p)
        stats.inserted += len(novel)
        self.timings.add("near_dedupe: verify and group", t0)

        # 3. Understanding, once per new group (its first item speaks for the group), and each report's figures.
        t0 = _mark()
        lazy = [g for g in groups if g[0].ready is None]  # not read by an import worker: read here
        read_here = iter(self.understander.understand_texts([g[0].item.title or "" for g in lazy],
                                                            [g[0].text for g in lazy]) if lazy else ())
        understood = [g[0].ready.understanding if g[0].ready is not None else next(read_here) for g in groups]
        for g, u in zip(groups, understood):
            g[0].facts = u.facts or None  # read by the understanding already
        leaders = {id(g[0]) for g in groups}
        for p in fresh:
            if id(p) not in leaders:
                p.facts = p.ready.facts if p.ready is not None else _facts_of(p.text)
        self.timings.add("understand", t0)

        # 4. One incident per real event: a new group about an event (explosion, fire…) joins the open
        # incident of the same event — other wording, another aspect, a rising toll (monitor.dedupe.events).
        groups, understood, signatures = await self._join_events(tx, groups, understood, now, touched, stats)
        t0 = _mark()
        incident_rows = [_incident_row([p.item for p in g], u, now, s, self._transfer(u))
                         for g, u, s in zip(groups, understood, signatures)]
        ids = await tx.incidents.insert_many_fast(incident_rows)
        for p in fresh:
            if p.group is not None:
                p.incident_id = ids[p.group]
                p.domain, p.confidence = understood[p.group].domain, understood[p.group].domain_confidence
            else:
                touched.add(p.incident_id)  # an incident that existed before: its heat changes
        # a new incident's heat was computed from its group by _incident_row
        rows = [_item_row(p.item, p.digest, now, p.incident_id, p.reason, p.domain, p.confidence, p.facts)
                for p in fresh]
        # novel items are the ones with a signature, in order: their bytes in one conversion, not one per row
        minhashes = iter(minhash.rows_to_bytes(novel_sigs) if novel else ())
        for row, p in zip(rows, fresh):
            row["minhash"] = next(minhashes) if p.sig is not None else None
        item_ids = await tx.items.insert_many_returning(rows)
        for p, item_id in zip(fresh, item_ids):
            if p.item.reply:
                audit.append(_reply_audit(p.incident_id, item_id, p.item, now))
        # issue 18: a new report of a closed (办结) incident opens it again, saying why (monitor/deadlines/closing.py)
        await reopen_joined(tx, [(p.incident_id, _label(p.item)) for p in fresh if p.group is None], now)
        if novel_keys is not None:  # novel items are the ones with a signature, in order
            self.bands.add([i for p, i in zip(fresh, item_ids) if p.sig is not None], novel_keys, novel_sigs)
        if item_ids:
            self.bands.seen_id = max(self.bands.seen_id, max(item_ids))
        stats.incidents += len(ids)
        stats.new_incident_ids.extend(ids)
        self.timings.add("store", t0)
        t0 = _mark()
        stats.deadlines += await self._open_deadlines(tx, ids, incident_rows, now)
        await self._alert_new(tx, ids, incident_rows, understood, now)
        # An incident is graded from all its reports: one that gained figures (a rising toll, a later report
        # of a group) is graded again.
        sizes = {}
        for p in fresh:
            sizes[p.incident_id] = sizes.get(p.incident_id, 0) + 1
        new_ids = set(ids)
        regrade = {p.incident_id for p in fresh if p.facts and (p.incident_id not in new_ids or sizes[p.incident_id] > 1)}
        if regrade:
            await self._accumulate(tx, regrade, {i for p, i in zip(fresh, item_ids) if p.facts}, now)
        self.timings.add("deadlines", t0)

    async def _apply_heat(self, tx: Tx, incident_ids: set[int], now: datetime) -> None:
        """Incidents that gained items may now draw enough attention to be graded higher (monitor.understanding.heat);
        a raise opens the deadlines of the new level from the original first-seen time."""
        if not incident_ids:
            return
        inputs = await tx.incidents.heat_inputs(incident_ids)
        times = await tx.items.seen_times(list(incident_ids), now - self.heat.window)
        for incident_id, (status, severity, item_count, reporter_count, likes, areas) in inputs.items():
            if status != "open":
                continue
            heat = signals(item_count, reporter_count, likes, times.get(incident_id, []), now, self.heat)
            level, reasons = adjust(Severity(severity), heat, areas, self.heat)
            if level > severity:
                incident = await tx.incidents.get(incident_id)  # the whole row only for a raise (rare)
                why = [*(r for r in incident.reasons if r.get("stage") == "severity"), *(r.as_dict() for r in reasons)]
                await self.book.regrade(tx, incident, level, "system:heat", reasons[0].text, now, why)
                await tx.audit.append(now, "system:heat", "incident.regraded", "incident", incident_id,
                                      {"from": incident.level.zh, "to": level.zh, "reason": reasons[0].text})

    async def _reread(self, tx: Tx, changed: list[tuple[_Prepared, dict, list[str]]], now: datetime,
                      audit: list[dict]) -> None:
        """Known records whose text or place changed are read again (an update, not a duplicate): each report's
        figures count towards its incident's grade (_accumulate), and an incident made of that one report
        takes the new reading (_apply_reading). The incident's timeline says what changed; the item's
        history keeps both texts."""
        for p, _, _ in changed:
            p.facts = _facts_of(p.text)
            await tx.items.update(p.item_id, {"facts": p.facts})
        ids = {old["incident_id"] for _, old, _ in changed if old["incident_id"]}
        incidents = await tx.incidents.get_many(ids)
        alone = [(p, old) for p, old, _ in changed
                 if (inc := incidents.get(old["incident_id"])) is not None and inc.item_count == 1
                 and inc.status == "open"]
        # the old text is read too: whether the new one reads lower is a comparison of two readings
        readings = self.understander.understand_texts(
            [t for p, old in alone for t in (old["title"], p.item.title)],
            [t for p, old in alone for t in (prepare(old["title"], _body_at(old["body"], old["location"])),
                                             p.text)]) if alone else []
        outcomes: dict[int, dict] = {}
        for n, (p, old) in enumerate(alone):
            outcomes[old["incident_id"]] = await self._apply_reading(
                tx, incidents[old["incident_id"]], p, readings[2 * n], readings[2 * n + 1], now)
        for p, old, changes in changed:
            if old["incident_id"]:
                audit.append({"at": now, "actor": f"system:source:{p.item.source}", "action": "item.updated",
                              "entity": "incident", "entity_id": str(old["incident_id"]),
                              "detail": {"item_id": p.item_id, "external_id": p.item.external_id,
                                         "changes": {f: [_short(old[f]), _short(getattr(p.item, f))] for f in changes},
                                         **outcomes.get(old["incident_id"], {})}})
        if ids:
            await self._accumulate(tx, ids, {p.item_id for p, _, _ in changed}, now,
                                   {p.item_id: (old["incident_id"], old.get("facts")) for p, old, _ in changed})

    async def _apply_reading(self, tx: Tx, incident, p: _Prepared, before: Understanding, u: Understanding,
                             now: datetime) -> dict:
        """An incident of one report whose text changed takes the new reading as a new incident would: title,
        kind, domain, route, event. What a person corrected stays. A higher grade or a new kind opens the deadlines
        it needs, counted from first seen; a machine never lowers a grade or cancels a deadline: a lower reading
        goes to triage. Returns what changed, for the timeline."""
        kept = {c["field"] for c in await tx.incidents.corrections(incident.id)
                if not c["actor"].startswith("system:")}
        text = p.text
        sig = prework.event_signature(self.events, text, u.region)
        level = max(incident.level, u.severity)
        values = {"title": (p.item.title or p.item.body[:40])[:300], "kind": u.kind, "domain": u.domain,
                  "domain_confidence": u.domain_confidence, "department": u.department,
                  "co_departments": u.co_departments, "response_type": u.response_type, "region": u.region,
                  "sensitive_areas": u.sensitive_areas, "transfer": self._transfer(u), "severity": int(level),
                  "event": sig.as_dict() if sig is not None and sig.kind != "routine" else None, "updated_at": now}
        for field_ in kept - {"severity"}:
            values.pop(field_, None)
        if u.kind == "policy" and incident.published_at is None:
            values["published_at"] = incident.first_seen_at
        reasons = [*(r.as_dict() for r in u.reasons), {"stage": "update", "text": "留言内容已更新，按新内容重新研判"}]
        if u.severity < before.severity and "severity" not in kept:
            reasons.append({"stage": "triage", "text": f"更新后的内容对应{u.severity.zh}，低于此前的{before.severity.zh}"
                                                       f"（当前{level.zh}）：请人工核实后决定是否降级"})
            values["triage"] = "pending"
        elif u.needs_triage and incident.triage == "none":
            values["triage"] = "pending"
        values["reasons"] = reasons
        await tx.incidents.update(incident.id, values)
        await tx.items.update(p.item_id, {"domain": u.domain, "domain_confidence": u.domain_confidence})
        out: dict = {}
        if values.get("department", incident.department) != incident.department:
            out["department"] = [incident.department, u.department]
            out["deadlines_moved"] = await tx.deadlines.reassign_open(incident.id, u.department, now)
        if level != incident.level:
            out["severity"] = [incident.level.zh, level.zh]
        fresh = await tx.incidents.get(incident.id)
        have = {d.rule for d in await tx.deadlines.for_incident(incident.id)}
        plans = [plan for plan in self.book.plan(fresh, level) if plan.rule not in have]
        oldest = Duration(-self.horizon.amount, self.horizon.unit).after(now, self.calendar.provisional())
        if plans and (fresh.published_at or fresh.first_seen_at) >= oldest:  # history gets no deadlines
            out["opened"] = await self.book.open(tx, fresh, plans, now, "system:update")
        return out

    def _conflict(self, p: _Prepared, candidate: minhash.Candidate, stored: dict[int, dict],
                  places: dict[int, str]) -> bool:
        """Whether two texts alike in wording name different places or organisations (monitor.dedupe.events)."""
        if isinstance(candidate.incident, _Prepared):
            theirs = self._place_sig(candidate.incident)
        else:
            row, place = stored[candidate.ref], places.get(candidate.ref, "")
            if p.item.location == place and p.title_norm == normalize(row["title"]) \
                    and p.body_norm == normalize(row["body"]):
                return False  # the same words at the same place (a re-submission under a new number)
            theirs = self.events.signature(prepare(row["title"], _body_at(row["body"], place)), "")
        why = events.conflicts(self._place_sig(p), theirs)
        if why:
            self.counts["near-duplicates refused"] = self.counts.get("near-duplicates refused", 0) + 1
        return why is not None

    def _place_sig(self, p: _Prepared) -> "events.Signature":
        if p.place_sig is None:  # read once per report, however many candidates it meets
            p.place_sig = self.events.signature(p.text, "")
        return p.place_sig

    def _transfer(self, u: Understanding) -> str:
        """An event outside the jurisdiction is transferred (转办) to the upper level, which names who answers."""
        if u.route_rule != "outside":
            return ""
        j = self.understander.router.j
        return j.upper or j.office

    async def _join_events(self, tx: Tx, groups: list[list[_Prepared]], understood: list[Understanding],
                           now: datetime, touched: set[int], stats: ImportStats):
        """Groups that report an event already open (stored, or earlier in this batch) join it. Returns the
        groups that remain new incidents, their understanding and their event signatures."""
        t_a = _mark()
        signatures = [g[0].ready.event if g[0].ready is not None else
                      prework.event_signature(self.events, g[0].text, u.region) for g, u in zip(groups, understood)]
        t_a = self.timings.add("events: signatures", t_a)
        if all(s.kind == "routine" for s in signatures):
            return groups, understood, signatures
        open_events = events.OpenEvents(
            events.Candidate(i, events.Signature.from_dict(e), first, last)
            for i, e, first, last in await tx.incidents.open_events(now - events.HORIZON))
        t_a = self.timings.add("events: open events", t_a)
        kept: list[int] = []
        grown: dict[int, events.Signature] = {}  # stored events that gained a report: their merged signature
        for gi, (g, sig) in enumerate(zip(groups, signatures)):
            if sig.kind == "routine":
                kept.append(gi)
                continue
            at = min((p.item.occurred_at or now) for p in g)
            last = max((p.item.occurred_at or now) for p in g)
            found = events.match(sig, at, open_events.relevant(sig, at))
            if found is None:  # a new event; later groups of this batch may join it
                kept.append(gi)
                open_events.put(events.Candidate(("group", gi), sig, at, last))
                continue
            candidate, reason = found
            stats.near_duplicates += len(g)
            merged = events.merge(candidate.signature, sig)
            open_events.put(events.Candidate(candidate.key, merged, min(candidate.first_seen, at),
                                             max(candidate.last_seen, last)))
            if isinstance(candidate.key, tuple):  # an earlier new group of this batch
                target = candidate.key[1]
                for p in g:
                    p.reason = reason
                groups[target].extend(g)
                signatures[target] = merged
            else:
                for p in g:
                    p.group, p.incident_id, p.reason = None, candidate.key, reason
                touched.add(candidate.key)
                grown[candidate.key] = merged
        t_a = self.timings.add("events: match", t_a)
        self.counts["reports joined to an event"] = self.counts.get("reports joined to an event", 0) + \
            sum(len(g) for g in groups) - sum(len(groups[i]) for i in kept)
        for incident_id, sig in grown.items():
            await tx.incidents.update(incident_id, {"event": sig.as_dict()})
        out = [groups[i] for i in kept]
        for new, g in enumerate(out):
            for p in g:
                p.group = new
        return out, [understood[i] for i in kept], [signatures[i] for i in kept]

    async def _accumulate(self, tx: Tx, incident_ids: set[int], new_items: set[int], now: datetime,
                          old_facts: dict[int, tuple[int, dict | None]] | None = None) -> None:
        """Grade incidents again from the figures of all their reports (monitor.understanding.severity.merge_facts).
        A higher grade opens the deadlines it needs, counted from first seen; a lower reading never cancels
        one — the incident goes to triage with the reason, and a person lowers it. `old_facts`: item → (incident,
        figures before) of updated reports (a corrected toll reads lower than what the incident was graded on)."""
        old_facts = old_facts or {}
        policy = self.understander.severity_policy
        self.counts["incidents graded again"] = self.counts.get("incidents graded again", 0) + len(incident_ids)
        by_incident = await tx.items.facts_for(incident_ids)
        incidents = await tx.incidents.get_many(incident_ids)
        for incident_id, incident in sorted(incidents.items()):
            reports = by_incident.get(incident_id, [])
            present = {i for i, _ in reports}
            # what the incident was graded on: other reports as they are, updated ones as they were
            earlier = [(i, old_facts[i][1] if i in old_facts else f) for i, f in reports
                       if i not in new_items or i in old_facts]
            earlier += [(i, f) for i, (inc, f) in old_facts.items() if inc == incident_id and i not in present and f]
            if incident.status != "open" or not (reports or earlier):
                continue
            merged = severity_rules.merge_facts([severity_rules.Facts.from_dict(f) for _, f in reports])
            before = severity_rules.merge_facts([severity_rules.Facts.from_dict(f) for _, f in earlier])
            now_says = severity_rules.assess_facts(merged, incident.sensitive_areas, policy)
            said = severity_rules.assess_facts(before, incident.sensitive_areas, policy).level
            reasons = incident.reasons
            if now_says.level > incident.level:
                why = f"综合{len(reports)}条报告：{now_says.reasons[0].text}"
                graded = [{"stage": "severity", "text": why}, *(r.as_dict() for r in now_says.reasons[1:])]
                await self.book.regrade(tx, incident, now_says.level, "system:facts", why, now, graded)
                await tx.audit.append(now, "system:facts", "incident.regraded", "incident", incident_id,
                                      {"from": incident.level.zh, "to": now_says.level.zh, "reason": why})
                reasons = [*(r for r in reasons if r.get("stage") != "severity"), *graded]
                incident.severity = int(now_says.level)
            elif now_says.level < said:
                # a later report reads lower (an official correction, a lower toll): a person decides
                note = (f"新报告的数字对应{now_says.level.zh}，低于此前的{said.zh}（当前{incident.level.zh}）："
                        "请人工核实后决定是否降级")
                await tx.incidents.update(incident_id, {"triage": "pending",
                                                        "reasons": [*reasons, {"stage": "triage", "text": note}]})
                await tx.audit.append(now, "system:facts", "incident.triage", "incident", incident_id, {"reason": note})
                continue
            if now_says.triage_reason and incident.level >= Severity.MAJOR and incident.triage == "none":
                note = f"{now_says.triage_reason}：待人工研判"
                await tx.incidents.update(incident_id, {"triage": "pending",
                                                        "reasons": [*reasons, {"stage": "triage", "text": note}]})

    async def _alert_new(self, tx: Tx, ids: list[int], rows: list[dict], understood: list[Understanding],
                         now: datetime) -> None:
        """At once, not on a deadline: events outside the jurisdiction (to transfer; they may spill over) and
        false information (clues for the cyberspace and police bodies, as the seeds require)."""
        j = self.understander.router.j
        out: list[Alert] = []
        for incident_id, row, u in zip(ids, rows, understood):
            level = Severity(row["severity"])
            if row["transfer"] and level >= Severity.LARGER:
                text = (f"【舆情哨兵】辖区外{level.zh}事件 #{incident_id}：{row['title']}\n事发地：{row['region']}，"
                        f"不属本辖区，请转办至{row['transfer']}，并关注是否波及本辖区。")
                out.append(Alert(incident_id, "transfer", text, ("duty_officer",), row["department"], level))
            if u.response_type == "虚假不实信息":
                for kind, body in (("rumour_cyberspace", j.cyberspace), ("rumour_police", j.police)):
                    if body:
                        text = (f"【舆情哨兵】疑似虚假信息 #{incident_id}：{row['title']}\n"
                                f"请{body}核查；涉嫌违法的线索依法处置。")
                        out.append(Alert(incident_id, kind, text, ("responsible",), body, level))
        await queue_alerts(tx, out, now)

    def _understand_many(self, items: list[RawItem]) -> list[Understanding]:
        return self.understander.understand_texts([i.title or "" for i in items], [_text_of(i) for i in items])

    async def _open_deadlines(self, tx: Tx, ids: list[int], incident_rows: list[dict], now: datetime) -> int:
        rows, audit = [], []
        # (a cut-off for history, not a legal deadline: an unknown year counts every day)
        oldest = Duration(-self.horizon.amount, self.horizon.unit).after(now, self.calendar.provisional())
        for incident_id, inc in zip(ids, incident_rows):
            start = inc["published_at"] or inc["first_seen_at"]
            plans = deadline_rules.plan(self.rules, severity=Severity(inc["severity"]), kind=inc["kind"],
                                        domain=inc["domain"], starts_at=start, calendar=self.calendar)
            if plans and inc["transfer"]:
                note = {"stage": "deadline", "text": f"辖区外事件：转办至{inc['transfer']}，不开启本辖区期限"}
                await tx.incidents.update(incident_id, {"reasons": [*inc["reasons"], note]})
                continue
            if plans and start < oldest:
                note = {"stage": "deadline", "text": f"首次发现于{self.horizon.describe_zh()}之前（历史数据），未开启期限"}
                await tx.incidents.update(incident_id, {"reasons": [*inc["reasons"], note]})
                continue
            for p in plans:
                rows.append(self.book.row(incident_id, p, inc["department"], now))
                audit.append({"at": now, "actor": "system:pipeline", "action": "deadline.opened",
                              "entity": "incident", "entity_id": str(incident_id),
                              "detail": {"rule": p.rule, "due_at": p.due_at.isoformat()}})
        opened = await tx.deadlines.open_many(rows)
        await tx.audit.append_many(audit)
        if opened:
            logger.info("opened {} deadlines for {} incidents", len(opened), len(ids))
        early = [r["provisional_year"] for r in rows if r["provisional_year"]]
        if early:
            years = "、".join(map(str, sorted(set(early))))
            logger.warning("{} 个工作日期限暂按自然日提前计算：缺少 {} 年节假日安排（config/holidays/<年份>.yaml），"
                           "配置后重启 serve 即按工作日重算 (provisional deadlines: no holiday schedule)",
                           len(early), years)
        return len(opened)


def _mark() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


@dataclass
class StageTimings:
    """Time spent per pipeline stage since creation (the benchmark prints them): wall seconds, and CPU
    seconds of the whole process (the SQLite driver works in a thread of its own while the pipeline waits),
    which other jobs on a shared machine do not inflate."""

    seconds: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    ingest_seconds: float = 0.0  # all of ingest, stages and the rest (opening the transaction, quarantine…)
    ingest_cpu: float = 0.0

    def add(self, stage: str, since: tuple[float, float]) -> tuple[float, float]:
        """Add the time since `since` (a mark) to `stage`; returns the new mark, to time the next stage."""
        now = _mark()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now[0] - since[0]
        self.cpu[stage] = self.cpu.get(stage, 0.0) + now[1] - since[1]
        return now

    def whole(self, since: tuple[float, float]) -> float:
        """Add one ingest call's time (from `since`) to the totals; returns its wall seconds."""
        now = _mark()
        self.ingest_seconds += now[0] - since[0]
        self.ingest_cpu += now[1] - since[1]
        return now[0] - since[0]


@dataclass
class _Prepared:
    """A new record on its way in: its hash, normalised text, fingerprint and where it goes."""

    item: RawItem
    digest: str
    title_norm: str
    body_norm: str
    item_id: int | None = None
    seq: int = 0  # position among the batch's novel items (orders equal in-batch candidates)
    shingled: str = ""
    sig: object = None  # numpy row of the MinHash signature
    stored: list[int] = field(default_factory=list)  # candidate stored item ids
    _grams: object = None  # numpy array of 3-gram codes, built on first use
    incident_id: int | None = None
    group: int | None = None
    reason: str = ""
    same_as: "_Prepared | None" = None  # an earlier record of this batch with the same text
    domain: str = ""
    confidence: float = 0.0
    facts: dict | None = None  # the figures this report states (most state none)
    place_sig: object = None  # its event signature without the router's region, for near-duplicate conflicts
    ready: "prework.Ready | None" = None  # what an import worker read from its text (None: read here)
    _text: str | None = None

    @property
    def text(self) -> str:
        """What the readers read (title, body and place): built once, read by understanding, figures, events."""
        if self._text is None:
            self._text = _text_of(self.item)
        return self._text


def _grams_of(p: "_Prepared"):
    # Only items that meet a candidate need their 3-gram set (most never do): built on first use.
    if p._grams is None:
        p._grams = minhash.grams(p.shingled)
    return p._grams


def _earlier_sharing(keys: np.ndarray) -> dict[int, set[int]]:
    """Row i → the rows j < i of `keys` (n × BANDS band keys) that share a key with it, for rows that have
    any: one sort for the batch instead of a dict of lists per key and item."""
    flat = keys.ravel()
    order = np.argsort(flat, kind="stable")  # equal keys stay in row order
    ordered = flat[order]
    same = ordered[1:] == ordered[:-1]
    out: dict[int, set[int]] = {}
    if not same.any():
        return out
    rows = (order // keys.shape[1]).tolist()
    starts = np.flatnonzero(same & ~np.concatenate(([False], same[:-1]))).tolist()  # runs of equal keys
    ends = (np.flatnonzero(same & ~np.concatenate((same[1:], [False]))) + 2).tolist()
    for start, end in zip(starts, ends):
        run = rows[start:end]
        for at, i in enumerate(run):
            earlier = {j for j in run[:at] if j != i}
            if earlier:
                out.setdefault(i, set()).update(earlier)
    return out


def _fingerprint(prepared: list[_Prepared]):
    """Signatures and band keys of `prepared` (set on each); returns the keys array (n × BANDS) or None."""
    if not prepared:
        return None
    lazy = [p for p in prepared if p.ready is None]  # the others were fingerprinted by an import worker
    if lazy:
        texts = minhash.shingle_texts([(p.title_norm, p.body_norm) for p in lazy])
        for p, text, sig in zip(lazy, texts, minhash.signatures(texts)):
            p.shingled, p.sig = text, sig
    for p in prepared:
        if p.ready is not None:
            p.shingled, p.sig = p.ready.shingled, p.ready.sig
    return minhash.band_keys(np.vstack([p.sig for p in prepared]))


_SYNC_ROWS = 50_000  # signatures read per query while the band index catches up (bounded memory)


def _index_signatures(index: minhash.BandIndex, rows: list[tuple[int, bytes]]) -> None:
    rows = [(i, s) for i, s in rows if len(s) == 4 * minhash.PERMUTATIONS]
    if rows:
        sigs = np.frombuffer(b"".join(s for _, s in rows), dtype="<u4").reshape(len(rows), minhash.PERMUTATIONS)
        index.add([i for i, _ in rows], minhash.band_keys(sigs), sigs)


def _label(item: RawItem) -> str:
    return f"{item.source}:{item.external_id}"


def _reply_audit(incident_id: int, item_id: int, item: RawItem, now: datetime) -> dict:
    """A reply found by a collector: recorded on the item; the ledger links it to commitments."""
    return {"at": now, "actor": f"system:source:{item.source}", "action": "item.replied", "entity": "incident",
            "entity_id": str(incident_id),
            "detail": {"item_id": item_id, "external_id": item.external_id,
                       "replied_at": item.replied_at.isoformat() if item.replied_at else None,
                       "reply": item.reply[:200]}}


def _short(value, limit: int = 500):
    """A changed value for the timeline (the item's history keeps it whole)."""
    value = _jsonable(value)
    return value[:limit] + "…" if isinstance(value, str) and len(value) > limit else value


# 3-gram Jaccard of the texts at which a changed record is still the same complaint. The 52 different
# complaints that share an id across the shared real exports score 0.000–0.012; an edit of a complaint keeps
# most of its 3-grams (one changed character in 100 scores ≈0.94, a text doubled by an addition ≈0.5).
SAME_COMPLAINT_MIN = 0.2


def _text_similarity(old: dict, title_norm: str, body_norm: str) -> float:
    return jaccard(f"{normalize(old['title'])}\n{normalize(old['body'])}", f"{title_norm}\n{body_norm}")


def _conflict_row(source: str, file: str, old: dict, p: "_Prepared", similarity: float, now: datetime) -> dict:
    """A quarantine row for a record whose id is stored with another complaint's text: both texts (the store
    keeps excerpts), keyed by the id and the new text so that importing the file again adds no second row."""
    item = p.item
    key = f"conflict:{hashlib.sha1(item.external_id.encode()).hexdigest()[:16]}:{p.digest}"
    reason = (f"编号冲突 (id conflict): 编号 {item.external_id[:40]} 已是另一条留言 #{old['id']}「{old['title'][:30]}」，"
              f"文字相似度 {similarity:.2f} 低于 {SAME_COMPLAINT_MIN}，未覆盖 (the stored record is another complaint: "
              "not updated)；如两份文件来自不同平台，请用 --source 分开导入 (import them under separate --source)")
    return {"source": source, "file": file, "row_no": item.extra.get("row"), "reason": reason,
            "raw": {"external_id": item.external_id, "title": item.title, "body": item.body,
                    "cells": item.extra.get("cells", {})},
            "created_at": now, "row_key": key,
            "detail": {"conflict": {"item_id": old["id"], "incident_id": old["incident_id"],
                                    "similarity": round(similarity, 3),
                                    "stored": {"title": _excerpt(old["title"]), "body": _excerpt(old["body"])},
                                    "incoming": {"title": _excerpt(item.title), "body": _excerpt(item.body)}}}}


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


def _changes(old: dict, item: RawItem) -> list[str]:
    return [f for f in TRACKED if (old.get(f) or None) != (getattr(item, f) or None)]


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _item_row(item: RawItem, digest: str, now: datetime, incident_id: int, reason: str,
              domain: str = "", confidence: float = 0.0, facts: dict | None = None) -> dict:
    return {
        "source": item.source, "external_id": item.external_id, "content_hash": digest, "title": item.title,
        "body": item.body, "location": item.location, "reporter": item.reporter, "channel": item.channel,
        "handler": item.handler, "status": item.status, "likes": item.likes, "reply": item.reply,
        "replied_at": item.replied_at, "occurred_at": item.occurred_at, "received_at": now, "updated_at": now,
        "domain": domain, "domain_confidence": confidence, "incident_id": incident_id, "group_reason": reason,
        "raw": item.extra.get("cells", {}), "facts": facts or None,
    }


_body_at = prework.body_at


def _text_of(item: RawItem) -> str:
    return prepare(item.title, _body_at(item.body, item.location))


def _facts_of(text: str) -> dict | None:
    return severity_rules.extract_facts(text).as_dict() or None


def _incident_row(group: list[RawItem], u: Understanding, now: datetime, event: "events.Signature | None" = None,
                  transfer: str = "") -> dict:
    first = group[0]
    if len(group) == 1:  # most new incidents: the same values without four generator passes
        seen = last = first.occurred_at or now
        likes = first.likes
        reporters = 1
    else:
        seen = min((i.occurred_at or now) for i in group)
        last = max((i.occurred_at or now) for i in group)
        likes = sum(i.likes for i in group)
        reporters = len({i.reporter for i in group if i.reporter}) or 1
    # deadlines count from first seen: a report dated ahead of its arrival (a wrong clock) starts at arrival
    seen = min(seen, now)
    title = first.title or first.body[:40]
    return {
        "title": title[:300], "kind": u.kind, "status": "open", "triage": "pending" if u.needs_triage else "none",
        "domain": u.domain, "domain_confidence": u.domain_confidence, "department": u.department,
        "co_departments": u.co_departments, "region": u.region, "severity": int(u.severity),
        "response_type": u.response_type, "sensitive_areas": u.sensitive_areas,
        "reasons": [r.as_dict() for r in u.reasons],
        "first_seen_at": seen, "last_seen_at": last,
        "published_at": seen if u.kind == "policy" else None, "item_count": len(group),
        "reporter_count": reporters, "likes": likes, "created_at": now, "updated_at": now,
        "event": event.as_dict() if event is not None and event.kind != "routine" else None, "transfer": transfer,
    }
