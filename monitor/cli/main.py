"""The `yuqing` command (also `python -m monitor`).

Exit codes: 0 success, 2 bad input (bad config, unreadable file: the message names file, line/row, key),
1 internal error.
"""

from __future__ import annotations

import argparse
import sys

from loguru import logger

from monitor import __version__
from monitor.core import logs
from monitor.cli.common import InputError
from monitor.config.settings import ConfigError


def build_parser() -> argparse.ArgumentParser:
    from monitor.cli.registry import COMMANDS

    parser = argparse.ArgumentParser(
        prog="yuqing",
        description="舆情哨兵：及早发现群众关切，分办到责任部门，守住法定回应时限。\n"
        "yuqing-sentinel: notice public concerns early, route them, never miss a response deadline.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"yuqing-sentinel {__version__}")
    parser.add_argument("--config", metavar="PATH",
                        help="配置文件 / config file (env YUQING_CONFIG)")
    parser.add_argument("--db", metavar="URL",
                        help="数据库 / database URL (env YUQING_DATABASE; default sqlite:///yuqing.db)")
    parser.add_argument("--log-json", action="store_true", help="日志输出为 JSON 行 / JSON-lines logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="详细日志 / debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(json_lines=args.log_json, level="DEBUG" if args.verbose else "INFO")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from monitor.store import StoreError
    from monitor.core.workcal import CalendarUnavailable

    try:
        return args.func(args) or 0
    except ConfigError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 2
    except (InputError, CalendarUnavailable) as exc:
        print(f"错误 (error): {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"错误 (error): {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception:
        logger.exception("内部错误 (internal error)")
        return 1
