"""Routing to the responsible department (pure): 属地管理、分级负责、谁主管谁负责 (云政办发〔2017〕22号).

Which department: each department of the jurisdiction collects votes — named in the text, its keywords
and 26 试点领域 terms, the classified domain, the sensitive areas and taxonomy classes it leads. The
strongest is the lead department (牵头部门); others with a fair share of the votes co-handle.

Which level: the place where it happened decides.
- one place of ours (or several along one line, 昆明市 > 西山区) → the department of that place: the
  configured local counterpart ({place}生态环境局) for prefectures and counties; for streets and towns
  the department stays ours and the street office co-handles;
- places of ours that do not nest → the lowest level that contains them all: matters spanning several
  regions go to the upper level's department in charge;
- only places elsewhere → the government office transfers it (and a person checks);
- a policy document → the department that drafted it, at our level (谁起草、谁解读).
Every decision carries its reasons: matched terms, the place, the rule applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from monitor.understanding.jurisdiction import Department, Jurisdiction, Place
from monitor.core.model import Reason
from monitor.understanding.terms import TermIndex

# Anonymised places of the shared data: A市, A1区, J9县 (the letter names the city a district lies in).
_MASKED = re.compile(r"(?<![A-Za-z0-9])([A-Z])(\d{1,2})?(市|区|县)")
# A street or town named right after an anonymised county: A3区洋湖街道, A9市北盛镇.
_MASKED_STREET = re.compile(r"(?<![A-Za-z0-9])([A-Z])(\d{1,2})[市区县]([\u4e00-\u9fa5]{2,4}?(?:街道|镇|乡))")
_DRAFTING = re.compile(r"印发|制定|出台|起草|发布|颁布|修订")

# Vote weights: a department named outright beats its keywords; the classifier's domain is strong.
LOCATION_CHARS = 60  # where a message says where it happened
MIN_LEAD_VOTES, TIE_MARGIN = 0.75, 0.25  # weaker evidence, or a near tie, is ambiguous: a person decides
CO_MIN_VOTES, MAX_CO = 2.0, 3  # a co-handler needs two pieces of evidence of its own (or a named mention)
# The classifier's seven domains are coarse (城乡建设 spans 住建, 城管, 规划 and public transport), so a
# specific keyword outweighs the domain vote.
W_NAMED, W_KEYWORD, W_PILOT, W_DOMAIN, W_AREA, W_TOPIC, W_EMERGENCY = 3.0, 1.0, 1.5, 1.2, 0.5, 0.75, 2.5


@dataclass
class RouteDecision:
    department: str
    co_departments: list[str] = field(default_factory=list)
    region: str = ""
    reasons: list[Reason] = field(default_factory=list)
    ambiguous: bool = False
    rule: str = ""  # local | cross_region | jurisdiction | policy | outside | fallback
    level: str = ""  # the level that answers: province | city | county | district | street | town
    function: str = ""  # what the lead department is (生态环境…), whatever its level
    places: list[str] = field(default_factory=list)
    votes: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Where:
    name: str
    level: str
    chain: tuple[str, ...]  # names from the top-most place of ours down to this one
    place: Place | None


class Router:
    def __init__(self, jurisdiction: Jurisdiction) -> None:
        self.j = jurisdiction
        j = jurisdiction
        self._places = {p.name: p for p in j.places}
        streets = ("路", "街", "大道", "巷", "大街", "小区", "花园", "广场", "大桥", "公园", "中学", "小学", "大学",
                   "医院", "酒店", "宾馆", "银行")
        idx = TermIndex(longest=frozenset({"place", "foreign", "self"}),
                        not_before={"place": streets, "foreign": streets, "self": streets})
        for p in j.places:
            idx.add("place:" + p.name, [p.name, *p.aliases])
        for p in j.foreign:
            if p.name not in self._places:
                idx.add("foreign:" + p.name, [p.name, *p.aliases])
        idx.add("self", [j.name, *j.aliases])
        for d in j.departments:
            idx.add("named:" + d.name, [d.name, *d.aliases])
            idx.add("kw:" + d.name, d.keywords)
            idx.add("pilot:" + d.name, d.pilot_domains)
        idx.block(j.place_blockers)
        self.index = idx
        self._by_domain: dict[str, list[Department]] = {}
        self._by_area: dict[str, list[Department]] = {}
        self._by_topic: dict[str, list[Department]] = {}
        for d in j.departments:
            for dom in d.domains:
                self._by_domain.setdefault(dom, []).append(d)
            for area in d.areas:
                self._by_area.setdefault(area, []).append(d)
            for topic in d.topics:
                self._by_topic.setdefault(topic, []).append(d)
        self._order = {d.name: i for i, d in enumerate(j.departments)}
        # Jurisdiction.department scans the list: the same first match, as a dict.
        self._department: dict[str, Department] = {}
        for d in j.departments:
            for name in (d.name, *d.aliases):
                self._department.setdefault(name, d)

    # ------------------------------------------------------------------ public
    def route(self, text: str, domain: str = "", confidence: float = 1.0, kind: str = "incident",
              areas: list[str] | tuple = (), topics: list[str] | tuple = (),
              found: dict[str, list[str]] | None = None, emergency: bool = False) -> RouteDecision:
        """`emergency`: the text reports casualties or losses (severity facts): the department leading
        安全生产 is in charge whatever the domain."""
        found = self.index.find(text) if found is None else found
        votes, why, named = self._votes(found, domain, confidence, areas, topics, emergency)
        if kind == "policy":
            return self._policy(text, votes, why, named)
        where, outside, place_reasons = self._where(text, found)
        reasons = list(place_reasons)
        if not votes:
            reasons.insert(0, Reason("route", f"未匹配主管部门：交「{self.j.office}」研判分办"))
            co = [where.place.office] if where and where.place and where.place.office else []
            return RouteDecision(self.j.office, co, where.name if where else self.j.name, reasons, True,
                                 "fallback", where.level if where else self.j.level, "", self._names(where),
                                 votes)
        ranked = sorted(votes, key=lambda d: (-votes[d], d not in named, self._order[d]))
        lead = ranked[0]
        others = [d for d in ranked[1:] if votes[d] >= CO_MIN_VOTES][:MAX_CO]
        ambiguous = votes[lead] < MIN_LEAD_VOTES or len(ranked) > 1 and votes[lead] - votes[ranked[1]] < TIE_MARGIN \
            and (lead not in named or ranked[1] in named)
        function = self._dept(lead).key
        if outside and where is None:
            reasons.insert(0, Reason("route", f"事发地「{'、'.join(outside)}」不在{self.j.name}：交「{self.j.office}」"
                                               f"核实转办（主管部门应为「{lead}」）"))
            return RouteDecision(self.j.office, [lead], "、".join(outside), reasons, True, "outside",
                                 self.j.level, function, outside, votes)
        department, co, rule, level = self._localise(lead, others, where)
        reasons.insert(0, Reason("route", f"牵头部门「{department}」：" + "；".join(why[lead])))
        if co:
            reasons.append(Reason("route", "协办：" + "、".join(co)))
        if ambiguous:
            second = ranked[1] if len(ranked) > 1 else ""
            reasons.append(Reason("route", f"分办不明确（{lead} {votes[lead]:.1f}"
                                           + (f" / {second} {votes[second]:.1f}" if second else "") + "）：待人工研判"))
        region = where.name if where else self.j.name
        return RouteDecision(department, co, region, reasons, ambiguous, rule, level, function,
                             self._names(where), votes)

    # ------------------------------------------------------------------ departments
    def _dept(self, name: str) -> Department | None:
        d = self._department.get(name)
        return d if d is not None else self.j.department(name)

    def _votes(self, found, domain, confidence, areas, topics, emergency=False):
        votes: dict[str, float] = {}
        why: dict[str, list[str]] = {}
        named: set[str] = set()

        def vote(name: str, weight: float, reason: str) -> None:
            votes[name] = votes.get(name, 0.0) + weight
            why.setdefault(name, []).append(reason)

        for tag, terms in found.items():
            kind, _, name = tag.partition(":")
            if kind == "named":
                named.add(name)
                vote(name, W_NAMED, "点名 " + "、".join(terms[:3]))
            elif kind == "kw":
                vote(name, W_KEYWORD * min(len(terms), 4), "关键词 " + "、".join(terms[:4]))
            elif kind == "pilot":
                d = self._dept(name)
                basis = f"（{d.basis}）" if d and d.basis else ""
                vote(name, W_PILOT * min(len(terms), 2), "试点领域 " + "、".join(terms[:2]) + basis)
        for d in self._by_domain.get(domain, ()):
            vote(d.name, W_DOMAIN * max(min(confidence, 1.0), 0.5), f"主管领域「{domain}」")
        for area in areas:
            for d in self._by_area.get(area, ()):
                vote(d.name, W_AREA, f"敏感领域「{area}」")
        for topic in topics:
            for d in self._by_topic.get(topic, ()):
                vote(d.name, W_TOPIC, f"类别「{topic}」")
        if emergency:
            for d in self._by_area.get("安全生产", ()):
                vote(d.name, W_EMERGENCY, "突发事件有伤亡或损失：安全生产主管")
        return votes, why, named

    def _policy(self, text: str, votes, why, named) -> RouteDecision:
        drafted = sorted(named, key=lambda d: (-votes.get(d, 0), self._order[d]))
        if drafted and _DRAFTING.search(text):
            lead = drafted[0]
            reason = f"政策文件：谁起草、谁解读 → 起草部门「{lead}」"
        elif votes:
            lead = sorted(votes, key=lambda d: (-votes[d], self._order[d]))[0]
            reason = f"政策文件：未写明起草部门，按主管领域交「{lead}」解读（{'；'.join(why[lead])}）"
        else:
            return RouteDecision(self.j.office, [], self.j.name,
                                 [Reason("route", f"政策文件：未识别起草部门，交「{self.j.office}」研判")], True,
                                 "policy", self.j.level, "", [], votes)
        return RouteDecision(lead, [], self.j.name, [Reason("route", reason)], False, "policy", self.j.level,
                             self._dept(lead).key, [], votes)

    def _localise(self, lead: str, others: list[str], where: _Where | None):
        """Department names at the level where it happened, and the rule applied."""
        if where is None:
            return lead, others, "jurisdiction", self.j.level
        if where.place is None and where.level == self.j.level:
            return lead, others, "cross_region", self.j.level
        place = where.place or Place(name=where.name, level=where.level)
        # The department answering in a street or town is that of the county it lies in (if below us);
        # the street office or town government co-handles.
        seat = place
        if place.level in ("street", "town") and len(where.chain) >= 2:
            parent = where.chain[-2]
            seat = self._places.get(parent) or Place(name=parent, level=_masked_level(parent))
        names = []
        for name in [lead, *others]:
            local = self._dept(name).local_name(seat) if seat.level in ("city", "county", "district") \
                else None
            names.append(local or name)
        co = names[1:]
        if place.office and place.office not in co:
            co.append(place.office)
        elif place.level in ("street", "town") and not place.office:
            co.append(place.name + ("办事处" if place.level == "street" else "人民政府"))
        level = seat.level if names[0] != lead else self.j.level
        return names[0], co, "local", level

    # ------------------------------------------------------------------ places
    def _where(self, text: str, found) -> tuple[_Where | None, list[str], list[Reason]]:
        ours: list[_Where] = []
        for tag in found:
            if tag.startswith("place:"):
                p = self._places[tag[6:]]
                ours.append(_Where(p.name, p.level, self._chain(p), p))
        if self.j.masked_places:
            ours.extend(self._masked(text))
        # A place elsewhere counts only where a message states its location: in the title or its first
        # words ("和北京一样…" later in the text is a comparison, not where it happened).
        head = text[:LOCATION_CHARS]
        outside = [tag[8:] for tag, terms in found.items() if tag.startswith("foreign:")
                   and any(t in head for t in terms)]
        if not ours:
            return None, outside, []
        # Keep the deepest places: an ancestor named beside its child is context, not another region.
        leaves = [w for w in ours if not any(o is not w and o.chain[: len(w.chain)] == w.chain
                                             and len(o.chain) > len(w.chain) for o in ours)]
        leaves = list({w.name: w for w in leaves}.values())
        if len(leaves) == 1:
            w = leaves[0]
            return w, outside, [Reason("route", f"属地管理：事发地「{w.name}」（{_LEVEL_ZH.get(w.level, w.level)}）")]
        common = _common_prefix([w.chain for w in leaves])
        names = "、".join(w.name for w in leaves)
        if common:
            top = common[-1]
            p = self._places.get(top)
            level = p.level if p else _masked_level(top)
            w = _Where(top, level, tuple(common), p)
            return w, outside, [Reason("route", f"跨区域（{names}）：由共同上级「{top}」的主管部门负责")]
        w = _Where(self.j.name, self.j.level, (), None)
        return w, outside, [Reason("route", f"跨区域（{names}）：由{self.j.name}主管部门负责")]

    def _chain(self, place: Place) -> tuple[str, ...]:
        chain = [place.name]
        seen = {place.name}
        while place.parent and place.parent in self._places and place.parent not in seen:
            place = self._places[place.parent]
            seen.add(place.name)
            chain.append(place.name)
        return tuple(reversed(chain))

    def _masked(self, text: str) -> list[_Where]:
        out = []
        for m in _MASKED_STREET.finditer(text):
            letter, digits, street = m.groups()
            county = f"{letter}{digits}{text[m.start(3) - 1]}"
            level = "street" if street.endswith("街道") else "town"
            out.append(_Where(street, level, (letter + "市", county, street), None))
        for m in _MASKED.finditer(text):
            letter, digits, suffix = m.groups()
            if suffix == "市" and not digits:
                out.append(_Where(letter + "市", "city", (letter + "市",), None))
            elif digits:
                name = f"{letter}{digits}{suffix}"
                level = "county" if suffix in ("区", "县", "市") else "county"
                out.append(_Where(name, level, (letter + "市", name), None))
        return out

    @staticmethod
    def _names(where: _Where | None) -> list[str]:
        return [where.name] if where else []


_LEVEL_ZH = {"province": "省级", "city": "市（州）级", "county": "县（市、区）级", "district": "县（市、区）级",
             "street": "街道", "town": "乡镇"}


def _masked_level(name: str) -> str:
    return "city" if re.fullmatch(r"[A-Z]市", name) else "county"


def _common_prefix(chains: list[tuple[str, ...]]) -> list[str]:
    out: list[str] = []
    for parts in zip(*chains):
        if all(p == parts[0] for p in parts):
            out.append(parts[0])
        else:
            break
    return out
