"""`yuqing import --workers N`: rows/s for N = 1 and 2 against the goals of issue 20, with the writer's share.

    python bench/import_parallel.py                          # 20k, 100k and 200k rows, --workers 1 and 2
    python bench/import_parallel.py --rows 20000 --repeat 2
    python bench/import_parallel.py --rows 999000 --workers 2    # RSS per process near 1M rows (the row cap)

The export is bench/import_throughput.py's (GB18030 CSV of real 12345/board text: new complaints, word-for-word
re-submissions, re-worded ones), imported into a fresh SQLite store with classification and routing on,
through `import_files` as `yuqing import` calls it. Per run it prints:

- rows/s end to end (the file check included) and the goals: ≥ 10,000 rows/s, ≥ 1.8× the single process;
- CPU µs a row of the writer (this process: reading, duplicates, grouping, deadlines, the store) and of the
  workers (children's CPU: prework), and what they allow on two idle cores: the writer alone caps the rate at
  1/writer, the two cores at 2/(writer + workers);
- peak RSS of the writer and of the largest worker (goal ≤ 400 MB each).

The machine may be shared with other jobs: CPU figures are what they are, wall-clock rows/s is not. Run it
twice and report both, with the load average it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.import_throughput import SHARED, generate  # noqa: E402
from monitor.config.settings import BUNDLED_CONFIG  # noqa: E402

GOAL_RATE = 10_000
GOAL_SPEEDUP = 1.8
GOAL_RSS_MB = 400


async def run_import(path: Path, db: Path, workers: int) -> dict:
    from monitor.app import build
    from monitor.config.settings import load_settings
    from monitor.sources.importer import import_files

    settings = load_settings(BUNDLED_CONFIG / "demo.yaml")
    app = await build(settings, f"sqlite:///{db}")
    try:
        app.understander.understand("预热", "预热")  # the writer's own loading stays outside the timing
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0, c0 = time.perf_counter(), time.process_time()
        stats = await import_files(app.pipeline, settings, [path], "hotline", show_progress=False, workers=workers)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, joined when the import ended
        return {"rows": stats.read, "incidents": stats.incidents, "wall": wall, "writer_cpu": cpu,
                "worker_cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
                "writer_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "worker_rss": after.ru_maxrss / 1024 if workers > 1 else 0.0,
                "timings": app.pipeline.timings}
    finally:
        await app.close()


def one_run(csv_path: Path, workers: int) -> dict:
    """In a fresh interpreter per run, so that peak RSS and the children's usage are this run's alone."""
    import json
    import subprocess

    code = ("import asyncio, json, sys; from pathlib import Path; sys.path.insert(0, %r);"
            "from loguru import logger; logger.remove();"
            "from bench.import_parallel import run_import;"
            "r = asyncio.run(run_import(Path(%r), Path(%r), %d)); t = r.pop('timings');"
            "r['stages'] = {k: t.cpu[k] for k in t.cpu};"
            "r['stages']['read, map and send (outside ingest)'] = r['writer_cpu'] - t.ingest_cpu"
            " - t.cpu.get('workers: wait and receive', 0.0); print(json.dumps(r))")
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", code % (str(ROOT), str(csv_path), str(Path(tmp) / "b.db"),
                                                            workers)], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"the import failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[20_000, 100_000, 200_000])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement (the machine may be shared)")
    args = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"shared data not found at {SHARED}")
    print(f"machine: {os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.2f}")
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.rows:
            csv_path = Path(tmp) / f"export{n}.csv"
            generate(csv_path, n)
            for w in args.workers:
                for rep in range(args.repeat):
                    r = one_run(csv_path, w)
                    load = os.getloadavg()[0]
                    writer, work = r["writer_cpu"] / n * 1e6, r["worker_cpu"] / n * 1e6
                    cap = min(1e6 / writer, 2e6 / (writer + work)) if work else 2e6 / (2 * writer)
                    table.append((n, w, rep, n / r["wall"], writer, work, cap, r["writer_rss"], r["worker_rss"], load,
                                  r["incidents"]))
                    print(f"  {n:>9,} rows  --workers {w}  run {rep + 1}: {n / r['wall']:7,.0f} rows/s  writer "
                          f"{writer:5.0f} µs/row  workers {work:5.0f} µs/row  RSS {r['writer_rss']:.0f}/"
                          f"{r['worker_rss']:.0f} MB  load {load:.2f}  incidents {r['incidents']:,}", flush=True)
                    stages = sorted(r["stages"].items(), key=lambda kv: -kv[1])[:10]
                    print("      writer stages (CPU µs/row): " + ", ".join(f"{k} {v / n * 1e6:.0f}" for k, v in stages))
    print(f"\n{'rows':>9} {'workers':>7} {'rows/s':>8} {'× w1':>6} {'writer µs':>9} {'workers µs':>10} "
          f"{'2-core cap':>10} {'RSS writer':>10} {'RSS worker':>10} {'load':>5}")
    base = {n: max(r[3] for r in table if r[0] == n and r[1] == 1) for n in {r[0] for r in table if r[1] == 1}}
    for n, w, rep, rate, writer, work, cap, rss_w, rss_k, load, _ in table:
        speedup = rate / base[n] if n in base else float("nan")  # against the best --workers 1 run
        print(f"{n:>9,} {w:>7} {rate:>8,.0f} {speedup:>6.2f} {writer:>9.0f} {work:>10.0f} {cap:>10,.0f} "
              f"{rss_w:>10.0f} {rss_k:>10.0f} {load:>5.2f}")
    print(f"goals: ≥ {GOAL_RATE:,} rows/s end to end; ≥ {GOAL_SPEEDUP}× --workers 1; RSS ≤ {GOAL_RSS_MB} MB per process "
          "(the 2-core cap: min(1/writer, 2/(writer + workers)) from CPU µs, what two idle cores allow)")
    from bench.result import emit

    emit({"runs": [{"rows": n, "workers": w, "run": rep + 1, "rows_per_s": round(rate, 1),
                    "speedup": round(rate / base[n], 3) if n in base else None,
                    "writer_cpu_us_per_row": round(writer, 1), "workers_cpu_us_per_row": round(work, 1),
                    "two_core_cap_rows_per_s": round(cap), "writer_rss_mb": round(rss_w), "worker_rss_mb": round(rss_k),
                    "load": round(load, 2), "incidents": inc}
                   for n, w, rep, rate, writer, work, cap, rss_w, rss_k, load, inc in table],
          "goals": {"rows_per_s": GOAL_RATE, "speedup": GOAL_SPEEDUP, "rss_mb": GOAL_RSS_MB}})


if __name__ == "__main__":
    main()
