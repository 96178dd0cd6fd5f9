"""The office pages in a real headless Chromium (the browser of tests/test_dashboard_browser.py, one per module):
a duty officer triages two messages, adds a shift that closes the roster's gap, and the statistics charts render
with the app's own ECharts under the strict Content-Security-Policy, with no violation reported. Screenshots of
the pages are saved under tests/artifacts/."""

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from monitor.web.server import web_application
from tests.signin import PASSWORD, add_account
from tests.test_dashboard_browser import browser  # noqa: F401  (the module's Chromium)
from tests.test_office_pages import HOSTILE, seeded, settings  # noqa: F401  (the roster with a gap, the store)

OFFICER = "张值班"
ARTIFACTS = Path(__file__).parent / "artifacts"
# Registered before any page script runs (DevTools injects it whatever the page's CSP): every violation is kept.
WATCH = ("window.__violations = [];"
         "document.addEventListener('securitypolicyviolation',"
         " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));")


@pytest.fixture
async def base(app, seeded, browser):  # noqa: F811
    await add_account(app, OFFICER, "duty_officer")
    server = TestServer(web_application(app))
    await server.start_server()
    browser.set_window_size(1400, 1000)
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
    yield str(server.make_url("")).rstrip("/")
    await server.close()


def _open(b, base: str, path: str) -> None:
    """Sign in on the way to `path` (each test has a new store: the last test's session cookie is worthless)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    b.get("about:blank")
    b.get(base + path)
    WebDriverWait(b, 20).until(lambda d: d.find_elements(By.NAME, "password"),
                               message=f"no login form: {b.current_url}")
    b.find_element(By.NAME, "name").send_keys(OFFICER)
    b.find_element(By.NAME, "password").send_keys(PASSWORD)
    b.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]").click()
    WebDriverWait(b, 20).until(lambda d: d.current_url == base + path, message=f"not back: {b.current_url}")


def _shot(b, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    b.save_screenshot(str(ARTIFACTS / name))


def _violations(b) -> list:
    return b.execute_script("return window.__violations")


async def test_triage_accept_and_correct_in_the_browser(browser, base, app, seeded):  # noqa: F811
    hello, noise = seeded["你好"].id, seeded["噪音扰民"].id

    def run(b):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select, WebDriverWait

        _open(b, base, "/triage")
        result = lambda d: d.find_element(By.ID, "office-result").text  # noqa: E731
        b.find_element(By.CSS_SELECTOR, f"button.accept[data-incident='{hello}']").click()
        WebDriverWait(b, 10).until(lambda d: "已确认" in result(d), message="no accept result")
        accepted = result(b)
        row = b.find_element(By.ID, f"triage-{noise}")
        row.find_element(By.CSS_SELECTOR, "details.correct summary").click()
        Select(row.find_element(By.NAME, "severity")).select_by_value("较大")
        row.find_element(By.CSS_SELECTOR, "form.correct button[type=submit]").click()
        WebDriverWait(b, 10).until(lambda d: "须写明理由" in result(d), message="a regrade without reason went")
        row.find_element(By.NAME, "reason").send_keys("现场核实有人受伤")
        row.find_element(By.CSS_SELECTOR, "form.correct button[type=submit]").click()
        WebDriverWait(b, 10).until(lambda d: "已更正" in result(d), message="no correction result")
        _shot(b, "office-triage.png")
        return accepted, result(b), b.title, _violations(b)

    accepted, corrected, title, violations = await asyncio.to_thread(run, browser)
    assert f"事件 #{hello} 已确认" in accepted and "等级：一般 → 较大" in corrected, corrected
    assert violations == [] and "pwned" not in title
    async with app.store.read() as tx:
        first, second = await tx.incidents.get(hello), await tx.incidents.get(noise)
        audit = (await tx.audit.list(entity="incident", entity_id=noise))[-1]
    assert first.triage == "accepted" and second.triage == "corrected" and second.severity == 2
    assert audit["actor"] == OFFICER and audit["detail"]["reason"] == "现场核实有人受伤"


async def test_adding_a_shift_closes_the_roster_gap(browser, base, app):  # noqa: F811
    def run(b):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        _open(b, base, "/roster")
        warned = b.find_element(By.ID, "roster-warnings").text
        form = b.find_element(By.ID, "shift-form")
        form.find_element(By.NAME, "user").send_keys("li")
        b.execute_script("arguments[0].value = '2026-11-23T20:00'; arguments[1].value = '2026-11-30T12:00';",
                         form.find_element(By.NAME, "starts_at"), form.find_element(By.NAME, "ends_at"))
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(b, 10).until(lambda d: d.find_elements(By.ID, "roster-ok"), message="the gap stayed")
        _shot(b, "office-roster.png")
        return warned, b.find_element(By.ID, "roster-shifts").text, _violations(b)

    warned, shifts, violations = await asyncio.to_thread(run, browser)
    assert "值班员" in warned and "无人值班" in warned
    assert "李值班" in shifts and "手动" in shifts and violations == []
    async with app.store.read() as tx:
        now = app.clock.now()
        [shift] = [s for s in await tx.people.roster(now, now + timedelta(days=14)) if s["origin"] == "manual"]
        [audit] = await tx.audit.list(entity="roster")
    assert shift["user"] == "li" and audit["actor"] == OFFICER


async def test_stats_charts_render_without_csp_violations(browser, base):  # noqa: F811
    def run(b):
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        _open(b, base, "/stats?period=2026-11")
        WebDriverWait(b, 10).until(lambda d: d.execute_script(
            "return document.getElementById('stats').dataset.drawn === '4'"), message="charts not drawn")
        canvases = b.execute_script("return [...document.querySelectorAll('.chart canvas')]"
                                    ".map(c => [c.closest('.chart').id, c.width > 0 && c.height > 0])")
        days = b.find_element(By.ID, "chart-days")
        ActionChains(b).move_to_element_with_offset(days, 40, 0).perform()  # a tooltip, drawn as rich text
        b.execute_script("return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        _shot(b, "office-stats.png")
        return canvases, b.find_element(By.ID, "stats-status").text, _violations(b)

    canvases, status, violations = await asyncio.to_thread(run, browser)
    assert {c for c, drawn in canvases if drawn} == {"chart-days", "chart-departments", "chart-severity", "chart-rules"}
    assert status == "" and violations == [], violations


async def test_ledger_and_sources_pages_render_cleanly(browser, base, app):  # noqa: F811
    now = app.clock.now()
    async with app.store.write() as tx:  # a failing feed and a row that could not be used, hostile text in both
        await tx.sources.save("board", "feed", now - timedelta(minutes=2), failures=3, last_error="连接超时" + HOSTILE,
                              last_ok_at=now - timedelta(hours=2), next_poll_at=now + timedelta(minutes=3))
        await tx.items.quarantine([{"source": "hotline", "file": "export.csv", "row_no": 7, "reason": "缺少标题" + HOSTILE,
                                    "raw": {}, "created_at": now}])

    def run(b):
        from selenium.webdriver.common.by import By

        _open(b, base, "/ledger?month=2026-11")
        ledger = (b.find_element(By.ID, "ledger-rows").text, _violations(b))
        _shot(b, "office-ledger.png")
        b.get(base + "/sources")
        sources = (b.find_element(By.ID, "sources-health").text + b.find_element(By.ID, "quarantine-rows").text,
                   b.title, _violations(b))
        _shot(b, "office-sources.png")
        return ledger, sources

    (rows, v1), (health, title, v2) = await asyncio.to_thread(run, browser)
    assert "化工厂爆炸" in rows and "未按时回应" in rows and "是否按时" in rows
    assert "异常 unhealthy" in health and "连接超时" + HOSTILE in health and "缺少标题" + HOSTILE in health  # as text
    assert title.startswith("数据源")
    assert v1 == [] and v2 == []
