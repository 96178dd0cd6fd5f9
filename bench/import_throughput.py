"""Import throughput: a 12345-style export of N rows, end to end, against a naive pipeline.

    python bench/import_throughput.py                 # 200,000 rows
    python bench/import_throughput.py --rows 20000    # while iterating
    python bench/import_throughput.py --rows 1000000 --naive-rows 0 --no-tokenizers   # RSS at 1M rows

The export is a GB18030 CSV with the headers a 12345 platform writes. Its text comes from the real messages
in ../shared/data: most rows are new complaints (the title of one message, sentences of two others, a
place and a number changed, so that they are distinct), 8 % re-submit an earlier row word for word (new
work-order number, other reporter), 7 % re-word an earlier row (a sentence dropped or added, a salutation).
It is imported into a fresh SQLite store with classification and routing on, through the same code as
`yuqing import` (file check, streaming read, batches of 1,000, one transaction each).

Printed: rows/s end to end, peak RSS, wall and CPU seconds per stage (understanding apart from the collectors), the naive pipeline's rows/s on a slice (per row:
jieba.lcut + understanding + one insert and commit), and tokenizer/fingerprint timings. A script that prints
figures, not a test: the machine is shared, so repeat runs and report the conditions.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import re
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from monitor.config.settings import BUNDLED_CONFIG  # noqa: E402
SHARED = ROOT.parent / "shared" / "data"
HEADERS = ["工单编号", "标题", "诉求内容", "受理时间", "事发地址", "诉求人", "办理状态", "信息来源", "点赞数"]
PLACES = ["马街街道", "前卫街道", "金碧街道", "福海街道", "碧鸡街道", "西苑街道", "永昌街道", "棕树营街道", "海口街道",
          "团结街道", "A1区", "A2区", "A3区", "A5区", "A7县", "J9县"]
_SENT = re.compile(r"(?<=[。！？!?；;])")


def corpus() -> list[tuple[str, str]]:
    from python_calamine import CalamineWorkbook

    out = []
    for name in ("tipdm2020C_fj2_testphase2801_unlabeled.xlsx", "tipdm2020C_fj3_full4326_likes.xlsx",
                 "tipdm2020C_fj4_full2816_replies.xlsx"):
        rows = CalamineWorkbook.from_path(str(SHARED / "raw" / name)).get_sheet_by_index(0).to_python()
        head = [str(h).strip() for h in rows[0]]
        ti, bi = head.index("留言主题"), head.index("留言详情")
        for r in rows[1:]:
            title, body = re.sub(r"\s+", " ", str(r[ti])).strip(), re.sub(r"\s+", " ", str(r[bi])).strip()
            if title and body:
                out.append((title, body))
    with (SHARED / "train" / "messages_train.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            out.append((r["title"].strip(), re.sub(r"\s+", " ", r["body"]).strip()))
    return out


def sentences(text: str) -> list[str]:
    return [s for s in _SENT.split(text) if s.strip()]


def generate(path: Path, n: int, seed: int = 20261123) -> dict:
    rng = random.Random(seed)
    texts = corpus()
    pool = [s for _, body in texts for s in sentences(body) if len(s) >= 8]  # every real sentence
    recent: list[tuple[str, str]] = []
    counts = {"new": 0, "exact": 0, "reworded": 0}
    start = datetime(2026, 1, 1, 8, 0)
    step = max(1, 300 * 86400 // max(1, n))
    with path.open("w", encoding="gb18030", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADERS)
        for i in range(n):
            roll = rng.random()
            if recent and roll < 0.08:
                title, body, place = rng.choice(recent)  # the same complaint again: same words, same address
                counts["exact"] += 1
            elif recent and roll < 0.15:
                title, body, place = rng.choice(recent)
                parts = sentences(body)
                if len(parts) > 2:
                    parts.pop(rng.randrange(len(parts)))
                body = rng.choice(["尊敬的领导：您好！", "再次反映：", "", "请问"]) + "".join(parts) + rng.choice(
                    ["谢谢！", "望尽快处理。", "", "希望有关部门重视。"])
                counts["reworded"] += 1
            else:
                # A new complaint: a real title, and four real sentences drawn from the whole pool (so that
                # two new rows rarely share more than one sentence: distinct matters, as in a real export).
                a = rng.choice(texts)
                place, num = rng.choice(PLACES), rng.randint(1, 999)
                body = f"{place}{num}号附近，" + "".join(rng.choice(pool) for _ in range(4))
                title = f"{place}{a[0]}"
                counts["new"] += 1
            recent.append((title, body, place))
            if len(recent) > 5000:
                recent.pop(rng.randrange(len(recent)))
            # spread over 2026 whatever N is: the built-in working-day calendar ends with 2026
            at = start + timedelta(seconds=i * step + rng.randint(0, max(1, step - 1)))
            # 事发地址 is where the complaint is (the place its text names), as a hotline operator fills it in
            w.writerow([f"GD{2026000000 + i}", title[:200], body[:2000], at.strftime("%Y-%m-%d %H:%M:%S"),
                        place, f"U{rng.randint(1, 10**6):07d}", rng.choice(["办理中", "已办结", "已受理"]),
                        rng.choice(["电话", "网站", "12345app", "微信"]), rng.choice([0, 0, 0, 1, 2, 5, 12])])
    return counts


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssSampler:
    """Resident memory twice a second in a thread, to show where the peak is (a steady climb with the band
    index, or a spike at one stage)."""

    def __init__(self) -> None:
        import threading

        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        page = resource.getpagesize()
        while not self._stop.wait(0.5):
            with open("/proc/self/statm") as f:
                self.samples.append(int(f.read().split()[1]) * page / 2**20)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def curve(self, points: int = 10) -> str:
        if not self.samples:
            return "(too short to sample)"
        n = len(self.samples)
        at = [max(self.samples[i * n // points:(i + 1) * n // points] or [self.samples[-1]]) for i in range(points)]
        return " ".join(f"{x:.0f}" for x in at)


async def import_fast(path: Path, db: Path):
    from monitor.app import build
    from monitor.sources.importer import import_files
    from monitor.config.settings import load_settings

    settings = load_settings(BUNDLED_CONFIG / "demo.yaml")
    app = await build(settings, f"sqlite:///{db}")
    try:
        app.understander.understand("预热", "预热")  # load dictionaries outside the timing
        t0, c0 = time.perf_counter(), time.process_time()
        with RssSampler() as rss:
            stats = await import_files(app.pipeline, settings, [path], "hotline", show_progress=False)
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"  work: {app.pipeline.counts}; band index {app.pipeline.bands.nbytes() / 1e6:.1f} MB")
        print(f"  RSS (MB), highest in each tenth of the import's time: {rss.curve()}")
        return stats, total, cpu, app.pipeline.timings, rss.curve()
    finally:
        await app.close()


async def import_naive(rows: list[list[str]], db: Path) -> float:
    """The obvious way: per row, jieba.lcut, understand, one insert in its own transaction."""
    import jieba

    from monitor.app import build
    from monitor.core.clock import as_utc
    from monitor.config.settings import load_settings

    settings = load_settings(BUNDLED_CONFIG / "demo.yaml")
    app = await build(settings, f"sqlite:///{db}")
    jieba.lcut("预热")
    try:
        now = app.clock.now()
        t0 = time.perf_counter()
        for r in rows:
            words = jieba.lcut(r[1] + r[2])
            u = app.understander.understand(r[1], r[2])
            async with app.store.write() as tx:
                [incident_id] = await tx.incidents.insert_many([{
                    "title": r[1], "kind": u.kind, "status": "open", "triage": "none", "domain": u.domain,
                    "domain_confidence": u.domain_confidence, "department": u.department, "co_departments": [],
                    "region": u.region, "severity": int(u.severity), "response_type": u.response_type,
                    "sensitive_areas": [], "reasons": [], "first_seen_at": now, "last_seen_at": now,
                    "item_count": 1, "reporter_count": 1, "likes": 0, "created_at": now, "updated_at": now}])
                await tx.items.insert_many([{
                    "source": "naive", "external_id": r[0], "content_hash": str(hash(r[2]))[:32], "title": r[1],
                    "body": r[2], "location": r[4], "reporter": r[5], "channel": r[7], "handler": "",
                    "status": r[6], "likes": int(r[8]), "reply": "", "occurred_at": as_utc(datetime.fromisoformat(r[3])),
                    "received_at": now, "updated_at": now, "domain": u.domain, "domain_confidence": 0.0,
                    "incident_id": incident_id, "group_reason": " ".join(words[:3]), "raw": {}}])
        return time.perf_counter() - t0
    finally:
        await app.close()


def tokenizer_table(texts: list[str]) -> list[tuple[str, float]]:
    """µs per text for each way of cutting text that the pipeline could use."""
    import functools

    out = []

    def timed(name, fn):
        fn(texts[0])
        t0 = time.perf_counter()
        for t in texts:
            fn(t)
        out.append((name, (time.perf_counter() - t0) / len(texts) * 1e6))

    import jieba

    jieba.initialize()
    timed("jieba.lcut (HMM on)", jieba.lcut)
    timed("jieba.lcut (HMM off)", lambda t: jieba.lcut(t, HMM=False))
    cached = functools.lru_cache(maxsize=65536)(lambda t: tuple(jieba.lcut(t, HMM=False)))
    timed("jieba + lru_cache per text (this stream)", cached)
    from monitor.understanding import segment

    timed("monitor.understanding.segment.tokens (jieba, user dicts)", segment.tokens)
    try:
        import jieba_fast

        jieba_fast.initialize()
        timed("jieba_fast.lcut", jieba_fast.lcut)
    except ImportError:
        out.append(("jieba_fast (not installed: pip install -e '.[bench]')", float("nan")))
    try:
        import rjieba

        timed("rjieba.cut", rjieba.cut)
    except ImportError:
        out.append(("rjieba (not installed: pip install -e '.[bench]')", float("nan")))
    from monitor.dedupe import minhash

    timed("character 3-gram set (minhash.grams)", lambda t: minhash.grams(minhash.shingle_text(t, "")))
    t0 = time.perf_counter()
    minhash.band_keys(minhash.signatures([minhash.shingle_text(t, "") for t in texts]))
    out.append(("MinHash 24 + LSH keys, numpy batch (dedupe)", (time.perf_counter() - t0) / len(texts) * 1e6))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--naive-rows", type=int, default=2_000, help="slice for the naive pipeline (0 = skip)")
    ap.add_argument("--no-tokenizers", action="store_true", help="skip the tokenizer comparison")
    ap.add_argument("--keep", type=Path, help="keep the generated CSV here")
    args = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"shared data not found at {SHARED}")
    from loguru import logger

    logger.remove()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = args.keep or Path(tmp) / "export.csv"
        t0 = time.perf_counter()
        mix = generate(csv_path, args.rows)
        print(f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.1f} MB GB18030) in "
              f"{time.perf_counter() - t0:.1f}s; mix: {mix}")
        rss_before = peak_rss_mb()
        stats, total, cpu, timings, curve = asyncio.run(import_fast(csv_path, Path(tmp) / "fast.db"))
        rss = peak_rss_mb()
        rate = stats.read / total
        print(f"\nEND TO END: {stats.read:,} rows in {total:.1f}s = {rate:,.0f} rows/s; peak RSS {rss:.0f} MB "
              f"(before import {rss_before:.0f} MB); CPU {cpu:.1f}s = {stats.read / cpu:,.0f} rows per CPU second")
        print(f"  stats: {stats.as_json()} near_duplicates={stats.near_duplicates}")
        print(f"  load average during the run (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        n = stats.read
        print(f"  per stage: wall s, CPU s (whole process: the SQLite driver thread included), CPU µs per row")
        rows = [("file check + read + map (CSV → RawItem)", total - timings.ingest_seconds, cpu - timings.ingest_cpu)]
        rows += sorted(((k, v, timings.cpu.get(k, 0.0)) for k, v in timings.seconds.items()), key=lambda r: -r[2])
        rows.append(("other (transaction open, quarantine, audit)", timings.ingest_seconds - sum(timings.seconds.values()),
                     timings.ingest_cpu - sum(timings.cpu.values())))
        for name, wall, c in rows:
            print(f"    {name:45s} {wall:7.2f} {c:7.2f} {c / n * 1e6:7.1f}")
        print(f"    {'(total)':45s} {total:7.2f} {cpu:7.2f} {cpu / n * 1e6:7.1f}")
        und_wall, und_cpu = timings.seconds.get("understand", 0.0), timings.cpu.get("understand", 0.0)
        print(f"  understanding: {und_cpu / max(1, stats.incidents) * 1e6:.0f} CPU µs per new incident "
              f"({stats.incidents:,} incidents), {und_cpu / n * 1e6:.0f} per row")
        print(f"  collectors (everything but understanding): {(cpu - und_cpu) / n * 1e6:.0f} CPU µs per row, "
              f"{(total - und_wall) / n * 1e6:.0f} wall µs per row = {n / max(1e-9, total - und_wall):,.0f} rows/s "
              f"without understanding")
        result = {"rows": stats.read, "incidents": stats.incidents, "rows_per_s": round(rate, 1),
                  "rows_per_cpu_s": round(stats.read / cpu, 1), "wall_s": round(total, 2), "cpu_s": round(cpu, 2),
                  "peak_rss_mb": round(rss), "rss_curve_mb": [float(x) for x in curve.split()] if curve[0] != "(" else [],
                  "understand_cpu_us_per_row": round(und_cpu / n * 1e6, 1), "workers": 1}
        if args.naive_rows:
            with csv_path.open(encoding="gb18030", newline="") as f:
                reader = csv.reader(f)
                next(reader)
                rows = [r for _, r in zip(range(args.naive_rows), reader)]
            naive = asyncio.run(import_naive(rows, Path(tmp) / "naive.db"))
            naive_rate = len(rows) / naive
            print(f"\nNAIVE (jieba.lcut + understand + one insert/commit per row), {len(rows):,} rows: "
                  f"{naive_rate:,.0f} rows/s → speed-up {rate / naive_rate:.1f}×")
            result |= {"naive_rows": len(rows), "naive_rows_per_s": round(naive_rate, 1),
                       "speedup_vs_naive": round(rate / naive_rate, 2)}
        if not args.no_tokenizers:
            with csv_path.open(encoding="gb18030", newline="") as f:
                reader = csv.reader(f)
                next(reader)
                texts = [r[1] + "\n" + r[2] for _, r in zip(range(3000), reader)]
            print(f"\nTOKENIZERS / FINGERPRINTS (µs per text, {len(texts):,} texts, mean "
                  f"{sum(map(len, texts)) / len(texts):.0f} chars):")
            result["tokenizers_us_per_text"] = {}
            for name, us in tokenizer_table(texts):
                print(f"    {name:55s} {us:8.1f}")
                result["tokenizers_us_per_text"][name] = None if us != us else round(us, 1)
        from bench.result import emit

        emit(result)


if __name__ == "__main__":
    main()
