"""The now page (当前) in a real headless Chromium against the real server: sign in, watch a legal deadline's countdown
tick, see an incident pushed through the signed ingest API appear without a reload (server-sent events), and see the
overdue banner go once the deadline is acknowledged through the API. A screenshot of the page is saved under
tests/artifacts/. (Chromium and its fixture: tests/test_dashboard_browser.py.)"""

import asyncio
import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from monitor.web import stream
from monitor.web.server import web_application
from tests.signin import PASSWORD, add_account
from tests.test_dashboard_browser import browser  # noqa: F401  (the module's one Chromium)
from tests.test_now_page import add_incident

OFFICER = "李值班"
SECRET, TOKEN = "now-page-secret", "now-page-token"
ARTIFACTS = Path(__file__).parent / "artifacts"
HOSTILE = '<img src=x onerror="document.title=\'pwned\'">'


@pytest.fixture
async def page(app, monkeypatch):
    monkeypatch.setattr(stream, "POLL", 0.1)
    monkeypatch.setenv("YUQING_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("YUQING_API_TOKEN", TOKEN)
    await add_incident(app, "碧鸡街道脚手架坍塌" + HOSTILE, severity=3, due=[-0.5, 2])  # one overdue, one in 2 h
    await add_incident(app, "金碧路路灯不亮")
    await add_account(app, OFFICER, "duty_officer")
    server = TestServer(web_application(app))
    await server.start_server()
    yield str(server.make_url("/"))
    await server.close()


def _open(b, url: str) -> None:
    """Sign in through the login form the page sends an anonymous visitor to, and land on the now page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    b.get("about:blank")
    b.get(url)
    WebDriverWait(b, 20).until(lambda d: d.find_elements(By.NAME, "password"),
                               message=f"no login form: {b.current_url}")
    b.find_element(By.NAME, "name").send_keys(OFFICER)
    b.find_element(By.NAME, "password").send_keys(PASSWORD)
    b.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]").click()
    WebDriverWait(b, 20).until(lambda d: d.find_elements(By.ID, "rows"), message=f"not on the page: {b.current_url}")
    WebDriverWait(b, 10).until(lambda d: d.find_element(By.ID, "live-state").text == "实时更新中",
                               message="the live stream did not open")
    b.execute_script("window.notReloaded = true;")  # gone if the page reloads


async def test_a_countdown_ticks_every_second(browser, page):  # noqa: F811
    def watch(b):
        import time

        _open(b, page)
        read = "return document.querySelectorAll('#rows .countdown')[1].textContent"
        first = b.execute_script(read)
        time.sleep(1.1)
        return first, b.execute_script(read), b.execute_script(
            "return [document.title, document.querySelector('#rows .due').className]")

    first, later, (title, due_class) = await asyncio.to_thread(watch, browser)
    assert re.fullmatch(r"期限1：(2小时0秒|1小时59分\d+秒)", first) and later != first, (first, later)  # 2 h from now
    assert title != "pwned" and "overdue" in due_class  # the first deadline is past due: drawn red


async def test_a_pushed_incident_appears_and_acknowledging_clears_the_banner(browser, page, app):  # noqa: F811
    from selenium.webdriver.support.ui import WebDriverWait

    await asyncio.to_thread(_open, browser, page)
    banner = "const b = document.getElementById('overdue-banner'); return [b.hidden, b.textContent];"
    hidden, text = await asyncio.to_thread(browser.execute_script, banner)
    assert not hidden and "1 个期限已超时且无人确认" in text and HOSTILE in text  # shown as text, not markup
    body = json.dumps({"id": "p-1", "title": "马街街道化工厂爆炸", "body": "马街街道化工厂发生爆炸，造成12人死亡",
                       "time": app.clock.now().isoformat()}, ensure_ascii=False).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    async with ClientSession() as s:
        async with s.post(page + "api/v1/ingest", data=body, headers={"X-Yuqing-Signature": signature}) as r:
            assert r.status == 202, await r.text()
            incident_id = (await r.json())["incident_id"]

    def arrived(b):
        row = f"return document.querySelector('#rows tr[data-id=\"{incident_id}\"]')"
        WebDriverWait(b, 5).until(lambda d: d.execute_script(row), message="the pushed incident did not appear")
        return b.execute_script("return [window.notReloaded, Array.from(document.querySelectorAll('#rows tr'))"
                                ".map(tr => tr.dataset.id), document.querySelector('#card-total b').textContent]")

    still, order, total = await asyncio.to_thread(arrived, browser)
    # in its place: after the collapse's overdue deadline, before the street light that has none
    assert still is True and order == ["1", str(incident_id), "2"] and total == "3", (order, total)
    async with ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as s:
        async with s.post(page + "api/v1/incidents/1/ack", json={"actor": OFFICER}) as r:
            assert r.status == 200, await r.text()

    def cleared(b):
        WebDriverWait(b, 5).until(lambda d: d.execute_script(banner)[0], message="the banner stayed")
        ARTIFACTS.mkdir(exist_ok=True)
        b.set_window_size(1400, 1000)
        b.save_screenshot(str(ARTIFACTS / "now_page.png"))
        return b.execute_script("return [window.notReloaded, document.querySelector('#rows .acked').textContent]")

    still, acked = await asyncio.to_thread(cleared, browser)
    assert still is True and acked == f"{OFFICER} 已确认"
    assert (ARTIFACTS / "now_page.png").stat().st_size > 10_000
