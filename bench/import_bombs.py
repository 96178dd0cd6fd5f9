"""Spreadsheet bombs of issue 19, built here and imported through `yuqing import`'s code path, each in a fresh
process: prints its peak RSS, how much the store grew and what the import counted.

    python bench/import_bombs.py                       # the issue's bombs (≈3–5 minutes)
    python bench/import_bombs.py --cell-mb 50 --rows 100000   # quicker, smaller
    python bench/import_bombs.py --pg postgresql://postgres@127.0.0.1:5432/test   # also on PostgreSQL

1. cell:  an XLSX of ≈511 KB whose one cell (a shared string) holds 500 MB of text, between two good rows.
2. xml:   an XLSX of 1.8 MB whose sheet XML unpacks to 471 MB: a header, a good row and 999,998 rows of 23
          empty-string cells — a million rows, the most a sheet may have (max_rows): imported, empties counted.
   xml+:  the same with a full million empty rows after the header (1,000,002 rows): refused by the row cap.
3. csv:   a CSV of ≈500 MB whose one field holds 500 MB, between two good rows.
4. healthz: /healthz latency of an in-process `serve` while its watched folder imports 20,000 rows
   (p50/max over requests every 50 ms) — a figure, not a test (tests/test_import_bombs.py asserts it answers).

Targets (issue 19): peak RSS under 400 MB and the store growing by at most a few MB per bomb. The builders are
also used by tests/test_import_bombs.py at smaller sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
HEADER = ["工单编号", "标题", "诉求内容", "受理时间"]
GOOD = [["G1", "路灯不亮", "金碧街道路灯坏了一个月，晚上出行不便", "2026-11-20 08:00"],
        ["G2", "噪音扰民", "前卫街道工地夜间施工噪音很大", "2026-11-21 23:00"]]
_MB = 1 << 20


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _skeleton(zf: zipfile.ZipFile, shared: bool) -> None:
    zf.writestr("[Content_Types].xml", (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/>' + (
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sharedStrings+xml"/>' if shared else "") + "</Types>"))
    zf.writestr("_rels/.rels", f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
                f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    zf.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN}" '
                f'xmlns:r="{_REL}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
    zf.writestr("xl/_rels/workbook.xml.rels", (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>' + (
            f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>' if shared else "")
        + "</Relationships>"))


def _inline_row(r: int, cells: list[str]) -> str:
    return f'<row r="{r}">' + "".join(
        f'<c r="{chr(65 + i)}{r}" t="inlineStr"><is><t>{_esc(v)}</t></is></c>' for i, v in enumerate(cells)) + "</row>"


def write_cell_bomb(path: Path, chars: int, where: str = "shared", fill: bytes = b"x") -> Path:
    """A header, a good row, a row whose 诉求内容 holds `chars` characters of `fill`, another good row. The
    big cell is a shared string (`where="shared"`, as Excel writes), an inline string or a number's <v>."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        _skeleton(zf, shared=where == "shared")
        big_cell = {"shared": '<c r="C3" t="s"><v>0</v></c>',
                    "inline": '<c r="C3" t="inlineStr"><is><t>', "number": '<c r="C3"><v>'}[where]
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}"><sheetData>'.encode())
            f.write((_inline_row(1, HEADER) + _inline_row(2, GOOD[0])).encode())
            f.write(f'<row r="3"><c r="A3" t="inlineStr"><is><t>BOMB</t></is></c>'
                    f'<c r="B3" t="inlineStr"><is><t>炸弹</t></is></c>{big_cell}'.encode())
            if where != "shared":
                _repeat(f, fill, chars)
                f.write(b"</t></is></c>" if where == "inline" else b"</v></c>")
            f.write(b"</row>" + _inline_row(4, GOOD[1]).encode() + b"</sheetData></worksheet>")
        if where == "shared":
            with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
                f.write(f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}" count="1" uniqueCount="1">'
                        f"<si><t>".encode())
                _repeat(f, fill, chars)
                f.write(b"</t></si></sst>")
    return path


def _repeat(f, fill: bytes, count: int) -> None:
    block = fill * (_MB // len(fill))
    while count > 0:
        piece = block[: count * len(fill)]
        f.write(piece)
        count -= len(piece) // len(fill)


def write_xml_bomb(path: Path, rows: int, cols: int = 23) -> Path:
    """A header and a good row, then `rows` rows of `cols` cells that all name the empty shared string: XML
    that compresses ≈200:1 (no cell references, one row like the next)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        _skeleton(zf, shared=True)
        zf.writestr("xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}" '
                                            'count="1" uniqueCount="1"><si><t></t></si></sst>')
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}"><sheetData>'.encode())
            f.write((_inline_row(1, HEADER) + _inline_row(2, GOOD[0])).encode())
            empty = b"<row>" + b'<c t="s"><v>0</v></c>' * cols + b"</row>"
            block = empty * 10_000
            left = rows
            while left > 0:
                n = min(left, 10_000)
                f.write(block if n == 10_000 else empty * n)
                left -= n
            f.write(b"</sheetData></worksheet>")
    return path


def write_csv_bomb(path: Path, size: int) -> Path:
    """A CSV with a header, a good row, a row whose 诉求内容 (quoted, with commas and line breaks in it) is
    `size` bytes, and another good row."""
    with path.open("wb") as f:
        f.write((",".join(HEADER) + "\r\n" + ",".join(GOOD[0]) + "\r\n").encode())
        f.write('BOMB,炸弹,"'.encode())
        _repeat(f, "很长,很长\n".encode(), size // len("很长,很长\n".encode()))
        f.write(('",2026-11-22 08:00\r\n' + ",".join(GOOD[1]) + "\r\n").encode())
    return path


# --------------------------------------------------------------------------- measuring
async def _db_size(url: str) -> int:
    if url.startswith("sqlite"):
        base = url.split("///", 1)[1]
        return sum(os.path.getsize(p) for p in (base, base + "-wal") if os.path.exists(p))
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CHECKPOINT")
        return await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()


def _child(path: str, url: str) -> None:
    """Run in a fresh process: migrate, measure, import, measure; print one JSON line."""
    from monitor.app import build
    from monitor.config.settings import Settings
    from monitor.sources.importer import import_files

    async def run() -> dict:
        app = await build(Settings(), url)
        await app.close()
        before = await _db_size(url)
        app = await build(Settings(), url)
        started = time.perf_counter()
        try:
            stats = await import_files(app.pipeline, app.settings, [Path(path)], None)
            out = stats.as_json()
        except Exception as exc:  # a refusal is an answer too
            out = {"refused": str(exc)[:300]}
        finally:
            await app.close()
        out["seconds"] = round(time.perf_counter() - started, 1)
        out["store_growth_mb"] = round((await _db_size(url) - before) / _MB, 2)
        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return out

    print(json.dumps(asyncio.run(run()), ensure_ascii=False))


def measure(path: Path, url: str) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", str(path), url], capture_output=True, text=True)
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    if r.returncode != 0 or not lines:
        return {"failed": r.returncode, "stderr": r.stderr[-800:]}
    return json.loads(lines[-1])


def _fresh_pg(base: str) -> tuple[str, callable]:
    import uuid

    import asyncpg

    name = f"yuqing_bomb_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    return base.rsplit("/", 1)[0] + "/" + name, lambda: asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def healthz_during_folder_import(rows: int, folder_root: Path) -> dict:
    """/healthz latency (ms) while serve's watched folder imports a CSV of `rows` rows."""
    import aiohttp

    from monitor.app import build
    from monitor.config.settings import Settings
    from monitor.web.server import serve

    inbox = folder_root / "inbox"
    inbox.mkdir()
    settings = Settings.model_validate({"sources": [{"name": "hotline", "kind": "hotline_export",
                                                     "path": str(inbox), "settle": "0s", "interval": "1s"}]})
    app = await build(settings, f"sqlite:///{folder_root / 'h.db'}")
    stop = asyncio.Event()
    ready = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve(app, f"127.0.0.1:{_free_port()}", ready=ready.set_result, stop=stop))
    url = await ready
    src = folder_root / "big.csv"
    with src.open("w", encoding="utf-8") as f:
        f.write(",".join(HEADER) + "\n")
        for i in range(rows):
            f.write(f"F{i},第{i}号路灯不亮,金碧街道{i}号路灯坏了{i % 97}天，晚上出行不便,2026-11-20 08:00\n")
    src.rename(inbox / "big.csv")
    latencies = []
    async with aiohttp.ClientSession() as session:
        done = False
        while not done:
            t = time.perf_counter()
            async with session.get(url + "/healthz") as r:
                await r.read()
            latencies.append((time.perf_counter() - t) * 1000)
            await asyncio.sleep(0.05)
            async with app.store.read() as tx:
                row = await tx.sources.get("hotline")
            done = bool(((row or {}).get("cursor") or {}).get("files", {}).get("big.csv", {}).get("done"))
    stop.set()
    await server
    await app.close()
    latencies.sort()
    return {"requests": len(latencies), "p50_ms": round(latencies[len(latencies) // 2], 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)], 1), "max_ms": round(latencies[-1], 1)}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cell-mb", type=int, default=500, help="size of the one big cell (MB of text)")
    ap.add_argument("--rows", type=int, default=999_998, help="empty rows of the XML bomb (xml+ has 2 more than the cap)")
    ap.add_argument("--cols", type=int, default=23, help="cells per empty row (23: ≈472 MB of XML at 1M rows)")
    ap.add_argument("--pg", help="a PostgreSQL URL to repeat the imports on (a database is created and dropped)")
    ap.add_argument("--healthz-rows", type=int, default=20_000)
    ap.add_argument("--only", nargs="*", choices=["cell", "xml", "xml+", "csv", "healthz"])
    args = ap.parse_args()
    result: dict = {"bombs": [], "cell_mb": args.cell_mb, "xml_rows": args.rows, "goal_rss_mb": 400}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bombs = {
            "cell": lambda: write_cell_bomb(tmp / "cell.xlsx", args.cell_mb * 1_000_000),
            "xml": lambda: write_xml_bomb(tmp / "xml.xlsx", args.rows, args.cols),
            "xml+": lambda: write_xml_bomb(tmp / "xml_over.xlsx", 1_000_000, args.cols),
            "csv": lambda: write_csv_bomb(tmp / "bomb.csv", args.cell_mb * 1_000_000),
        }
        for name, build_bomb in bombs.items():
            if args.only and name not in args.only:
                continue
            path = build_bomb()
            info = {"file_mb": round(path.stat().st_size / _MB, 2)}
            if path.suffix == ".xlsx":
                with zipfile.ZipFile(path) as zf:
                    info["unpacked_xml_mb"] = round(sum(i.file_size for i in zf.infolist()) / _MB, 1)
            backends = [("sqlite", f"sqlite:///{tmp / (name + '.db')}", None)]
            if args.pg:
                url, drop = _fresh_pg(args.pg)
                backends.append(("postgresql", url, drop))
            for backend, url, drop in backends:
                try:
                    figures = {"bomb": name, "backend": backend, **info, **measure(path, url)}
                    result["bombs"].append(figures)
                    print(json.dumps(figures, ensure_ascii=False), flush=True)
                finally:
                    if drop:
                        drop()
            path.unlink()
        if not args.only or "healthz" in args.only:
            with tempfile.TemporaryDirectory() as folder:
                figures = asyncio.run(healthz_during_folder_import(args.healthz_rows, Path(folder)))
            print(json.dumps({"healthz_during_folder_import": figures, "rows": args.healthz_rows}), flush=True)
            result["healthz_during_folder_import"] = {**figures, "rows": args.healthz_rows}
    from bench.result import emit

    emit(result)


if __name__ == "__main__":
    main()
