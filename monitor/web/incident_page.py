"""The incident page (/incidents/{id}): every report from every source with its original link and why it was
grouped, the reasons for domain, department and severity, the deadlines with their evidence, a readable timeline
(monitor/web/timeline.py) and the actions (static/incident.js calls the JSON API with the session's CSRF token).
Who may see it is settled by the middleware (a liaison: its own department only, monitor/web/security.py);
scraped text is escaped by the templates' autoescape, and only http(s) links are made clickable."""

from __future__ import annotations

from aiohttp import web

from monitor.core.clock import fmt_delta, fmt_local
from monitor.core.model import Severity
from monitor.deadlines.closing import REPLY, open_deadlines, reply_of_items
from monitor.deadlines.rules import EVIDENCE_NAMES, known_rules
from monitor.understanding.names import department_names
from monitor.web import timeline
from monitor.web.auth import APP_KEY
from monitor.web.inputs import BadInput, row_id
from monitor.web.pages import render, time_used

ITEMS_SHOWN = 2000  # reports read for the page (an event past this is read through the API)
ITEMS_PAGE = 100  # reports rendered per page (?items=N pages on): 500 of them were most of the page's time
TIMELINE_SHOWN = 200  # the latest timeline lines (the API and the audit log keep the rest)
STATES = {"open": "进行中", "satisfied": "已完成", "cancelled": "已取消"}
STATUSES = {"open": "处理中", "closed": "已办结", "merged": "已合并"}
STAGES = {"classify": "领域", "route": "责任单位", "severity": "等级", "response": "回应类型", "dedupe": "归并",
          "deadline": "期限", "triage": "待研判", "update": "内容更新"}
LINK_KEYS = ("url", "link", "链接", "原文链接", "网址")  # where sources keep a report's original address
# how a report came to join the incident, by the reason the pipeline (or a person) recorded on it
JOINS = (("内容相同", "内容相同"), ("相似", "文字相似"), ("同一事件", "同一事件的后续报告"), ("人工合并", "人工合并"),
         ("人工拆分", "人工拆分"))


async def page(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:  # an id past the database's integer range is no incident either (and no driver error)
        incident_id = row_id(request.match_info["id"])
    except BadInput:
        raise web.HTTPNotFound(text="没有这个事件 (no such incident)") from None
    part = request.query.get("items", "1")
    part = int(part) if part.isdigit() and 0 < len(part) < 6 and int(part) > 0 else 1
    async with app.store.read() as tx:
        incident = await tx.incidents.get(incident_id)
        if incident is None:
            raise web.HTTPNotFound(text="没有这个事件 (no such incident)")
        items = await tx.items.for_incident(incident_id, limit=ITEMS_SHOWN)
        deadlines = await tx.deadlines.for_incident(incident_id)
        evidence = await tx.deadlines.evidence_for(incident_id)
        entries = await tx.audit.latest("incident", incident_id, timeline.INCIDENT_ACTIONS, TIMELINE_SHOWN)
        accounts = {}
        for name in {e["actor"] for e in entries if not e["actor"].startswith("system")}:
            if (account := await tx.accounts.get(name)) is not None:
                accounts[name] = account
    now = app.clock.now()
    titles = dict(known_rules(app.settings.rules, deadlines))
    lines = timeline.lines(entries, titles, _people(app.settings.users, accounts))
    by_id = {e["id"]: e for e in evidence}
    blocking = open_deadlines(deadlines)
    pages = max(1, -(-len(items) // ITEMS_PAGE))
    part = min(part, pages)
    shown = items[(part - 1) * ITEMS_PAGE:part * ITEMS_PAGE]
    return render("incident.html", request, nav="now", incident=incident, now=now,
                  status_zh=STATUSES.get(incident.status, incident.status),
                  items=[_item(i) for i in shown], more_items=max(0, incident.item_count - len(items)),
                  item_pages=_item_pages(incident.id, part, pages, len(items)),
                  first_item=(part - 1) * ITEMS_PAGE + 1, item_total=len(items),
                  joins=joins(items), reasons=[(STAGES.get(r.get("stage"), r.get("stage") or ""), r.get("text", ""))
                                              for r in incident.reasons or []],
                  deadlines=[_deadline(d, by_id.get(d.evidence_id), now) for d in deadlines],
                  open_rules=[(d.rule, d.title or d.rule) for d in blocking],
                  evidence=[_evidence(e) for e in evidence], days=timeline.by_day(lines),
                  timeline_cut=len(entries) >= TIMELINE_SHOWN,
                  reply_found=None if incident.status != "open" or blocking else _reply_found(evidence, items),
                  reply_link=(incident.reply or "").lower().startswith(("http://", "https://")),
                  severities=[(int(s), f"{s.zh}（{s.roman}级）") for s in sorted(Severity, reverse=True)],
                  departments=_departments(app.jurisdiction))


def _item_pages(incident_id: int, part: int, pages: int, total: int) -> list[tuple[str, str | None]]:
    """The links to the other pages of reports: (label, href or None for the page shown); none for one page."""
    if pages <= 1:
        return []
    out = []
    for n in range(1, pages + 1):
        first, last = (n - 1) * ITEMS_PAGE + 1, min(total, n * ITEMS_PAGE)
        out.append((f"第 {first}–{last} 条", None if n == part else f"/incidents/{incident_id}?items={n}#items"))
    return out


def joins(items: list[dict]) -> list[tuple[str, int]]:
    """How the reports came together: (how, count), e.g. [("首条留言", 1), ("文字相似", 3)]."""
    counts: dict[str, int] = {}
    for it in items:
        reason = it.get("group_reason") or ""
        how = next((label for key, label in JOINS if key in reason), "其他依据" if reason else "首条留言")
        counts[how] = counts.get(how, 0) + 1
    return list(counts.items())


def original_link(raw) -> tuple[str, bool]:
    """A report's original address as its source gave it, and whether it may be a link (http/https only:
    a `javascript:` or `data:` address from a hostile page is shown as text)."""
    if not isinstance(raw, dict):
        return "", False
    for key in LINK_KEYS:
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            value = value.strip()
            return value, value.lower().startswith(("http://", "https://"))
    return "", False


def _reply_found(evidence: list[dict], items: list[dict]) -> str | None:
    """What a close would take as the reply, shown beside the close form (monitor/deadlines/closing.py)."""
    recorded = [e for e in evidence if e["kind"] == REPLY]
    if recorded:
        return f"已登记答复 {recorded[-1]['url'] or recorded[-1]['note']}"
    return reply_of_items(items)


def _item(it: dict) -> dict:
    link, clickable = original_link(it.get("raw"))
    return {**it, "link": link, "clickable": clickable}


def _deadline(d, proof: dict | None, now) -> dict:
    late = d.closed_at is not None and d.closed_at > d.due_at if d.state == "satisfied" else None
    return {"d": d, "state_zh": STATES.get(d.state, d.state), "due": fmt_local(d.due_at),
            "left": fmt_delta(d.due_at - now) if d.state == "open" else "", "overdue": d.state == "open" and d.due_at <= now,
            "used": time_used(d.starts_at, d.due_at, now) if d.state == "open" else None, "late": late,
            "evidence": _evidence(proof) if proof else None}


def _evidence(e: dict) -> dict:
    kind = e["kind"]
    url = e.get("url") or ""
    return {**e, "kind_zh": EVIDENCE_NAMES.get(kind) or ("承诺办结" if kind.startswith("promise_") else kind),
            "clickable": url.lower().startswith(("http://", "https://"))}


def _people(users, accounts: dict[str, dict]) -> dict[str, timeline.Person]:
    out = {u.name: timeline.Person(u.display or u.name, u.department) for u in users}
    for name, a in accounts.items():
        known = out.get(name)
        out[name] = timeline.Person(known.display if known else name, a.get("department") or
                                    (known.department if known else None), a.get("role"))
    return out


_DEPARTMENTS: dict[int, list[str]] = {}


def _departments(jurisdiction) -> list[str]:
    """The names a reassignment accepts (for the form's suggestions), computed once per jurisdiction."""
    key = id(jurisdiction)
    if key not in _DEPARTMENTS:
        _DEPARTMENTS[key] = department_names(jurisdiction)
    return _DEPARTMENTS[key]
