"""The floor under the import's speed: what the parts that cannot be skipped cost per row, measured alone.

    python bench/import_floor.py                # 40,000 rows of the import benchmark's export
    python bench/import_floor.py --rows 100000

`bench/import_throughput.py` measures the whole import. This script asks a different question: if all the
Python glue between the stages were free, how fast could an import with classification and routing on be,
on one core? It takes the same generated GB18030 export, imports it once through the real pipeline (to get
realistic stored rows, incidents and their reasons), then times, each alone and on one core (CPU seconds,
best of three):

1. reading: decoding GB18030 and splitting CSV rows (the C codec and the C csv module; no mapping);
2. segmentation: rjieba with the project's dictionaries, one call per 1,000 texts (the fastest tokenizer
   measured, docs/understanding.md), per new incident;
3. classification after tokenizing (the shipped model's fast path), per new incident;
4. finding terms: the bare Aho-Corasick pass over the text (places, departments, areas, classes; without the
   rules applied to each match), per new incident;
5. fingerprints: MinHash signatures and band keys (numpy), per row;
6. storing: the rows the real import wrote (items and incidents, same columns, same values, same indexes)
   inserted again with the sqlite3 driver's executemany from ready tuples, 1,000 rows per transaction, into
   a fresh database of the same schema.

Nothing of routing, severity, reasons, grouping, near-duplicate verification or the history and audit is in
these figures, so their sum is a lower bound for the import with classification on. It prints each part in
CPU µs per row and the rows/s the sum allows.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.import_throughput import SHARED, generate  # noqa: E402
from monitor.config.settings import BUNDLED_CONFIG


def best(fn, repeats: int = 3) -> float:
    """Least CPU seconds of `repeats` calls (CPU time: other jobs on a shared machine do not inflate it)."""
    out = []
    for _ in range(repeats):
        t = time.process_time()
        fn()
        out.append(time.process_time() - t)
    return min(out)


async def real_import(path: Path, db: Path):
    from monitor.app import build
    from monitor.sources.importer import import_files
    from monitor.config.settings import load_settings

    settings = load_settings(BUNDLED_CONFIG / "demo.yaml")
    app = await build(settings, f"sqlite:///{db}")
    try:
        stats = await import_files(app.pipeline, settings, [path], "hotline", show_progress=False)
        return stats, app.understander
    finally:
        await app.close()


def stored_rows(db: Path, table: str) -> tuple[list[str], list[tuple]]:
    con = sqlite3.connect(db)
    try:
        cur = con.execute(f'SELECT * FROM "{table}" ORDER BY id')
        names = [d[0] for d in cur.description]
        return names, cur.fetchall()
    finally:
        con.close()


def store_floor(src: Path, tables: list[str], batch: int = 1000) -> float:
    """CPU seconds to insert `tables`' stored rows again into an empty copy of the schema."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "floor.db"
        con = sqlite3.connect(src)
        objects = list(con.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"))
        # a virtual table (the FTS5 search index) makes its own shadow tables: creating them too would fail
        virtual = [name for name, sql in objects if sql.upper().startswith("CREATE VIRTUAL TABLE")]
        schema = [sql for name, sql in objects if not any(name.startswith(v + "_") for v in virtual)]
        con.close()
        data = {t: stored_rows(src, t) for t in tables}
        out = []
        for attempt in range(3):
            fresh.unlink(missing_ok=True)
            con = sqlite3.connect(fresh, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA foreign_keys=OFF")
            for sql in schema:
                con.execute(sql)
            t = time.process_time()
            longest = max(len(rows) for _, rows in data.values())
            for start in range(0, longest, batch):
                con.execute("BEGIN IMMEDIATE")
                for table, (names, rows) in data.items():
                    part = rows[start:start + batch]
                    if part:
                        con.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(names))})', part)
                con.execute("COMMIT")
            out.append(time.process_time() - t)
            con.close()
        return min(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=40_000)
    args = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"shared data not found at {SHARED}")
    from loguru import logger

    logger.remove()
    from monitor.dedupe import minhash
    from monitor.understanding import segment
    from monitor.understanding.normalize import normalize
    from monitor.understanding.classifier.token_scores import SEP
    from monitor.understanding.understander import prepare

    with tempfile.TemporaryDirectory() as tmp:
        path, db = Path(tmp) / "export.csv", Path(tmp) / "real.db"
        generate(path, args.rows)
        stats, understander = asyncio.run(real_import(path, db))
        n, incidents = stats.read, stats.incidents
        raw = path.read_bytes()
        reading = best(lambda: sum(1 for _ in csv.reader(io.StringIO(raw.decode("gb18030")))))
        rows = list(csv.reader(io.StringIO(raw.decode("gb18030"))))[1:]
        # the texts of new incidents: the first `incidents` distinct rows stand in for them
        texts = [prepare(r[1], r[2])[:1200] for r in rows[:incidents]]
        joined = [SEP.join(texts[i:i + 1000]) for i in range(0, len(texts), 1000)]
        segmenting = best(lambda: [segment.cut(j) for j in joined])
        cut = [segment.cut(j) for j in joined]
        model = understander.model
        sizes = [len(texts[i:i + 1000]) for i in range(0, len(texts), 1000)]
        classifying = best(lambda: [model.predict_joined(c, k) for c, k in zip(cut, sizes)])
        index = understander.index
        index.find("预热")  # builds the automaton
        automaton = index._bytes  # the bare pass, without find's Python rules on each match
        finding = best(lambda: [automaton.find_matches_as_indexes(t.encode(), overlapping=True) for t in texts])
        shingled = minhash.shingle_texts([(normalize(r[1]), normalize(r[2])) for r in rows])
        fingerprinting = best(lambda: minhash.band_keys(minhash.signatures(shingled)))
        storing = store_floor(db, ["incidents", "items"])

    parts = [
        ("read: GB18030 decode + C csv split", reading, n),
        ("segment: rjieba + our dictionaries (per new incident)", segmenting, incidents),
        ("classify after tokenizing (per new incident)", classifying, incidents),
        ("find terms: one Aho-Corasick pass (per new incident)", finding, incidents),
        ("fingerprints: MinHash + band keys", fingerprinting, n),
        ("store: executemany of the real rows (items + incidents)", storing, n),
    ]
    print(f"{n:,} rows, {incidents:,} new incidents ({incidents / n:.0%}); CPU µs, best of 3, one core")
    print(f"  {'part':58s} {'per unit':>9s} {'per row':>9s}")
    total = 0.0
    for name, seconds, units in parts:
        per_row = seconds / n * 1e6
        total += per_row
        print(f"  {name:58s} {seconds / units * 1e6:9.1f} {per_row:9.1f}")
    print(f"  {'sum (a lower bound: no routing, severity, reasons, grouping, history, glue)':58s} "
          f"{'':9s} {total:9.1f}")
    print(f"  → at most {1e6 / total:,.0f} rows/s on one core; the target 10,000 rows/s allows 100 µs per row")
    from bench.result import emit

    emit({"rows": n, "incidents": incidents, "parts_cpu_us_per_row": {name: round(s / n * 1e6, 1) for name, s, _ in parts},
          "sum_cpu_us_per_row": round(total, 1), "max_rows_per_s_one_core": round(1e6 / total)})


if __name__ == "__main__":
    main()
