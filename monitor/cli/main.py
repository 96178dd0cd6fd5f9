"""The `yuqing` command (also `python -m monitor`).

Exit codes: 0 success, 2 bad input (bad config, unreadable file: the message names file, line/row, key),
1 internal error.
"""

from __future__ import annotations

import argparse
import errno
import os
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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                help="子命令；yuqing COMMAND --help 查看各自的说明 / subcommands (COMMAND --help for each)")
    for register in COMMANDS:
        register(sub)
    _keep_line_breaks(parser)
    return parser


def _keep_line_breaks(parser: argparse.ArgumentParser) -> None:
    """Descriptions are written as a Chinese line, then an English one: keep that break in every --help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                child.formatter_class = argparse.RawDescriptionHelpFormatter
                _keep_line_breaks(child)


def main(argv: list[str] | None = None) -> int:
    """Run one command. A reader that goes away (`yuqing deadlines --json | head -1`) ends it quietly:
    no traceback, exit 141 (128 + SIGPIPE, what a shell reports for a command killed by a closed pipe)."""
    try:
        try:
            code = _main(argv)
        except SystemExit:  # argparse after --help/--version or a usage error: its output must reach the pipe
            sys.stdout.flush()
            raise
        sys.stdout.flush()  # inside the try: a pipe closed after the last write fails here, not at exit
        return code
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE


EXIT_BROKEN_PIPE = 141


def _discard_stdout() -> None:
    """The reader is gone: point stdout at /dev/null so that the interpreter's last flush finds nowhere
    to fail (Python's documented recipe for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (an embedding caller's stream)
        pass


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(json_lines=args.log_json, level="DEBUG" if args.verbose else "INFO")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from monitor.store import DatabaseURLError, StoreError
    from monitor.core.workcal import CalendarUnavailable

    try:
        return args.func(args) or 0
    except BrokenPipeError:
        raise
    except ConfigError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 2
    except (InputError, CalendarUnavailable, DatabaseURLError) as exc:
        print(f"错误 (error): {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"错误 (error): {exc}", file=sys.stderr)
        return 1
    except _FILE_ERRORS as exc:  # a path the user gave that cannot be read or written: say which, and why
        logger.opt(exception=True).debug("file error")
        print(f"错误 (error): {file_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if disk_full(exc):  # not a bug: one line that says what to do (bench/faults.py, disk_full)
            logger.opt(exception=True).debug("disk full")
            print(f"错误 (error): {DISK_FULL}", file=sys.stderr)
            return 1
        logger.exception("内部错误 (internal error)")
        return 1


DISK_FULL = ("磁盘已满，数据库无法写入；请释放空间后重新运行，已存入的数据不会重复 "
             "(disk full: the database cannot be written; free some space and run the command again: nothing "
             "is stored twice)")


def disk_full(exc: BaseException | None) -> bool:
    """Is a full disk behind this error: ENOSPC, SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100)?
    Read from the exception chain by errno and message, so the CLI needs no database driver to tell."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if "database or disk is full" in str(exc) or getattr(exc, "sqlstate", None) == "53100":
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


_FILE_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)


def file_error(exc: OSError) -> str:
    """One line for a file that cannot be used, Chinese first, with what to do."""
    path = exc.filename if exc.filename is not None else ""
    if isinstance(exc, FileNotFoundError):
        what = "文件或目录不存在，请检查路径或先创建所在目录 (no such file or folder: check the path or create the folder)"
    elif isinstance(exc, PermissionError):
        what = "没有权限，请换一个可写的位置 (permission denied: choose a place you may write to)"
    elif isinstance(exc, IsADirectoryError):
        what = "这是一个目录，请给出文件名 (is a folder: give a file name)"
    elif isinstance(exc, NotADirectoryError):
        what = "路径中有一段不是目录 (a part of the path is not a folder)"
    else:
        what = "已存在 (already exists)"
    return f"{path}: {what}" if path else f"{what}: {exc}"
