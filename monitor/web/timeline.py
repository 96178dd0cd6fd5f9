"""An incident's audit entries as the lines a duty officer reads (pure: entries, rule titles and people in; no I/O).

"10:13 区应急局 张三 确认收到（5小时内发布权威信息）": Beijing time, who (department and name for a person, what part
of the system otherwise) and what happened in Chinese words — never an event name or JSON. Every action the code
writes to the audit log has its phrase here (tests/test_incident_page.py checks that against the source). The
text is plain: the template escapes it like any scraped text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Mapping

from monitor.core.clock import fmt_local, local
from monitor.core.model import Severity
from monitor.deadlines.rules import EVIDENCE_NAMES

CAP = 200  # characters of a free text (a reply, a note's line, a reason) quoted in a line
_WEEKDAYS = "一二三四五六日"
_SYSTEM = {"pipeline": "系统", "heat": "系统（热度）", "facts": "系统（综合研判）", "update": "系统（内容更新）",
           "calendar": "系统（节假日安排）", "escalator": "系统（提醒）", "outbox": "系统（消息发送）",
           "digest": "系统（舆情日报）"}
_FIELDS = {"title": "标题", "body": "正文", "status": "办理状态", "handler": "承办单位", "reply": "答复",
           "replied_at": "答复时间", "likes": "点赞数", "location": "地址"}
_CORRECTED = {"domain": "领域", "department": "责任单位", "co_departments": "协办单位", "severity": "等级",
              "response_type": "回应类型"}
_ROLES = {"viewer": "查看员", "duty_officer": "值班员", "liaison": "联络员", "admin": "管理员"}


@dataclass(frozen=True)
class Person:
    """How an account or a configured user is named in the timeline."""

    display: str
    department: str | None = None
    role: str | None = None


@dataclass(slots=True)
class Line:
    at: datetime
    day: str  # 2026-11-23（星期一）, Beijing time
    time: str  # 10:13
    who: str  # 区应急局 张三 / 系统（提醒）
    text: str  # 确认收到（5小时内发布权威信息）
    kind: str  # person | system | close | note: how the page marks it
    link: str = ""  # an http(s) URL the line refers to (evidence, a reply): the page may make it a link

    def __str__(self) -> str:
        return f"{self.time} {self.who} {self.text}"


def lines(entries: Iterable[dict], titles: Mapping[str, str], people: Mapping[str, Person]) -> list[Line]:
    """Audit entries (at, actor, action, entity_id, detail), oldest first, as timeline lines."""
    out = []
    days: dict = {}  # date → its label, made once per day
    names: dict[str, str] = {}  # actor → how the line names them, made once per actor
    for e in entries:
        detail = e.get("detail") if isinstance(e.get("detail"), dict) else {}
        action, actor = e.get("action", ""), e.get("actor", "")
        text = PHRASES.get(action, _other)(_Ctx(detail, titles, str(e.get("entity_id", ""))))
        at = local(e["at"])
        day = at.date()
        if day not in days:
            days[day] = f"{day:%Y-%m-%d}（星期{_WEEKDAYS[day.weekday()]}）"
        if actor not in names:
            names[actor] = who(actor, people)
        kind = ("close" if action in ("incident.closed", "incident.reopened") else
                "note" if action == "incident.noted" else "system" if _is_system(actor) else "person")
        out.append(Line(e["at"], days[day], f"{at.hour:02d}:{at.minute:02d}", names[actor], text, kind,
                        _link(detail)))
    return out


def by_day(timeline: list[Line]) -> list[tuple[str, list[Line]]]:
    """Lines grouped under their Beijing day, in order."""
    days: list[tuple[str, list[Line]]] = []
    for line in timeline:
        if not days or days[-1][0] != line.day:
            days.append((line.day, []))
        days[-1][1].append(line)
    return days


def who(actor: str, people: Mapping[str, Person]) -> str:
    """A person as 部门 姓名 (or 值班员 姓名 without a department); the system by the part that acted."""
    if actor.startswith("system:source:"):
        return f"数据源 {actor[len('system:source:'):]}"
    if actor == "system" or actor.startswith("system:"):
        return _SYSTEM.get(actor.partition(":")[2], "系统")
    if actor == "cli":
        return "命令行"
    if actor == "api":
        return "接口脚本"
    if actor.startswith("token:"):
        return f"接口令牌 {actor[6:]}"
    if actor.startswith("telegram:"):
        return f"Telegram 用户 {actor[9:]}"
    p = people.get(actor)
    if p is None:
        return actor or "—"
    where = p.department or _ROLES.get(p.role or "", "")
    return f"{where} {p.display or actor}" if where else (p.display or actor)


def _is_system(actor: str) -> bool:
    return actor == "system" or actor.startswith("system:")


class _Ctx:
    """One entry's detail with the helpers every phrase uses."""

    def __init__(self, detail: dict, titles: Mapping[str, str], entity_id: str) -> None:
        self.d, self.titles, self.entity_id = detail, titles, entity_id

    def get(self, key: str, default=""):
        value = self.d.get(key, default)
        return default if value is None else value

    def title(self, rule: object) -> str:
        rule = str(rule or "")
        return self.titles.get(rule) or rule or "—"

    def rules(self, key: str) -> str:
        return "".join(f"「{self.title(r)}」" for r in self.get(key, []) or [])

    def text(self, key: str) -> str:
        return _cap(str(self.get(key, "")))


def _cap(text: str, limit: int = CAP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(value: object) -> str:
    if isinstance(value, datetime):
        return fmt_local(value)
    try:
        return fmt_local(datetime.fromisoformat(str(value)))
    except ValueError:
        return "—"


def _severity(value: object) -> str:
    try:
        return Severity.parse(value).zh
    except (ValueError, KeyError):
        return str(value)


def _ids(values) -> str:
    return "、".join(f"#{v}" for v in values or [])


def _link(detail: dict) -> str:
    for key in ("url", "reply"):
        value = detail.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
    return ""


def _step(key: object) -> str:
    """An escalation position key ("2", "3r4") as 第3级 / 第4级第4次重复."""
    step, _, repeat = str(key).partition("r")
    shown = f"第{int(step) + 1}级" if step.isdigit() else "提醒"
    return shown + (f"第{repeat}次重复" if repeat.isdigit() else "")


def _moved(n: object) -> str:
    return f"；{n} 个进行中的期限随之移交" if n else ""


def _opened_cancelled(c: _Ctx) -> str:
    out = ""
    if c.get("opened"):
        out += f"；开启期限{c.rules('opened')}"
    if c.get("cancelled"):
        out += f"；取消期限{c.rules('cancelled')}"
    return out


def _reason(c: _Ctx, label: str = "理由") -> str:
    return f"（{label}：{c.text('reason')}）" if c.get("reason") else ""


# --------------------------------------------------------------------------- one phrase per audit action
def _evidence(c: _Ctx) -> str:
    kind = str(c.get("kind"))
    name = EVIDENCE_NAMES.get(kind) or ("承诺办结" if kind.startswith("promise_") else kind or "证据")
    out = f"登记证据（{name}）"
    if c.get("closes"):
        out += f"，完成期限{c.rules('closes')}"
        if c.get("late"):
            out += f"，其中逾期：{c.rules('late')}"
    else:
        out += "，未完成任何期限"
    return out


def _corrected(c: _Ctx) -> str:
    parts = []
    for key, label in _CORRECTED.items():
        pair = c.get(key)
        if isinstance(pair, list) and len(pair) == 2:
            before, after = (_severity(v) if key == "severity" else _cap(str(v or "—"), 60) for v in pair)
            parts.append(f"{label} {before} → {after}")
    return ("更正研判：" + ("；".join(parts) or "无变化") + _reason(c) + _moved(c.get("deadlines_moved"))
            + _opened_cancelled(c))


def _split(c: _Ctx) -> str:
    if str(c.get("from")) == c.entity_id:
        return f"拆分：留言 {_ids(c.get('items'))} 移入新事件 #{c.get('to')}"
    return f"由事件 #{c.get('from')} 拆分而来（留言 {_ids(c.get('items'))}）"


def _merge(c: _Ctx) -> str:
    reason = _reason(c)
    if str(c.get("into")) == c.entity_id:
        return f"合并：事件 {_ids(c.get('merged'))} 并入本事件，移入留言 {c.get('items_moved', 0)} 条{reason}"
    return f"并入事件 #{c.get('into')}{reason}"


def _updated(c: _Ctx) -> str:
    changes = c.get("changes", {}) or {}
    named = [_FIELDS.get(k, k) for k in changes]
    out = f"留言 {_cap(str(c.get('external_id')), 60)} 更新：{'、'.join(named) or '内容'}"
    status = changes.get("status")
    if isinstance(status, list) and len(status) == 2:
        out += f"（办理状态 {_cap(str(status[0] or '—'), 20)} → {_cap(str(status[1] or '—'), 20)}）"
    if isinstance(c.get("department"), list):
        out += f"；责任单位 {c.get('department')[0]} → {c.get('department')[1]}"
    if isinstance(c.get("severity"), list):
        out += f"；等级 {c.get('severity')[0]} → {c.get('severity')[1]}"
    return out + _moved(c.get("deadlines_moved")) + _opened_cancelled(c)


def _fired(c: _Ctx) -> str:
    out = f"发出提醒：期限「{c.title(c.get('rule'))}」{_step(c.get('step'))}"
    if c.get("missed"):
        out += f"（服务中断期间错过 {c.get('missed')} 次，补发一次）"
    to = [str(t) for t in c.get("to", []) or []]
    return out + (f"，发往 {_cap('、'.join(to), 120)}" if to else "")


def _closed(c: _Ctx) -> str:
    how = "期限均已完成且已有答复，自动办结" if c.get("auto") else "办结"
    return f"{how}（答复：{c.text('reply') or '—'}）"


def _other(c: _Ctx) -> str:
    return "其他操作（详见审计日志）"


Phrase = Callable[[_Ctx], str]
PHRASES: dict[str, Phrase] = {
    # deadlines
    "deadline.opened": lambda c: f"开启期限「{c.title(c.get('rule'))}」，{_when(c.get('due_at'))} 到期",
    "deadline.acknowledged": lambda c: f"确认收到（{c.title(c.get('rule'))}）",
    "deadline.replanned": lambda c: (f"期限「{c.title(c.get('rule'))}」按{c.get('year')}年节假日安排重算：到期由 "
                                     f"{_when(c.get('from'))} 改为 {_when(c.get('to'))}"),
    "evidence.recorded": _evidence,
    "promise.made": lambda c: f"登记承诺「{c.text('text')}」，{_when(c.get('due_at'))} 前办结",
    "promise.kept": lambda c: (f"承诺（台账 #{c.get('ledger_id')}）已办结（{'按时' if c.get('on_time') else '逾期'}）："
                               f"{c.text('result')}"),
    # the incident
    "incident.reassigned": lambda c: (f"改派：{c.get('from') or '—'} → {c.get('to')}{_reason(c)}"
                                      f"{_moved(c.get('deadlines_moved'))}"),
    "incident.regraded": lambda c: (f"等级由{c.get('from')}调整为{c.get('to')}{_reason(c)}" + _opened_cancelled(c)),
    "incident.triage": lambda c: f"转人工研判：{c.text('reason')}",
    "triage.accepted": lambda c: (f"确认研判结果（领域 {c.get('domain') or '—'}，责任单位 {c.get('department') or '—'}，"
                                  f"等级 {_severity(c.get('severity'))}）"),
    "triage.corrected": _corrected,
    "incident.split": _split,
    "incident.merge": _merge,
    "incident.noted": lambda c: f"备注：{c.text('text')}",
    "incident.closed": _closed,
    "incident.reopened": lambda c: f"重新打开{_reason(c)}",
    # its reports, as the sources deliver them
    "item.replied": lambda c: f"来源答复了留言 {_cap(str(c.get('external_id')), 60)}：{c.text('reply')}",
    "item.updated": _updated,
    # reminders
    "escalation.fired": _fired,
    "escalation.suppressed": lambda c: (f"期限「{c.title(c.get('rule'))}」{_step(c.get('step'))}的重复提醒未发出"
                                        f"（{c.get('acked_by') or '有人'}已确认收到）"),
    "delivery.dead": lambda c: f"提醒发送失败，已放弃重试：{c.text('error')}",
    "alert.acknowledged": lambda c: "确认收到提醒" + ("（经 Telegram）" if c.get("via") == "telegram" else ""),
    # not about an incident (accounts, tokens, the digest, the roster): named all the same
    "account.signed_in": lambda c: "登录值班台",
    "account.signed_out": lambda c: "退出登录",
    "account.created": lambda c: "创建账号",
    "account.password_changed": lambda c: "修改密码",
    "account.disabled": lambda c: "停用账号",
    "account.enabled": lambda c: "启用账号",
    "token.created": lambda c: "创建接口令牌",
    "token.revoked": lambda c: "吊销接口令牌",
    "digest.queued": lambda c: "舆情日报已排队发送",
    "digest.failed": lambda c: f"舆情日报发送失败：{c.text('error')}",
    "telegram.refused": lambda c: "拒绝了未授权的 Telegram 操作",
    "roster.shift_added": lambda c: f"新增值班：{c.get('user')}，{_when(c.get('starts_at'))} 至 {_when(c.get('ends_at'))}",
    "roster.shift_removed": lambda c: f"删除值班：{c.get('user')}，{_when(c.get('starts_at'))} 至 {_when(c.get('ends_at'))}",
}
# what an incident's timeline shows (the store is asked for these, newest first, up to a bound)
INCIDENT_ACTIONS = tuple(a for a in PHRASES if not a.startswith(("account.", "token.", "digest.", "telegram.",
                                                                   "roster.")))
