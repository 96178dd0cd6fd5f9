"""`yuqing serve` and `yuqing demo` as processes: they come up, answer, and stop cleanly on SIGTERM."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from monitor.config.settings import BUNDLED_CONFIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, cwd, ready_text):
    proc = subprocess.Popen([sys.executable, "-m", "monitor", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"exited early: {proc.stderr.read()}")
        seen.append(line)
        if ready_text in line:
            return proc, "".join(seen)
    proc.kill()
    raise AssertionError("never became ready: " + "".join(seen))


AUTH = {"Authorization": "Bearer serve-test-token"}


def get(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
        return r.status, r.read().decode()


def test_serve_answers_and_stops_on_sigterm(tmp_path):
    port = free_port()
    proc, _ = start(["--db", f"sqlite:///{tmp_path / 's.db'}", "serve", "--listen", f"127.0.0.1:{port}"],
                    tmp_path, "serving")
    try:
        status, body = get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(body) == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def sign_in(base: str, out: str):
    """An opener signed in with the demo's printed account (docs/accounts.md) through the login form."""
    import http.cookiejar
    import re
    import urllib.parse

    name, password = re.search(r"用户名 user (\S+)  密码 password (\S+)（", out).groups()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    token = re.search(r'name="csrf" value="([^"]+)"', opener.open(base + "/login", timeout=10).read().decode())[1]
    form = urllib.parse.urlencode({"name": name, "password": password, "csrf": token, "next": "/"}).encode()
    return opener, opener.open(base + "/login", data=form, timeout=10)


def test_demo_serves_the_dashboard(tmp_path):
    port = free_port()
    proc, out = start(["demo", "--listen", f"127.0.0.1:{port}"], tmp_path, "值班台已启动")
    try:
        assert f"http://127.0.0.1:{port}" in out
        assert get(f"http://127.0.0.1:{port}/")[1].count('action="/login"') == 1  # anonymous: the login page
        _, r = sign_in(f"http://127.0.0.1:{port}", out)
        status, html = r.status, r.read().decode()
        assert status == 200 and "马街街道一化工厂发生爆炸" in html and "5小时内发布权威信息" in html
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_serve_rejects_a_bad_listen_address(tmp_path):
    r = subprocess.run([sys.executable, "-m", "monitor", "--db", f"sqlite:///{tmp_path / 's.db'}", "serve",
                        "--listen", "localhost"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and "HOST:PORT" in r.stderr


def test_serve_runs_collectors_and_the_webhook(tmp_path):
    """Under `yuqing serve`: a watched folder is imported by its own task, a signed push is accepted,
    /healthz?detail=1 shows each source's health while /healthz keeps its plain answer."""
    import hashlib
    import hmac

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text("工单编号,标题,诉求内容,受理时间\nS1,路灯不亮,金碧街道路灯坏了,2026-11-20 08:00\n",
                                 encoding="gb18030")
    config = tmp_path / "c.yaml"
    bundled = BUNDLED_CONFIG
    config.write_text(f"jurisdiction: {bundled / 'jurisdictions' / 'xishan.yaml'}\nlexicons: {bundled / 'lexicons'}\n"
                      "sources:\n"
                      f"  - {{name: hotline, kind: hotline_export, path: {inbox}, settle: 0s, interval: 1m}}\n"
                      "  - {name: push, kind: webhook, secret_env: YUQING_WEBHOOK_SECRET}\n", encoding="utf-8")
    port = free_port()
    env_secret = "serve-test-secret"
    os.environ["YUQING_WEBHOOK_SECRET"] = env_secret
    os.environ["YUQING_API_TOKEN"] = "serve-test-token"  # reads need a token or a session (docs/accounts.md)
    try:
        proc, _ = start(["--config", str(config), "--db", f"sqlite:///{tmp_path / 's.db'}", "serve", "--listen",
                         f"127.0.0.1:{port}"], tmp_path, "serving")
    finally:
        del os.environ["YUQING_WEBHOOK_SECRET"], os.environ["YUQING_API_TOKEN"]
    try:
        deadline = time.monotonic() + 30
        detail = {}
        while time.monotonic() < deadline:
            detail = json.loads(get(f"http://127.0.0.1:{port}/healthz?detail=1", AUTH)[1])
            hotline = next(s for s in detail["detail"]["sources"] if s["name"] == "hotline")
            if hotline["last_ok_at"]:
                break
            time.sleep(0.3)
        assert detail["status"] == "ok" and hotline["healthy"] and hotline["next_poll_at"]
        assert json.loads(get(f"http://127.0.0.1:{port}/healthz")[1]) == {"status": "ok"}
        body = json.dumps({"id": "w1", "title": "噪音", "body": "工地夜间施工", "time": "2026-11-23T01:00:00+08:00"},
                          ensure_ascii=False).encode()
        signature = "sha256=" + hmac.new(env_secret.encode(), body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/ingest", data=body, method="POST",
                                         headers={"X-Yuqing-Signature": signature})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 202 and json.loads(r.read())["item_id"]
        status, incidents = get(f"http://127.0.0.1:{port}/api/v1/incidents", AUTH)
        titles = {i["title"] for i in json.loads(incidents)["incidents"]}
        assert {"路灯不亮", "噪音"} <= titles
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
