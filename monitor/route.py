"""Routing to the responsible department (pure): 属地管理、分级负责、谁主管谁负责.

- keywords that name a department's business and the classified domain both vote; the strongest vote is
  the lead department (牵头部门), others that also matched are co-handlers;
- the place named decides the local office: one place → that place's office co-handles; several places
  of ours → the matter goes up to the jurisdiction level (still ours); nothing matched → the government office.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.jurisdiction import Jurisdiction
from monitor.model import Reason


@dataclass
class RouteDecision:
    department: str
    co_departments: list[str] = field(default_factory=list)
    region: str = ""
    reasons: list[Reason] = field(default_factory=list)
    ambiguous: bool = False


class Router:
    def __init__(self, jurisdiction: Jurisdiction) -> None:
        self.j = jurisdiction
        self._places = [(alias, p) for p in jurisdiction.places for alias in [p.name, *p.aliases]]

    def route(self, text: str, domain: str) -> RouteDecision:
        votes: dict[str, float] = {}
        why: dict[str, list[str]] = {}
        for dept in self.j.departments:
            hits = [k for k in dept.keywords if k in text]
            if hits:
                votes[dept.name] = votes.get(dept.name, 0) + len(hits)
                why.setdefault(dept.name, []).append("关键词 " + "、".join(hits[:4]))
            if domain in dept.domains:
                votes[dept.name] = votes.get(dept.name, 0) + 1.5
                why.setdefault(dept.name, []).append(f"主管领域「{domain}」")
        places = sorted({p.name: p for alias, p in self._places if alias in text}.values(), key=lambda p: p.name)
        region = self.j.name
        reasons: list[Reason] = []
        co: list[str] = []
        if len(places) == 1:
            region = places[0].name
            if places[0].office:
                co.append(places[0].office)
            reasons.append(Reason("route", f"属地：事发地「{places[0].name}」"))
        elif len(places) > 1:
            names = "、".join(p.name for p in places)
            reasons.append(Reason("route", f"跨区域（{names}）：由{self.j.name}主管部门负责"))
        if not votes:
            reasons.append(Reason("route", f"未匹配主管部门：交{self.j.office}研判分办"))
            return RouteDecision(self.j.office, co, region, reasons, ambiguous=True)
        ranked = sorted(votes, key=lambda d: (-votes[d], d))
        lead = ranked[0]
        reasons.insert(0, Reason("route", f"牵头部门「{lead}」：" + "；".join(why[lead])))
        others = [d for d in ranked[1:] if votes[d] >= 1]
        if others:
            reasons.append(Reason("route", "协办：" + "、".join(others)))
        ambiguous = len(ranked) > 1 and votes[ranked[1]] == votes[lead]
        return RouteDecision(lead, others + co, region, reasons, ambiguous)
