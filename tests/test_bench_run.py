"""bench/run's report writer on fabricated results: every goal is named with met / not met beside its figure and
the naive baseline, failed benchmarks show their stderr, and the plots are written as PNG. Not a speed test."""

from __future__ import annotations

from pathlib import Path

from bench.report import write_report
from bench.run import parse_result

PNG = b"\x89PNG\r\n\x1a\n"


def fabricated() -> dict:
    def ok(result: dict, seconds: float = 10.0) -> dict:
        return {"status": "ok", "returncode": 0, "argv": ["python", "bench/x.py"], "seconds": seconds, "cpu_s": 9.0,
                "load_before": [0.5, 0.4, 0.3], "load_after": [1.1, 0.6, 0.4], "result": result, "stderr_tail": ""}

    return {
        "date": "2026-12-06T11:00:00+00:00", "quick": False, "wall_s": 1700.0,
        "load_average_start": [0.2, 0.3, 0.4], "load_average_end": [1.9, 1.5, 1.0],
        "machine": {"cpu": "Test CPU 3000", "cores": 2, "ram_gb": 7.8, "system": "Linux", "python": "3.11.2",
                    "sqlite": "3.40.1", "postgresql": "15.5", "commit": "abc1234", "dirty": False},
        "benches": {
            "import_throughput": ok({"rows": 100000, "incidents": 85000, "rows_per_s": 2400.0, "rows_per_cpu_s": 2600.0,
                                     "peak_rss_mb": 310, "naive_rows": 2000, "naive_rows_per_s": 180.0,
                                     "speedup_vs_naive": 13.3}),
            "import_parallel": ok({"runs": [
                {"rows": 20000, "workers": 1, "run": 1, "rows_per_s": 2300.0, "writer_rss_mb": 250, "worker_rss_mb": 0,
                 "two_core_cap_rows_per_s": 3000},
                {"rows": 20000, "workers": 2, "run": 1, "rows_per_s": 3100.0, "writer_rss_mb": 240, "worker_rss_mb": 180,
                 "two_core_cap_rows_per_s": 3800},
                {"rows": 100000, "workers": 1, "run": 1, "rows_per_s": 2200.0, "writer_rss_mb": 330, "worker_rss_mb": 0,
                 "two_core_cap_rows_per_s": 2900},
                {"rows": 100000, "workers": 2, "run": 1, "rows_per_s": 4100.0, "writer_rss_mb": 320,
                 "worker_rss_mb": 190, "two_core_cap_rows_per_s": 4300}]}),
            "escalation_reliability": ok({
                "precision": {"deadlines": 10000, "store": "sqlite", "missing": 0, "duplicates": 0,
                              "fired_s": {"n": 10000, "p50": 0.02, "p95": 0.06, "p99": 0.09, "max": 0.3},
                              "delivered_s": {"n": 10000, "p50": 0.08, "p95": 0.2, "p99": 0.36, "max": 0.5}},
                "catch_up": {"deadlines": 200, "ready_s": 1.8, "all_delivered_s": 7.5, "complete": True,
                             "duplicates": 0}}),
            "chat_delivery": ok({"store": "sqlite", "latency": [
                {"run": "due tg", "rows": 1000, "p50": 0.08, "p95": 0.2, "p99": 0.34, "max": 0.5, "lost": 0,
                 "duplicates": 0}], "outage": []}),
            "dashboard_speed": ok({"incidents": 100000, "stores": {"sqlite": {"urls": {
                "当前页 /": {"path": "/", "server_p50": 44.8, "server_p99": 161.3, "load_server_p99": 246.5},
                "当前页 检索「路灯」": {"path": "/?q=%E8%B7%AF%E7%81%AF", "server_p50": 139.9, "server_p99": 260.5},
                "API /api/v1/incidents": {"path": "/api/v1/incidents", "server_p50": 12.0, "server_p99": 60.0},
                "live_update": {"live_update_p50": 200.0, "live_update_max": 215.0}}}}}),
            "incident_page_speed": ok({"store": "sqlite", "incidents": 100000, "items": 500, "server_p50": 90.0,
                                       "server_p99": 140.0}),
            "classifier_cv": {"status": "failed", "returncode": 1, "argv": ["python", "bench/classifier_cv.py"],
                              "seconds": 3.0, "cpu_s": 2.0, "load_before": [0.1, 0.1, 0.1],
                              "load_after": [0.1, 0.1, 0.1], "result": None,
                              "stderr_tail": "ModuleNotFoundError: No module named 'sklearn'"},
        },
    }


def test_report_names_each_goal_with_met_or_not_and_writes_pngs(tmp_path: Path) -> None:
    md = tmp_path / "bench" / "REPORT.md"
    figures = tmp_path / "bench" / "report"
    text = write_report(fabricated(), md, figures)
    assert md.read_text(encoding="utf-8") == text

    sections = text[text.index("\n## ", text.index("## Summary")):]  # the benches' own tables

    def row(fragment: str) -> str:
        [line] = [line for line in sections.splitlines() if fragment in line and line.startswith("|")]
        return line

    # each goal beside its figure, met or not met, and the naive baseline of the same run
    assert "2,400 rows/s" in row("rows/s end to end, 100,000 rows, one process") and "**not met**" in row(
        "rows/s end to end, 100,000 rows, one process")
    assert "naive" in row("rows/s end to end, 100,000 rows, one process") and "180 rows/s" in text
    assert "| met |" in row("peak RSS, 100,000 rows")
    assert "1.86×" in row("--workers 2 against --workers 1") and "| met |" in row("--workers 2 against --workers 1")
    assert "--workers 1: 2,200 rows/s" in row("--workers 2 against --workers 1")
    assert "| met |" in row("step fired late") and "p99 ≤ 2 s" in row("step fired late")
    assert "**not met**" in row("restart → every overdue step") and "≤ 5 s" in row("restart → every overdue step")
    assert "| met |" in row("due tg (sqlite)")
    assert "**not met**" in row("当前页 / (sqlite): server time") and "246.5 ms with several in flight" in row(
        "当前页 / (sqlite): server time")
    assert "| met |" in row("/api/v1/incidents (sqlite): server time")
    assert "no goal set" in row("检索「路灯」 (sqlite): server time")  # issue 18 sets no goal for search
    assert "| met |" in row("first live update after a change (sqlite)") and "≤ 1 s" in row("first live update")
    assert "| met |" in row("incident page, 500 reports (sqlite)") and "≤ 150 ms" in row("incident page, 500")
    # the summary repeats every goal with its verdict
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert summary.count("**not met**") == 5 and summary.count("| met |") >= 9
    # a failed benchmark is recorded with the tail of its stderr, and the run's machine and load are in the head
    assert "**Failed**" in text and "No module named 'sklearn'" in text
    head = text.split("## Summary", 1)[0]
    assert "Test CPU 3000" in head and "abc1234" in head and "PostgreSQL 15.5" in head and "1.90, 1.50, 1.00" in head
    # plots: written as PNG, and linked from the report next to their goals
    pngs = sorted(p.name for p in figures.glob("*.png"))
    assert pngs == ["import_rows_per_s.png", "latency_chat.png", "latency_dashboard.png", "latency_escalation.png",
                    "latency_incident_page.png", "rss.png"]
    for name in pngs:
        assert (figures / name).read_bytes().startswith(PNG)
        assert f"](report/{name})" in text
    assert text.index("](report/latency_escalation.png)") > text.index("restart → every overdue step")


def test_a_stale_plot_is_removed_and_a_bench_without_figures_draws_none(tmp_path: Path) -> None:
    figures = tmp_path / "report"
    figures.mkdir()
    (figures / "rss.png").write_bytes(PNG)
    doc = fabricated()
    doc["benches"] = {"routing_eval": doc["benches"]["classifier_cv"]}
    text = write_report(doc, tmp_path / "REPORT.md", figures)
    assert list(figures.glob("*.png")) == []
    assert "**not met**" in text  # the failed run counts as a goal not met


def test_the_last_result_line_is_the_figures() -> None:
    out = 'progress\nRESULT {"a": 1}\nmore\nRESULT {"a": 2, "b": "二"}\ntrailing words\n'
    assert parse_result(out) == {"a": 2, "b": "二"}
    assert parse_result("no figures\n") is None
    assert parse_result("RESULT {broken\n") is None
