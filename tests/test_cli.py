"""The CLI as a user runs it: subprocesses, exit codes, the JSON contract of docs/design.md §5."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT
from monitor.config.settings import BUNDLED_CONFIG


def yuqing(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_demo_once_end_to_end(tmp_path):
    r = yuqing("demo", "--once", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "按责任单位" in out and "区应急局" in out and "区住房城乡建设局" in out
    assert "5小时内发布权威信息" in out and "24小时内举行新闻发布会" in out and "3个工作日内发布政策解读" in out
    assert (tmp_path / "yuqing-demo.db").exists()
    # a second run starts from a fresh database and gives the same counts
    again = yuqing("demo", "--once", cwd=tmp_path)
    assert again.returncode == 0
    counts = [line.rsplit("│", 2)[0] for line in out.splitlines() if "│" in line][:1]  # without the seconds
    assert counts == [line.rsplit("│", 2)[0] for line in again.stdout.splitlines() if "│" in line][:1]


def test_import_json_contract(tmp_path):
    src = BUNDLED_CONFIG / "demo" / "hotline_sample.csv"
    db = f"sqlite:///{tmp_path / 'x.db'}"
    first = yuqing("--db", db, "import", str(src), "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    stats = json.loads(first.stdout.strip().splitlines()[-1])
    assert set(stats) == {"read", "inserted", "updated", "duplicates", "quarantined", "incidents", "seconds"}
    assert stats["read"] == 292 == stats["inserted"] + stats["updated"] + stats["duplicates"] + stats["quarantined"]
    assert stats["duplicates"] == 12 and stats["incidents"] == 280
    second = json.loads(yuqing("--db", db, "import", str(src), "--json", cwd=tmp_path).stdout.splitlines()[-1])
    assert (second["inserted"], second["duplicates"], second["incidents"]) == (0, 292, 0)


def test_import_on_a_terminal_draws_a_progress_bar(tmp_path):
    """A duty officer's terminal: stderr is a tty, so the import draws its bar (it once crashed there while
    rich had no speed to show yet)."""
    import pty
    import threading

    src = BUNDLED_CONFIG / "demo" / "hotline_sample.csv"
    leader, follower = pty.openpty()
    chunks: list[bytes] = []

    def read_terminal():  # while the import runs: a full terminal buffer would block its writes
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        r = subprocess.run([sys.executable, "-m", "monitor", "--db", f"sqlite:///{tmp_path / 'x.db'}", "import",
                            str(src)], stdout=subprocess.PIPE, stderr=follower, cwd=tmp_path, timeout=120,
                           env={**os.environ, "COLUMNS": "120"})
    finally:
        os.close(follower)
        reader.join(10)
        os.close(leader)
    shown = b"".join(chunks).decode(errors="replace")
    assert r.returncode == 0, shown[-2000:]
    assert "导入 hotline_sample.csv" in shown and "292/292" in shown
    assert "新增 inserted" in r.stdout.decode()


def test_import_bad_file_exits_2_naming_it(tmp_path):
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not really a workbook")
    r = yuqing("--db", f"sqlite:///{tmp_path / 'x.db'}", "import", str(bad), cwd=tmp_path)
    assert r.returncode == 2 and "broken.xlsx" in r.stderr
    r = yuqing("--db", f"sqlite:///{tmp_path / 'x.db'}", "import", str(tmp_path / "absent.csv"), cwd=tmp_path)
    assert r.returncode == 2 and "absent.csv" in r.stderr
    r = yuqing("--db", f"sqlite:///{tmp_path / 'x.db'}", "import", str(ROOT / "pyproject.toml"), cwd=tmp_path)
    assert r.returncode == 2 and "unsupported" in r.stderr


def test_db_upgrade_and_help(tmp_path):
    r = yuqing("--db", f"sqlite:///{tmp_path / 'y.db'}", "db", "upgrade", cwd=tmp_path)
    assert r.returncode == 0 and "revision" in r.stdout
    h = yuqing("--help", cwd=tmp_path)
    assert h.returncode == 0 and "舆情哨兵" in h.stdout and "demo" in h.stdout
    assert yuqing(cwd=tmp_path).returncode == 2  # no command


def test_json_logs_do_not_leak_secrets(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sources: [{name: push, kind: webhook, secret_env: HOOK_SECRET}]\n", encoding="utf-8")
    # make the program log the secret: import a file whose path contains it
    secret = "s3cr3t-value-123"
    weird = tmp_path / f"{secret}.csv"
    weird.write_text("编号,标题,内容,时间\n1,t,b,2026-11-23\n", encoding="utf-8")
    r = yuqing("--config", str(cfg), "--log-json", "-v", "--db", f"sqlite:///{tmp_path / 'z.db'}", "import",
               str(weird), cwd=tmp_path, env={"HOOK_SECRET": secret})
    assert r.returncode == 0, r.stderr
    assert secret not in r.stderr
    lines = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    assert lines, r.stderr


def test_duty_commands(tmp_path):
    cfg = str(BUNDLED_CONFIG / "demo.yaml")
    db = f"sqlite:///{tmp_path / 'd.db'}"
    jl = tmp_path / "x.jsonl"
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).isoformat()
    jl.write_text(
        json.dumps({"id": "1", "title": "化工厂爆炸", "body": "化工厂爆炸造成12人死亡", "time": now}, ensure_ascii=False) + "\n"
        + json.dumps({"id": "2", "title": "工地坍塌", "body": "工地坍塌三人死亡", "time": now}, ensure_ascii=False) + "\n",
        encoding="utf-8")

    def run(*args):
        return yuqing("--config", cfg, "--db", db, *args, cwd=tmp_path)

    assert run("import", str(jl)).returncode == 0
    rows = [json.loads(x) for x in run("deadlines", "--json").stdout.splitlines()]
    assert {(r["incident_id"], r["rule"]) for r in rows} == {(1, "authoritative_release"), (1, "press_conference")}
    assert "已确认" in run("ack", "1", "--by", "zhang").stdout
    r = run("regrade", "2", "重大", "--reason", "死亡人数上升")
    assert r.returncode == 0 and "authoritative_release" in r.stdout
    assert run("regrade", "2", "很大", "--reason", "x").returncode == 2
    assert run("regrade", "2", "一般").returncode == 2  # --reason is required
    r = run("reassign", "2", "区卫生健康局", "--reason", "救治")
    assert r.returncode == 0 and "区卫生健康局" in r.stdout
    assert run("ack", "99").returncode == 2
    overdue = run("deadlines", "--overdue", "--json")
    assert overdue.returncode == 0 and overdue.stdout == ""


def test_quarantine_sources_and_split_commands(tmp_path):
    db = f"sqlite:///{tmp_path / 'q.db'}"
    export = tmp_path / "e.csv"
    text = "A区某小区电梯经常故障，困人多次，物业公司一直不修，居民出行困难，请尽快处理"
    export.write_text("工单编号,标题,诉求内容,受理时间\n1,电梯,%s,2026-11-20\n2,电梯,%s。,2026-11-21\n"
                      "3,坏行,内容,去年\n" % (text, text + "，谢谢"), encoding="gb18030")
    r = yuqing("--db", db, "import", str(export), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["quarantined"] == 1
    q = yuqing("--db", db, "quarantine", "--json", cwd=tmp_path)
    [row] = [json.loads(line) for line in q.stdout.splitlines()]
    assert row["row"] == 4 and "bad date" in row["reason"] and row["file"].endswith("e.csv")
    again = yuqing("--db", db, "quarantine", "reprocess", "--json", cwd=tmp_path)
    assert json.loads(again.stdout.splitlines()[-1])["still_quarantined"] == 1
    s = yuqing("--db", db, "sources", cwd=tmp_path)
    assert s.returncode == 0 and "数据来源" in s.stdout
    bad = yuqing("--db", db, "incidents", "split", "1", "999", cwd=tmp_path)
    assert bad.returncode == 2 and "999" in bad.stderr
    ok = yuqing("--db", db, "incidents", "split", "1", "2", cwd=tmp_path)
    assert ok.returncode == 0 and "新事件 #2" in ok.stdout


def test_import_killed_with_sigkill_resumes_without_duplicates(tmp_path):
    """kill -9 in the middle of `yuqing import`: committed batches stay, the next run completes the file,
    nothing is stored twice and the second run accounts for every row."""
    import signal
    import sqlite3
    import time

    n = 6000
    export = tmp_path / "big.csv"
    lines = ["工单编号,标题,诉求内容,受理时间"]
    lines += [f"K{i},第{i}号诉求,{'西山区' if i % 2 else '马街街道'}{i}号楼{i % 97}单元反映问题{i}：楼道灯坏了{i % 13}天,2026-11-20 08:00"
              for i in range(n)]
    export.write_text("\n".join(lines) + "\n", encoding="gb18030")
    db = tmp_path / "k.db"
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--db", f"sqlite:///{db}", "import", str(export)],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored = 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(db, timeout=1) as conn:
                stored = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        except sqlite3.Error:
            stored = 0
        if stored >= 2000:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert 0 < stored < n, "the import was not caught in the middle"
    r = yuqing("--db", f"sqlite:///{db}", "import", str(export), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout.splitlines()[-1])
    assert stats["read"] == n == stats["inserted"] + stats["duplicates"] + stats["updated"] + stats["quarantined"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT external_id) FROM items").fetchone() == (n, n)
