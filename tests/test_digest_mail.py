"""The daily digest end to end on SQLite and PostgreSQL: real reports through the pipeline, the digest queued in
the outbox and sent by the delivery loop to a real local SMTP server (aiosmtpd) — what arrived is parsed: its
parts, the encoded Chinese subject, the numbers against the store; STARTTLS and AUTH; a server that refuses (the
mail is retried later), a server that is down (nothing is lost), a restart (nothing is sent twice); the schedule
under `yuqing serve`; the `yuqing digest` command."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor.config.settings import BUNDLED_CONFIG, load_settings
from monitor.core.clock import SHANGHAI, ManualClock, as_utc
from monitor.core.model import RawItem
from monitor.reports import job
from monitor.reports.render import CHART_CID
from responders.outbox import Deliverer
from tests.conftest import _truncate
from tests.harness import free_port

DAY = datetime(2026, 12, 7).date()


def bj(day: int, hour: int, minute: int = 0) -> datetime:
    return as_utc(datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI))


# --------------------------------------------------------------------------- a real SMTP server
class Inbox:
    """aiosmtpd handler: records each accepted mail with whether it came over TLS and who logged in; answers
    `refuse` (e.g. 451) instead while that is set."""

    def __init__(self) -> None:
        self.mails: list[dict] = []
        self.refuse: str | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        self.mails.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                           "message": email.message_from_bytes(envelope.original_content or envelope.content,
                                                               policy=email.policy.default),
                           "raw": envelope.original_content or envelope.content,
                           "tls": session.ssl is not None, "login": getattr(session.auth_data, "login", None)})
        return "250 2.0.0 accepted"


class Server:
    def __init__(self, port: int | None = None, **smtp_kwargs) -> None:
        self.inbox = Inbox()
        self.port = port or free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **smtp_kwargs)

    def __enter__(self) -> "Server":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


USER, PASSWORD = "yuqing@xs.gov.cn", "s3cret-口令"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and \
        auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


# --------------------------------------------------------------------------- config and app
def write_config(tmp: Path, port: int, **channel) -> Path:
    cfg = yaml.safe_load((BUNDLED_CONFIG / "demo.yaml").read_text(encoding="utf-8"))
    cfg["jurisdiction"] = str(BUNDLED_CONFIG / cfg["jurisdiction"])
    cfg["users"] = [
        {"name": "duty", "display": "值班员", "roles": ["duty_officer"], "channels": ["dashboard"]},
        {"name": "leader", "display": "办公室负责人", "roles": ["office_leader"], "channels": ["dashboard"],
         "email": "leader@xs.gov.cn"},
    ]
    cfg["channels"] = [{"name": "dashboard", "kind": "log"},
                       {"name": "mail", "kind": "email", "host": "127.0.0.1", "port": port, "security": "none",
                        "from": "舆情哨兵 <yuqing@xs.gov.cn>", "to": ["office_leader", "张主任 <zhang@xs.gov.cn>"],
                        "timeout": "10s", **channel}]
    cfg["digest"] = {"time": "08:00", "dashboard_url": "https://yuqing.xs.gov.cn"}
    path = tmp / "mail.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


async def make_app(path: Path, db_url: str, clock, truncate: bool = True):
    from monitor.app import build, sync_people

    app = await build(load_settings(path), db_url, clock)
    if truncate and app.store.dialect == "postgresql":
        await _truncate(app.store)  # a clean database per test: the users and roster are copied in again
        await sync_people(app.store, app.settings, clock)
    return app


async def seed(app, clock: ManualClock) -> None:
    """Before the window: a major explosion at 01:00 on 6 Dec whose 5-hour release is never recorded. In the
    window (from 08:00): a major collapse, its release on time; a routine complaint; a promise due on the 8th."""
    clock.set(bj(6, 1))
    await app.pipeline.ingest([RawItem("hotline", "early", "化工厂爆炸", "马街街道化工厂爆炸造成12人死亡",
                                       occurred_at=clock.now())], "hotline")
    clock.set(bj(6, 10))
    await app.pipeline.ingest([
        RawItem("hotline", "a", "工地坍塌", "碧鸡街道在建工地坍塌造成11人死亡", occurred_at=clock.now(), location="碧鸡街道"),
        RawItem("hotline", "b", "夜间施工噪音", "小区旁工地夜间施工噪音扰民，影响休息", occurred_at=clock.now()),
    ], "hotline")
    async with app.store.read() as tx:
        ids = {r["external_id"]: r["incident_id"] for r in (await tx.items.by_external_ids("hotline", ["early", "a", "b"])).values()}
    clock.set(bj(6, 12))
    await app.service.add_evidence(ids["a"], "zhao", url="https://xs.gov.cn/r", rule="authoritative_release")
    await app.service.promise(ids["b"], "三日内停止夜间施工", bj(8, 18), "zhao")
    clock.set(bj(7, 8, 30))


@pytest.fixture
async def smtp():
    with Server() as server:
        yield server


@pytest.fixture
async def mail_app(tmp_path, db_url, smtp):
    clock = ManualClock(bj(6, 0))
    app = await make_app(write_config(tmp_path, smtp.port), db_url, clock)
    await seed(app, clock)
    app.test_clock = clock
    yield app
    await app.close()


async def deliver(app) -> int:
    async with aiohttp.ClientSession() as session:
        return await Deliverer(app.store, app.clock, app.settings, session, owner="test").deliver_due()


async def outbox(app):
    async with app.store.read() as tx:
        return await tx.reports.outbox_with_prefix("digest:")


# --------------------------------------------------------------------------- what arrives
async def test_the_digest_arrives_as_text_and_html_with_an_inline_chart_and_the_store_numbers(mail_app, smtp):
    app = mail_app
    assert await app.digest.tick() == bj(8, 8)  # 08:30: today's is due; the next moment is tomorrow's
    assert await deliver(app) == 2
    mails = {m["to"][0]: m for m in smtp.inbox.mails}
    assert set(mails) == {"leader@xs.gov.cn", "zhang@xs.gov.cn"}  # a role and an address
    mail = mails["leader@xs.gov.cn"]
    msg = mail["message"]
    assert mail["from"] == "yuqing@xs.gov.cn"

    # the parts: multipart/alternative [text/plain, multipart/related [text/html, image/png (cid)]]
    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.get_payload()
    assert plain.get_content_type() == "text/plain" and related.get_content_type() == "multipart/related"
    html_part, image = related.get_payload()
    assert html_part.get_content_type() == "text/html" and image.get_content_type() == "image/png"
    assert image["Content-ID"] == f"<{CHART_CID}>" and f'src="cid:{CHART_CID}"' in html_part.get_content()
    assert image.get_payload(decode=True).startswith(b"\x89PNG\r\n\x1a\n")

    # the subject is RFC 2047-encoded on the wire and decodes to the Chinese subject
    raw_subject = next(line for line in mail["raw"].split(b"\r\n") if line.startswith(b"Subject:"))
    assert b"=?utf-8?" in raw_subject.lower()
    assert str(msg["Subject"]).startswith("【舆情日报】12月7日：")

    # the numbers are the store's
    w = job.digest_mod.window(DAY, 8, 0, app.clock.now())
    async with app.store.read() as tx:
        overdue = await tx.deadlines.list(state="open", overdue_at=w.as_of)
        everything = await tx.incidents.list(status=None, limit=10_000)
        satisfied = await tx.deadlines.list(state="satisfied")
        pending_triage = [i for i in everything if i.triage == "pending" and i.status == "open"]
    new = [i for i in everything if w.start <= i.created_at < w.end]
    met = [d for d in satisfied if w.start <= d.closed_at <= w.as_of and d.closed_at <= d.due_at]
    assert len(overdue) == 2 and len(new) == 2 and len(met) == 1  # the seed's own shape
    text = plain.get_content()
    assert f"一、已超时期限（{len(overdue)} 项）" in text
    assert f"二、新增事件（{len(new)} 起）" in text
    assert f"按时完成 {len(met)}，" in text
    assert f"六、待人工研判：{len(pending_triage)} 起" in text
    assert "三日内停止夜间施工" in text and "https://yuqing.xs.gov.cn/incidents/" in text
    assert f"新增事件{len(new)}起" in str(msg["Subject"]) and f"{len(overdue)}项期限已超时" in str(msg["Subject"])

    # the preview is exactly what was sent, the chart inlined
    _, rendered = await job.prepare(app.store, app.settings, app.clock.now(), DAY, app.digest.organisation,
                                    app.digest.own_names)
    assert html_part.get_content() == rendered.html
    assert rendered.preview_html() == rendered.html.replace(
        f"cid:{CHART_CID}", "data:image/png;base64," + __import__("base64").b64encode(rendered.images[0].data).decode())


async def test_no_double_send_after_a_restart(mail_app, smtp, tmp_path, db_url):
    app = mail_app
    await app.digest.tick()
    assert await deliver(app) == 2
    await app.close()
    # a new process on the same database, the same day: nothing is queued or sent again
    clock = ManualClock(bj(7, 11))
    again = await make_app(write_config(tmp_path, smtp.port), db_url, clock, truncate=False)
    try:
        await again.digest.tick()
        _, rendered = await job.prepare(again.store, again.settings, clock.now(), DAY)
        queued, _ = await job.enqueue(again.store, again.settings, clock, DAY, rendered)
        assert [q.new for q in queued] == [False, False]
        assert await deliver(again) == 0
        assert len(smtp.inbox.mails) == 2
        assert {m.status for m in await outbox(again)} == {"sent"} and len(await outbox(again)) == 2
    finally:
        await again.close()
        app.store = again.store  # the fixture closes this one again: harmless


async def test_a_refusing_server_is_retried_later(mail_app, smtp):
    app = mail_app
    smtp.inbox.refuse = "451 4.3.0 try again later"
    await app.digest.tick()
    assert await deliver(app) == 0
    rows = await outbox(app)
    assert {(m.status, m.attempts) for m in rows} == {("pending", 1)}
    assert all("451" in m.last_error and m.next_attempt_at > app.clock.now() for m in rows)
    assert await deliver(app) == 0  # backing off: not due yet
    smtp.inbox.refuse = None
    app.test_clock.advance(timedelta(seconds=10))
    assert await deliver(app) == 2
    assert len(smtp.inbox.mails) == 2 and {m.status for m in await outbox(app)} == {"sent"}


async def test_a_permanent_refusal_is_final(mail_app, smtp):
    smtp.inbox.refuse = "550 5.1.1 mailbox unavailable"
    await mail_app.digest.tick()
    assert await deliver(mail_app) == 0
    assert {m.status for m in await outbox(mail_app)} == {"dead"}


async def test_a_down_server_loses_nothing(tmp_path, db_url):
    port = free_port()  # nothing listens there yet
    clock = ManualClock(bj(6, 0))
    app = await make_app(write_config(tmp_path, port), db_url, clock)
    try:
        await seed(app, clock)
        await app.digest.tick()
        assert await deliver(app) == 0
        rows = await outbox(app)
        assert len(rows) == 2 and {m.status for m in rows} == {"pending"}
        with Server(port) as server:
            clock.advance(timedelta(seconds=10))
            assert await deliver(app) == 2
        assert len(server.inbox.mails) == 2
    finally:
        await app.close()


async def test_starttls_and_auth_from_environment_variables(tmp_path, db_url, monkeypatch):
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("TEST_SMTP_USER", USER)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", PASSWORD)
    with Server(tls_context=server_ctx, require_starttls=True, authenticator=authenticator, auth_required=True,
                auth_require_tls=True) as server:
        clock = ManualClock(bj(6, 0))
        app = await make_app(write_config(tmp_path, server.port, security="starttls", ca_file="ca.pem",
                                          username_env="TEST_SMTP_USER", password_env="TEST_SMTP_PASSWORD"),
                             db_url, clock)
        try:
            await seed(app, clock)
            await app.digest.tick()
            assert await deliver(app) == 2
            assert [(m["tls"], m["login"]) for m in server.inbox.mails] == [(True, USER.encode())] * 2
            # a wrong password is a 535: final, shown as failed, never retried
            monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
            clock.set(bj(8, 8, 5))
            await app.digest.tick()
            assert await deliver(app) == 0
            rows = [m for m in await outbox(app) if m.key.startswith("digest:2026-12-08:")]
            assert {m.status for m in rows} == {"dead"} and all("535" in m.last_error for m in rows)
            assert "wrong" not in "".join(m.last_error for m in rows)
        finally:
            await app.close()
    # without TLS the server refuses to talk: security none against it is not silently downgraded
    assert len(server.inbox.mails) == 2


async def test_an_unset_password_variable_waits_for_it(mail_app, smtp, tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_SMTP_PASSWORD_UNSET", raising=False)
    from monitor.config.settings import load_settings as load

    settings = load(write_config(tmp_path, smtp.port, username_env="TEST_SMTP_PASSWORD_UNSET",
                                 password_env="TEST_SMTP_PASSWORD_UNSET"))
    await mail_app.digest.tick()
    async with aiohttp.ClientSession() as session:
        assert await Deliverer(mail_app.store, mail_app.clock, settings, session, owner="t").deliver_due() == 0
    rows = await outbox(mail_app)
    assert {m.status for m in rows} == {"pending"} and all("TEST_SMTP_PASSWORD_UNSET" in m.last_error for m in rows)
    assert smtp.inbox.mails == []


# --------------------------------------------------------------------------- the schedule
async def test_the_job_queues_once_a_day_at_its_moment_and_catches_up_at_start(mail_app, smtp):
    app = mail_app
    clock = app.test_clock
    clock.set(bj(7, 7, 59))
    assert await app.digest.tick() == bj(7, 8)
    assert await outbox(app) == []  # not yet
    clock.set(bj(7, 8))
    await app.digest.tick()
    await app.digest.tick()
    assert len(await outbox(app)) == 2  # two recipients, once
    # a process started later that day (the first one died before sending): catches up, queues nothing twice
    fresh = job.DigestJob(app.store, clock, app.settings)
    clock.set(bj(7, 15))
    await fresh.tick()
    assert len(await outbox(app)) == 2
    # the next day at its moment
    clock.set(bj(8, 8, 1))
    await fresh.tick()
    assert sorted({m.key.split(":")[1] for m in await outbox(app)}) == ["2026-12-07", "2026-12-08"]
    async with app.store.read() as tx:
        audit = [e for e in await tx.audit.list(entity="digest") if e["action"] == "digest.queued"]
    assert [e["entity_id"] for e in audit] == ["2026-12-07", "2026-12-08"]  # the catch-up found it done
    assert sorted(audit[0]["detail"]["to"]) == ["leader@xs.gov.cn", "zhang@xs.gov.cn"]


async def test_serve_wakes_the_digest_by_cron_at_the_configured_beijing_time(mail_app):
    from monitor.web.server import start_scheduler, workers

    async with aiohttp.ClientSession() as session:
        assert mail_app.digest.run in workers(mail_app, session)
    scheduler = start_scheduler(mail_app)
    try:
        trigger = scheduler.get_job("daily-digest").trigger
        fields = {f.name: str(f) for f in trigger.fields}
        assert (fields["hour"], fields["minute"]) == ("8", "0") and str(trigger.timezone) == "Asia/Shanghai"
    finally:
        scheduler.shutdown(wait=False)


async def test_reminders_to_a_user_on_the_email_channel_arrive_as_plain_mail(tmp_path, db_url, smtp):
    path = write_config(tmp_path, smtp.port)
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["users"][1]["channels"] = ["mail"]  # the office leader gets the 0s and +1h steps by mail
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    clock = ManualClock(bj(6, 1))
    app = await make_app(path, db_url, clock)
    try:
        await app.pipeline.ingest([RawItem("hotline", "x", "化工厂爆炸", "马街街道化工厂爆炸造成12人死亡",
                                           occurred_at=clock.now())], "hotline")
        clock.advance(timedelta(hours=5, minutes=1))
        await app.escalator.sweep()
        await deliver(app)
    finally:
        await app.close()
    [mail] = [m for m in smtp.inbox.mails]
    assert mail["to"] == ["leader@xs.gov.cn"] and mail["message"].get_content_type() == "text/plain"
    assert "5小时内发布权威信息" in mail["message"].get_content() and "【舆情哨兵】" in str(mail["message"]["Subject"])


# --------------------------------------------------------------------------- the command
def yuqing(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, cwd=tmp,
                          timeout=180)


def test_digest_command_previews_and_sends(tmp_path):
    with Server() as server:
        cfg = str(write_config(tmp_path, server.port))
        db = f"sqlite:///{tmp_path / 'd.db'}"
        r = yuqing(tmp_path, "--config", cfg, "--db", db, "digest", "--date", "2026-12-07",
                   "--preview", str(tmp_path / "p.html"))
        assert r.returncode == 0, r.stderr
        html = (tmp_path / "p.html").read_text(encoding="utf-8")
        assert "data:image/png;base64," in html and "cid:" not in html and "西山区舆情日报" in html
        r = yuqing(tmp_path, "--config", cfg, "--db", db, "digest", "--date", "2026-12-07")
        assert r.returncode == 0 and "主题：【舆情日报】12月7日" in r.stdout and "七、近7日" in r.stdout
        r = yuqing(tmp_path, "--config", cfg, "--db", db, "digest", "--date", "2026-12-07", "--send")
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.count("已发送 (sent)") == 2
        r = yuqing(tmp_path, "--config", cfg, "--db", db, "digest", "--date", "2026-12-07", "--send")
        assert r.returncode == 0 and r.stdout.count("此前已发送") == 2
        assert len(server.inbox.mails) == 2
    # server gone: the mail stays queued and the command says so (exit 1)
    r = yuqing(tmp_path, "--config", cfg, "--db", db, "digest", "--date", "2026-12-08", "--send")
    assert r.returncode == 1 and r.stdout.count("已留在发件队列") == 2
    assert yuqing(tmp_path, "--config", cfg, "--db", db, "digest", "--date", "12/7").returncode == 2
    r = yuqing(tmp_path, "--db", db, "digest", "--send")  # no email channel
    assert r.returncode == 2 and "email" in r.stderr


def test_email_config_is_checked(tmp_path):
    from monitor.config.settings import ConfigError

    path = write_config(tmp_path, 25)
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["channels"][1]["to"] = ["office_leadr", "duty"]  # a typo; a user without email
    cfg["channels"][1].pop("host")
    cfg["digest"] = {"time": "8:00", "channels": ["dashboard"]}
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    text = "\n".join(err.value.lines)
    assert "channels[1]: kind email needs host" in text
    assert 'digest: time "8:00" is not HH:MM in Beijing time, e.g. 08:00' in text
    cfg["channels"][1]["host"] = "127.0.0.1"
    cfg["digest"]["time"] = "07:30"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    text = "\n".join(err.value.lines)
    assert 'channels[1].to[0]: "office_leadr" is no email address, user or role (did you mean "office_leader"?)' in text
    assert 'channels[1].to[1]: user "duty" has no email' in text
    assert 'digest.channels[0]: no email channel named "dashboard"' in text
    assert all(line.startswith(f"{path}:") for line in err.value.lines)
