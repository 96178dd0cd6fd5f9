"""Routing (属地管理、分级负责、谁主管谁负责) over realistic sentences, with the shipped Yunnan and Xishan configs."""


import pytest

from monitor.understanding.jurisdiction import load_jurisdiction
from monitor.understanding.route import Router
from monitor.config.settings import ConfigError
from monitor.config.settings import BUNDLED_CONFIG

CONFIG = BUNDLED_CONFIG / "jurisdictions"


@pytest.fixture(scope="module")
def yunnan():
    return Router(load_jurisdiction(CONFIG / "yunnan.yaml"))


@pytest.fixture(scope="module")
def xishan():
    return Router(load_jurisdiction(CONFIG / "xishan.yaml"))


# text, domain, kind → lead, co-handlers that must be present, region, rule, ambiguous
YUNNAN = [
    # one place of ours: that place's counterpart department (属地管理)
    ("昆明市西山区某化工厂夜间偷排废水，河道黑臭", "环境保护", "incident",
     "西山区生态环境分局", [], "西山区", "local", False),
    ("曲靖市一所小学食堂饭菜变质，多名学生腹泻", "教育文体", "incident",
     "曲靖市教育体育局", [], "曲靖市", "local", False),
    # prefecture and county named together: the county is where it happened
    ("大理州宾川县食品店出售过期食品，孩子食物中毒", "卫生计生", "incident",
     "宾川县市场监督管理局", [], "宾川县", "local", False),
    # several regions → the upper level's department in charge
    ("昆明市和曲靖市交界处的河流被化工厂污染", "环境保护", "incident",
     "省生态环境厅", [], "云南省", "cross_region", False),
    ("玉溪市红塔区和江川区多个乡镇拖欠农民工工资", "劳动和社会保障", "incident",
     "玉溪市人力资源和社会保障局", [], "玉溪市", "local", False),
    # masked places of the shared data count as places
    ("A市A7县某学校乱收补课费", "教育文体", "incident", "A7县教育体育局", [], "A7县", "local", False),
    ("A2区和A5区多个小区连续停水三天", "城乡建设", "incident",
     "A市住房和城乡建设局", [], "A市", "local", False),
    # a street of an anonymised district: the district's department, the street office co-handles
    ("A3区洋湖街道某小区垃圾堆放，臭气熏天", "环境保护", "incident",
     "A3区生态环境分局", ["洋湖街道办事处"], "洋湖街道", "local", False),
    # several departments: a lead and co-handlers
    ("昆明市某小区开发商拖欠农民工工资，业主房产证也办不下来", "城乡建设", "incident",
     "昆明市住房和城乡建设局", ["昆明市人力资源和社会保障局"], "昆明市", "local", False),
    # a provincial policy → the department that drafted it (谁起草、谁解读)
    ("省教育厅印发《云南省义务教育阶段学校招生入学工作实施办法》", "教育文体", "policy",
     "省教育厅", [], "云南省", "policy", False),
    ("省人力资源社会保障厅出台关于失业保险稳岗返还的通知", "劳动和社会保障", "policy",
     "省人力资源社会保障厅", [], "云南省", "policy", False),
    # elsewhere: the government office transfers it, and a person checks
    ("北京市朝阳区某小区物业乱收费", "城乡建设", "incident",
     "省政府办公厅", ["省住房城乡建设厅"], "北京市、朝阳区", "outside", True),
    # no place: our own level
    ("网约车平台随意抬高价格，司机和乘客都不满", "交通运输", "incident",
     "省交通运输厅", [], "云南省", "jurisdiction", False),
]


@pytest.mark.parametrize("text,domain,kind,lead,co,region,rule,ambiguous", YUNNAN)
def test_yunnan(yunnan, text, domain, kind, lead, co, region, rule, ambiguous):
    d = yunnan.route(text, domain, 0.9, kind)
    assert (d.department, d.region, d.rule, d.ambiguous) == (lead, region, rule, ambiguous), d.reasons
    for name in co:
        assert name in d.co_departments
    assert d.department not in d.co_departments
    assert d.reasons and all(r.stage == "route" for r in d.reasons)


XISHAN = [
    # in one street: the district bureau leads, the street office co-handles
    ("马街街道一化工厂发生爆炸，造成三人死亡", "城乡建设", True, "区应急局", ["马街街道办事处"], "马街街道", "local"),
    ("海口街道某工地拖欠农民工工资", "劳动和社会保障", False,
     "区人力资源社会保障局", ["海口街道办事处"], "海口街道", "local"),
    # the street name is part of a longer, known name: 海口 (Hainan) is not matched inside 海口街道
    # street vendors at a school gate: city management leads, education co-handles
    ("昆明市西山区前卫街道学校门口流动摊贩占道经营", "教育文体", False,
     "区城市管理局", ["前卫街道办事处", "区教育体育局"], "前卫街道", "local"),
    # several streets → the district's own department
    ("马街街道和福海街道多处垃圾堆放无人清运", "城乡建设", False,
     "区住房城乡建设局", [], "昆明市西山区", "cross_region"),
    # another district of Kunming is elsewhere
    ("五华区某小区酒吧噪音扰民", "环境保护", False, "区政府办公室", ["区生态环境分局"], "五华区", "outside"),
]


@pytest.mark.parametrize("text,domain,emergency,lead,co,region,rule", XISHAN)
def test_xishan(xishan, text, domain, emergency, lead, co, region, rule):
    d = xishan.route(text, domain, 0.9, emergency=emergency)
    assert (d.department, d.region, d.rule) == (lead, region, rule), d.reasons
    for name in co:
        assert name in d.co_departments


def test_reasons_name_matched_terms_place_and_rule(yunnan):
    d = yunnan.route("昆明市西山区某化工厂夜间偷排废水，河道黑臭", "环境保护", 0.9)
    text = "\n".join(r.text for r in d.reasons)
    assert "偷排" in text and "主管领域「环境保护」" in text
    assert "属地管理：事发地「西山区」" in text


def test_emergency_goes_to_the_safety_department_whatever_the_domain(xishan):
    plain = xishan.route("马街街道一化工厂发生爆炸", "城乡建设", 0.9)
    urgent = xishan.route("马街街道一化工厂发生爆炸", "城乡建设", 0.9, emergency=True)
    assert urgent.department == "区应急局"
    assert urgent.votes["区应急局"] > plain.votes["区应急局"]


def test_named_department_leads(xishan):
    d = xishan.route("区市场监管局对超市卖过期食品不作为", "商贸旅游", 0.9)
    assert d.department == "区市场监管局" and not d.ambiguous


def test_near_tie_is_ambiguous_and_says_so(xishan):
    d = xishan.route("小区旁边的工厂排污", "", 0.0)  # 小区 (住建) against 排污 (生态环境), no domain
    assert d.ambiguous
    assert any("分办不明确" in r.text for r in d.reasons)


def test_nothing_matched_goes_to_the_office(xishan):
    d = xishan.route("你好", "", 0.0)
    assert d.department == "区政府办公室" and d.ambiguous and d.rule == "fallback"


@pytest.mark.parametrize("text", ["大理石加工厂粉尘污染", "A2区丽江路下穿隧道积水", "船山西路公交站台破损"])
def test_words_that_contain_place_names_are_not_places(yunnan, text):
    d = yunnan.route(text, "环境保护", 0.9)
    assert d.rule == "jurisdiction" or d.region.startswith("A"), (d.region, d.reasons)
    assert "大理" not in d.region and "丽江" not in d.region and "山西" not in d.region


def test_place_mentioned_late_in_a_comparison_is_not_the_location(xishan):
    d = xishan.route("马街街道菜市场污水横流，希望像北京市那样管理好" + "。" * 80 + "上海市", "环境保护", 0.9)
    assert d.region == "马街街道" and d.rule == "local"


def test_bad_jurisdiction_file_names_line_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: 测试\nlevel: district\noffice: 办公室\ndepartments:\n  - name: 甲局\n    keywrods: [x]\n",
                   encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_jurisdiction(bad)
    assert "bad.yaml:6" in str(err.value) and "keywrods" in str(err.value)
