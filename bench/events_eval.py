"""Issue 15's figures on the development set (tests/data/events/): single reports graded, and the multi-report
scenarios run through the real pipeline on a fresh SQLite store.

    .venv/bin/python bench/events_eval.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.app import build  # noqa: E402
from monitor.config.settings import BUNDLED_CONFIG, load_settings  # noqa: E402
from monitor.core.clock import ManualClock  # noqa: E402
from monitor.core.model import Severity  # noqa: E402
from tests.event_scenarios import START, figures, run  # noqa: E402

REPORTS = Path(__file__).resolve().parents[1] / "tests" / "data" / "events" / "reports.jsonl"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


async def main() -> None:
    settings = load_settings(BUNDLED_CONFIG / "demo.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock(START)
        app = await build(settings, f"sqlite:///{tmp}/events.db", clock)
        try:
            rows = [json.loads(line) for line in REPORTS.open(encoding="utf-8") if line.strip()]
            started = time.perf_counter()
            got = app.understander.understand_many(
                [(r["title"], r["body"] + (f"\n{r['location']}" if r.get("location") else "")) for r in rows])
            seconds = time.perf_counter() - started
            right = sum(g.severity.zh == r["severity"] for g, r in zip(got, rows))
            major = [(g, r) for g, r in zip(got, rows) if Severity.parse(r["severity"]) >= Severity.MAJOR]
            under = [r["id"] for g, r in major if g.severity < Severity.MAJOR]
            triage = [(g, r) for g, r in zip(got, rows) if r.get("triage") is True]
            false_major = [r["id"] for g, r in zip(got, rows)
                           if g.severity >= Severity.MAJOR and Severity.parse(r["severity"]) < Severity.MAJOR]
            print(f"single reports: {len(rows)}; graded right {right} ({right / len(rows):.1%}); "
                  f"重大+ expected {len(major)}, graded below 重大 {len(under)} {under}; "
                  f"graded 重大+ though not {len(false_major)} {false_major}; "
                  f"triage asked {sum(g.needs_triage for g, _ in triage)}/{len(triage)}; "
                  f"{seconds / len(rows) * 1e6:.0f} µs a report")
            confusion = Counter((r["severity"], g.severity.zh) for g, r in zip(got, rows))
            print("expected → graded:", dict(sorted(confusion.items())))
            started = time.perf_counter()
            f = figures(await run(app, clock))
            print(f"scenarios: {f['scenarios']}; one incident per event in {f['grouped_right']} "
                  f"({f['grouped_right'] / f['scenarios']:.1%}); events {f['events']}, graded right "
                  f"{f['grade_right']}; major events in the jurisdiction {f['major_events']}: 5-hour deadlines "
                  f"missed {len(f['missed_release'])} {f['missed_release']}, doubled {len(f['duplicate_release'])} "
                  f"{f['duplicate_release']}; under-graded {f['under_graded_major']}; "
                  f"{time.perf_counter() - started:.1f} s")
            from tests.test_events import TYPICAL
            reader = app.pipeline.events
            best = min(_timed(lambda: [reader.signature(t, "马街街道") for t in TYPICAL]) for _ in range(25))
            print(f"event signature: {best / len(TYPICAL) * 1e6:.1f} µs per ~300-character report (best of 25)")
            print("scenarios grouped wrong:", f["wrong_groups"], "; events graded wrong:", f["wrong_grades"])
            from bench.result import emit

            emit({"reports": len(rows), "graded_right": right, "graded_right_share": round(right / len(rows), 4),
                  "major_expected": len(major), "major_under_graded": len(under), "false_major": len(false_major),
                  "scenarios": f["scenarios"], "grouped_right": f["grouped_right"],
                  "grouped_right_share": round(f["grouped_right"] / f["scenarios"], 4),
                  "missed_release": len(f["missed_release"]), "duplicate_release": len(f["duplicate_release"]),
                  "us_per_report": round(seconds / len(rows) * 1e6)})
        finally:
            await app.close()


if __name__ == "__main__":
    asyncio.run(main())
