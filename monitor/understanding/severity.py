"""Severity from the facts in the text (pure): deaths, injuries, missing and trapped people, economic loss,
people evacuated or affected — in digits or Chinese numerals (三人死亡, 造成十二人受伤, 1.2亿元, 一死三伤).

National four-level grading (docs/design.md §1; 生产安全事故报告和调查处理条例, 国家突发环境事件应急预案):
Ⅰ 特别重大 ≥30 deaths (incl. missing) or ≥100 seriously injured or ≥1亿元 loss or ≥5万 people evacuated;
Ⅱ 重大 10–29 / 50–99 / 5000万–1亿 / 1万–5万; Ⅲ 较大 3–9 / 10–49 / 1000万–5000万 / 5000–1万; Ⅳ 一般 below.
Then raised by sensitive area (云政办发〔2021〕28号) and capped by rules (config/lexicons/severity.yaml):
a raise never reaches beyond `cap_raised` (default 较大), and without any casualty or loss fact never
beyond `cap_without_facts` — 重大 starts a 5-hour clock, so it comes from facts or from a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from monitor.core.model import Reason, Severity
from monitor.understanding import numerals

_CN = "零〇一二两三四五六七八九十百千万亿"
_NUM = r"(\d+(?:\.\d+)?\s*[万亿]?|[" + _CN + r"]+)"
_PEOPLE = r"(?:多|余)?(?:名|人|位)"  # a count of people always carries its measure word
_FILLER = r"[^，。；;,.！!？?\d" + _CN + r"]{0,6}?"
_VERB = r"(?:已)?(?:达到?|增至|上升至|升至|为|有)?"

_PATTERNS = {
    # "造成3人死亡", "三人遇难", "死亡12人", "死亡人数达15人", "遇难者增至31人"
    "deaths": [
        re.compile(_NUM + _PEOPLE + _FILLER + r"(?:死亡|遇难|身亡|丧生|罹难|殒命)"),
        re.compile(r"(?:死亡|遇难|身亡|罹难)(?:人数)?(?:者)?" + _VERB + _NUM + r"(?:名|人)"),
    ],
    "missing": [
        re.compile(_NUM + _PEOPLE + _FILLER + r"失踪"),
        re.compile(r"失踪(?:人数)?(?:者)?" + _VERB + _NUM + r"(?:名|人)"),
    ],
    "trapped": [
        re.compile(_NUM + _PEOPLE + _FILLER + r"(?:被困|被埋|被压)"),
        re.compile(r"(?:被困|被埋)(?:人数)?(?:人员)?" + _VERB + _NUM + r"(?:名|人)"),
    ],
    "injured": [
        re.compile(_NUM + _PEOPLE + _FILLER + r"(?:重伤|受伤|中毒|烧伤|砸伤|伤亡)"),
        re.compile(r"(?:重伤|受伤|中毒)(?:人数)?(?:者)?" + _VERB + _NUM + r"(?:名|人)"),
    ],
    "evacuated": [
        re.compile(_NUM + _PEOPLE + _FILLER + r"(?:疏散|转移|撤离|紧急安置|受灾)"),
        re.compile(r"(?:疏散|转移|撤离|安置)(?:群众|居民|人员)?" + _VERB + _NUM + r"(?:多|余)?(?:名|人)"),
    ],
}
# "一死三伤", "致2死5伤"
_DEATH_INJURY = re.compile(r"(?<![\d" + _CN + r"])" + _NUM + r"死" + _NUM + r"伤")
_LOSS = re.compile(r"(?:经济)?损失(?:约|达|超过|超|高达|近|逾|共计|合计)?" + r"(\d+(?:\.\d+)?|[" + _CN + r"]+)"
                   r"\s*(亿|千万|万)?(?:多|余)?\s*(元|人民币)?")
_UNIT = {"亿": 1e8, "千万": 1e7, "万": 1e4, None: 1.0}


def to_number(text: str) -> float | None:
    return numerals.to_number(text.replace(" ", ""))


@dataclass(frozen=True)
class Facts:
    deaths: int = 0
    missing: int = 0
    injured: int = 0
    loss_yuan: float = 0.0
    trapped: int = 0
    evacuated: int = 0

    @property
    def any(self) -> bool:
        return bool(self.deaths or self.missing or self.injured or self.loss_yuan or self.trapped
                    or self.evacuated)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("deaths", "missing", "injured", "loss_yuan", "trapped", "evacuated")
                if getattr(self, k)}


NO_FACTS = Facts()

# Each kind of fact is only looked for near its own words (a window around each occurrence): most
# messages have none of them, and the patterns never scan a whole long text.
_WORDS = {
    "deaths": ("死亡", "遇难", "身亡", "丧生", "罹难", "殒命"),
    "missing": ("失踪",),
    "trapped": ("被困", "被埋", "被压"),
    "injured": ("重伤", "受伤", "中毒", "烧伤", "砸伤", "伤亡"),
    "evacuated": ("疏散", "转移", "撤离", "安置", "受灾"),
}
_BEFORE, _AFTER = 24, 16
_KIND_OF = {w: kind for kind, words in _WORDS.items() for w in words}
_ANY_WORD = re.compile("|".join(sorted(_KIND_OF, key=len, reverse=True)))


def _windows(text: str) -> dict[str, list[str]]:
    """Per kind of fact, the text around each of its words (one scan of the text)."""
    out: dict[str, list[str]] = {}
    for m in _ANY_WORD.finditer(text):
        out.setdefault(_KIND_OF[m.group()], []).append(text[max(0, m.start() - _BEFORE): m.end() + _AFTER])
    return out


def extract_facts(text: str) -> Facts:
    if _ANY_WORD.search(text) is None and "损失" not in text and ("死" not in text or "伤" not in text):
        return NO_FACTS  # no word any fact is read around (most messages): nothing to read
    counts = {}
    windows = _windows(text)
    for kind, patterns in _PATTERNS.items():
        best = 0
        for window in windows.get(kind, ()):
            for pattern in patterns:
                for match in pattern.finditer(window):
                    value = to_number(match.group(1))
                    if value is not None and value < 1e7:
                        best = max(best, int(value))
        counts[kind] = best
    if "死" in text and "伤" in text:
        for match in _DEATH_INJURY.finditer(text):
            dead, hurt = to_number(match.group(1)), to_number(match.group(2))
            if dead is not None and hurt is not None and dead < 1e6 and hurt < 1e6:
                counts["deaths"] = max(counts["deaths"], int(dead))
                counts["injured"] = max(counts["injured"], int(hurt))
    if "损失" not in text:
        return Facts(counts["deaths"], counts["missing"], counts["injured"], 0.0, counts["trapped"],
                     counts["evacuated"])
    loss = 0.0
    for match in _LOSS.finditer(text):
        unit, currency = match.group(2), match.group(3)
        if unit is None and currency is None:
            continue  # "损失3" without 元 or 万/亿 is not an amount
        value = to_number(match.group(1))
        if value is not None:
            loss = max(loss, value * _UNIT[unit])
    return Facts(counts["deaths"], counts["missing"], counts["injured"], loss, counts["trapped"],
                 counts["evacuated"])


# --------------------------------------------------------------------------- policy (thresholds, raises, caps)
@dataclass(frozen=True)
class Threshold:
    level: Severity
    deaths: int  # deaths incl. missing
    injured: int
    loss_yuan: float
    evacuated: int


NATIONAL = (
    Threshold(Severity.EXTRAORDINARY, 30, 100, 1e8, 50000),
    Threshold(Severity.MAJOR, 10, 50, 5e7, 10000),
    Threshold(Severity.LARGER, 3, 10, 1e7, 5000),
)


@dataclass(frozen=True)
class SeverityPolicy:
    thresholds: tuple[Threshold, ...] = NATIONAL
    # A sensitive area (云政办发〔2021〕28号) raises the level by this many steps…
    sensitive_raise: int = 1
    # …only when the text reports casualties or losses (otherwise every 学校 message would be 较大).
    sensitive_requires_facts: bool = True
    # Trapped people count like missing ones for the 较大 threshold at least.
    trapped_counts: bool = True
    # Raises never go beyond this: 重大 starts the legal 5-hour clock, so only facts (or a person) set it.
    cap_raised: Severity = Severity.LARGER
    cap_without_facts: Severity = Severity.LARGER  # nor beyond this when the text has no facts

    @classmethod
    def from_file(cls, path: Path) -> "SeverityPolicy":
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        kwargs: dict = {}
        if "thresholds" in data:
            kwargs["thresholds"] = tuple(
                Threshold(Severity.parse(level), int(t.get("deaths", 10**9)), int(t.get("injured", 10**9)),
                          float(t.get("loss_yuan", 1e18)), int(t.get("evacuated", 10**9)))
                for level, t in data["thresholds"].items())
        for key in ("sensitive_raise",):
            if key in data:
                kwargs[key] = int(data[key])
        for key in ("sensitive_requires_facts", "trapped_counts"):
            if key in data:
                kwargs[key] = bool(data[key])
        for key in ("cap_raised", "cap_without_facts"):
            if key in data:
                kwargs[key] = Severity.parse(data[key])
        unknown = set(data) - {"thresholds", "sensitive_raise", "sensitive_requires_facts", "trapped_counts",
                               "cap_raised", "cap_without_facts", "heat"}
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
        return cls(**kwargs)


@dataclass
class Assessment:
    level: Severity
    base: Severity  # from the facts alone
    facts: Facts
    reasons: list[Reason] = field(default_factory=list)


def grade_facts(facts: Facts, policy: SeverityPolicy = SeverityPolicy()) -> tuple[Severity, list[Reason]]:
    people = facts.deaths + facts.missing
    if policy.trapped_counts:
        people_for_larger = people + facts.trapped
    else:
        people_for_larger = people
    for t in sorted(policy.thresholds, key=lambda t: -t.level):
        count = people_for_larger if t.level == Severity.LARGER else people
        why = []
        if count >= t.deaths:
            label = "死亡（含失踪、被困）" if count != people else "死亡（含失踪）"
            why.append(f"{label}{count}人 ≥ {t.deaths}")
        if facts.injured >= t.injured:
            why.append(f"受伤{facts.injured}人 ≥ {t.injured}")
        if facts.loss_yuan >= t.loss_yuan:
            why.append(f"经济损失{_yuan(facts.loss_yuan)} ≥ {_yuan(t.loss_yuan)}")
        if facts.evacuated >= t.evacuated:
            why.append(f"疏散转移{facts.evacuated}人 ≥ {t.evacuated}")
        if why:
            return t.level, [Reason("severity", f"{t.level.zh}（{t.level.roman}级）：" + "；".join(why))]
    if facts.any:
        return Severity.GENERAL, [Reason("severity", f"一般（Ⅳ级）：死亡{people}人、受伤{facts.injured}人，低于较大标准")]
    return Severity.GENERAL, [Reason("severity", "一般（Ⅳ级）：未发现伤亡或损失数字")]


def assess(text: str, areas: list[str] | tuple = (), policy: SeverityPolicy = SeverityPolicy()) -> Assessment:
    """Facts → national level, then the sensitive-area raise within the caps."""
    facts = extract_facts(text)
    if facts is NO_FACTS:  # the same grade every time: computed once per policy
        cached = _NO_FACTS_GRADE.get(id(policy))
        if cached is None or cached[0] is not policy:
            cached = _NO_FACTS_GRADE[id(policy)] = (policy, *grade_facts(facts, policy))
        base, reasons = cached[1], list(cached[2])
    else:
        base, reasons = grade_facts(facts, policy)
    level = base
    if areas and policy.sensitive_raise and (facts.any or not policy.sensitive_requires_facts):
        level = raise_level(base, policy.sensitive_raise, facts.any, policy)
        if level > base:
            reasons.append(Reason("severity", f"敏感领域（{'、'.join(areas)}）：由{base.zh}升为{level.zh}"
                                              f"（上限{_cap(facts.any, policy).zh}）"))
    return Assessment(level, base, facts, reasons)


_NO_FACTS_GRADE: dict[int, tuple] = {}


def raise_level(level: Severity, steps: int, has_facts: bool, policy: SeverityPolicy) -> Severity:
    cap = _cap(has_facts, policy)
    if level >= cap:
        return level  # a raise never lowers what the facts gave
    return Severity(min(int(level) + steps, int(cap)))


def _cap(has_facts: bool, policy: SeverityPolicy) -> Severity:
    return policy.cap_raised if has_facts else min(policy.cap_raised, policy.cap_without_facts)


def grade(text: str) -> tuple[Severity, list[Reason]]:
    """The national level from the facts alone (no raise)."""
    return grade_facts(extract_facts(text))


def _yuan(value: float) -> str:
    if value >= 1e8:
        return f"{value / 1e8:g}亿元"
    if value >= 1e4:
        return f"{value / 1e4:g}万元"
    return f"{value:g}元"
