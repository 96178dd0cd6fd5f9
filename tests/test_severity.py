"""Severity grading from facts in the text: digits and Chinese numerals, national thresholds."""

import pytest

from monitor.model import Severity
from monitor.severity import extract_facts, grade

S = Severity


@pytest.mark.parametrize(
    "text,level",
    [
        ("某化工厂爆炸造成三人死亡，12人受伤", S.LARGER),  # 3 deaths → 较大; 12 injured → 较大
        ("事故已造成12人死亡", S.MAJOR),
        ("12名工人当场死亡", S.MAJOR),
        ("事故致十五人遇难、二十余人受伤", S.MAJOR),
        ("死亡人数已达31人", S.EXTRAORDINARY),
        ("造成直接经济损失1.2亿元", S.EXTRAORDINARY),
        ("直接经济损失约6000万元", S.MAJOR),
        ("经济损失达1500万元", S.LARGER),
        ("5人失踪", S.LARGER),  # missing people count with the dead
        ("造成两人死亡", S.GENERAL),
        ("两名工人受伤", S.GENERAL),
        ("一百零五人受伤", S.EXTRAORDINARY),
        ("造成55人重伤", S.MAJOR),
        ("共有100多户业主受伤害", S.GENERAL),  # households, not people
        ("我家3个孩子上学难", S.GENERAL),
        ("2019年12月30日小区停水", S.GENERAL),
        ("", S.GENERAL),
    ],
)
def test_grade(text, level):
    assert grade(text)[0] == level


def test_reasons_name_the_facts():
    level, reasons = grade("事故致十五人遇难")
    assert level == S.MAJOR and "死亡（含失踪）15人 ≥ 10" in reasons[0].text


def test_facts():
    f = extract_facts("爆炸造成十二人死亡、3人失踪、45人受伤，直接经济损失2.5亿元")
    assert (f.deaths, f.missing, f.injured, f.loss_yuan) == (12, 3, 45, 2.5e8)
