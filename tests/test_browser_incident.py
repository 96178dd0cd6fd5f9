"""The incident page in a real headless Chromium (the setup of tests/test_dashboard_browser.py): record evidence and
see the deadline satisfied, regrade with a reason (refused without one), close (办结) once the deadlines are done and
the reply is given, merge another incident in through the form. Screenshots are saved under tests/artifacts/."""

import asyncio
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer

from monitor.core.model import RawItem
from monitor.web.server import web_application
from tests.conftest import ROOT
from tests.signin import add_account
from tests.test_dashboard_browser import OFFICER, _sign_in, browser  # noqa: F401 (the module's one Chromium)

ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture
async def page(app, clock):
    await app.pipeline.ingest([
        RawItem("hotline", "1", "马街街道化工厂爆炸", "马街街道化工厂爆炸造成12人死亡，周边居民闻到刺鼻气味",
                occurred_at=clock.now() - timedelta(hours=1), status="办理中",
                extra={"cells": {"url": "https://12345.xs.gov.cn/case/1"}}),
        RawItem("hotline", "2", "马街化工厂爆炸了", "马街街道化工厂爆炸造成12人死亡，周边居民闻到刺鼻气味",
                occurred_at=clock.now() - timedelta(minutes=40), reporter="李女士"),
        RawItem("hotline", "3", "路灯不亮", "金碧街道路灯坏了好几天", occurred_at=clock.now()),
    ], "hotline")
    await add_account(app, OFFICER, "duty_officer")
    server = TestServer(web_application(app))
    await server.start_server()
    yield str(server.make_url("/incidents/1"))
    await server.close()


def _text(b, css: str) -> str:
    found = b.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : '';", css)
    return " ".join(found.split())


def _result(b, wait):
    """The action's message (read before the page reloads itself)."""
    return wait(b, lambda d: d.execute_script(
        "const r = document.getElementById('action-result');"
        "return r && r.textContent.trim() ? [r.textContent, r.className] : null;"))


def _flow(browser, url: str, steps):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def wait(b, condition):
        return WebDriverWait(b, 30).until(condition, message=f"timed out on {b.current_url}")

    browser.set_window_size(1280, 1600)
    _sign_in(browser, url)
    return steps(browser, By, wait)


def _shot(b, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    height = b.execute_script("return document.documentElement.scrollHeight")
    b.set_window_size(1280, min(max(height, 800), 4000))
    b.save_screenshot(str(ARTIFACTS / name))


async def test_recorded_evidence_shows_the_deadline_satisfied(browser, page, app):
    def steps(b, By, wait):
        from selenium.webdriver.support.ui import Select

        _shot(b, "incident-page.png")
        Select(b.find_element(By.NAME, "rule")).select_by_visible_text("24小时内举行新闻发布会")
        b.find_element(By.NAME, "url").send_keys("https://xs.gov.cn/fbh/1")
        b.find_element(By.CSS_SELECTOR, "#evidence-form button[type=submit]").click()
        message, cls = _result(b, wait)
        wait(b, lambda d: _text(d, "tr[data-rule=press_conference] td.state").startswith("已完成"))  # reloaded
        return message, cls, _text(b, "tr[data-rule=press_conference]"), _text(b, ".timeline")

    message, cls, row, timeline = await asyncio.to_thread(_flow, browser, page, steps)
    assert cls == "ok" and "24小时内举行新闻发布会 · press_conference（按时）" in message, message
    assert "已完成（按时）" in row and "新闻发布会：https://xs.gov.cn/fbh/1" in row and OFFICER in row
    assert f"值班员 {OFFICER} 登记证据（新闻发布会），完成期限「24小时内举行新闻发布会」" in timeline
    async with app.store.read() as tx:
        states = {d.rule: d.state for d in await tx.deadlines.for_incident(1)}
    assert states == {"press_conference": "satisfied", "authoritative_release": "open"}


async def test_regrade_needs_a_reason_to_lower_and_cancels_the_deadlines(browser, page, app):
    def steps(b, By, wait):
        from selenium.webdriver.support.ui import Select

        Select(b.find_element(By.NAME, "severity")).select_by_visible_text("一般（Ⅳ级）")
        b.find_element(By.CSS_SELECTOR, "#regrade-form button[type=submit]").click()
        refused = _result(b, wait)
        b.find_element(By.CSS_SELECTOR, "#regrade-form input[name=reason]").send_keys("核实为演练，无人员伤亡")
        b.find_element(By.CSS_SELECTOR, "#regrade-form button[type=submit]").click()
        wait(b, lambda d: _text(d, "h1 .badge") == "一般（Ⅳ级）")  # reloaded with the new grade
        return refused, _text(b, "table.deadlines tbody"), _text(b, ".timeline")

    (message, cls), deadlines, timeline = await asyncio.to_thread(_flow, browser, page, steps)
    assert cls == "error" and "400" in message and "降低等级（重大→一般）需要说明理由" in message, message
    assert deadlines.count("已取消") == 2 and "等级由重大调整为一般：核实为演练，无人员伤亡" in deadlines
    assert "等级由重大调整为一般（理由：核实为演练，无人员伤亡）" in timeline
    async with app.store.read() as tx:
        assert (await tx.incidents.get(1)).severity == 1


async def test_close_waits_for_the_reply_then_the_incident_reads_closed(browser, page, app):
    for rule in ("authoritative_release", "press_conference"):  # the deadlines are done; the report is 办理中
        await app.service.add_evidence(1, "李四", url=f"https://xs.gov.cn/{rule}", rule=rule)

    def steps(b, By, wait):
        b.find_element(By.CSS_SELECTOR, "#close-form button[type=submit]").click()
        refused = _result(b, wait)
        b.find_element(By.NAME, "reply_url").send_keys("https://xs.gov.cn/reply/1")
        b.find_element(By.CSS_SELECTOR, "#close-form button[type=submit]").click()
        wait(b, lambda d: d.find_elements(By.ID, "reopen-form"))  # reloaded, closed
        _shot(b, "incident-closed.png")
        return refused, _text(b, "p.status"), _text(b, ".timeline")

    (message, cls), status, timeline = await asyncio.to_thread(_flow, browser, page, steps)
    assert cls == "error" and "尚未登记答复" in message, message
    assert status.startswith("状态：已办结") and f"由 {OFFICER} 办结" in status and "https://xs.gov.cn/reply/1" in status
    assert f"值班员 {OFFICER} 办结（答复：https://xs.gov.cn/reply/1）" in timeline
    assert (ARTIFACTS / "incident-closed.png").stat().st_size > 10_000
    async with app.store.read() as tx:
        assert (await tx.incidents.get(1)).status == "closed"


async def test_the_merge_form_takes_typed_ids_and_the_timeline_says_what_moved(browser, page, app):
    async with app.store.read() as tx:
        assert (await tx.incidents.get(2)).status == "open"

    def steps(b, By, wait):
        b.find_element(By.CSS_SELECTOR, "#merge-form input[name=incident_ids]").send_keys("#2")
        b.find_element(By.CSS_SELECTOR, "#merge-form input[name=reason]").send_keys("误报为另一事件")
        b.find_element(By.CSS_SELECTOR, "#merge-form button[type=submit]").click()
        message = _result(b, wait)
        wait(b, lambda d: "合并：事件 #2 并入本事件" in _text(d, ".timeline"))  # reloaded
        return message, _text(b, ".timeline"), _text(b, "p.joins")

    (message, cls), timeline, joins = await asyncio.to_thread(_flow, browser, page, steps)
    assert cls == "ok" and message == "已合并：#2 并入本事件", message
    assert f"值班员 {OFFICER} 合并：事件 #2 并入本事件，移入留言 1 条（理由：误报为另一事件）" in timeline
    assert "人工合并 1 条" in joins
    async with app.store.read() as tx:
        merged = await tx.incidents.get(2)
    assert (merged.status, merged.merged_into) == ("merged", 1)
