"""yuqing digest [--date D] [--preview FILE.html] [--send] — the daily digest mail (舆情日报)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from monitor.cli.common import InputError, check_writable, load_config, run, write_output


def register(sub) -> None:
    p = sub.add_parser("digest", help="舆情日报：预览或发送 / the daily digest mail",
                       description="生成某日的舆情日报（默认今天，统计截至 digest.time，北京时间）：超时期限、新增事件、"
                       "回应期限、到期承诺、热点、待研判、近7日走势。不加参数时打印纯文本；--preview 写出将要发送的 HTML"
                       "（图片内嵌，供发送前检查）；--send 经发件队列发给 email 渠道的收件人（同一日期、同一收件人只发一次）。\n"
                       "The digest of a date (default today, as of digest.time, Beijing): prints the text part; "
                       "--preview writes the HTML that would be sent (images inlined); --send queues and sends it to "
                       "the email channels' recipients (once per date and recipient).")
    p.add_argument("--date", default=None, help="日报日期 YYYY-MM-DD（默认今天）/ the digest's date (default today)")
    p.add_argument("--preview", default=None, metavar="FILE.html", help="写出 HTML 预览 / write the HTML preview")
    p.add_argument("--send", action="store_true", help="发送 / send it now through the outbox")
    p.set_defaults(func=lambda a: run(_digest(a)))


def parse_day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--date {text!r}: 不是有效日期，请写成 2026-12-07 (use YYYY-MM-DD)") from None


async def _digest(args) -> int:
    from monitor.app import build
    from monitor.reports import job
    from monitor.reports.fonts import FontMissing

    settings = load_config(args)
    day = parse_day(args.date)
    preview = Path(args.preview) if args.preview else None
    if preview is not None:
        check_writable(preview)
    if args.send and not job.digest_channels(settings):
        raise InputError("配置中没有接收日报的 email 渠道 (no email channel for the digest): 在 channels 中加入 "
                         "{name, kind: email, host, port, security, from, to: [...]}")
    try:
        job.chart_font(settings)  # before the database: a missing font costs nothing
    except FontMissing as exc:
        raise InputError(str(exc)) from None
    app = await build(settings, args.db)
    try:
        built, rendered = await job.prepare(app.store, settings, app.clock.now(), day,
                                            app.digest.organisation if app.digest else "",
                                            app.digest.own_names if app.digest else ())
        if preview is not None:
            write_output(preview, lambda path: path.write_text(rendered.preview_html(), encoding="utf-8"))
            print(f"已写入预览 (preview written) → {preview}")
        if not args.send:
            if preview is None:
                print(f"主题：{rendered.subject}\n")
                print(rendered.text, end="")
            return 0
        return await _send(app, built.day, rendered)
    finally:
        await app.close()


async def _send(app, day: date, rendered) -> int:
    import aiohttp

    from monitor.core.clock import fmt_local
    from monitor.reports import job
    from responders.outbox import Deliverer

    queued, unreachable = await job.enqueue(app.store, app.settings, app.clock, day, rendered)
    for name in unreachable:
        print(f"没有邮件地址，未发送 (no email address): {name}")
    if not queued:
        raise InputError("日报没有收件人 (the digest has no recipient): 检查 email 渠道的 to")
    async with aiohttp.ClientSession() as session:
        await Deliverer(app.store, app.clock, app.settings, session, owner=f"{job.ACTOR}:cli").deliver_keys(
            [q.key for q in queued])
    async with app.store.read() as tx:
        rows = {m.key: m for m in await tx.reports.outbox_by_keys([q.key for q in queued])}
    failed = 0
    for q in queued:
        m = rows[q.key]
        who = q.recipient.display
        if m.status == "sent":
            print(f"{'已发送 (sent)' if q.new else '此前已发送，不再重复 (already sent)'}: {who}")
        elif m.status == "dead":
            failed += 1
            print(f"发送失败 (failed): {who}: {m.last_error}")
        else:
            failed += 1
            print(f"暂未送达，已留在发件队列，将于 {fmt_local(m.next_attempt_at)} 起由 yuqing serve 重试 "
                  f"(not delivered yet, will retry): {who}: {m.last_error or '等待发送'}")
    return 1 if failed else 0
