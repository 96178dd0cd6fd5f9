"""Severity grading from facts in the text: digits and Chinese numerals, national thresholds."""

import pytest

from monitor.core.model import Severity
from monitor.understanding.severity import extract_facts, grade

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


# --------------------------------------------------------------------------- more facts, raises and caps

from monitor.understanding.severity import SeverityPolicy, assess  # noqa: E402
from monitor.config.settings import BUNDLED_CONFIG

LEXICONS = BUNDLED_CONFIG / "lexicons"


@pytest.mark.parametrize(
    "text,deaths,injured,missing,trapped,evacuated,loss",
    [
        ("致1死3伤", 1, 3, 0, 0, 0, 0),
        ("事故造成一死三伤", 1, 3, 0, 0, 0, 0),
        ("１２人死亡", 12, 0, 0, 0, 0, 0),  # full-width digits
        ("矿井透水，3名矿工被困井下", 0, 0, 0, 3, 0, 0),
        ("化工厂泄漏，1.2万人紧急疏散", 0, 0, 0, 0, 12000, 0),
        ("暴雨致两万余人转移安置", 0, 0, 0, 0, 20000, 0),
        ("造成直接经济损失约3亿", 0, 0, 0, 0, 0, 3e8),
        ("损失3", 0, 0, 0, 0, 0, 0),  # no unit, no amount
        ("遇难者增至三十一人，另有5人失踪", 31, 0, 5, 0, 0, 0),
        ("共造成二十五人受伤，其中重伤6人", 0, 25, 0, 0, 0, 0),
        ("小区安置房分配不公", 0, 0, 0, 0, 0, 0),  # 安置 without a count of people
    ],
)
def test_facts_in_digits_and_chinese_numerals(text, deaths, injured, missing, trapped, evacuated, loss):
    f = extract_facts(text)
    assert (f.deaths, f.injured, f.missing, f.trapped, f.evacuated, f.loss_yuan) == (
        deaths, injured, missing, trapped, evacuated, loss)


@pytest.mark.parametrize(
    "text,areas,level",
    [
        ("工地塌方造成两人受伤", ["安全生产"], S.LARGER),  # a sensitive area with casualties: one step up
        ("工地塌方造成两人受伤", [], S.GENERAL),
        ("学校门口道路拥堵", ["教育医疗养老"], S.GENERAL),  # no facts: no raise
        ("化工厂爆炸造成三人死亡", ["安全生产"], S.LARGER),  # raises stop at 较大: 重大 comes from facts
        ("化工厂爆炸造成十二人死亡", ["安全生产"], S.MAJOR),  # facts alone
        ("3名矿工被困井下", [], S.LARGER),  # trapped count like missing for 较大
        ("1.2万人紧急疏散", [], S.MAJOR),
    ],
)
def test_sensitive_raise_and_caps(text, areas, level):
    assert assess(text, areas).level == level


def test_raise_is_explained():
    a = assess("工地塌方造成两人受伤", ["安全生产"])
    assert a.base == S.GENERAL and a.level == S.LARGER
    assert any("敏感领域（安全生产）：由一般升为较大" in r.text for r in a.reasons)


def test_policy_file_is_read_and_can_lift_the_cap(tmp_path):
    shipped = SeverityPolicy.from_file(LEXICONS / "severity.yaml")
    assert shipped == SeverityPolicy()  # the shipped file states the defaults
    custom = tmp_path / "severity.yaml"
    custom.write_text("cap_raised: 重大\nsensitive_raise: 2\n", encoding="utf-8")
    policy = SeverityPolicy.from_file(custom)
    assert assess("工地塌方造成两人受伤", ["安全生产"], policy).level == S.MAJOR
    custom.write_text("cap_raised: 重大\nbogus: 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bogus"):
        SeverityPolicy.from_file(custom)
