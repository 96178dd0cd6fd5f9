"""yuqing import PATH… [--source NAME] [--json]"""

from __future__ import annotations

import json
from pathlib import Path

from monitor.cli.common import InputError, load_config, run
from monitor.core.errors import ExportError


def register(sub) -> None:
    p = sub.add_parser("import", help="导入 12345 导出文件或 JSON 行 / import hotline exports or JSON lines",
                       description="导入 CSV/XLSX/XLS 工单导出或 JSON 行文件。重复导入不会重复入库。\n"
                       "Import CSV/XLSX/XLS exports or JSON lines; re-importing inserts nothing twice.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--source", default=None, help="来源名称 / source name (default: first hotline_export source, or 'import')")
    p.add_argument("--json", action="store_true", help="最后一行输出 JSON 统计 / print JSON stats as the last line")
    p.set_defaults(func=lambda a: run(_import(a)))


async def _import(args) -> int:
    from monitor.app import build
    from monitor.sources.importer import import_files
    from monitor.cli.render import print_import_summary

    settings = load_config(args)
    source = args.source or next((s.name for s in settings.sources if s.kind == "hotline_export"), "import")
    app = await build(settings, args.db)
    try:
        stats = await import_files(app.pipeline, settings, [Path(p) for p in args.paths], source,
                                   )
    except ExportError as exc:
        raise InputError(str(exc)) from None
    finally:
        await app.close()
    if args.json:
        print(json.dumps(stats.as_json(), ensure_ascii=False))
    else:
        print_import_summary(stats)
    return 0
