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
        ("暴雨致两万余人转移安置", 0, 0, 0, 0, 29999, 0),  # 两万余: more than 20,000, fewer than 30,000
        ("造成直接经济损失约3亿", 0, 0, 0, 0, 0, 3.3e8),  # 约: the upper bound (+10 %)
        ("损失3", 0, 0, 0, 0, 0, 0),  # no unit, no amount
        ("遇难者增至三十一人，另有5人失踪", 31, 0, 5, 0, 0, 0),
        ("共造成二十五人受伤，其中重伤6人", 0, 6, 0, 0, 0, 0),  # a breakdown: only the seriously injured count
        ("小区安置房分配不公", 0, 0, 0, 0, 0, 0),  # 安置 without a count of people
    ],
)
def test_facts_in_digits_and_chinese_numerals(text, deaths, injured, missing, trapped, evacuated, loss):
    f = extract_facts(text)
    assert (f.deaths, f.injured, f.missing, f.trapped, f.evacuated, f.loss_yuan) == (
        deaths, injured, missing, trapped, evacuated, loss)


RAISE = SeverityPolicy(sensitive_raise=1)  # the raise is off in the shipped policy; an office may turn it on


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
    assert assess(text, areas, RAISE).level == level


def test_the_shipped_policy_grades_by_the_figures_alone():
    a = assess("工地塌方造成两人受伤", ["安全生产"])
    assert a.level == a.base == S.GENERAL


def test_raise_is_explained():
    a = assess("工地塌方造成两人受伤", ["安全生产"], RAISE)
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


# --------------------------------------------------------------------------- reading figures (issue 15, item 4)
from monitor.understanding.severity import Facts, assess_facts, grade_facts, merge_facts  # noqa: E402

# text, the facts read (a subset of as_dict), the level, whether a person must confirm it
READINGS = [
    # approximate numerals count by their upper bound, and say so
    ("工厂爆炸，十几人死亡", {"deaths": 19}, S.MAJOR, True),
    ("截至发稿已造成二十多人遇难", {"deaths": 29}, S.MAJOR, True),
    ("泥石流已造成近30人死亡", {"deaths": 29}, S.MAJOR, True),
    ("化工厂泄漏，上百人中毒", {"injured": 199}, S.EXTRAORDINARY, True),
    ("婚宴后百余人出现中毒症状", {"injured": 199}, S.EXTRAORDINARY, True),
    ("现场数百人受伤", {"injured": 900}, S.EXTRAORDINARY, True),
    ("自助餐厅近百人吃了以后上吐下泻", {"injured": 99}, S.MAJOR, True),  # symptoms after a meal = poisoning
    ("二三十人失联", {"missing": 30}, S.EXTRAORDINARY, True),  # the upper bound reaches 30
    ("车上七八人死亡", {"deaths": 8}, S.LARGER, False),  # 7–8 stays inside 较大: clear
    ("工人说罐子爆了，死了两三个人", {"deaths": 3}, S.LARGER, True),  # 2–3 straddles 3
    ("估计九到十人死亡", {"deaths": 10}, S.MAJOR, True),
    ("事故已造成数人死亡", {"deaths": 9}, S.LARGER, True),
    ("目前已有至少12人遇难", {"deaths": 12}, S.MAJOR, True),
    ("事故至少3人死亡", {"deaths": 3}, S.LARGER, True),  # open above: may reach 重大
    # mixed counts are assumed to be deaths
    ("脚手架垮塌，现场死伤十余人", {"deaths": 19}, S.MAJOR, True),
    ("公交车与油罐车相撞，伤亡过百", {"deaths": 100}, S.EXTRAORDINARY, True),
    # missing, lost contact, unknown whereabouts count with the dead
    ("9名工人失联", {"missing": 9}, S.LARGER, True),
    ("14人遇难、5人失踪", {"deaths": 14, "missing": 5}, S.MAJOR, True),
    ("3名村民被冲走，目前下落不明", {"missing": 3}, S.LARGER, True),
    ("挡土墙倒了，下面压了八九个人", {"trapped": 9}, S.LARGER, True),
    ("6名矿工被困井下，救援正在进行", {"trapped": 6}, S.LARGER, True),
    ("10名工人被困井下，目前已全部获救", {}, S.GENERAL, False),
    ("五六位业主被困电梯，四十分钟后救出", {}, S.GENERAL, False),  # 5–6, not 56; a lift is no casualty
    ("4名工人被压，送医后均抢救无效死亡", {"deaths": 4}, S.LARGER, False),
    ("3名学生到水库游泳，不幸溺水身亡", {"deaths": 3}, S.LARGER, False),
    ("已发现4具遗体，仍有3人下落不明", {"deaths": 4, "missing": 3}, S.LARGER, True),
    ("经全力搜救，共发现遇难者遗体10具", {"deaths": 10}, S.MAJOR, False),
    ("【突发】爆炸现场已发现遇难者12名，伤者正在救治", {"deaths": 12}, S.MAJOR, False),
    ("男死者留下三个小孩无人照顾", {}, S.GENERAL, False),
    ("事故造成1人死亡12人受伤", {"deaths": 1, "injured": 12}, S.LARGER, True),  # no comma: 1 death
    ("火灾致7死15伤", {"deaths": 7, "injured": 15}, S.LARGER, False),  # 7 deaths are clear
    ("事故造成一死三伤", {"deaths": 1, "injured": 3}, S.GENERAL, False),
    ("大巴侧翻，58名旅客受伤", {"injured": 58}, S.MAJOR, True),  # bare 受伤: possibly serious
    ("60人受伤，均为轻伤", {"light_only": True}, S.GENERAL, False),
    ("车上55人全部受伤，其中重伤8人，其余47人为轻伤", {"injured": 8}, S.GENERAL, False),
    ("事故造成3人死亡、2人重伤、5人轻伤", {"deaths": 3, "injured": 2}, S.LARGER, False),
    ("经鉴定重伤50人，轻伤31人", {"injured": 50}, S.MAJOR, False),
    ("公寓火灾收治伤者23名，其中11人伤势较重", {"injured": 11}, S.LARGER, True),
    ("氯气泄漏造成17名员工吸入中毒", {"injured": 17}, S.LARGER, False),  # acute poisoning = serious
    ("3人受伤，无人死亡", {"injured": 3}, S.GENERAL, False),
    # money
    ("直接经济损失5000余万元", {"loss_yuan": 59999999.0}, S.MAJOR, True),
    ("直接经济损失3000多万元", {"loss_yuan": 39999999.0}, S.LARGER, False),
    ("直接经济损失6,000万元", {"loss_yuan": 6e7}, S.MAJOR, False),
    ("直接经济损失人民币壹亿贰仟万元整", {"loss_yuan": 1.2e8}, S.EXTRAORDINARY, False),
    ("仓库大火烧了一夜，厂方估计损失数千万元", {"loss_yuan": 9e7}, S.MAJOR, True),
    ("施工方偷工减料导致损失上亿元，为什么由政府埋单", {}, S.GENERAL, False),  # no accident: not a loss of one
    ("包工头拒付工钱玩失踪，我们8个民工讨薪无门", {}, S.GENERAL, False),
    ("我爱人被困在传销窝点，那个房间里有好几个人被困", {}, S.GENERAL, False),
    ("该路口事故频发，已经死了几个人了", {}, S.GENERAL, False),  # several accidents over time
    ("该路段事故频发，今天又造成3人死亡", {"deaths": 3}, S.LARGER, False),  # …and a new one
    ("据估算直接经济损失超过1亿元", {"loss_yuan": 1e8}, S.EXTRAORDINARY, True),
    ("投资1000万元的农贸市场迟迟不开业", {}, S.GENERAL, False),
    ("开发商拖欠工程款5000多万元，企业被罚款1000万元", {}, S.GENERAL, False),
    # what did not happen, happened long ago or elsewhere, or is not a count of people
    ("网传'死亡50人'，经核实为谣言，现场无人员伤亡", {}, S.GENERAL, False),
    ("网传死亡30人不实 经核实死亡4人", {"deaths": 4}, S.LARGER, False),
    ("2008年那次矿山事故十五人死亡，我们很害怕", {}, S.GENERAL, False),
    ("去年某地火灾死亡12人，希望加强检查", {}, S.GENERAL, False),
    ("这里以前烧死过11个人", {}, S.GENERAL, False),
    ("二十年前的今天，某市网吧火灾造成25人死亡", {}, S.GENERAL, False),
    ("去年建成的大桥今天垮塌，造成3人死亡", {"deaths": 3}, S.LARGER, False),  # today resets history
    ("事故没有造成3人以上死亡", {}, S.GENERAL, False),
    ("因救援不及时，造成4人死亡", {"deaths": 4}, S.LARGER, False),  # a negation of something else
    ("应急演练模拟30名员工中毒、2人重伤", {}, S.GENERAL, False),
    ("如果楼体坍塌，300多人死亡", {}, S.GENERAL, False),
    ("万一起火，几十人都跑不出来会被烧死", {}, S.GENERAL, False),
    ("事故造成12人死亡。如果救援及时，本可避免。", {"deaths": 12}, S.MAJOR, False),
    ("据统计，全国每年约有3898名中小学生溺水死亡", {}, S.GENERAL, False),
    ("今年1至10月，全区道路交通事故死亡23人，同比下降8%", {}, S.GENERAL, False),
    ("预案规定，发生死亡10人以上30人以下事故时启动Ⅱ级响应", {}, S.GENERAL, False),
    ("会上通报了外省某地火灾造成38人死亡的案例", {}, S.GENERAL, False),
    ("我们12栋、13栋共30户业主，50名业主联名反映3号楼电梯问题", {}, S.GENERAL, False),
    ("流浪狗有十几条，河里上万尾鱼死亡", {}, S.GENERAL, False),
    ("热死了，我们20个人都在等车", {}, S.GENERAL, False),
    ("不是网上说的死了十几个人，就是司机受了点轻伤", {}, S.GENERAL, True),  # a non-official denial
    # corrections within one text
    ("此前通报的死亡7人中有2人为重复统计，事故实际造成5人死亡", {"deaths": 5}, S.LARGER, False),
    ("重伤由原报的52人调整为46人，其余均为轻伤", {"injured": 46}, S.LARGER, False),
    ("此前通报火灾死亡8人，经进一步搜救，现更正为12人", {"deaths": 12}, S.MAJOR, False),
    ("此前通报火灾死亡8人。经进一步搜救，现更正为12人。", {"deaths": 12}, S.MAJOR, False),
    ("１２人死亡", {"deaths": 12}, S.MAJOR, False),  # full-width digits
]


@pytest.mark.parametrize("text,facts,level,triage", READINGS)
def test_reading(text, facts, level, triage):
    a = assess(text)
    got = a.facts.as_dict()
    assert {k: got.get(k) for k in facts} == facts, got
    assert not set(got) & {"deaths", "missing", "injured", "trapped", "loss_yuan"} - set(facts), got
    assert a.level == level, a.reasons
    assert bool(a.triage_reason) == triage, a.triage_reason


def test_uncertain_readings_are_explained():
    f = extract_facts("工厂爆炸，十几人死亡")
    assert f.uncertain == ("十几人死亡，按上限19人计",)
    assert "受伤12人未说明轻重，按可能重伤计" in extract_facts("造成1人死亡12人受伤").uncertain
    assert "死伤十余人：死亡与受伤未分开，按死亡计" in extract_facts("现场死伤十余人").uncertain
    a = assess("工厂爆炸，十几人死亡")
    assert a.reasons[0].text == "重大（Ⅱ级）：死亡（含失踪）19人 ≥ 10"
    assert "十几人死亡，按上限19人计" in a.triage_reason and "重大" in a.triage_reason


def test_hearsay_at_larger_goes_to_triage():
    assert assess("家长群里说三十多个学生食物中毒").triage_reason  # 31–39 stays 较大, but it is hearsay
    assert not assess("区市场监管局通报：三十多名学生食物中毒").triage_reason
    assert not assess("听说有2人受伤").triage_reason  # 一般: nothing to confirm


def test_official_notices_are_recognised():
    assert extract_facts("区政府新闻办通报：火灾造成12人死亡").official
    assert extract_facts("西山区应急管理局通报：造成3人死亡").official
    assert extract_facts("据西山区应急局消息，3名工人死亡").official
    assert extract_facts("经核实，事故造成2人死亡").official
    assert not extract_facts("听说死了5个人，有没有官方通报？").official
    assert extract_facts("【更正】死亡人数更正为9人").correction


def test_no_casualty_word_is_the_fast_path():
    from monitor.understanding.severity import NO_FACTS

    assert extract_facts("小区物业乱收停车费，业主多次投诉无果") is NO_FACTS
    assert assess("小区物业乱收停车费").facts is NO_FACTS


def test_as_dict_round_trip_is_json():
    import json

    for text, *_ in READINGS:
        f = extract_facts(text)
        d = f.as_dict()
        assert json.loads(json.dumps(d, ensure_ascii=False)) == d
        assert all(v not in (0, 0.0, False, [], "", None) for v in d.values())
        assert Facts.from_dict(json.loads(json.dumps(d))) == f
    assert Facts.from_dict(None) == Facts() and Facts.from_dict({}) == Facts()


def test_grade_facts_keeps_its_signature():
    level, reasons = grade_facts(Facts(deaths=3))
    assert level == S.LARGER and reasons[0].text.startswith("较大（Ⅲ级）")


# --------------------------------------------------------------------------- several reports of one incident
def _merged(*texts):
    return merge_facts([Facts.from_dict(extract_facts(t).as_dict()) for t in texts])


def test_a_rising_toll_regrades():
    f = _merged("碧鸡工地坍塌3人死亡", "续报：死亡人数升至6人", "死亡人数已上升至11人")
    assert f.deaths == 11 and assess_facts(f).level == S.MAJOR


def test_an_official_figure_supersedes_rumours_and_the_lowering_goes_to_triage():
    f = _merged("【扩散】KTV着大火，里面死了二十多个人", "群里说烧死了二十几个人",
                "区应急局通报：经核实，火灾造成3人死亡、7人受伤，网传'死亡二十余人'不实。")
    a = assess_facts(f)
    assert f.deaths == 3 and f.official and a.level == S.LARGER
    assert "低于此前报道的29人" in a.triage_reason  # only a person lowers a grade
    assert not any("二十多" in u for u in f.uncertain)  # the rumour's doubts went with its figure


def test_an_official_none_supersedes_a_rumour():
    f = _merged("转发：马街化工厂爆炸了，死了50人", "经核实，化工厂为例行检修放空，现场无爆炸、无人员伤亡。网传'死亡50人'系谣言。")
    assert f.deaths == 0 and assess_facts(f).level == S.GENERAL and assess_facts(f).triage_reason


def test_official_all_light_supersedes_unspecified_injuries():
    f = _merged("听说60多人受伤", "经核实，共63人受伤，经医院检查均为轻伤，已全部离院。")
    assert f.injured == 0 and f.light_only and assess_facts(f).level == S.GENERAL


def test_an_official_correction_supersedes_an_earlier_official_figure():
    f = _merged("区政府通报：厂房坍塌事故已造成14人死亡", "【情况通报】经DNA比对，此前统计的14名死者中有5人系重复登记，事故实际死亡9人。特此更正。")
    assert f.deaths == 9 and f.correction and assess_facts(f).level == S.LARGER


def test_a_later_unofficial_higher_figure_still_raises():
    f = _merged("区应急局通报：事故造成8人死亡", "现场救援人员说，死亡人数已经到了12人")
    assert f.deaths == 12 and assess_facts(f).level == S.MAJOR


def test_trapped_people_found_dead_are_not_counted_twice():
    f = _merged("采石场透水，9名工人被困井下、失去联系", "续报：已搜救出7名遇难者，仍有2人被困。",
                "据区应急局消息，被困的9名工人已全部找到，均已遇难。")
    assert (f.deaths, f.missing, f.trapped) == (9, 0, 0) and assess_facts(f).level == S.LARGER


def test_merge_of_one_or_none():
    f = extract_facts("3人死亡")
    assert merge_facts([f]) == f and merge_facts([]) == Facts() and merge_facts([None, f]) == f


def _samples(pattern: str) -> list[str]:
    """One string for each top-level alternative of a regex (the first choice of every inner group)."""
    from re import _parser as parser

    def first(items) -> str:
        out = ""
        for op, av in items:
            name = str(op)
            if name == "LITERAL":
                out += chr(av)
            elif name == "IN":
                out += next(chr(v) for o, v in av if str(o) == "LITERAL")
            elif name == "SUBPATTERN":
                out += first(av[-1])
            elif name == "BRANCH":
                out += first(av[1][0])
            elif name in ("MAX_REPEAT", "MIN_REPEAT") and av[0] > 0:
                out += first(av[2]) * av[0]
        return out

    tree = list(parser.parse(pattern))
    if len(tree) == 1 and str(tree[0][0]) == "BRANCH":
        return [first(branch) for branch in tree[0][1][1]]
    return [first(tree)]


def test_every_casualty_word_passes_the_pre_check():
    """The fast path skips a text without a _TRIGGER word: each word the reader knows must contain one."""
    from monitor.understanding.severity import _KW_SPEC, _TRIGGER

    words = [w for pattern, *_ in _KW_SPEC for w in _samples(pattern)]
    assert len(words) > 60 and "被压死亡" in words and "死了" in words
    for word in words + ["损失", "1死3伤"]:
        assert _TRIGGER.search(word), word
