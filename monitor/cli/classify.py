"""yuqing classify [--text TEXT | stdin] [--title TITLE] [--json]: why did this go there?"""

from __future__ import annotations

import json
import sys

from monitor.cli.common import InputError, load_config


def register(sub) -> None:
    p = sub.add_parser("classify", help="研判一条留言：领域、部门、等级、敏感领域、回应类型及理由 / explain one message",
                       description="对一条留言给出领域、责任部门（牵头/协办）、层级、事件等级、敏感领域、留言类别、"
                       "建议回应类型、置信度和全部理由。文本来自 --text 或标准输入。\n"
                       "Domain, department(s), level, severity, sensitive areas, response type, confidence "
                       "and the reasons for each, for text from --text or stdin.")
    p.add_argument("--text", default=None, help="留言内容 / message text (default: read stdin)")
    p.add_argument("--title", default="", help="留言标题 / title (policy documents are recognised by it)")
    p.add_argument("--json", action="store_true", help="输出 JSON / print JSON")
    p.set_defaults(func=classify)


def build_understander(settings):
    from monitor.understanding.jurisdiction import load_jurisdiction
    from monitor.understanding.classifier.domain import model_path
    from monitor.understanding.understander import Understander

    jurisdiction = load_jurisdiction(settings.jurisdiction_path)
    return Understander.load(settings.lexicons_path, jurisdiction, settings.classifier.min_confidence,
                             model_path(settings.data_path))


def classify(args) -> int:
    text = args.text if args.text is not None else sys.stdin.read()
    if not (text.strip() or args.title.strip()):
        raise InputError("没有文本：用 --text 或标准输入 (no text: use --text or stdin)")
    settings = load_config(args)
    understander = build_understander(settings)
    u = understander.understand(args.title, text)
    if args.json:
        print(json.dumps(as_json(u), ensure_ascii=False))
        return 0
    _print(u)
    return 0


def as_json(u) -> dict:
    return {
        "domain": u.domain, "confidence": u.domain_confidence, "department": u.department,
        "co_departments": u.co_departments, "region": u.region, "level": u.level, "route_rule": u.route_rule,
        "severity": u.severity.zh, "severity_level": u.severity.roman, "facts": u.facts, "kind": u.kind,
        "sensitive_areas": u.sensitive_areas, "topics": u.topics, "response_type": u.response_type,
        "needs_triage": u.needs_triage, "triage_reason": u.triage_reason,
        "reasons": [r.as_dict() for r in u.reasons],
    }


_STAGES = {"classify": "领域", "route": "分办", "severity": "分级", "response": "回应", "triage": "研判"}


def _print(u) -> None:
    from rich.table import Table

    from monitor.cli.render import console

    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("领域 domain", f"{u.domain}（置信度 {u.domain_confidence:.2f}）")
    t.add_row("牵头部门 lead", u.department)
    t.add_row("协办 co-handlers", "、".join(u.co_departments) or "—")
    t.add_row("属地 region", f"{u.region}（{u.level or '—'}，规则 {u.route_rule or '—'}）")
    t.add_row("等级 severity", f"{u.severity.zh}（{u.severity.roman}级）")
    t.add_row("敏感领域 areas", "、".join(u.sensitive_areas) or "—")
    t.add_row("类别 topics", "、".join(u.topics) or "—")
    t.add_row("回应类型 response", u.response_type)
    t.add_row("人工研判 triage", u.triage_reason or "否 no")
    console.print(t)
    console.print("[bold]理由 reasons[/bold]")
    for r in u.reasons:
        console.print(f"  [{_STAGES.get(r.stage, r.stage)}] {r.text}", highlight=False)
