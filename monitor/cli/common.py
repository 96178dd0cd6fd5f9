"""What every subcommand shares: loading the config (secrets registered for masking), running a coroutine,
serving, checking an output path, and the error that means "bad input, exit 2"."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Callable

from monitor.config.settings import ENV_CONFIG, Settings, load_settings
from monitor.core import logs


class InputError(Exception):
    """Bad input from the user (a file, an id, an argument): exit 2 with this message."""


def load_config(args: argparse.Namespace) -> Settings:
    path = getattr(args, "config", None) or os.environ.get(ENV_CONFIG)
    return register_secrets(load_settings(path))


def register_secrets(settings: Settings) -> Settings:
    """Mask in every log record the values of the environment variables the config names as secrets: every
    `*_env` setting of a source or channel (secret_env, token_env, password_env…) and the API token."""
    secret_envs = [getattr(part, name) for part in [*settings.sources, *settings.channels]
                   for name in type(part).model_fields if name.endswith("_env") and getattr(part, name, None)]
    logs.register_secret_envs([*secret_envs, settings.api.token_env])
    return settings


def run(coro) -> int:
    return asyncio.run(coro) or 0


def check_writable(path: Path) -> None:
    """A file the command is about to write: its folder must exist and be writable, and it must not be a
    folder itself. Checked before the work, so a wrong path costs nothing."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"{path}: 这是一个目录，请给出文件名 (is a folder: give a file name)")
    if not folder.is_dir():
        raise InputError(f"{path}: 输出目录不存在 {folder}，请先创建该目录或换一个路径 "
                         f"(output folder does not exist: create it or choose another path)")
    if not os.access(folder, os.W_OK):
        raise InputError(f"{path}: 没有写入 {folder} 的权限，请换一个位置 (permission denied: choose another place)")


def write_output(path: Path, write: Callable[[Path], object]) -> None:
    """Write a command's output file; a failure (disk full, a file locked by Excel) is bad input that says
    what to do, not a traceback."""
    try:
        write(path)
    except OSError as exc:
        raise InputError(f"无法写入 (cannot write) {path}: {exc.strerror or exc}；请换一个路径 (choose another path)") \
            from None


async def serve_app(app, listen: str | None, ready, role: str = "all") -> None:
    """monitor.web.server.serve (of one role; `listen` None: no HTTP listener), with the mistakes a person
    makes before it listens — a port already in use, an address that is not this machine's — answered as
    bad input (exit 2) that says what to do."""
    import errno

    from monitor.web.server import serve

    listening = False

    def on_ready(url: str | None) -> None:
        nonlocal listening
        listening = True
        ready(url)

    try:
        await serve(app, listen, ready=on_ready, role=role)
    except OSError as exc:
        if listening:
            raise
        if exc.errno == errno.EADDRINUSE:
            raise InputError(f"端口已被占用 {listen}：另一个程序（或另一个 yuqing serve）正在使用；请用 --listen 换一个端口，"
                             f"或先停止占用它的程序 (address already in use: choose another --listen HOST:PORT)") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise InputError(f"没有权限监听 {listen}（1024 以下的端口需要管理员权限）；请用 --listen 换一个端口，如 "
                             f"127.0.0.1:8080 (permission denied: choose another --listen port)") from None
        raise InputError(f"无法监听 {listen}：{exc.strerror or exc}；请用 --listen 指定本机的地址和端口，如 127.0.0.1:8080 "
                         f"(cannot listen there: use a HOST:PORT of this machine)") from None
