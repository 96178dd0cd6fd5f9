"""`yuqing serve` and `yuqing demo` as processes: they come up, answer, and stop cleanly on SIGTERM."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


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


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
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


def test_demo_serves_the_dashboard(tmp_path):
    port = free_port()
    proc, out = start(["demo", "--listen", f"127.0.0.1:{port}"], tmp_path, "值班台已启动")
    try:
        assert f"http://127.0.0.1:{port}" in out
        status, html = get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "马街街道一化工厂发生爆炸" in html and "5小时内发布权威信息" in html
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_serve_rejects_a_bad_listen_address(tmp_path):
    r = subprocess.run([sys.executable, "-m", "monitor", "--db", f"sqlite:///{tmp_path / 's.db'}", "serve",
                        "--listen", "localhost"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and "HOST:PORT" in r.stderr
