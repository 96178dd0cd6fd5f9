"""The dashboard in a real headless Chromium: sign in through the login form, acknowledge a deadline and record
evidence through the page's own JavaScript (session cookie + CSRF header) against the real server; a stale CSRF
token is refused. Hostile scraped text stays inert: it is escaped, and the Content-Security-Policy stops even a
script that got into the page. (Chromium comes from Debian: `.ci/system-deps`.)"""

import asyncio
import shutil
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestServer

from monitor.core.model import RawItem
from monitor.web.server import web_application
from conftest import IN_CI
from tests.signin import PASSWORD, add_account

OFFICER = "张值班"
HOSTILE = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


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
async def page(app, clock):
    await app.pipeline.ingest([RawItem("hotline", "1", "化工厂爆炸" + HOSTILE, "马街街道化工厂爆炸造成12人死亡" + HOSTILE,
                                       occurred_at=clock.now() - timedelta(hours=1))], "hotline")
    await add_account(app, OFFICER, "duty_officer")
    server = TestServer(web_application(app))
    await server.start_server()
    yield str(server.make_url("/incidents/1"))
    await server.close()


def _sign_in(browser, url: str) -> None:
    """Open `url` anonymously, land on the login form, sign in there and come back to `url`."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get("about:blank")  # unload the previous test's page: its scripts may still schedule a reload
    browser.get(url)  # (an earlier test's session cookie names no session of this test's store: anonymous)
    WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.NAME, "password"),
                                     message=f"no login form for {url}: {browser.current_url}")
    landed = urlsplit(browser.current_url)
    assert landed.path == "/login" and parse_qs(landed.query)["next"] == ["/incidents/1"], browser.current_url
    browser.find_element(By.NAME, "name").send_keys(OFFICER)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]").click()
    try:
        WebDriverWait(browser, 30).until(lambda b: b.current_url == url and b.find_elements(By.ID, "actions"))
    except TimeoutException:
        raise AssertionError(f"not back on {url} after signing in: {browser.current_url}: "
                             f"{browser.find_element(By.TAG_NAME, 'main').text}") from None


def _run(browser, url: str, steps):
    """Blocking Selenium work, run in a thread so the event loop keeps serving the page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _sign_in(browser, url)
    steps(browser, By)
    # Read text, class and title in one script call: the page reloads itself 1.2 s after a success.
    read = ("const r = document.getElementById('action-result');"
            "return r && r.textContent.trim() ? [r.textContent, r.className, document.title] : null;")
    return WebDriverWait(browser, 30).until(lambda b: b.execute_script(read),
                                            message=f"no result shown on {url}: {browser.current_url}")


async def test_ack_button_stops_the_step_but_not_the_deadline(browser, page, app):
    text, cls, title = await asyncio.to_thread(
        _run, browser, page,
        lambda b, By: b.find_element(By.CSS_SELECTOR, "button.ack[data-rule=authoritative_release]").click())
    assert cls == "ok" and "已确认：authoritative_release" in text, text
    assert title != "pwned"  # the hostile <img onerror> and <script> in the title and body never ran
    async with app.store.read() as tx:
        deadlines = {d.rule: d for d in await tx.deadlines.for_incident(1)}
    assert deadlines["authoritative_release"].acked_by == OFFICER  # the signed-in user, not a typed name
    assert deadlines["authoritative_release"].state == "open"  # acknowledging does not satisfy
    assert deadlines["press_conference"].acked_by is None


async def test_evidence_form_satisfies_the_deadline(browser, page, app):
    def fill(b, By):
        from selenium.webdriver.support.ui import Select

        Select(b.find_element(By.NAME, "rule")).select_by_value("press_conference")
        b.find_element(By.NAME, "url").send_keys("https://xs.gov.cn/fbh/1")
        b.find_element(By.CSS_SELECTOR, "#evidence-form button[type=submit]").click()

    text, cls, _ = await asyncio.to_thread(_run, browser, page, fill)
    assert cls == "ok" and "press_conference（按时）" in text, text
    async with app.store.read() as tx:
        deadlines = {d.rule: d for d in await tx.deadlines.for_incident(1)}
        evidence = await tx.deadlines.evidence_for(1)
    assert deadlines["press_conference"].state == "satisfied"
    assert deadlines["authoritative_release"].state == "open"
    assert [e["url"] for e in evidence] == ["https://xs.gov.cn/fbh/1"] and evidence[0]["actor"] == OFFICER


async def test_a_stale_csrf_token_is_refused_and_nothing_changes(browser, page, app):
    def forged(b, By):
        b.execute_script("document.querySelector('meta[name=\"csrf-token\"]').content = 'forged';")
        b.find_element(By.CSS_SELECTOR, "button.ack").click()

    text, cls, _ = await asyncio.to_thread(_run, browser, page, forged)
    assert cls == "error" and "403" in text and "安全校验失败" in text, text
    async with app.store.read() as tx:
        assert all(d.acked_by is None for d in await tx.deadlines.for_incident(1))


async def test_hostile_text_never_runs_and_the_csp_stops_injected_script(browser, page):
    """The payload in the title is shown as text; and script that reached the DOM anyway (as a bug in escaping
    would let it) is refused by the browser under the page's Content-Security-Policy."""
    from selenium.webdriver.support.ui import WebDriverWait

    def check(b):
        _sign_in(b, page)
        shown = b.execute_script("return [document.title, document.querySelector('h1').textContent,"
                                 " document.querySelectorAll('img').length, document.scripts.length]")
        b.execute_script("""
            window.violations = [];
            document.addEventListener('securitypolicyviolation', e => window.violations.push(e.violatedDirective));
            const s = document.createElement('script');
            s.textContent = 'window.injected = 1';
            document.body.appendChild(s);
            document.body.insertAdjacentHTML('beforeend', '<img id="probe" src="/nope.png" onerror="window.handler = 1">');
            document.getElementById('probe').addEventListener('error', () => { window.failed = true; });
        """)
        WebDriverWait(b, 10).until(lambda d: d.execute_script("return window.failed && window.violations.length >= 2"))
        return shown, b.execute_script("return [window.injected, window.handler, window.violations]")

    (title, heading, images, scripts), (injected, handler, violations) = await asyncio.to_thread(check, browser)
    assert title != "pwned" and HOSTILE in title and HOSTILE in heading  # escaped: the markup is shown as text
    assert images == 0 and scripts == 1  # no element made from scraped text; only the page's own script
    assert injected is None and handler is None
    assert {"script-src-elem", "script-src-attr"} <= set(violations), violations
