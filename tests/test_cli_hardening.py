"""The CLI and ordinary mistakes (issue 19, item 7): one line that says what to do and exit 2, never a
traceback; every subcommand documented; a closed pipe ends a command quietly; department and domain names
in actions checked against the jurisdiction. Real processes where the behaviour is the process's own."""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from monitor.cli.main import build_parser
from monitor.config.settings import BUNDLED_CONFIG

DEMO_CONFIG = str(BUNDLED_CONFIG / "demo.yaml")


def yuqing(*args, cwd, env=None, stdout=subprocess.PIPE):
    return subprocess.run([sys.executable, "-m", "monitor", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=180)


def assert_refused(r, *needles):
    """Exit 2, one short message on stderr naming what is wrong, no traceback."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


# --------------------------------------------------------------------------- ordinary mistakes
def test_missing_output_folder_is_refused_before_any_work(tmp_path):
    r = yuqing("--db", f"sqlite:///{tmp_path / 'l.db'}", "ledger", "export", "--month", "2026-11",
               "--out", str(tmp_path / "no" / "such" / "x.xlsx"), cwd=tmp_path)
    assert_refused(r, "输出目录不存在", str(tmp_path / "no" / "such"))
    assert r.stderr.startswith("错误 (error):")
    assert not (tmp_path / "l.db").exists()  # refused before the database was opened
    r = yuqing("--db", f"sqlite:///{tmp_path / 'l.db'}", "ledger", "export", "--month", "2026-11",
               "--out", str(tmp_path), cwd=tmp_path)
    assert_refused(r, "这是一个目录")


def test_export_config_into_a_place_that_cannot_be_written(tmp_path):
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    r = yuqing("export-config", str(tmp_path / "a-file" / "cfg"), cwd=tmp_path)
    assert_refused(r, "无法写入", "a-file")
    ok = yuqing("export-config", str(tmp_path / "cfg"), cwd=tmp_path)
    assert ok.returncode == 0 and (tmp_path / "cfg" / "jurisdictions" / "xishan.yaml").exists()


@pytest.mark.parametrize("url, needle", [
    ("mysql://root:hunter2@db.example/yuqing", "不支持的数据库"),
    ("oracle://scott:tiger@h/orcl", "不支持的数据库"),
    ("postgresql+pg8000://u@h/d", "不支持的数据库"),
    ("not a url at all", "数据库地址格式不对"),
    ("postgresql://u:hunter2@h:port/d", "数据库地址格式不对"),
])
def test_unsupported_or_malformed_database_url(tmp_path, url, needle):
    r = yuqing("--db", url, "deadlines", cwd=tmp_path)
    assert_refused(r, needle, "sqlite:///", "postgresql://")
    assert "hunter2" not in r.stderr and "tiger" not in r.stderr  # the password is never printed


def test_database_urls_the_store_accepts():
    from monitor.store.db import DatabaseURLError, async_url

    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert async_url("sqlite://") == "sqlite+aiosqlite://"
    for url in ("postgresql://u:p@h:5432/d", "postgres://u:p@h:5432/d", "postgresql+psycopg2://u:p@h:5432/d",
                "postgresql+asyncpg://u:p@h:5432/d"):
        assert async_url(url) == "postgresql+asyncpg://u:p@h:5432/d"
    for url in ("mysql://u@h/d", "mysql+aiomysql://u@h/d", "http://example.org", "sqlite+pysqlcipher:///x.db",
                "", "x", "postgresql://u@h:port/d"):
        with pytest.raises(DatabaseURLError):
            async_url(url)


def test_database_in_a_missing_folder(tmp_path):
    r = yuqing("--db", f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}", "deadlines", cwd=tmp_path)
    assert_refused(r, "数据库目录不存在", "--db")


def test_check_config_names_an_unsupported_database(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("listen: 127.0.0.1:8080\ndatabase: mysql://u@h/d\n", encoding="utf-8")
    r = yuqing("check-config", str(cfg), cwd=tmp_path)
    assert_refused(r, f"{cfg}:2: database:", "不支持的数据库")


@pytest.mark.parametrize("make, needle", [
    (lambda p: None, "配置文件不存在"),
    (lambda p: p.mkdir(), "这是一个目录"),
    (lambda p: p.write_bytes(b"\xff\xfe\x00 not text"), "不是 UTF-8"),
    (lambda p: p.write_text("sources: [\n  - {name: x\n", encoding="utf-8"), "YAML 语法错误"),
    (lambda p: p.write_text("listen: 8080\nlsten: x\n", encoding="utf-8"), "lsten"),
])
def test_missing_or_invalid_config_file(tmp_path, make, needle):
    cfg = tmp_path / "yuqing.yaml"
    make(cfg)
    r = yuqing("--config", str(cfg), "--db", f"sqlite:///{tmp_path / 'c.db'}", "deadlines", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert str(cfg) in r.stderr and needle in r.stderr


def test_serve_on_a_busy_port(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = yuqing("--db", f"sqlite:///{tmp_path / 's.db'}", "serve", "--listen", f"127.0.0.1:{port}", cwd=tmp_path)
    assert_refused(r, "端口已被占用", f"127.0.0.1:{port}", "--listen")


# --------------------------------------------------------------------------- help
def _parsers(parser, path=("yuqing",)):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                assert helps.get(name), f"{' '.join(path)} {name}: no help line in the command list"
                yield from _parsers(child, (*path, name))


def test_every_subcommand_has_a_description_and_every_argument_a_help():
    missing = []
    seen = set()
    for path, parser in _parsers(build_parser()):
        seen.add(" ".join(path[1:]))
        if not (parser.description or "").strip():
            missing.append(f"{' '.join(path)}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{' '.join(path)} {action.option_strings or action.dest}: no help")
    assert not missing, "\n".join(missing)
    # the commands the issue names, and the walk reaching nested actions
    assert {"deadlines", "ack", "evidence", "reassign", "ledger", "ledger export", "triage correct",
            "db upgrade", "incidents merge"} <= seen


def test_help_keeps_the_chinese_and_english_lines(tmp_path):
    r = yuqing("reassign", "--help", cwd=tmp_path)
    assert r.returncode == 0
    text = r.stdout
    assert "改派给辖区内另一个责任单位" in text and "\nMove the incident" in text
    assert "新的责任单位" in text and "事件编号" in text


# --------------------------------------------------------------------------- closed pipes
@pytest.fixture
def duty_db(tmp_path, db_url):
    """Two incidents from the demo config: #1 an explosion (重大, two deadlines), #2 a collapse."""
    if db_url.startswith("postgresql"):
        from monitor.store import Store
        from tests.conftest import _truncate

        async def reset():
            store = await Store(db_url).open()
            await _truncate(store)
            await store.close()

        asyncio.run(reset())
    now = datetime.now(timezone.utc).isoformat()
    jl = tmp_path / "x.jsonl"
    jl.write_text(
        json.dumps({"id": "1", "title": "化工厂爆炸", "body": "化工厂爆炸造成12人死亡", "time": now}, ensure_ascii=False)
        + "\n" + json.dumps({"id": "2", "title": "工地坍塌", "body": "工地坍塌三人死亡", "time": now}, ensure_ascii=False)
        + "\n", encoding="utf-8")
    r = yuqing("--config", DEMO_CONFIG, "--db", db_url, "import", str(jl), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return db_url


def closed_pipe_run(args, cwd):
    """Run with stdout a pipe whose reading end is already closed: the first write meets EPIPE, as in
    `yuqing deadlines --json | head -1` once head has gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return yuqing(*args, cwd=cwd, stdout=write_end)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("command", [["deadlines", "--json"], ["deadlines", "--state", "all"]])
def test_a_closed_pipe_ends_quietly(tmp_path, duty_db, command):
    r = closed_pipe_run(["--config", DEMO_CONFIG, "--db", duty_db, *command], tmp_path)
    assert r.stderr == "" and r.returncode == 141  # 128 + SIGPIPE, as a shell reports it; nothing on stderr


@pytest.mark.parametrize("command, codes", [
    (["classify", "--text", "马街街道化工厂爆炸，造成12人死亡"], (141,)),  # rich's table
    (["--help"], (0, 141)),  # argparse prints and exits by itself
])
def test_a_closed_pipe_ends_quietly_without_a_database(tmp_path, command, codes):
    r = closed_pipe_run(command, tmp_path)
    assert r.stderr == "" and r.returncode in codes


def test_deadlines_json_into_head(tmp_path, duty_db):
    out = subprocess.run(f"{sys.executable} -m monitor --config {DEMO_CONFIG} --db '{duty_db}' deadlines --json "
                         "| head -1", shell=True, capture_output=True, text=True, cwd=tmp_path, timeout=180)
    assert "Traceback" not in out.stderr and out.stderr == "", out.stderr
    assert json.loads(out.stdout)["incident_id"] == 1


# --------------------------------------------------------------------------- names in actions
def _departments(db, cwd):
    r = yuqing("--config", DEMO_CONFIG, "--db", db, "deadlines", "--json", "--state", "all", cwd=cwd)
    return {(row["incident_id"], row["department"]) for row in map(json.loads, r.stdout.splitlines())}


def test_reassign_refuses_an_unknown_department(tmp_path, duty_db):
    before = _departments(duty_db, tmp_path)
    assert before and {dept for _, dept in before} == {"区应急局"}

    def run(*args):
        return yuqing("--config", DEMO_CONFIG, "--db", duty_db, *args, cwd=tmp_path)

    r = run("reassign", "1", "<script>alert(1)</script>区城管局")
    assert_refused(r, "未知的部门", "区城市管理局", "区卫生健康局")
    r = run("reassign", "1", "区城管局")
    assert_refused(r, "是否要找「区城市管理局」")
    assert _departments(duty_db, tmp_path) == before  # nothing stored
    r = run("reassign", "1", "卫健局", "--reason", "救治")  # an alias is its department
    assert r.returncode == 0 and "区卫生健康局" in r.stdout, r.stderr
    assert (1, "区卫生健康局") in _departments(duty_db, tmp_path)
    r = run("ledger", "promise", "1", "--text", "三日内公布调查结果", "--due", "2026-12-31", "--department", "<b>x</b>")
    assert_refused(r, "未知的部门")


def test_triage_correct_refuses_unknown_names(tmp_path, duty_db):
    def run(*args):
        return yuqing("--config", DEMO_CONFIG, "--db", duty_db, *args, cwd=tmp_path)

    before = _departments(duty_db, tmp_path)
    assert_refused(run("triage", "correct", "2", "--department", "区城管局<script>"), "未知的部门")
    assert_refused(run("triage", "correct", "2", "--co-departments", "区应急局,假冒局"), "假冒局", "co_departments")
    r = run("triage", "correct", "2", "--domain", "<img src=x onerror=alert(1)>")
    assert_refused(r, "未知的领域", "城乡建设")
    assert_refused(run("triage", "correct", "2", "--response-type", "随便回应"), "response_type", "建设性意见")
    assert _departments(duty_db, tmp_path) == before
    r = run("triage", "correct", "2", "--domain", "城乡建设", "--co-departments", "住建局", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["domain"] == "城乡建设" and out["co_departments"] == ["区住房城乡建设局"]
