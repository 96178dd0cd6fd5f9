"""Department and domain names in actions are checked against the jurisdiction and the classifier
(monitor.understanding.names): unknown names are refused with the allowed ones, aliases become the name."""

import pytest

from monitor.config.settings import BUNDLED_CONFIG
from monitor.core.errors import ServiceError
from monitor.understanding.jurisdiction import load_jurisdiction
from monitor.understanding.names import (UnknownName, check_correction, check_department, check_departments,
                                         check_domain, check_name, department_names, domain_names, known_domains)


@pytest.fixture(scope="module")
def xishan():
    return load_jurisdiction(BUNDLED_CONFIG / "jurisdictions" / "xishan.yaml")


@pytest.fixture(scope="module")
def yunnan():
    return load_jurisdiction(BUNDLED_CONFIG / "jurisdictions" / "yunnan.yaml")


def test_known_departments_and_aliases(xishan):
    assert check_department(xishan, "区应急局") == "区应急局"
    assert check_department(xishan, "  区卫生健康局 ") == "区卫生健康局"
    assert check_department(xishan, "卫健局") == "区卫生健康局"  # an alias becomes its department's name
    assert check_department(xishan, "区政府办公室") == xishan.office
    assert check_department(xishan, "马街街道办事处") == "马街街道办事处"  # a place's office co-handles
    assert check_departments(xishan, ["卫健局", "区卫生健康局", "区应急局"]) == ["区卫生健康局", "区应急局"]


@pytest.mark.parametrize("name", ["<script>alert(1)</script>区城管局", "区城管局", "区应急局 OR 1=1",
                                  "北京市朝阳区城管局"])
def test_unknown_department_is_refused_with_the_allowed_names(xishan, name):
    with pytest.raises(UnknownName) as info:
        check_department(xishan, name)
    err = info.value
    assert isinstance(err, ServiceError) and err.status == 400  # the API answers 400, the CLI exits 2
    assert err.field == "department" and err.value == name.strip()
    assert err.allowed == department_names(xishan) and "区城市管理局" in err.allowed
    text = str(err)
    assert text.startswith("department: 未知的部门") and "区城市管理局" in text and "区应急局" in text


def test_a_close_name_is_suggested(xishan):
    with pytest.raises(UnknownName, match="是否要找「区城市管理局」"):
        check_department(xishan, "区城管局")


@pytest.mark.parametrize("value", ["", "   ", None, 3, ["区应急局"]])
def test_a_department_must_be_a_non_empty_text(xishan, value):
    with pytest.raises(ServiceError, match="department"):
        check_department(xishan, value)


def test_department_names_cover_what_the_router_assigns(xishan, yunnan):
    names = department_names(xishan)
    assert names[:len(xishan.departments)] == [d.name for d in xishan.departments]
    assert {"区政府办公室", "区委网信办", "区公安分局", "团结街道办事处"} <= set(names)
    assert len(names) == len(set(names))
    # a province: its departments and their counterparts in each prefecture and county (local templates)
    names = set(department_names(yunnan))
    assert {"省应急厅", "昆明市生态环境局", "五华区生态环境分局", "昆明市教育体育局"} <= names
    assert check_department(yunnan, "昆明市应急管理局") == "昆明市应急管理局"


def test_anonymised_places_of_a_masked_jurisdiction(yunnan, xishan):
    assert yunnan.masked_places
    assert check_department(yunnan, "A1区生态环境分局") == "A1区生态环境分局"
    assert check_department(yunnan, "洋湖街道办事处") == "洋湖街道办事处"
    for bad in ("<b>A1区生态环境分局", "A1区生态环境分局<script>", "AB区生态环境分局"):
        with pytest.raises(UnknownName):
            check_department(yunnan, bad)
    with pytest.raises(UnknownName):  # only where anonymised names are places
        check_department(xishan, "A1区生态环境分局")


def test_domains(xishan):
    allowed = domain_names(xishan, ["交通运输", "城乡建设"], ["民政"])
    assert allowed[:3] == ["交通运输", "城乡建设", "民政"] and "其他" in allowed
    assert set(d for dept in xishan.departments for d in dept.domains) <= set(allowed)
    assert check_domain(" 城乡建设 ", allowed) == "城乡建设"
    with pytest.raises(UnknownName) as info:
        check_domain("<img src=x>城乡建设", allowed)
    assert info.value.field == "domain" and "城乡建设" in str(info.value) and "未知的领域" in str(info.value)


def test_check_name_lists_long_lists_in_part(yunnan):
    allowed = department_names(yunnan)
    assert len(allowed) > 100
    with pytest.raises(UnknownName) as info:
        check_name("不存在的局", allowed, "department", "部门")
    assert f"等 {len(allowed)} 个" in str(info.value) and len(info.value.allowed) == len(allowed)


def fake_understander(model_labels=("城乡建设", "交通运输"), keyword_labels=("环境保护",)):
    from types import SimpleNamespace

    return SimpleNamespace(model=SimpleNamespace(labels=list(model_labels)),
                           keywords=SimpleNamespace(labels=list(keyword_labels)),
                           lexicons=SimpleNamespace(taxonomy={"民政": [], "政法": []},
                                                    order=["虚假不实信息", "重大问题", "实际困难"]))


def test_known_domains_of_an_understander(xishan):
    u = fake_understander()
    assert known_domains(xishan, u)[:5] == ["城乡建设", "交通运输", "环境保护", "民政", "政法"]
    u.model = None  # no trained model: the keyword labels, the taxonomy, the departments' domains and 其他
    served = {d for dept in xishan.departments for d in dept.domains}
    assert set(known_domains(xishan, u)) == {"环境保护", "民政", "政法", "其他"} | served


def test_check_correction(xishan):
    u = fake_understander()
    out = check_correction(xishan, u, {"department": "卫健局", "co_departments": "区应急局，住建局、区应急局",
                                       "domain": "民政", "response_type": "实际困难", "severity": "重大"})
    assert out == {"department": "区卫生健康局", "co_departments": ["区应急局", "区住房城乡建设局"],
                   "domain": "民政", "response_type": "实际困难", "severity": "重大"}
    assert check_correction(xishan, u, {"co_departments": ["区应急局"]}) == {"co_departments": ["区应急局"]}
    assert check_correction(xishan, u, {"co_departments": ""}) == {"co_departments": []}  # clears them
    for bad, field in [({"department": "<script>区城管局"}, "department"),
                       ({"co_departments": ["区应急局", "假冒局"]}, "co_departments"),
                       ({"domain": "娱乐八卦"}, "domain"), ({"response_type": "不回应"}, "response_type")]:
        with pytest.raises(UnknownName) as info:
            check_correction(xishan, u, bad)
        assert info.value.field == field
    for bad in ({"co_departments": 5}, {"co_departments": ["区应急局", 7]}, {"domain": 3}, {"department": ""}):
        with pytest.raises(ServiceError):
            check_correction(xishan, u, bad)
