"""The incident page's buttons in a real headless Chromium: acknowledge a deadline, record evidence, see a
wrong token refused — all through the page's own JavaScript against the real server. Hostile scraped text
stays inert in the browser. (Chromium comes from Debian: `.ci/system-deps`.)"""

import asyncio
import shutil
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer

from monitor.core.model import RawItem
from monitor.web.server import web_application
from conftest import IN_CI

TOKEN = "browser-token-5678"
HOSTILE = '<img src=x onerror="document.title=\'pwned\'">'


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        message = "Chromium/ChromeDriver not installed: run `bash .ci/system-deps`"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    b = webdriver.Chrome(service=Service(driver), options=options)
    b.set_page_load_timeout(30)
    yield b
    b.quit()


@pytest.fixture
async def page(app, clock, monkeypatch):
    monkeypatch.setenv("YUQING_API_TOKEN", TOKEN)
    await app.pipeline.ingest([RawItem("hotline", "1", "化工厂爆炸" + HOSTILE, "马街街道化工厂爆炸造成12人死亡" + HOSTILE,
                                       occurred_at=clock.now() - timedelta(hours=1))], "hotline")
    server = TestServer(web_application(app))
    await server.start_server()
    yield str(server.make_url("/incidents/1"))
    await server.close()


def _run(browser, url: str, token: str, steps):
    """Blocking Selenium work, run in a thread so the event loop keeps serving the page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get("about:blank")  # unload the previous test's page: its scripts may still schedule a reload
    browser.get(url)

    def ready(b) -> bool:
        if b.current_url != url:  # the previous page's reload landed after ours: ask again
            b.get(url)
            return False
        return bool(b.find_elements(By.ID, "actor") and b.find_elements(By.ID, "token"))

    # Under load the page may still be arriving: wait for the form.
    WebDriverWait(browser, 30).until(ready, message=f"no form on {url}: {browser.current_url}")
    browser.find_element(By.ID, "actor").clear()
    browser.find_element(By.ID, "actor").send_keys("张值班")
    browser.find_element(By.ID, "token").clear()
    browser.find_element(By.ID, "token").send_keys(token)
    steps(browser, By)
    # Read text, class and title in one script call: the page reloads itself 1.2 s after a success.
    read = ("const r = document.getElementById('action-result');"
            "return r && r.textContent.trim() ? [r.textContent, r.className, document.title] : null;")
    return WebDriverWait(browser, 30).until(lambda b: b.execute_script(read),
                                            message=f"no result shown on {url}: {browser.current_url}")


async def test_ack_button_stops_the_step_but_not_the_deadline(browser, page, app):
    text, cls, title = await asyncio.to_thread(
        _run, browser, page, TOKEN,
        lambda b, By: b.find_element(By.CSS_SELECTOR, "button.ack[data-rule=authoritative_release]").click())
    assert cls == "ok" and "已确认：authoritative_release" in text, text
    assert title != "pwned"  # the hostile <img onerror> in the title and body never ran
    async with app.store.read() as tx:
        deadlines = {d.rule: d for d in await tx.deadlines.for_incident(1)}
    assert deadlines["authoritative_release"].acked_by == "张值班"
    assert deadlines["authoritative_release"].state == "open"  # acknowledging does not satisfy
    assert deadlines["press_conference"].acked_by is None


async def test_evidence_form_satisfies_the_deadline(browser, page, app):
    def fill(b, By):
        from selenium.webdriver.support.ui import Select

        Select(b.find_element(By.NAME, "rule")).select_by_value("press_conference")
        b.find_element(By.NAME, "url").send_keys("https://xs.gov.cn/fbh/1")
        b.find_element(By.CSS_SELECTOR, "#evidence-form button[type=submit]").click()

    text, cls, _ = await asyncio.to_thread(_run, browser, page, TOKEN, fill)
    assert cls == "ok" and "press_conference（按时）" in text, text
    async with app.store.read() as tx:
        deadlines = {d.rule: d for d in await tx.deadlines.for_incident(1)}
        evidence = await tx.deadlines.evidence_for(1)
    assert deadlines["press_conference"].state == "satisfied"
    assert deadlines["authoritative_release"].state == "open"
    assert [e["url"] for e in evidence] == ["https://xs.gov.cn/fbh/1"] and evidence[0]["actor"] == "张值班"


async def test_wrong_token_is_refused_and_nothing_changes(browser, page, app):
    text, cls, _ = await asyncio.to_thread(
        _run, browser, page, "wrong",
        lambda b, By: b.find_element(By.CSS_SELECTOR, "button.ack").click())
    assert cls == "error" and "401" in text and "令牌错误" in text, text
    async with app.store.read() as tx:
        assert all(d.acked_by is None for d in await tx.deadlines.for_incident(1))
