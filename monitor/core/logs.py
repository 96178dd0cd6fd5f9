"""Logging with loguru: readable lines by default, JSON lines with --log-json. Secrets never appear:
every value of an environment variable the config names as a secret is masked in every record (its message,
its extra fields and the text of its exception), whatever the secret's length.

Libraries that log through the standard `logging` module (aiohttp's server errors and their tracebacks,
asyncio, APScheduler…) are routed into loguru by an InterceptHandler (loguru's documented recipe), so they
are formatted, masked and serialised like our own records."""

from __future__ import annotations

import inspect
import logging
import os
import sys
import traceback

from loguru import logger

_SECRETS: set[str] = set()
MASK = "***"
# Libraries whose DEBUG records describe every query or poll: kept at INFO or above even with --verbose.
_CHATTY = ("aiosqlite", "asyncio", "urllib3", "hpack", "charset_normalizer")


def register_secret_envs(names: list[str]) -> None:
    for name in names:
        if not name:
            continue
        value = os.environ.get(name)
        if value:
            register_secret(value)


def register_secret(value: str) -> None:
    """Mask `value` in every later log record. Any length counts: a 3-character token is still a token."""
    if not value:
        return
    _SECRETS.add(value)
    stripped = value.strip()  # an env file's trailing newline or \r is not part of what gets logged
    if stripped:
        _SECRETS.add(stripped)


def redact(text: str) -> str:
    # Longest first: a secret that contains another is replaced whole, not around the shorter one.
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redact_value(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    return value


def _patch(record) -> None:
    if not _SECRETS:
        return
    record["message"] = redact(record["message"])
    if record["extra"]:
        record["extra"].update({k: _redact_value(v) for k, v in record["extra"].items()})
    exc = record["exception"]
    if exc is not None and exc.type is not None:
        # loguru formats the exception itself when the record is written; when its text holds a secret,
        # the masked traceback goes into the message instead (the same lines, nothing left to leak).
        text = "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))
        masked = redact(text)
        if masked != text:
            record["message"] = f"{record['message']}\n{masked.rstrip()}"
            record["exception"] = None


class InterceptHandler(logging.Handler):
    """Standard-library records into loguru (loguru's recipe): same level, the caller's frame, the exception."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame:
            filename = frame.f_code.co_filename
            is_logging = filename == logging.__file__
            is_frozen = "importlib" in filename and "_bootstrap" in filename
            if depth > 0 and not (is_logging or is_frozen):
                break
            frame = frame.f_back
            depth += 1
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format arguments must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        logger.bind(logger=record.name).opt(depth=depth, exception=record.exc_info).log(level, message)


def intercept_stdlib(level: str = "INFO") -> None:
    """Send the standard library's log records through loguru (idempotent): WARNING and above at the
    default level, everything from DEBUG on with --verbose (but the chatty libraries from INFO)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, InterceptHandler):
            root.removeHandler(handler)
    root.addHandler(InterceptHandler())
    number = logging.getLevelName(level)
    number = number if isinstance(number, int) else logging.NOTSET  # loguru-only levels (TRACE): everything
    if number > logging.DEBUG:
        # Libraries say at INFO what only a debugging person wants (alembic's plugins, APScheduler's every
        # run): by default they are heard from WARNING on, as before they were routed here.
        root.setLevel(max(number, logging.WARNING))
    else:
        root.setLevel(number)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    logging.captureWarnings(True)  # warnings.warn → the py.warnings logger → loguru


def setup(json_lines: bool = False, level: str = "INFO", sink=None) -> None:
    """Configure loguru for this process; `sink` defaults to stderr (tests pass their own)."""
    sink = sink if sink is not None else sys.stderr
    logger.remove()
    logger.configure(patcher=_patch)
    if json_lines:
        logger.add(sink, level=level, serialize=True, backtrace=False, diagnose=False)
    else:
        logger.add(sink, level=level, backtrace=False, diagnose=False,
                   format="<green>{time:YYYY-MM-DD HH:mm:ss}</green> <level>{level: <7}</level> {message}")
    intercept_stdlib(level)
