"""What every subcommand shares: loading the config (secrets registered for masking), running a coroutine,
and the error that means "bad input, exit 2"."""

from __future__ import annotations

import argparse
import asyncio
import os

from monitor.config.settings import ENV_CONFIG, Settings, load_settings
from monitor.core import logs


class InputError(Exception):
    """Bad input from the user (a file, an id, an argument): exit 2 with this message."""


def load_config(args: argparse.Namespace) -> Settings:
    path = getattr(args, "config", None) or os.environ.get(ENV_CONFIG)
    settings = load_settings(path)
    secret_envs = [s.secret_env for s in settings.sources if getattr(s, "secret_env", None)]
    secret_envs += [c.secret_env for c in settings.channels if c.secret_env]
    secret_envs += [c.token_env for c in settings.channels if c.token_env]
    logs.register_secret_envs([*secret_envs, settings.api.token_env])
    return settings


def run(coro) -> int:
    return asyncio.run(coro) or 0
