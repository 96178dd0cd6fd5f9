"""Run the multi-report scenarios of tests/data/events/scenarios.jsonl through the real pipeline and store: each
scenario's reports arrive one by one at their minute, in a store of their own time (scenarios are 30 days
apart, so no event window spans two). Used by tests/test_event_scenarios.py and bench/events_eval.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from monitor.core.clock import SHANGHAI, ManualClock
from monitor.core.model import RawItem, Severity

SCENARIOS = Path(__file__).resolve().parent / "data" / "events" / "scenarios.jsonl"
START = datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)


def scenarios() -> list[dict]:
    with SCENARIOS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@dataclass
class Outcome:
    id: str
    expected: list[set[str]]
    got: list[set[str]]
    final: dict[str, str]  # first report of each event → expected grade
    graded: dict[str, str] = field(default_factory=dict)  # first report of each event → grade of its incident
    releases: dict[str, int] = field(default_factory=dict)  # first report → 5-hour deadlines over its incidents
    transferred: dict[str, bool] = field(default_factory=dict)
    lowering: bool = False

    @property
    def grouped_right(self) -> bool:
        return sorted(map(sorted, self.expected)) == sorted(map(sorted, self.got))


async def run(app, clock: ManualClock) -> list[Outcome]:
    out = []
    for n, sc in enumerate(scenarios()):
        base = START + timedelta(days=30 * n)
        incident_of: dict[str, int] = {}
        for r in sc["reports"]:
            at = base + timedelta(minutes=r["minutes"])
            clock.set(at)
            item = RawItem("push", f"{sc['id']}:{r['id']}", r["title"], r["body"], location=r.get("location", ""),
                           occurred_at=at)
            await app.pipeline.ingest([item], "push", "scenario")
        async with app.store.read() as tx:
            found = await tx.items.by_external_ids("push", [f"{sc['id']}:{r['id']}" for r in sc["reports"]])
            for r in sc["reports"]:
                incident_of[r["id"]] = found[f"{sc['id']}:{r['id']}"]["incident_id"]
            incidents = await tx.incidents.get_many(set(incident_of.values()))
            deadlines = {i: await tx.deadlines.for_incident(i) for i in incidents}
        got: dict[int, set[str]] = {}
        for rid, iid in incident_of.items():
            got.setdefault(iid, set()).add(rid)
        o = Outcome(sc["id"], [set(e) for e in sc["events"]], list(got.values()), sc["final_severity"],
                    lowering=bool(sc.get("lowering")))
        for event in sc["events"]:
            first = event[0]
            ids = {incident_of[r] for r in event}
            o.graded[first] = max(Severity(incidents[i].severity) for i in ids).zh
            o.releases[first] = sum(1 for i in ids for d in deadlines[i]
                                    if d.rule == "authoritative_release" and d.state != "cancelled")
            o.transferred[first] = all(incidents[i].transfer for i in ids)
        out.append(o)
    return out


def figures(outcomes: list[Outcome]) -> dict:
    events = [(o, first) for o in outcomes for first in o.final]
    major = [(o, f) for o, f in events if Severity.parse(o.final[f]) >= Severity.MAJOR and not o.transferred[f]]
    return {
        "scenarios": len(outcomes),
        "grouped_right": sum(o.grouped_right for o in outcomes),
        "events": len(events),
        "major_events": len(major),
        "missed_release": [f"{o.id}:{f}" for o, f in major if o.releases[f] == 0],
        "duplicate_release": [f"{o.id}:{f}" for o, f in events if o.releases[f] > 1],
        "under_graded_major": [f"{o.id}:{f} {o.graded[f]}" for o, f in major
                               if Severity.parse(o.graded[f]) < Severity.MAJOR],
        "grade_right": sum(1 for o, f in events if o.graded[f] == o.final[f] or
                           (o.lowering and Severity.parse(o.graded[f]) >= Severity.parse(o.final[f]))),
        "wrong_groups": [o.id for o in outcomes if not o.grouped_right],
        "wrong_grades": [f"{o.id}:{f} {o.graded[f]}≠{o.final[f]}" for o, f in events if not (
            o.graded[f] == o.final[f] or (o.lowering and Severity.parse(o.graded[f]) >= Severity.parse(o.final[f])))],
    }
