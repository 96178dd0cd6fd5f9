"""Real-process helpers shared by the reliability tests and the escalation benchmark: a webhook receiver
that records what arrives and when, a config with fast escalation steps, and `yuqing` subprocesses."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp: Path, hook_url: str, steps: list[str], rules: dict[str, str]) -> Path:
    cfg = {
        "rules": [{"name": name, "applies_to": {"severity_at_least": "重大"}, "due": due, "satisfied_by": "release",
                   "escalation": "fast"} for name, due in rules.items()],
        "escalation_policies": {"fast": [{"at": at, "notify": ["duty"], "channels": ["hook"]} for at in steps]},
        "users": [{"name": "duty", "display": "值班员"}],
        "channels": [{"name": "hook", "kind": "webhook", "url": hook_url}],
    }
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


_NAMES = "华兴宏达恒泰永安鑫源长城东方瑞丰金鼎天成"  # 20 distinct characters
# 1,140 company names, no two sharing more than one character: distinct names, not spellings of one
_COMPANIES = list(itertools.combinations(_NAMES, 3))


def write_incidents(tmp: Path, n: int, spread: timedelta = timedelta(0), start: datetime | None = None) -> Path:
    """n major incidents (deaths ≥ 10), first seen from `start` (default now) over `spread`."""
    import random

    start = start or datetime.now(timezone.utc)
    rng = random.Random(n)
    path = tmp / "incidents.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            seen = start + spread * (i / max(n - 1, 1))
            # distinct events: distinct text, or near-duplicate clustering would rightly merge them, and a
            # company of its own, or event grouping would rightly take them for one explosion
            detail = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(60))
            company = "".join(_COMPANIES[i % len(_COMPANIES)]) + "物流公司"
            f.write(json.dumps({"id": f"e{i}", "title": f"{company}仓库爆炸",
                                "body": f"{company}仓库爆炸造成{12 + i % 10}人死亡。{detail}",
                                "time": seen.isoformat()}, ensure_ascii=False) + "\n")
    return path


class Receiver:
    """A webhook endpoint: records (Idempotency-Key, arrival time, payload)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.arrivals: list[tuple[str, float, dict]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.keys.append(request.headers["Idempotency-Key"])
        self.arrivals.append((request.headers["Idempotency-Key"], time.time(), body))
        return web.json_response({"ok": True})


async def start_receiver() -> tuple[Receiver, web.AppRunner, str]:
    r = Receiver()
    app = web.Application()
    app.router.add_post("/hook", r.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return r, runner, f"http://127.0.0.1:{port}/hook"


async def yuqing(cfg: Path, db: str, *args: str, cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "--config", str(cfg), "--db", db, *args, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def serve(cfg: Path, db: str, cwd: Path) -> asyncio.subprocess.Process:
    port = free_port()
    proc = await yuqing(cfg, db, "serve", "--listen", f"127.0.0.1:{port}", cwd=cwd)
    proc.port = port  # type: ignore[attr-defined]
    return proc


async def ready(proc: asyncio.subprocess.Process, timeout: float = 30) -> float:
    """Wait until `serve` answers /healthz; returns the seconds it took."""
    import aiohttp

    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - started < timeout:
            try:
                async with session.get(f"http://127.0.0.1:{proc.port}/healthz") as r:  # type: ignore[attr-defined]
                    if r.status == 200:
                        return time.monotonic() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError("serve did not become ready")


async def state(db: str):
    from monitor.store import Store

    store = await Store(db).open()
    try:
        async with store.read() as tx:
            outbox = await tx.outbox.list(limit=1_000_000)
            deadlines = await tx.deadlines.list(state=None, limit=1_000_000)
    finally:
        await store.close()
    return outbox, deadlines
