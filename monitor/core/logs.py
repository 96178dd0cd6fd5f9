"""Logging with loguru: readable lines by default, JSON lines with --log-json. Secrets never appear:
every value of an environment variable the config names as a secret is masked in every record."""

from __future__ import annotations

import os
import sys

from loguru import logger

_SECRETS: set[str] = set()


def register_secret_envs(names: list[str]) -> None:
    for name in names:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def _patch(record) -> None:
    if _SECRETS:
        record["message"] = redact(record["message"])
        if record["exception"] is not None:
            record["extra"]["redacted"] = True


def setup(json_lines: bool = False, level: str = "INFO") -> None:
    logger.remove()
    logger.configure(patcher=_patch)
    if json_lines:
        logger.add(sys.stderr, level=level, serialize=True, backtrace=False, diagnose=False)
    else:
        logger.add(sys.stderr, level=level, backtrace=False, diagnose=False,
                   format="<green>{time:YYYY-MM-DD HH:mm:ss}</green> <level>{level: <7}</level> {message}")
