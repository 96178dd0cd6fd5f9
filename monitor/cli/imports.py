"""yuqing import PATH… [--source NAME] [--workers N] [--json]"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from monitor.cli.common import InputError, load_config, run
from monitor.core.errors import ExportError


def _workers(text: str | None) -> int:
    from monitor.sources.parallel import MAX_WORKERS, default_workers

    if text is None:
        return default_workers()
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_WORKERS:
        raise InputError(f"--workers {text!r}: 进程数应为 1 到 {MAX_WORKERS} 的整数 (use a whole number from 1 to "
                         f"{MAX_WORKERS})")
    return n


def register(sub) -> None:
    p = sub.add_parser("import", help="导入 12345 导出文件或 JSON 行 / import hotline exports or JSON lines",
                       description="导入 CSV/XLSX/XLS 工单导出或 JSON 行文件。重复导入不会重复入库。\n"
                       "Import CSV/XLSX/XLS exports or JSON lines; re-importing inserts nothing twice.")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="导出文件（CSV/XLSX/XLS/ODS）或 JSON 行文件 / export or JSON-lines files")
    p.add_argument("--source", default=None,
                   help="来源名称：同一平台的多份导出用同一个名称，编号才会互相更新 / source name: give several exports of "
                   "one platform the same name so that their ids update each other (default: one per file, "
                   "<first hotline_export source>:<file name>)")
    p.add_argument("--workers", default=None, metavar="N",
                   help="读取文本的进程数，默认为本机核数；1 = 单进程；少于 15,000 行时总是单进程 / processes that read "
                   "the records' text (default: the machine's cores; 1 = one process; always one below 15,000 rows); "
                   "the results are the same")
    p.add_argument("--json", action="store_true", help="最后一行输出 JSON 统计 / print JSON stats as the last line")
    p.set_defaults(func=lambda a: run(_import(a)))


async def _import(args) -> int:
    from monitor.app import build
    from monitor.sources.importer import import_files
    from monitor.sources.parallel import WorkerFailed
    from monitor.cli.render import print_import_summary

    workers = _workers(args.workers)
    settings = load_config(args)
    source = args.source  # None: each file under its own source (importer.default_source)
    app = await build(settings, args.db)
    try:
        stats = await import_files(app.pipeline, settings, [Path(p) for p in args.paths], source, workers=workers)
    except ExportError as exc:
        raise InputError(str(exc)) from None
    except WorkerFailed as exc:  # not the input's fault: exit 1, one line that says what to do
        print(f"错误 (error): {exc}", file=sys.stderr)
        return 1
    finally:
        await app.close()
    if args.json:
        if stats.empty:  # not a record: outside the fixed JSON line
            print(f"跳过空行 {stats.empty} 行 (empty rows skipped)", file=sys.stderr)
        print(json.dumps(stats.as_json(), ensure_ascii=False))
    else:
        print_import_summary(stats)
    return 0
