"""Run every benchmark under bench/ and write bench/REPORT.md with its plots (issue 20, item 6).

    bench/run                      # every benchmark at report sizes: about 30–35 minutes on 2 quiet cores
    bench/run --quick              # small sizes, to check the harness (7–12 minutes); figures mean little
    bench/run --only import_parallel chat_delivery
    bench/run --pg postgresql://postgres@127.0.0.1:5432/test   # the PostgreSQL server for the benches that need it

Each benchmark runs as a child process (`python bench/NAME.py …`, one after the other, never two at once) and
prints its figures as its last line, `RESULT {json}`. This collector keeps them with the machine's facts (CPU,
cores, RAM, Python, SQLite and PostgreSQL versions, git commit, date) and the load average before and after each
benchmark in bench/results/latest.json, then writes bench/REPORT.md and the PNG plots in bench/report/
(bench/report.py). A benchmark that fails, or prints no RESULT line, is recorded as failed with the tail of its
stderr; the run goes on. Wall-clock figures from a shared machine are noisy: run it on a quiet one.

Needs the `bench` extra (matplotlib): pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PG_DEFAULT = os.environ.get("YUQING_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

# name → (arguments at report sizes, arguments for --quick, timeout in seconds, estimate in seconds at report
# sizes). "{pg}" is replaced by the PostgreSQL URL. Report sizes keep the whole run near 30 minutes on 2 cores.
BENCHES: dict[str, tuple[list[str], list[str], int, int]] = {
    "import_throughput": (["--rows", "100000", "--naive-rows", "2000"],
                          ["--rows", "5000", "--naive-rows", "300", "--no-tokenizers"], 1200, 110),
    "import_parallel": (["--rows", "20000", "100000", "--workers", "1", "2"],
                        ["--rows", "15000", "--workers", "1", "2"], 1800, 180),
    "import_floor": (["--rows", "20000"], ["--rows", "5000"], 900, 50),
    "import_bombs": ([], ["--cell-mb", "20", "--rows", "50000", "--healthz-rows", "2000"], 1500, 240),
    "classifier_speed": (["--repeat", "2"], ["--repeat", "1"], 900, 80),
    "classifier_cv": (["--option", "svm-50k", "--option", "baseline"], ["--option", "baseline", "--folds", "2"],
                      1500, 150),
    "routing_eval": ([], [], 600, 20),
    "events_eval": ([], [], 600, 40),
    "escalation_reliability": ([], ["--deadlines", "500", "--catchup", "50", "--spread", "5", "--margin", "20"], 900, 170),
    # the live-push run is left out: on SQLite it measures ingest (docs/chat-delivery.md), not delivery
    "chat_delivery": (["--seconds", "20", "--skip-push"],
                      ["--seconds", "5", "--rate", "10", "--skip-push", "--skip-outage"], 1500, 190),
    "dashboard_speed": (["--incidents", "100000", "--pg", "{pg}"], ["--incidents", "2000", "--requests", "20", "--updates", "3"],
                        1800, 240),
    "incident_page_speed": (["--incidents", "100000"], ["--incidents", "2000", "--items", "50", "--requests", "20"],
                            1200, 150),
    "roles_scaling": (["--pg", "{pg}", "--pushes", "600"], ["--pg", "{pg}", "--incidents", "100", "--pushes", "100"],
                      1200, 170),
    "faults": (["--quick", "--pg", "{pg}"], ["--quick", "--only", "delivery_kill", "--pg", "{pg}"], 1800, 240),
}


def _run_text(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(pg_url: str) -> dict:
    """What the figures were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    pg = _run_text(["psql", pg_url, "-Atc", "SHOW server_version"]) or None
    return {"cpu": cpu or platform.processor() or platform.machine(), "cores": os.cpu_count(), "ram_gb": ram_gb,
            "system": platform.platform(terse=True), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "postgresql": pg, "host": platform.node(),
            "commit": _run_text(["git", "rev-parse", "--short", "HEAD"]) or None,
            "dirty": bool(_run_text(["git", "status", "--porcelain", "--untracked-files=no"]))}


def parse_result(stdout: str) -> dict | None:
    """The figures of the last `RESULT {json}` line, or None."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("RESULT "):
            try:
                return json.loads(line[len("RESULT "):])
            except json.JSONDecodeError:
                return None
    return None


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_one(name: str, args: list[str], timeout: int) -> dict:
    argv = [sys.executable, str(BENCH / f"{name}.py"), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    load_before = [round(x, 2) for x in os.getloadavg()]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code = "timeout"
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = (exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or ""))
        err += f"\n(killed after {timeout} s)"
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = parse_result(out)
    return {"status": "ok" if result is not None else "failed", "returncode": code,
            "argv": ["python", f"bench/{name}.py", *args], "seconds": round(seconds, 1),
            "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
            "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
            "result": result, "stdout_tail": tail(out, 40), "stderr_tail": tail(err)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes to check the harness (7–12 min)")
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHES), metavar="NAME",
                    help="run only these benchmarks (estimated minutes at report sizes on 2 quiet cores): "
                    + ", ".join(f"{n} ≈{b[3] / 60:.0f}" for n, b in BENCHES.items())
                    + f"; all ≈{sum(b[3] for b in BENCHES.values()) / 60:.0f}")
    ap.add_argument("--pg", default=PG_DEFAULT, help=f"PostgreSQL server URL (default {PG_DEFAULT})")
    ap.add_argument("--results", type=Path, default=BENCH / "results" / "latest.json")
    ap.add_argument("--report", type=Path, default=BENCH / "REPORT.md")
    ap.add_argument("--figures", type=Path, default=BENCH / "report")
    ap.add_argument("--rewrite", action="store_true", help="run nothing: write the report again from --results")
    ap.add_argument("--into", action="store_true",
                    help="with --only: replace those benchmarks' entries in the existing --results (noted as a re-run)")
    ap.add_argument("--why", default="", help="with --into: why they were re-run (shown in the report's head)")
    args = ap.parse_args(argv)
    from bench.report import write_report  # matplotlib is needed for the report only: fail before the runs

    if args.rewrite:
        write_report(json.loads(args.results.read_text(encoding="utf-8")), args.report, args.figures)
        return 0

    names = args.only or list(BENCHES)
    doc = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": args.quick,
           "machine": machine(args.pg), "load_average_start": [round(x, 2) for x in os.getloadavg()],
           "benches": {}}
    started = time.monotonic()
    for name in names:
        full, quick, timeout, _ = BENCHES[name]
        bench_args = [a.replace("{pg}", args.pg) for a in (quick if args.quick else full)]
        print(f"[{time.monotonic() - started:6.0f} s] {name} {' '.join(bench_args)} …", flush=True)
        doc["benches"][name] = entry = run_one(name, bench_args, timeout)
        print(f"          {entry['status']} in {entry['seconds']:.0f} s (CPU {entry['cpu_s']:.0f} s, load "
              f"{entry['load_before'][0]:.2f} → {entry['load_after'][0]:.2f})", flush=True)
        if entry["status"] != "ok":
            print("          " + entry["stderr_tail"].replace("\n", "\n          ")[-1500:], flush=True)
    doc["wall_s"] = round(time.monotonic() - started, 1)
    doc["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.into and args.results.exists():  # the earlier run, with these benchmarks re-measured
        earlier = json.loads(args.results.read_text(encoding="utf-8"))
        earlier["benches"].update(doc["benches"])
        earlier.setdefault("reruns", []).append({"names": ", ".join(names), "date": doc["date"],
                                                 "commit": doc["machine"]["commit"], "why": args.why})
        doc = earlier
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(doc, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    write_report(doc, args.report, args.figures)
    failed = [n for n, e in doc["benches"].items() if e["status"] != "ok"]
    print(f"wrote {args.results.relative_to(ROOT) if args.results.is_relative_to(ROOT) else args.results} and "
          f"{args.report}; {len(names) - len(failed)}/{len(names)} benchmarks ok in {doc['wall_s']:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
