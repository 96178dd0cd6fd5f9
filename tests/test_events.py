"""monitor.dedupe.events: what tells one real-world event from another, and which open event a report joins.

Unit tests of each rule, then the evaluation over tests/data/events/scenarios.jsonl (written from the rules by an
independent examiner, see its README): each scenario's reports go in `minutes` order through a sequential
clustering — today's near-duplicate grouping (3-gram Jaccard ≥ minhash.THRESHOLD), now refused when `conflicts`
says the texts are about different places or organisations, then `match` — with the region from the real router
(the location field appended to the body, as the pipeline does). The figure is the share of scenarios whose
partition equals the expected `events` exactly; the issue asks for ≥ 90 %.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.dedupe import events, minhash
from monitor.dedupe.events import Candidate, Reader, Signature, Windows, conflicts, match, merge

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "tests" / "data" / "events" / "scenarios.jsonl"
DATA = SCENARIOS.parent
T0 = datetime(2026, 1, 5, 9, 0)
TARGET = 0.9


# ------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def jurisdiction():
    from monitor.config.settings import BUNDLED_CONFIG
    from monitor.understanding.jurisdiction import load_jurisdiction

    return load_jurisdiction(BUNDLED_CONFIG / "jurisdictions" / "xishan.yaml")


def places_of(j) -> dict[str, str]:
    """{name or alias: name} of the jurisdiction's places, as the pipeline passes them."""
    return {alias: p.name for p in j.places for alias in (p.name, *p.aliases)}


@pytest.fixture(scope="module")
def reader(jurisdiction) -> Reader:
    return Reader([jurisdiction.name, *jurisdiction.aliases], places_of(jurisdiction))


@pytest.fixture(scope="module")
def read(reader):
    def read(text: str, region: str = "") -> Signature:
        return reader.signature(text, region)
    return read


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def open_event(key, signature: Signature, first: float = 0, last: float | None = None) -> Candidate:
    return Candidate(key, signature, at(first), at(first if last is None else last))


# ------------------------------------------------------------------------------------------- reading: types
@pytest.mark.parametrize("text,types", [
    ("马街某化工厂发生爆燃，现场浓烟滚滚", {"爆炸"}),
    ("刚刚化工厂那边炸了！", {"爆炸"}),
    ("刚才一声巨响，是哪里爆炸了？", {"巨响"}),  # a bang asked about is a bang, not yet an explosion
    ("前卫这边也听到很大的爆炸声", {"巨响"}),
    ("团结街道方向巨响系某隧道按计划实施爆破作业", {"巨响", "爆破"}),
    ("这条消息在群里炸了锅", set()),
    ("小区3栋12楼一户人家着火了", {"火灾"}),
    ("都一个半小时了，商场的火还在烧", {"火灾"}),
    ("在建隧道洞口塌方", {"坍塌"}),
    ("工地一面挡土墙倒了，下面压着人", {"坍塌"}),
    ("碧鸡关两车相撞", {"交通事故"}),
    ("校车翻到沟里了", {"交通事故"}),
    ("8个学生晚饭后呕吐腹泻", {"中毒"}),
    ("楼道里煤气味很重", {"泄漏"}),
    ("有人说是管道漏了", {"泄漏"}),
    ("3个孩子下湖游泳，一直没上来", {"溺水"}),
    ("出口拥挤，听说60多人受伤", {"踩踏"}),
    ("养老院最近很多老人发烧", {"疫情"}),
    ("团结也有震感，吊灯晃了好几下", {"地震"}),
    ("小水库坝脚一直在冒浑水", {"水库险情"}),
    ("河道今天早上漂满死鱼", {"污染"}),
    ("6栋电梯卡在9楼和10楼之间，里面有人", {"电梯事故"}),
    ("包工头拖欠我们二十六名工人工资", {"讨薪"}),
])
def test_event_types_and_their_synonyms(read, text, types):
    assert read(text).types == frozenset(types)


@pytest.mark.parametrize("text,types", [
    ("经核实，现场无爆炸、无人员伤亡", set()),  # negated
    ("锦华苑小区燃气泄漏已处理，无人中毒", {"泄漏"}),
    ("电线乱拉，万一起火后果不堪设想", set()),  # hypothetical
    ("消防通道堵塞，存在火灾隐患", set()),  # a hazard
    ("去年某地火灾死亡12人，希望加强检查", set()),  # history
    ("2016年这里就烧死过11个人", set()),
    ("施工的声音就像爆炸一样", set()),  # a simile
    ("个人信息泄露，天天接到骚扰电话", set()),
    ("安全事故隐患多", set()),  # 事故 alone counts only with casualties
    ("搅拌车事故造成1人死亡", {"事故"}),
])
def test_negated_hypothetical_historical_and_idle_mentions_name_no_event(read, text, types):
    assert read(text).types == frozenset(types)


def test_a_drill_is_only_a_drill_whatever_it_simulates(read):
    drill = read("西山区今日上午在海口街道化工园区开展危化品泄漏应急演练，模拟30名员工中毒", "海口街道")
    assert drill.types == {"演练"}
    real = read("化工园区另一家企业发生氨气泄漏，12名员工中毒送医。这次不是演练！", "海口街道")
    assert real.types == {"泄漏", "中毒"} and "另一" in real.marks


def test_signs_of_an_incident_are_not_words_of_everyday_complaints(read):
    assert read("死亡人数已上升至11人").kind == "sign"
    assert read("化工厂周边居民需要疏散吗").signs == {"疏散"}
    assert read("爆炸现场附近道路封闭").types == {"爆炸"}
    assert read("马街某路全线临时封闭，公交绕行").signs == {"封闭"}
    assert read("我们小区的安置房质量太差，封闭阳台还要收费，楼道里有异味").kind == "routine"
    assert read("楼下烧烤店营业到凌晨两三点，喝酒划拳声音很大").kind == "routine"


# ------------------------------------------------------------------------------------------ reading: places
def test_places_come_from_the_region_and_the_text(read):
    s = read("马街那边炸了！刚刚马街方向一声巨响", "马街街道")
    assert s.places == {"马街街道", "昆明市西山区"}
    # the jurisdiction's own name as region is no place; a place named in the text is one
    assert "马街街道" in read("是不是马街化工厂爆炸泄漏出来的？", "昆明市西山区").places
    assert read("刚才是不是地震了", "昆明市西山区").places == frozenset()
    # places elsewhere, from the router
    assert read("官渡区某酒店着火了", "官渡区").places == {"官渡区"}
    assert read("海南省海口市美兰区某厂房起火", "海口市、海南省、美兰区").places == {"海口市", "海南省", "美兰区"}


def test_a_street_stem_is_a_place_only_where_the_text_makes_it_one(read):
    assert "海口街道" in read("海口钢厂煤气柜爆炸").places  # a facility follows
    assert "前卫街道" in read("前卫那个商场的火还在烧").places
    assert "海口街道" not in read("海口市美兰区某厂房起火").places  # 海口市 is a city elsewhere


def test_where_the_reporter_is_is_not_where_it_happened(read):
    s = read("我在金碧这边，刚才一声巨响，家里阳台玻璃都震碎了，是哪里爆炸了？\n金碧街道", "金碧街道")
    assert "金碧街道" not in s.places
    s = read("金碧路这边突然闻到一股很冲的化学品味道，是不是马街化工厂爆炸泄漏出来的？\n金碧街道", "昆明市西山区")
    assert s.places & {"金碧街道", "金碧路"} == set() and "马街街道" in s.places
    # without the jurisdiction's places too (the region's own stem)
    bare = Reader(["昆明市西山区", "西山区"])
    assert "前卫街道" not in bare.signature("前卫这边也听到很大的爆炸声\n前卫街道", "前卫街道").places


def test_named_sites_and_organisations(read):
    s = read("前卫街道锦苑小区2栋电梯突然从8楼下坠到3楼", "前卫街道")
    assert "锦苑小区" in s.places and s.facilities == {"住宅"}
    assert "碧鸡关" in read("碧鸡关下坡一辆大货车撞上一辆小客车", "碧鸡街道").places
    assert "观音山" in read("碧鸡街道观音山附近一个小区门口燃气管道被挖断了", "碧鸡街道").places
    assert read("福海街道某路的星光KTV每晚营业到凌晨三点").entities == {"星光KTV"}
    assert read("还是福海那家星光ktv，昨天反映了今天照样唱").entities == {"星光KTV"}
    assert read("棕树营街道某路一家KTV每晚营业到凌晨三点").entities == frozenset()


def test_a_place_or_a_description_before_a_facility_is_not_a_name(read):
    s = read("马街化工厂爆炸事故目前已确认5人死亡")
    assert s.entities == frozenset() and s.facilities == {"化工厂"} and "马街街道" in s.places
    assert read("马街街道一物流仓库着火").entities == frozenset()
    assert read("某在建项目地下室顶板坍塌").facilities == {"工地"}
    # where the injured were taken is not where it happened
    assert "医院" not in read("15个孩子呕吐腹泻，送到儿童医院了").facilities
    assert "医院" not in read("63人受伤，经医院检查均为轻伤").facilities


def test_vehicles_marks_and_the_stored_form(read):
    s = read("西苑某路口早上一辆电动车和小轿车剐了一下", "西苑街道")
    assert s.types == {"交通事故"} and s.vehicles == {"电动车", "小车"}
    assert "事后" in read("经核定，马街街道某物流仓库火灾直接经济损失5200万元").marks
    assert "复发" in read("前卫某小区1栋电梯今天又困人了").marks
    assert Signature.from_dict(s.as_dict()) == s
    assert Signature.from_dict(json.loads(json.dumps(s.as_dict(), ensure_ascii=False))) == s
    assert Signature.from_dict(None) == Signature() and Signature().kind == "routine"
    assert s.describe() == "交通事故｜西苑街道｜路口"


def test_the_module_function_keeps_a_reader_per_jurisdiction(jurisdiction):
    names = [jurisdiction.name, *jurisdiction.aliases]
    a = events.signature("马街化工厂爆炸", "昆明市西山区", names, places_of(jurisdiction))
    assert "马街街道" in a.places and "爆炸" in a.types
    assert events.signature("马街化工厂爆炸", "昆明市西山区", names, places_of(jurisdiction)) == a


# --------------------------------------------------------------------------------------------------- conflicts
@pytest.mark.parametrize("a,region_a,b,region_b,why", [
    ("楼下烧烤店噪音扰民", "福海街道", "楼下烧烤店噪音扰民", "棕树营街道", "街道不同"),
    ("马街街道锦苑小区广场舞扰民", "马街街道", "马街街道和园小区广场舞扰民", "马街街道", "地点不同"),
    ("官渡区一酒店起火", "官渡区", "金碧街道一家服装店着火", "金碧街道", "事发地不同"),
    ("海口街道一厂房起火", "海口街道", "海南省海口市美兰区某厂房起火", "海口市、海南省、美兰区", "事发地不同"),
    ("福海街道某路的星光KTV扰民", "福海街道", "福海街道某路的金樽KTV扰民", "福海街道", "单位不同"),
    ("福海街道某小区3栋着火", "福海街道", "福海街道一家餐馆后厨起火", "福海街道", "场所不同"),
    ("西苑某路口电动车和小轿车剐蹭", "西苑街道", "西苑那个路口一辆货车撞到两个行人", "西苑街道", "车辆不同"),
])
def test_conflicts_say_why_look_alike_texts_are_different_events(read, a, region_a, b, region_b, why):
    reason = conflicts(read(a, region_a), read(b, region_b))
    assert reason is not None and reason.startswith(why), reason


@pytest.mark.parametrize("a,b", [
    ("马街化工厂爆炸", "马街街道某化工企业发生爆炸事故"),  # a place-named factory and the official wording
    ("A市涉外经济学院强制学生实习", "A市经济学院强制学生实习"),  # one name written two ways
    ("万家丽南路丽发新城居民区附近搅拌站扰民", "丽发新城小区附近搅拌站扰民"),  # a road and an estate on it
    ("马街某化工厂爆炸", "马街那边炸了，化工厂那边冒黑烟"),
    ("某小学楼梯踩踏", "孩子学校发生踩踏"),  # 学校 covers 小学
])
def test_no_conflict_between_ways_of_naming_one_place(read, a, b):
    assert conflicts(read(a), read(b)) is None


# ------------------------------------------------------------------------------------------- match: the rules
def test_a_typed_report_joins_the_event_at_the_same_street_and_facility(read):
    e = open_event(1, read("马街那边炸了！看到化工厂那边冒黑烟", "马街街道"))
    found = match(read("马街化工厂爆炸已有5人死亡", "马街街道"), at(120), [e])
    assert found is not None and found[0] is e
    assert found[1] == "同一事件：爆炸，马街街道，化工厂，相隔2小时"


def test_the_window_runs_from_the_events_last_report(read):
    e = open_event(1, read("马街街道一物流仓库着火", "马街街道"), 0, 240)
    later = read("马街仓库火灾又有新情况，仓库火灾现场仍在清理", "马街街道")
    assert match(later, at(240 + 71 * 60), [e]) is not None
    assert match(later, at(240 + 73 * 60), [e]) is None
    assert match(later, at(240 + 73 * 60), [e], windows=Windows(event=timedelta(hours=96))) is not None
    # a report looking back (核定) joins up to 30 days later, with the same street and facility
    found = match(read("经核定，马街街道某物流仓库火灾直接经济损失5200万元", "马街街道"), at(7 * 1440), [e])
    assert found is not None and found[1].startswith("同一事件（事后通报）：火灾，马街街道，仓库")
    # …but not one saying it happened again
    lift = open_event(2, read("前卫街道某小区1栋电梯困人", "前卫街道"))
    again = read("前卫某小区1栋电梯今天又困人了，上周刚困过一次！", "前卫街道")
    assert match(again, at(7 * 1440), [lift]) is None


def test_follow_ups_with_no_type_join_a_recent_event(read):
    e = open_event(1, read("马街那边炸了！看到化工厂那边冒黑烟", "马街街道"))
    for text in ("我们小区离马街那个化工厂不到一公里，现在全是烟，要不要撤离？",
                 "马街化工厂周边居民需要疏散吗",
                 "马街化工厂那边道路封闭，公交绕行",
                 "马街化工厂死亡人数已上升至11人"):
        s = read(text, "马街街道")
        assert s.kind == "sign", text
        found = match(s, at(60), [e])
        assert found is not None and found[1].startswith("同一事件（后续报告："), text
        assert match(s, at(25 * 60), [e]) is None, text  # 24 h for a follow-up
    # a follow-up about another facility in the street is not about this event
    assert match(read("马街某小区有人摔伤送医", "马街街道"), at(60), [e]) is None


def test_an_event_seen_only_through_signs_is_named_by_a_later_report(read):
    smoke = open_event(1, read("前卫街道那个商场楼顶在冒黑烟，好多人往外跑", "前卫街道"))
    assert smoke.signature.kind == "sign"
    found = match(read("都一个半小时了，前卫那个商场的火还在烧", "前卫街道"), at(95), [smoke])
    assert found is not None and found[1].startswith("同一事件（此前报告只有迹象）：火灾，前卫街道，商场")


def test_routine_complaints_never_join_here(read):
    noise = read("马街某KTV每天唱到凌晨两点，严重扰民", "马街街道")
    e = open_event(1, read("马街某KTV着火", "马街街道"))
    assert noise.kind == "routine" and match(noise, at(10), [e]) is None
    assert match(read("马街某KTV着火", "马街街道"), at(10), [open_event(2, noise)]) is None


def test_compatible_types_need_the_same_facility_not_only_the_street(read):
    blast = open_event(1, read("马街街道某化工厂发生爆炸", "马街街道"))
    assert match(read("马街化工厂起火，火势很大", "马街街道"), at(30), [blast]) is not None
    assert match(read("马街街道一家服装店着火", "马街街道"), at(30), [blast]) is None  # another facility
    street_only = open_event(2, read("马街街道发生爆炸", "马街街道"))
    assert match(read("马街街道起火了", "马街街道"), at(30), [street_only]) is None


def test_a_bang_joins_the_explosion_but_a_planned_blasting_is_not_an_explosion(read):
    bang = open_event(1, read("团结街道方向传来几声巨响，是不是哪里爆炸了？", "团结街道"))
    found = match(read("经了解，团结街道方向巨响系某隧道按计划实施爆破作业", "团结街道"), at(40), [bang])
    assert found is not None
    blast = open_event(2, read("团结街道某化工厂发生爆炸", "团结街道"))
    assert match(read("团结街道某化工厂今天爆破作业", "团结街道"), at(40), [blast]) is None


def test_a_real_report_never_joins_a_drill_but_questions_about_the_drill_do(read):
    drill = open_event(1, read("西山区今日上午在海口街道化工园区开展危化品泄漏应急演练，模拟30名员工中毒",
                               "海口街道"))
    assert match(read("海口园区那边怎么来了这么多消防车和救护车，是不是出事了？", "海口街道"), at(30), [drill])
    real = read("海口街道化工园区一企业发生氨气泄漏，12名员工中毒送医", "海口街道")
    assert match(real, at(240), [drill]) is None
    assert match(drill.signature, at(240), [open_event(2, real)]) is None


def test_an_earthquake_is_one_event_across_streets(read):
    quake = open_event(1, read("刚才床在晃，西苑这边感觉很明显，是地震了吗？", "西苑街道"))
    for text, region in (("海口街道震感很强，碗柜里的碗都响了", "海口街道"),
                         ("地震导致团结街道某村几间土坯房倒塌，2名老人被压身亡", "团结街道")):
        found = match(read(text, region), at(20), [quake])
        assert found is not None and "波及多地" in found[1]


def test_a_report_with_no_place_joins_by_facility_only_when_one_event_fits(read):
    crush = open_event(1, read("西山区某体育馆演唱会散场时出口拥挤，听说60多人受伤", "昆明市西山区"))
    ambulances = read("体育馆门口停了七八辆救护车，好多人坐在地上", "昆明市西山区")
    found = match(ambulances, at(60), [crush])
    assert found is not None and "唯一在办的同类事件" in found[1]
    other = open_event(2, read("某体育场看台拥挤踩踏，多人受伤", "昆明市西山区"))
    assert match(ambulances, at(60), [crush, other]) is None  # two could fit: never guess
    # a facility found in most complaints does not tell events apart without a place
    estate = open_event(3, read("某小区3栋着火了", "昆明市西山区"))
    assert match(read("小区里好多人受伤", "昆明市西山区"), at(30), [estate]) is None


def test_a_report_naming_neither_place_nor_facility_joins_the_only_open_event_of_its_type(read):
    heard = open_event(1, read("我在金碧这边，刚才一声巨响，玻璃都震碎了，是哪里爆炸了？\n金碧街道", "金碧街道"))
    also = read("前卫这边也听到很大的爆炸声，地都在抖\n前卫街道", "前卫街道")
    assert match(also, at(5), [heard]) is not None
    assert match(also, at(25 * 60), [heard]) is None  # only soon after
    found = match(read("马街那个燃气加气站爆炸了，火很大", "马街街道"), at(18), [heard])
    assert found is not None and found[1].startswith("同一事件：巨响／爆炸")


def test_another_one_joins_only_through_a_shared_name(read):
    e = open_event(1, read("海口街道化工园区某企业发生氨气泄漏", "海口街道"))
    assert match(read("海口街道化工园区另一家企业发生氨气泄漏", "海口街道"), at(30), [e]) is None


def test_equally_good_candidates_give_none_unless_the_text_clearly_prefers_one(read):
    a = open_event("a", read("马街街道某商场起火", "马街街道"))
    b = open_event("b", read("马街街道某小区着火了", "马街街道"))
    vague = read("马街又起火了，火很大", "马街街道")
    assert match(vague, at(30), [a, b]) is None
    found = match(vague, at(30), [a, b], similarity={"a": 0.05, "b": 0.4}.get)
    assert found is not None and found[0] is b and "文本相似0.40" in found[1]
    # a better candidate wins: a shared named site beats a shared street
    c = open_event("c", read("马街街道锦苑小区3栋着火", "马街街道"))
    d = open_event("d", read("马街街道某小区着火", "马街街道"))
    found = match(read("锦苑小区火灾1人受伤", "马街街道"), at(30), [d, c])
    assert found is not None and found[0] is c


def test_merge_keeps_what_tells_the_event_apart(read):
    event = read("马街那边炸了！看到化工厂那边冒黑烟", "马街街道")
    follow_up = read("我们小区离马街那个化工厂不到一公里，要不要撤离？", "马街街道")
    merged = merge(event, follow_up)
    assert merged.facilities == event.facilities  # the estate asking is not where it happened
    assert "疏散" in merged.signs and merged.marks == frozenset()
    named = merge(merged, read("关于马街街道某化工企业爆炸事故的情况通报：造成12人死亡", "马街街道"))
    assert named.types == {"爆炸"} and "马街街道" in named.places


# ----------------------------------------------------------------------------------------------- the scenarios
def scenarios() -> list[dict]:
    with SCENARIOS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def routed(jurisdiction):
    """Each report of each scenario with its region from the real router and its 3-gram set."""
    from monitor.config.settings import BUNDLED_CONFIG
    from monitor.understanding.jurisdiction import load_jurisdiction
    from monitor.understanding.normalize import normalize
    from monitor.understanding.understander import Understander

    u = Understander.load(BUNDLED_CONFIG / "lexicons",
                          load_jurisdiction(BUNDLED_CONFIG / "jurisdictions" / "xishan.yaml"), 0.35)
    out = []
    for sc in scenarios():
        reports = []
        for r in sc["reports"]:
            body = r["body"] + (f"\n{r['location']}" if r.get("location") else "")
            reports.append({**r, "text": f"{r['title']}\n{body}", "region": u.understand(r["title"], body).region,
                            "grams": minhash.grams(minhash.shingle_text(normalize(r["title"]), normalize(body)))})
        out.append({**sc, "reports": reports})
    return out


def cluster(scenario: dict, reader: Reader, *, text: bool = True, events_: bool = True,
            refuse: bool = True) -> tuple[list[set[str]], list[str]]:
    """Sequential clustering of one scenario: near duplicates first (as the pipeline does), then events.
    Returns the partition and, per report, how it was placed."""
    clusters: list[dict] = []
    log = []
    for r in scenario["reports"]:
        sig = reader.signature(r["text"], r["region"])
        when = at(r["minutes"])
        sims = {i: max(minhash.jaccard(r["grams"], g) for g in c["grams"]) for i, c in enumerate(clusters)}
        target, why = None, "新事件"
        if text:
            near = [(s, i) for i, s in sims.items() if s >= minhash.THRESHOLD
                    and when - clusters[i]["last"] <= minhash.WINDOW
                    and (not refuse or conflicts(sig, clusters[i]["signature"]) is None)]
            if near:
                s, target = max(near)
                why = f"文本相似{s:.2f}"
        if target is None and events_:
            found = match(sig, when, [Candidate(i, c["signature"], c["first"], c["last"])
                                      for i, c in enumerate(clusters)], sims.get)
            if found is not None:
                target, why = found[0].key, found[1]
        if target is None:
            clusters.append({"ids": {r["id"]}, "signature": sig, "first": when, "last": when, "grams": [r["grams"]]})
        else:
            c = clusters[target]
            c["ids"].add(r["id"])
            c["signature"] = merge(c["signature"], sig)
            c["last"] = max(c["last"], when)
            c["grams"].append(r["grams"])
        log.append(f"{r['id']}: {why}")
    return [c["ids"] for c in clusters], log


def exact(partition: list[set[str]], expected: list[list[str]]) -> bool:
    return sorted(map(sorted, partition)) == sorted(map(sorted, expected))


def test_one_event_per_real_event_in_the_scenarios(routed, reader):
    rows = []
    for how, kwargs in (("events (near duplicates with conflicts, then match)", {}),
                        ("match alone", {"text": False}),
                        ("today: near duplicates only", {"events_": False, "refuse": False}),
                        ("baseline: no joins", {"text": False, "events_": False})):
        right, events_right, n_events, failed = 0, 0, 0, []
        for sc in routed:
            partition, log = cluster(sc, reader, **kwargs)
            ok = exact(partition, sc["events"])
            right += ok
            got = {frozenset(p) for p in partition}
            events_right += sum(frozenset(e) in got for e in sc["events"])
            n_events += len(sc["events"])
            if not ok:
                failed.append((sc["id"], partition, log))
        rows.append((how, right, len(routed), events_right, n_events, failed))
    report = "\n".join(f"{how}: {r}/{n} scenarios ({r / n:.1%}), {er}/{ne} events exactly"
                       for how, r, n, er, ne, _ in rows)
    print("\n" + report)
    how, right, n, _, _, failed = rows[0]
    detail = "\n".join(f"{sid}: {sorted(map(sorted, p))}\n  " + "\n  ".join(log) for sid, p, log in failed)
    assert right / n >= TARGET, report + "\n" + detail
    # The two scenarios left are routine complaints re-reported in other words (s03: 还是福海那家星光KTV…;
    # s18: 还是那个坑…): routine complaints are grouped by text similarity, not here (see the report).
    assert {sid for sid, _, _ in failed} <= {"s03", "s18"}, detail
    assert rows[2][1] < right and rows[3][1] < right


# -------------------------------------------------------------------------------------------------------- speed
TYPICAL = [  # four everyday ~300-character reports: a hotline transcript, an official notice, a board message
    "马街化工厂爆炸 市民来电反映：今天上午9点左右，马街街道某化工厂突然发生爆炸，声音很大，我家离厂区大概一公里，"
    "窗户玻璃都震碎了。现在厂区上空一直在冒黑烟，空气里有很刺鼻的味道，小区里的老人小孩都不敢出门。看到好几辆消防车"
    "和救护车开进去了，听说有工人被抬出来，不知道伤得重不重。我们小区离得这么近，请问需不需要疏散？往哪里撤离？"
    "有没有毒？诉求：请相关部门尽快核实情况，及时发布消息，告诉周边居民该怎么做。另外马街那条路现在已经封了，"
    "公交也改道了，上下班的人都堵在路口，希望交警能安排人疏导交通，也希望政府能给大家一个说法，到底是怎么回事，"
    "会不会再炸，家里要不要关窗，孩子明天还能不能正常上学。\n马街街道",
    "关于碧鸡街道某在建项目坍塌事故的情况通报 今日10时许，西山区碧鸡街道某在建项目地下室顶板发生局部坍塌，"
    "造成多名作业人员被困。事故发生后，区委、区政府主要领导第一时间赶赴现场，组织应急、消防、卫健、住建等部门全力"
    "开展搜救。截至18时，已搜救出被困人员11人，其中3人经抢救无效死亡，8人受伤送医救治，伤者生命体征平稳。"
    "目前仍有人员失联，搜救工作仍在进行。事故原因正在调查中。区政府已责令全区在建项目立即开展安全隐患排查，"
    "对存在重大隐患的一律停工整改。请广大市民不信谣、不传谣，以官方发布的信息为准，下一步情况将及时续报。"
    "伤者家属可拨打区卫健局热线了解救治情况，区里已安排专人做好家属安抚和善后工作。西山区人民政府 今日",
    "尊敬的领导：我是福海街道某小区的业主，小区楼下新开了一家烧烤店，每天营业到凌晨两三点，喝酒划拳的声音非常大，"
    "油烟也直接往楼上排，家里窗户都不敢开。我们多次找物业和店主协商，店主态度恶劣，物业说管不了。家里有老人和正在"
    "备考的孩子，长期睡不好觉，身体和学习都受到很大影响。恳请城管、环保和派出所等部门依法查处，规范经营时间，"
    "安装油烟净化设备，还居民一个安静的生活环境。这个问题已经反映过三次了，每次来人看一下就走了，过两天又恢复原样。"
    "希望这次能有个彻底的解决办法，并把处理结果告诉我们，不要再让我们一趟趟地打电话。另外店门口的桌椅每天晚上都摆到"
    "人行道上，行人只能走机动车道，非常危险，也请一并处理。谢谢！\n福海街道",
    "团结街道安置房项目拖欠农民工工资 市民来电：我们26名农民工在团结街道某安置房项目做木工和钢筋工，从去年8月"
    "干到今年1月，包工头王某一直拖欠工资共48万元，多次讨要都说开发商没有拨款。马上要过年了，大家都等着这笔钱回家，"
    "有的工友家里老人生病急需用钱。诉求：请人社部门介入，督促总包单位和包工头尽快足额支付工资。我们也去过项目部"
    "好几次，项目经理说钱已经给了包工头，包工头又说没收到，两边互相推，我们实在没办法了。工友们说再不给钱就去区政府"
    "门口拉横幅，我们不想把事情闹大，只想拿回自己的血汗钱，请领导帮帮我们。我们手里有考勤表和包工头签字的欠条，"
    "需要的话可以随时提供，联系电话已留给接线员，请尽快回复。\n团结街道",
]


def test_the_quick_check_never_skips_a_report_that_is_more_than_routine(reader):
    """may_be_event lets the pipeline skip reading most routine complaints: it must never skip an event."""
    import json

    from monitor.understanding.understander import prepare

    texts = [prepare(r["title"], r["body"]) for r in map(json.loads, (DATA / "reports.jsonl").open(encoding="utf-8"))]
    for sc in map(json.loads, (DATA / "scenarios.jsonl").open(encoding="utf-8")):
        texts += [prepare(r["title"], r["body"]) for r in sc["reports"]]
    texts += ["五是公交公司应经常进行演习，提高司机处理不良环境的能力", "小区门口两车相撞", "楼下烧烤店噪音扰民"]
    skipped = [t for t in texts if not reader.may_be_event(t)]
    assert skipped and all(reader.signature(t, "").kind == "routine" for t in skipped)
    assert not reader.may_be_event("楼下烧烤店噪音扰民，请依法查处")


def test_the_type_index_judges_the_same_events_as_all_of_them(reader, routed):
    """OpenEvents hands match() only the events of a compatible type (and sign-only ones): the same answers."""
    from monitor.dedupe.events import OpenEvents

    sigs = [reader.signature(r["text"], r["region"]) for sc in routed for r in sc["reports"]]
    candidates = [open_event(i, s) for i, s in enumerate(sigs[:120]) if s.kind != "routine"]
    index = OpenEvents(candidates)
    for s in sigs:
        if s.kind == "routine":
            continue
        assert match(s, at(60), index.relevant(s)) == match(s, at(60), candidates)
        for minutes in (60, 60 * 30, 60 * 24 * 5, 60 * 24 * 20):  # within and past the event windows
            assert match(s, at(minutes), index.relevant(s, at(minutes))) == match(s, at(minutes), candidates)


def test_the_index_never_drops_an_event_a_report_could_join(reader, routed):
    """OpenEvents drops events by type, by the day of their last report and by street and district before
    _judge: every event _judge would accept must still be handed over, and most others must not be."""
    from monitor.dedupe.events import WINDOWS, OpenEvents, _judge

    sigs = [reader.signature(r["text"], r["region"]) for sc in routed for r in sc["reports"]]
    # events spread over 40 days, so that the day index has something to cut
    candidates = [open_event(i, s, first=(i % 40) * 1440, last=(i % 40) * 1440 + 90)
                  for i, s in enumerate(sigs) if s.kind != "routine"]
    index = OpenEvents(candidates)
    handed = judged = 0
    for s in sigs:
        if s.kind == "routine":
            continue
        for minutes in (0, 60 * 30, 60 * 24 * 12, 60 * 24 * 39):
            kept = {c.key for c in index.relevant(s, at(minutes))}
            joinable = {c.key for c in candidates if _judge(s, at(minutes), c, WINDOWS) is not None}
            assert joinable <= kept, (s, joinable - kept)
            handed, judged = handed + len(kept), judged + len(candidates)
    assert handed < judged / 4  # the index does its work: most events are never judged
