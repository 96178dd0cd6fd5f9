"""What the Telegram bot says (pure: rows and `now` in, Telegram HTML out). Every scraped or configured text is
escaped here; lists stop before Telegram's 4096 UTF-16 units with a line that says how many were left out.
The evidence prompt's first line is the bot's own and carries what the reply needs (stateless: it survives
a restart); a title can never reach that line, because `clean()` keeps every text on one line."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime

from monitor.core.clock import fmt_delta, fmt_local
from monitor.core.model import Deadline, Incident, Severity
from responders.render import Card, Span, card, clean, fit, utf16_units

LIMIT = 4096
SEVERITIES = (Severity.EXTRAORDINARY, Severity.MAJOR, Severity.LARGER, Severity.GENERAL)
ROLE_NAMES = {"duty_officer": "值班员", "office_leader": "办公室负责人", "responsible": "责任单位联络员"}
ACTIONS = ("deadline.acknowledged", "evidence.recorded", "incident.reassigned", "alert.acknowledged")


def esc(value: object, cap: int = 300) -> str:
    text = clean(value)
    if len(text) > cap:
        text = text[: cap - 1] + "…"
    return html.escape(text, quote=False)


def lines_within(lines: list[str], limit: int = LIMIT) -> str:
    """Whole lines (each its own closed HTML) until the limit; then how many were left out."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        size = utf16_units(line) + 1
        if used + size > limit - 40:
            out.append(f"……另有 {len(lines) - i} 行未列出 ({len(lines) - i} more)")
            break
        out.append(line)
        used += size
    return "\n".join(out)


def countdown(d: Deadline, now: datetime) -> str:
    if d.state == "open":
        left = d.due_at - now
        state = f"剩余 {fmt_delta(left)}" if left.total_seconds() > 0 else f"已超期 {fmt_delta(-left)}"
        text = f"{state}（{fmt_local(d.due_at)} 到期）"
        return text + (f"，{esc(d.acked_by, 40)} 已确认收到" if d.acked_by else "")
    if d.state == "satisfied":
        return f"已完成（{fmt_local(d.closed_at)}）"
    return f"已取消（{esc(d.close_reason or '', 60)}）" if d.close_reason else "已取消"


def deadline_line(d: Deadline, incident: Incident | None, now: datetime, titles: dict[str, str]) -> str:
    head = f"#{d.incident_id} {esc(incident.title, 60)}" if incident else f"#{d.incident_id}"
    return f"• {head}｜{esc(d.title or titles.get(d.rule) or d.rule, 40)}｜{esc(d.department, 40)}｜{countdown(d, now)}"


# --------------------------------------------------------------------------- commands
def help_text(display: str) -> str:
    return "\n".join([
        f"您好，{esc(display, 40)}。舆情哨兵可在 Telegram 中查询和处理提醒：",
        "/status 当前状态：未关闭事件与期限",
        "/overdue 已超期的期限",
        "/incident 编号 — 事件详情与各期限倒计时",
        "/mine 本单位须回应的期限、点名您的期限",
        "/duty 当前与下一班值班人员",
        "提醒消息下的按钮：确认收到、登记证据（回复链接）、转办（选择部门）、详情。",
    ])


def refusal_text(user_id: int) -> str:
    return (f"抱歉，您尚未获授权使用舆情哨兵机器人。如需开通，请联系值班室管理员登记您的 Telegram 用户 ID："
            f"<code>{int(user_id)}</code>。(not authorised)")


def status_text(by_severity: dict[int, int], counts: dict[str, int], now: datetime) -> str:
    parts = " · ".join(f"{s.zh} {by_severity.get(int(s), 0)}" for s in SEVERITIES)
    return "\n".join([
        f"📊 <b>当前状态</b>（{fmt_local(now)} 北京时间）",
        f"未关闭事件 {sum(by_severity.values())} 件：{parts}",
        f"进行中期限 {counts.get('open', 0)} 项，其中已超期 {counts.get('overdue', 0)} 项",
    ])


def overdue_text(rows: list[tuple[Deadline, Incident | None]], now: datetime, titles: dict[str, str]) -> str:
    if not rows:
        return f"✅ 目前没有超期的期限（{fmt_local(now)}）。"
    head = f"⏰ <b>已超期期限 {len(rows)} 项</b>（{fmt_local(now)} 北京时间）"
    return lines_within([head] + [deadline_line(d, i, now, titles) for d, i in rows])


def incident_text(incident: Incident, deadlines: list[Deadline], now: datetime, url: str) -> str:
    lines = [f"<b>#{incident.id} {esc(incident.title, 300)}</b>",
             f"等级：{Severity(incident.severity).zh}｜状态：{esc(incident.status, 20)}",
             f"责任单位：{esc(incident.department, 60)}"]
    if incident.co_departments:
        lines.append(f"协办单位：{esc('、'.join(incident.co_departments), 200)}")
    if incident.status == "merged" and incident.merged_into:
        lines.append(f"已并入事件 #{int(incident.merged_into)}")
    lines.append("期限：" if deadlines else "期限：无")
    lines += [f"• {esc(d.title or d.rule, 60)}：{countdown(d, now)}" for d in deadlines]
    if url:
        lines.append(f'<a href="{html.escape(url, quote=True)}">打开事件页面</a>')
    return lines_within(lines)


def mine_text(display: str, department: str | None, rows: list[tuple[Deadline, Incident | None]], now: datetime,
              titles: dict[str, str]) -> str:
    whose = f"{esc(department, 40)}及点名{esc(display, 40)}" if department else f"点名{esc(display, 40)}"
    if not rows:
        return f"✅ 目前没有{whose}的进行中期限。"
    head = f"📋 <b>{whose}的进行中期限 {len(rows)} 项</b>"
    return lines_within([head] + [deadline_line(d, i, now, titles) for d, i in rows])


def duty_text(current: list[tuple[str, str, datetime]], upcoming: list[tuple[str, str, datetime, datetime]],
              standing: list[tuple[str, str]], now: datetime) -> str:
    def role(r: str) -> str:
        return esc(ROLE_NAMES.get(r, r), 30)

    lines = [f"👥 <b>值班安排</b>（{fmt_local(now)} 北京时间）", "当前在岗："]
    lines += [f"• {role(r)}：{esc(who, 40)}（至 {fmt_local(until)}）" for r, who, until in current] or ["• 值班表中无人在岗"]
    lines.append("下一班：")
    lines += [f"• {role(r)}：{esc(who, 40)}（{fmt_local(start)} 至 {fmt_local(end)}）"
              for r, who, start, end in upcoming] or ["• 值班表中暂无后续排班"]
    if standing:
        lines.append("常设岗位：")
        lines += [f"• {role(r)}：{esc(who, 40)}" for r, who in standing]
    return lines_within(lines)


# --------------------------------------------------------------------------- the alert, after an action
def action_text(entry: dict, displays: dict[str, str], titles: dict[str, str]) -> str:
    detail = entry.get("detail") or {}
    if entry["action"] == "deadline.acknowledged":
        rule = detail.get("rule", "")
        what = f"确认收到「{titles.get(rule, rule)}」"
    elif entry["action"] == "evidence.recorded":
        closes = "、".join(titles.get(r, r) for r in detail.get("closes") or []) or "无"
        what = f"登记证据 {detail.get('url') or detail.get('kind') or ''}（关闭期限：{closes}）"
    elif entry["action"] == "incident.reassigned":
        what = f"转办：{detail.get('from') or '—'} → {detail.get('to')}"
    else:
        what = "确认收到提醒"
    return f"{displays.get(entry['actor'], entry['actor'])} 于 {fmt_local(entry['at'])} {what}"


def handled_card(payload: dict, actions: list[str], now: datetime, base_url: str) -> str:
    """The alert as it reads after people acted on it: the incident's current state (department, countdown)
    and who did what when, Beijing time; within 4096 units (the title gives way first)."""
    c = card(payload, now, base_url)
    done = tuple((Span("✅ ", "bold"), Span(a)) for a in actions)
    out, _ = fit(Card(c.title, c.lines + done, c.mentions), "telegram")
    return str(out)


def appended(original_html: str, action: str) -> str | None:
    """An alert's own text (as PTB rebuilds its HTML) with one more line; None when that would not fit."""
    out = f"{original_html}\n✅ {html.escape(action, quote=False)}"
    return out if utf16_units(out) <= LIMIT else None


def payload_now(incident: Incident, deadline: Deadline | None, titles: dict[str, str]) -> dict:
    """An alert's payload rebuilt from the store (the shape of monitor/deadlines/notices.py)."""
    payload = {"incident_id": incident.id, "title": incident.title, "severity": Severity(incident.severity).zh,
               "department": deadline.department if deadline else incident.department}
    if deadline is None:
        payload["text"] = "事件提醒（无期限）"
    elif deadline.state == "open":
        payload |= {"rule": deadline.rule, "rule_title": deadline.title or titles.get(deadline.rule, deadline.rule),
                    "due_at": deadline.due_at.isoformat()}
    else:
        state = "已完成" if deadline.state == "satisfied" else "已取消"
        payload["text"] = f"期限「{deadline.title or deadline.rule}」{state}（{fmt_local(deadline.closed_at)}）"
    return payload


# --------------------------------------------------------------------------- the evidence prompt
@dataclass(frozen=True)
class Prompt:
    incident_id: int
    rule: str
    message_id: int  # the alert to edit once the evidence is recorded (0: none)


_PROMPT = re.compile(r"^📎 登记证据｜事件 #(\d+)｜期限 ([a-z0-9_]+)｜原消息 (\d+)$")
_URL = re.compile(r"https?://[^\s<>\"'，。；）)]+")


def prompt_text(p: Prompt, user_id: int, display: str, title: str, rule_title: str) -> str:
    return "\n".join([
        f"📎 登记证据｜事件 #{p.incident_id}｜期限 {p.rule}｜原消息 {p.message_id}",
        f'<a href="tg://user?id={int(user_id)}">{esc(display, 40)}</a>，请直接回复本消息，发送已发布的链接'
        f"（http:// 或 https:// 开头），链接后可附说明。",
        f"事件：{esc(title, 200)}",
        f"期限：{esc(rule_title, 60)}",
    ])


def parse_prompt(text: str | None) -> Prompt | None:
    m = _PROMPT.match((text or "").split("\n", 1)[0])
    return Prompt(int(m.group(1)), m.group(2), int(m.group(3))) if m else None


def split_evidence(text: str) -> tuple[str, str]:
    """The first http(s) link in a reply, and the rest of it as the note."""
    m = _URL.search(text or "")
    if not m:
        return "", clean(text)
    return m.group(0), clean((text[: m.start()] + " " + text[m.end():]))
