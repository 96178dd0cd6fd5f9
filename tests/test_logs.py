"""Logs: every secret masked whatever its length, and the standard library's records (aiohttp's server
errors with their tracebacks) going through loguru, as JSON lines with --log-json."""

import json
import logging
import os
import subprocess
import sys

import aiohttp
import pytest
from aiohttp import web
from loguru import logger

from monitor.core import logs


@pytest.fixture
def captured():
    """logs.setup writing to a list; secrets, loguru sinks and the root logger restored afterwards."""
    saved_secrets = set(logs._SECRETS)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_chatty = {name: logging.getLogger(name).level for name in logs._CHATTY}
    logs._SECRETS.clear()
    lines: list[str] = []
    yield lines
    logs._SECRETS.clear()
    logs._SECRETS.update(saved_secrets)
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    for name, level in saved_chatty.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(False)
    logger.remove()
    logger.add(sys.stderr)


def records(lines):
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("secret", ["Q", "Q§", "Q§7", "Q§7@", "a-much-longer-webhook-secret-0123456789"])
def test_secrets_of_any_length_are_masked(captured, monkeypatch, secret):
    monkeypatch.setenv("HOOK_SECRET", secret)
    logs.register_secret_envs(["HOOK_SECRET", "UNSET_SECRET_ENV"])
    logs.setup(json_lines=True, sink=captured.append)
    logger.bind(header=f"Bearer {secret}", nested={"list": [secret, 1]}).info("token={} end", secret)
    [rec] = records(captured)  # still one valid JSON line: keys are never masked
    assert secret not in rec["record"]["message"] and "token=*** end" == rec["record"]["message"]
    assert secret not in rec["text"]
    assert rec["record"]["extra"]["header"] == "Bearer ***"
    assert rec["record"]["extra"]["nested"] == {"list": ["***", 1]}


def test_a_longer_secret_is_masked_whole_when_it_contains_a_shorter_one(captured, monkeypatch):
    monkeypatch.setenv("A_SECRET", "abc")
    monkeypatch.setenv("B_SECRET", "xxabcxx")
    logs.register_secret_envs(["A_SECRET", "B_SECRET"])
    logs.setup(json_lines=True, sink=captured.append)
    logger.info("one xxabcxx two abc")
    assert records(captured)[0]["record"]["message"] == "one *** two ***"


def test_a_secret_in_an_exception_is_masked(captured, monkeypatch):
    monkeypatch.setenv("API_TOKEN_X", "t0k")
    logs.register_secret_envs(["API_TOKEN_X"])
    logs.setup(json_lines=False, sink=captured.append)
    try:
        raise ValueError("the server refused t0k")
    except ValueError:
        logger.exception("call failed")
    text = "".join(captured)
    assert "t0k" not in text
    assert "call failed" in text and "ValueError: the server refused ***" in text and "Traceback" in text


def test_an_exception_without_a_secret_keeps_loguru_formatting(captured, monkeypatch):
    monkeypatch.setenv("API_TOKEN_X", "t0k")
    logs.register_secret_envs(["API_TOKEN_X"])
    logs.setup(json_lines=True, sink=captured.append)
    try:
        raise KeyError("nothing secret")
    except KeyError:
        logger.exception("lookup failed")
    [rec] = records(captured)
    assert rec["record"]["exception"]["type"] == "KeyError" and "nothing secret" in rec["text"]


def test_standard_library_records_become_json_lines(captured, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3c")
    logs.register_secret_envs(["HOOK_SECRET"])
    logs.setup(json_lines=True, sink=captured.append)
    logging.getLogger("some.library").warning("disk %s is %d%% full, key s3c", "/var", 93)
    logging.getLogger("some.library").info("below the default level: not shown")
    [rec] = records(captured)
    r = rec["record"]
    assert r["message"] == "disk /var is 93% full, key ***"
    assert r["level"]["name"] == "WARNING" and r["extra"]["logger"] == "some.library"
    assert r["function"] == "test_standard_library_records_become_json_lines"  # the caller, not logging's frame


def test_verbose_lets_library_info_through_but_not_chatty_debug(captured):
    logs.setup(json_lines=True, level="DEBUG", sink=captured.append)
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("aiosqlite").debug("executing a query")
    assert [r["record"]["message"] for r in records(captured)] == ["Context impl SQLiteImpl."]


def test_setup_twice_installs_one_handler(captured):
    logs.setup(json_lines=True, sink=captured.append)
    logs.setup(json_lines=True, sink=captured.append)
    logging.getLogger("x").error("once")
    assert len(captured) == 1
    assert sum(isinstance(h, logs.InterceptHandler) for h in logging.getLogger().handlers) == 1


async def test_aiohttp_server_errors_and_tracebacks_go_through_loguru(captured, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "zq7")
    logs.register_secret_envs(["HOOK_SECRET"])
    logs.setup(json_lines=True, sink=captured.append)

    async def broken(request):
        raise RuntimeError("handler exploded near zq7")

    app = web.Application()
    app.router.add_get("/boom", broken)
    runner = web.AppRunner(app, access_log=None)  # as monitor.web.server runs it
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/boom") as response:
                assert response.status == 500
    finally:
        await runner.cleanup()
    errors = [r for r in records(captured) if r["record"]["extra"].get("logger") == "aiohttp.server"]
    assert errors, captured
    rec = errors[0]
    assert rec["record"]["level"]["name"] == "ERROR" and "Error handling request" in rec["record"]["message"]
    assert "RuntimeError: handler exploded near ***" in rec["text"] and "Traceback" in rec["text"]
    assert "zq7" not in "".join(captured)


def test_cli_json_logs_mask_a_three_character_secret(tmp_path):
    """The real command: a 3-character webhook secret that appears in a logged path is masked."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sources: [{name: push, kind: webhook, secret_env: HOOK_SECRET}]\n", encoding="utf-8")
    export = tmp_path / "Qx7.csv"
    export.write_text("编号,标题,内容,时间\n1,t,b,2026-11-23\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), "--log-json", "-v", "--db",
                        f"sqlite:///{tmp_path / 'z.db'}", "import", str(export)], capture_output=True, text=True,
                       cwd=tmp_path, env={**os.environ, "HOOK_SECRET": "Qx7"}, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stderr.splitlines() if line.strip()]  # every line is JSON
    assert any("***.csv" in rec["record"]["message"] for rec in lines), r.stderr
    assert "Qx7" not in r.stderr


def test_every_secret_env_of_the_config_is_registered(captured, monkeypatch):
    from monitor.cli.common import register_secrets
    from monitor.config.settings import Settings

    for name, value in {"HOOK_S": "h1", "ROBOT_S": "r2", "BOT_T": "b3", "API_T": "a4"}.items():
        monkeypatch.setenv(name, value)
    register_secrets(Settings.model_validate({
        "sources": [{"name": "push", "kind": "webhook", "secret_env": "HOOK_S"}],
        "channels": [{"name": "w", "kind": "webhook", "url": "http://127.0.0.1:9/", "secret_env": "ROBOT_S",
                      "token_env": "BOT_T"}],
        "api": {"token_env": "API_T"}}))
    assert {"h1", "r2", "b3", "a4"} <= logs._SECRETS
    logs.setup(json_lines=True, sink=captured.append)
    logger.info("h1 r2 b3 a4")
    assert records(captured)[0]["record"]["message"] == "*** *** *** ***"
