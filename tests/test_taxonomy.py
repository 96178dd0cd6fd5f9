"""Multi-label flags by rules: the 15 level-1 taxonomy classes and the eight sensitive areas."""


import pytest

from monitor.core.model import Severity
from monitor.understanding.taxonomy import SENSITIVE_AREAS, Lexicons
from monitor.understanding.terms import TermIndex
from monitor.config.settings import BUNDLED_CONFIG

LEX = Lexicons.load(BUNDLED_CONFIG / "lexicons")
INDEX = LEX.register(TermIndex())


def flags(text, domain="", confidence=0.0):
    found = INDEX.find(text)
    return set(LEX.areas(found)), set(LEX.topics(found, domain, confidence))


def test_all_fifteen_classes_and_eight_areas_have_terms():
    assert len(LEX.taxonomy) == 15 and all(LEX.taxonomy.values())
    assert set(LEX.sensitive) == set(SENSITIVE_AREAS) and all(LEX.sensitive.values())


@pytest.mark.parametrize("text,areas,topics", [
    ("新冠疫情期间小区封控，核酸检测点排长队", {"疫情防控"}, {"卫生计生", "城乡建设"}),
    ("开发商延期交房，楼盘停工烂尾", {"房地产金融"}, {"城乡建设"}),
    ("包工头拖欠农民工工资，讨薪无门", {"工资拖欠"}, {"劳动和社会保障"}),
    ("工厂偷排废水，河道黑臭", {"环境污染和生态破坏"}, {"环境保护"}),
    ("学校食堂发生食物中毒", {"食品药品安全", "教育医疗养老"}, {"卫生计生", "教育文体"}),
    ("煤矿发生瓦斯爆炸事故", {"安全生产"}, {"经济管理"}),
    ("低保户生活困难，申请临时救助", {"困难群众生活"}, {"民政"}),
    ("村干部贪污扶贫款，纪委不作为", set(), {"纪检监察", "农村农业"}),
    ("派出所民警办理户口迁移拖延", set(), {"政法"}),
    ("手机基站信号差，宽带经常断", set(), {"科技与信息产业"}),
    ("征地补偿款没有到位，失地农民生活无着", set(), {"国土资源"}),
    ("社区党员发挥作用，党建工作走形式", set(), {"党务政务"}),
])
def test_flags(text, areas, topics):
    got_areas, got_topics = flags(text)
    assert areas <= got_areas
    assert topics <= got_topics


def test_the_model_domain_counts_when_confident():
    assert "交通运输" in flags("司机态度恶劣", "交通运输", 0.9)[1]
    assert "交通运输" not in flags("司机态度恶劣", "交通运输", 0.2)[1]


def test_severe_incidents_are_major_problems():
    found = INDEX.find("建议增设路灯")
    assert LEX.response_type(found, Severity.GENERAL)[0] == "建设性意见"
    assert LEX.response_type(found, Severity.LARGER)[0] == "重大问题"


def test_unknown_area_in_lexicon_is_an_error(tmp_path):
    (tmp_path / "sensitive.yaml").write_text("不存在的领域: [x]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="不存在的领域"):
        Lexicons.load(tmp_path)
