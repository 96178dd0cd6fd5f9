"""Severity from the facts in the text (pure): deaths, injuries, missing people, economic loss.

Thresholds are the national four-level grading used for production-safety accidents and emergencies:
Ⅰ 特别重大 ≥30 deaths (incl. missing) or ≥100 injured or ≥1亿元 loss; Ⅱ 重大 10–29 / 50–99 / 5000万–1亿;
Ⅲ 较大 3–9 / 10–49 / 1000万–5000万; Ⅳ 一般 below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cn2an

from monitor.model import Reason, Severity

_NUM = r"(\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万]+)"
_PEOPLE = r"(?:多|余)?(?:名|人|位)"  # a count of people always carries its measure word
_FILLER = r"[^，。；;,.！!？?\d零〇一二两三四五六七八九十百千]{0,6}?"

# "造成3人死亡", "三人遇难", "死亡12人", "死亡人数达15人", "遇难者增至31人"
_PATTERNS = {
    "deaths": [
        re.compile(_NUM + _PEOPLE + _FILLER + r"(?:死亡|遇难|身亡|丧生|罹难)"),
        re.compile(r"(?:死亡|遇难|身亡|罹难)(?:人数)?(?:者)?(?:已)?(?:达|增至|上升至|为)?" + _NUM + r"(?:名|人)"),
    ],
    "missing": [
        re.compile(_NUM + _PEOPLE + _FILLER + r"失踪"),
        re.compile(r"失踪(?:人数)?(?:已)?(?:达|增至|为)?" + _NUM + r"(?:名|人)"),
    ],
    "injured": [
        re.compile(_NUM + _PEOPLE + _FILLER + r"(?:重伤|受伤|中毒|烧伤|砸伤)"),
        re.compile(r"(?:重伤|受伤|中毒)(?:人数)?(?:已)?(?:达|增至|为)?" + _NUM + r"(?:名|人)"),
    ],
}
_LOSS = re.compile(r"(?:经济)?损失(?:约|达|超过|高达|近|逾)?" + _NUM + r"\s*(亿|万|千万)?元")
_UNIT = {"亿": 1e8, "千万": 1e7, "万": 1e4, None: 1.0}

# (deaths incl. missing, injured, loss in yuan) lower bounds per level, most severe first.
_THRESHOLDS = [
    (Severity.EXTRAORDINARY, 30, 100, 1e8),
    (Severity.MAJOR, 10, 50, 5e7),
    (Severity.LARGER, 3, 10, 1e7),
]


def to_number(text: str) -> float | None:
    try:
        return float(text) if re.fullmatch(r"\d+(?:\.\d+)?", text) else float(cn2an.cn2an(text, "smart"))
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class Facts:
    deaths: int = 0
    missing: int = 0
    injured: int = 0
    loss_yuan: float = 0.0


def extract_facts(text: str) -> Facts:
    counts = {}
    for kind, patterns in _PATTERNS.items():
        best = 0
        for pattern in patterns:
            for match in pattern.finditer(text):
                value = to_number(match.group(1))
                if value is not None and value < 1e6:
                    best = max(best, int(value))
        counts[kind] = best
    loss = 0.0
    for match in _LOSS.finditer(text):
        value = to_number(match.group(1))
        if value is not None:
            loss = max(loss, value * _UNIT[match.group(2)])
    return Facts(counts["deaths"], counts["missing"], counts["injured"], loss)


def grade(text: str) -> tuple[Severity, list[Reason]]:
    facts = extract_facts(text)
    people = facts.deaths + facts.missing
    for level, deaths, injured, loss in _THRESHOLDS:
        why = []
        if people >= deaths:
            why.append(f"死亡（含失踪）{people}人 ≥ {deaths}")
        if facts.injured >= injured:
            why.append(f"受伤{facts.injured}人 ≥ {injured}")
        if facts.loss_yuan >= loss:
            why.append(f"经济损失{_yuan(facts.loss_yuan)} ≥ {_yuan(loss)}")
        if why:
            return level, [Reason("severity", f"{level.zh}（{level.roman}级）：" + "；".join(why))]
    if people or facts.injured or facts.loss_yuan:
        return Severity.GENERAL, [Reason("severity", f"一般（Ⅳ级）：死亡{people}人、受伤{facts.injured}人，低于较大标准")]
    return Severity.GENERAL, [Reason("severity", "一般（Ⅳ级）：未发现伤亡或损失数字")]


def _yuan(value: float) -> str:
    if value >= 1e8:
        return f"{value / 1e8:g}亿元"
    if value >= 1e4:
        return f"{value / 1e4:g}万元"
    return f"{value:g}元"
