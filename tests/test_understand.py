"""The Understander as the pipeline calls it: the whole picture for one message, and for batches."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.understanding.jurisdiction import load_jurisdiction
from monitor.core.model import Severity
from monitor.understanding.taxonomy import RESPONSE_TYPES, SENSITIVE_AREAS
from monitor.understanding.understander import Understander, prepare
from monitor.config.settings import BUNDLED_CONFIG

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def xishan():
    return Understander.load(BUNDLED_CONFIG / "lexicons", load_jurisdiction(BUNDLED_CONFIG / "jurisdictions/xishan.yaml"),
                             0.35)


@pytest.fixture(scope="module")
def yunnan():
    return Understander.load(BUNDLED_CONFIG / "lexicons", load_jurisdiction(BUNDLED_CONFIG / "jurisdictions/yunnan.yaml"),
                             0.35)


def test_major_accident(xishan):
    u = xishan.understand("马街街道化工厂爆炸", "马街街道一化工厂发生爆炸，造成十二人死亡、三十余人受伤，周边居民紧急疏散")
    # 三十余人 is read by its upper bound (issue 15: doubt grades up), with the reason kept
    assert u.severity == Severity.MAJOR and u.facts["deaths"] == 12 and u.facts["injured"] == 39
    assert any("三十余人" in why for why in u.facts["uncertain"])
    assert u.department == "区应急局" and "马街街道办事处" in u.co_departments and u.region == "马街街道"
    assert "安全生产" in u.sensitive_areas and u.response_type == "重大问题"
    stages = {r.stage for r in u.reasons}
    assert {"classify", "route", "severity", "response"} <= stages


def test_wage_arrears_in_a_prefecture(yunnan):
    u = yunnan.understand("曲靖市某工地拖欠农民工工资", "我们在麒麟区一个工地干了半年，老板拖欠工资二十多万元，讨薪无门")
    assert u.domain == "劳动和社会保障"
    assert u.department == "麒麟区人力资源和社会保障局" and u.level == "county" and u.route_rule == "local"
    assert "工资拖欠" in u.sensitive_areas and "劳动和社会保障" in u.topics
    assert u.response_type == "实际困难" or u.response_type in RESPONSE_TYPES


def test_policy_goes_to_its_drafter(yunnan):
    u = yunnan.understand("关于印发《云南省义务教育学校招生入学工作实施办法》的通知",
                          "省教育厅印发了招生入学实施办法，请各州、市认真贯彻执行")
    assert u.kind == "policy" and u.department == "省教育厅" and u.route_rule == "policy"


@pytest.mark.parametrize("title,body,kind", [
    ("建议增设公交线路", "建议在小区门口增设一条公交线路，方便居民出行", "建设性意见"),
    ("咨询社保转移", "请问外地社保如何办理转移，需要什么材料", "模糊认识"),
    ("网传学校食堂用过期食材是谣言吗", "网上传言学校食堂用过期食材，是真的吗", "虚假不实信息"),
    ("小区停水三天", "小区已经停水三天，老人小孩生活困难，无人管", "实际困难"),
])
def test_response_types(xishan, title, body, kind):
    u = xishan.understand(title, body)
    assert u.response_type == kind
    assert any(r.stage == "response" and kind in r.text for r in u.reasons)


def test_low_confidence_or_ambiguous_waits_for_a_person(xishan):
    u = xishan.understand("", "你好")
    assert u.needs_triage and u.triage_reason
    assert any(r.stage == "triage" for r in u.reasons)
    clear = xishan.understand("小区物业乱收停车费", "马街街道某小区物业乱收停车费，业主多次投诉无果")
    assert not clear.needs_triage and clear.triage_reason == ""


def test_threshold_is_configurable():
    strict = Understander.load(BUNDLED_CONFIG / "lexicons",
                               load_jurisdiction(BUNDLED_CONFIG / "jurisdictions/xishan.yaml"), 0.999)
    u = strict.understand("小区物业乱收停车费", "马街街道某小区物业乱收停车费")
    assert u.needs_triage and "低于 1.00" in u.triage_reason


def test_batch_equals_one_by_one(xishan):
    pairs = [("小区停水", "金碧街道小区停水"), ("", ""), ("学校补课", "学校周末强制补课收费"), ("爆炸", "三人死亡")]
    batch = xishan.understand_many(pairs)
    single = [xishan.understand(t, b) for t, b in pairs]
    assert [(u.domain, u.department, u.severity, u.response_type) for u in batch] == \
        [(u.domain, u.department, u.severity, u.response_type) for u in single]
    assert xishan.understand_many([]) == []


def test_full_width_digits_are_read():
    assert prepare("１２人死亡", "　Ａ市") == "12人死亡\nA市" or prepare("１２人死亡", "　Ａ市") == "12人死亡 A市"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200), st.text(max_size=400))
def test_understanding_never_raises(xishan, title, body):
    u = xishan.understand(title, body)
    assert isinstance(u.severity, Severity) and u.response_type in RESPONSE_TYPES
    assert set(u.sensitive_areas) <= set(SENSITIVE_AREAS) and u.department


def test_a_bad_lexicon_is_a_config_error_naming_the_file(tmp_path):
    import shutil

    from monitor.config.settings import ConfigError

    lex = tmp_path / "lexicons"
    shutil.copytree(BUNDLED_CONFIG / "lexicons", lex)
    (lex / "severity.yaml").write_text("cap_raised: 很大\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        Understander.load(lex, load_jurisdiction(BUNDLED_CONFIG / "jurisdictions/xishan.yaml"), 0.35)
    assert "lexicons" in str(err.value) and "很大" in str(err.value)


def test_same_dictionaries_from_another_folder_do_not_shift_segmentation(tmp_path):
    import csv
    import shutil
    from pathlib import Path

    from monitor.understanding import segment
    from monitor.config.settings import BUNDLED_CONFIG

    with open(Path(__file__).parent / "fixtures" / "understand_sample.csv", encoding="utf-8") as f:
        texts = [r["title"] + "\n" + r["body"] for r in csv.DictReader(f)]
    bundled = segment.for_lexicons(BUNDLED_CONFIG / "lexicons")
    before = [bundled.tokens(t) for t in texts]
    copy = shutil.copytree(BUNDLED_CONFIG / "lexicons", tmp_path / "lexicons")
    # e.g. a service started with --config elsewhere, or a reload: the same words, no word added twice
    assert segment.for_lexicons(copy) is bundled
    assert [segment.for_lexicons(copy).tokens(t) for t in texts] == before


def test_two_understanders_with_other_dictionaries_do_not_affect_each_other(tmp_path):
    import shutil

    from monitor.understanding import segment
    from monitor.config.settings import BUNDLED_CONFIG

    text = "市民反映碧鸡街道某某路口积水严重"
    bundled = segment.for_lexicons(BUNDLED_CONFIG / "lexicons")
    before = bundled.tokens(text)
    other = shutil.copytree(BUNDLED_CONFIG / "lexicons", tmp_path / "lexicons")
    with open(other / "places.dict", "a", encoding="utf-8") as f:
        f.write("\n某某路口积水 100000 n\n")
    assert "某某路口积水" in segment.for_lexicons(other).tokens(text)
    assert bundled.tokens(text) == before  # loading other dictionaries left the first segmenter alone
