"""Events, not texts: does a new report belong to an event already open? Pure (no I/O, no store).

A duty office counts real-world events (舆情事件), not wordings: six reports of one explosion — casualties,
an evacuation question, a smell two streets away, a road closure, a rising toll, the official notice — are one
event, while the same complaint word for word from two streets is two. This module reads what tells events
apart from a report's text and the router's region, and decides, with a reason in Chinese, which open event a
report joins. Text similarity (monitor.dedupe.minhash) stays the grouping of routine complaints; `conflicts`
tells it when two look-alike texts are nevertheless different matters.

API
---
    reader = Reader(jurisdiction_names, places)            # once per jurisdiction (compiles the automaton)
    sig = reader.signature(text, region)                   # or signature(text, region, names, places)
    found = match(sig, at, candidates, similarity=None)    # (Candidate, reason) or None
    why = conflicts(a, b)                                  # why two signatures are different events, or None
    event_sig = merge(event_sig, sig)                      # the event's signature once the report joined

- `text`: title, body and location (the pipeline puts the location into the body); the first MAX_CHARS count.
- `region`: what the router found (RouteDecision.region): one of our streets (马街街道), places elsewhere
  joined by 、 (官渡区; 海口市、海南省、美兰区), or the jurisdiction's own name when no finer place was named —
  then it is no place.
- `jurisdiction_names`: [j.name, *j.aliases] (昆明市西山区, 西山区). The first is added to `places` of a
  report placed in the jurisdiction, so that it conflicts with an event elsewhere (官渡区).
- `places`: the jurisdiction's places as {name or alias: name} (马街 → 马街街道), built from j.places. Street
  stems without an alias (前卫, 海口) count only before a facility or 那/这/某/一 (前卫那个商场), never
  before 市 (海口市). Without `places` only the region and the place names passed are known.
- `Candidate(key, signature, first_seen, last_seen)`: an open event with the merge of its reports'
  signatures. Give `match` every open event whose last report is within `windows.horizon` (30 days):
  routine ones (no type, no sign) are skipped.
- `similarity(key) -> float`: optional text similarity of the report to a candidate (3-gram Jaccard); it only
  breaks a tie between candidates that are otherwise equally good (by ≥ 0.1).
- `Signature.as_dict()` / `Signature.from_dict()`: the JSON stored on the incident; `kind` is incident, sign
  or routine; `describe()` a short line for the incident page.

Signature
---------
- types: 爆炸 巨响 爆破 火灾 坍塌 中毒 泄漏 交通事故 溺水 踩踏 疫情 地震 洪涝 地质灾害 矿山事故 水库险情 污染
  电梯事故 讨薪 坠落 触电 伤人 事故 演练, each with its synonyms (TYPES, and _PATTERNS for phrases with a
  gap: 爆燃/闪爆/炸了 → 爆炸; 起火/着火/失火/大火/火还在烧 → 火灾; 倒塌/垮塌/塌方/塌了/墙倒了 → 坍塌;
  车祸/相撞/侧翻/撞上/车翻 → 交通事故; 呕吐腹泻/上吐下泻 → 中毒; 煤气味/漏气/管道漏了 → 泄漏; 很多老人发烧
  → 疫情; 震感 → 地震; 电梯…卡在/困人 → 电梯事故; 拖欠…工资 → 讨薪). Decisions: a bang heard (巨响、
  爆炸声, or 爆炸 in a question: 是哪里爆炸了？) is 巨响, not 爆炸 — one blast is heard from several streets,
  and a planned blasting (爆破、炸山) booms too; a drill (演练, not 不是演练) is only 演练, whatever it
  simulates; a bare 事故 counts only with casualties; a type word that is negated (无爆炸、无人中毒) or in a
  clause that is hypothetical, a hazard, history or a simile (万一、隐患、容易、去年、烧死过、就像) does not count.
- places: our streets (region, names and aliases in the text), named sites (estates 锦苑小区, villages,
  roads 金碧路, landmarks 碧鸡关 观音山), places elsewhere from the region (官渡区), and the jurisdiction's
  name when the report is in it. Where the reporter is, not where it happened (金碧这边、我在金碧、前卫也听到),
  is not a place of the event.
- entities: named organisations (星光KTV, 金鑫化工厂). A place name before a facility word is a place
  (马街化工厂 = a 化工厂 in 马街街道); descriptive words are not names (物流仓库, 在建项目); a hospital the
  injured were taken to (送到医院) is not where it happened.
- facilities: facility classes, named or not (化工厂 工地 小学 商场 住宅 仓库…). A broad class covers
  narrower ones (学校 ⊃ 小学, 工厂 ⊃ 化工厂, 园区 ⊃ 工厂); 企业 covers all and shares none.
- vehicles (货车 小车 电动车 行人…), compared for traffic accidents only.
- signs: aspects of an incident without its type: 伤亡 疏散 封闭 气味 烟 震动 救援 异常 续报 (words of
  incidents only: 味道、安置房、封闭阳台 are not signs).
- marks, about this report only: 另一 (另一家/另一起), 事后 (核定、事故调查、赔偿、此前: it looks back),
  复发 (又着火、又困人: it happened again).

Rules (what a duty officer does)
--------------------------------
A report with a type is an incident report; with only signs, a follow-up; with neither, a routine complaint,
which `match` never joins (text similarity does). An event's types are those of all its reports; an event
with only signs so far (冒黑烟、门口好多消防车) is an emerging one, which a later report can name.

1. Never across a conflict (`conflicts`): places elsewhere against ours (官渡区 / 马街街道; 海口市 /
   海口街道); different streets (马街街道 / 金碧街道); different sites — roads against roads, other sites
   against other sites (锦苑小区 / 和园小区 / 观音山), unless a report names more than MAX_SITES (a list);
   different named organisations of one kind (星光KTV / 金樽KTV); facilities with nothing in common (小区 /
   餐馆; 钢厂 / 仓库); for traffic accidents, different vehicles (电动车+小车 / 货车+行人). Names written two
   ways are one (经济学院 / 涉外经济学院, 源达 / 达源).
2. Types: the report's and the event's intersect, or are compatible: 巨响 with 爆炸 or 爆破, 地震 with
   坍塌 or 地质灾害, 洪涝 with 地质灾害 or 水库险情 (as good as a shared type); 爆炸 with 火灾 泄漏 中毒
   坍塌, 泄漏 with 中毒, 中毒 with 疫情, 火灾 with 坍塌, 事故 with any accident (only at the same
   facility, site or named organisation, never by the street alone). A planned blasting is not an explosion.
   A real report never joins a drill and a drill never joins a real event; follow-ups join either. A
   follow-up (signs only: 死亡人数已上升至11人、要不要疏散、闻到刺鼻味道、道路封闭) joins a typed or emerging
   event, and a typed report joins an emerging one.
3. Where, from strongest: a shared named site or organisation; a shared street (a follow-up that names a
   facility must share it); then, with no street or site in common, "facility only": a shared district
   (官渡区, the jurisdiction named) and a shared facility; or no place at all and a shared facility that is not
   everywhere (体育馆, not 小区: COMMON), with a typed side and within 6 h; or one side names neither place nor
   facility (前卫也听到爆炸声) and the type is the same or near, within 24 h. Facility-only joins need a
   focused report (at most FOCUSED facility classes) and exactly one such open event. A report that says
   另一家/另一起 joins only through a shared named site or organisation.
4. When, since the event's last report: 72 h for typed reports; 24 h for follow-ups and emerging events; up
   to 30 days for a report that looks back (经核定、事故调查、赔偿) with the same type and the same site or
   name, or street and facility — unless it says it happened again (又困人了).
5. Area events: an earthquake or a flood (地震 洪涝) is one event across streets: a report of that type within
   72 h joins it whatever its place.
6. Never guess: the best candidate must be strictly better (named site or organisation > street > facility
   only; then more shared names, a shared facility, the same type over a compatible one, more shared streets).
   Equally good candidates give None unless the text similarity clearly prefers one; two facility-only
   candidates always give None.

Speed: one Aho-Corasick pass (ahocorasick_rs, LeftmostLongest) finds every word and place, another the clause
breaks and the triggers of the few patterns with a gap, which run only when a trigger is in the text (a regular
expression scanning Chinese costs ~25 ns a character). About 40 µs for a 250-character report; OpenEvents hands
`match` only the events of a compatible type, recent enough and not in another street or district (about 16 a
report at 667 reports a day), each judged in about 18 µs (bench/import_throughput.py; docs/understanding.md).
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable, Mapping, Sequence

import ahocorasick_rs

# ====================================================================================================== lexicon
# Words are separated by spaces. Longest match wins, so a longer word (爆炸声 → 巨响) beats a shorter one inside it.

TYPES: dict[str, str] = {
    "爆炸": "爆炸 爆燃 闪爆 燃爆 炸了 炸开 炸毁 炸伤 炸死 炸坏 炸飞 炸塌 爆炸事故",
    "巨响": "巨响 爆炸声 爆响 炸响 一声闷响 轰的一声",
    "爆破": "爆破 炸山 爆破作业 爆破施工 定向爆破",
    "火灾": "火灾 起火 着火 失火 大火 火情 火势 明火 烧死 烧毁 过火 扑灭 灭火 火警 纵火 自燃 着大火 烧起来 山火 "
            "森林火灾 火光冲天",
    "坍塌": "塌 坍 楼倒了 房子倒了",
    "中毒": "中毒 食物中毒 呕吐腹泻 上吐下泻 腹泻 拉肚子 窒息",
    "泄漏": "泄漏 燃气泄露 煤气泄露 天然气泄露 液化气泄露 气体泄露 液氨泄露 氨气泄露 漏气 外泄 煤气味 燃气味 天然气味 "
            "液化气味 毒气 氨气 氯气 硫化氢",
    "交通事故": "车祸 相撞 碰撞 撞车 追尾 侧翻 翻车 车翻 撞上 撞到 撞了 被撞 撞倒 撞死 撞伤 撞护栏 撞人 剐蹭 剐了 碾压 "
                "交通事故 连环撞 坠崖 冲出护栏 坠入山谷 刹车失灵 脱轨 翻船 沉船",
    "溺水": "溺水 溺亡 淹死 落水 溺",
    "踩踏": "踩踏 挤踏 踩死 踩伤 发生挤压 挤压踩踏",
    "疫情": "疫情 流感 诺如 水痘 手足口 聚集性 传染病 确诊 院内感染 感染事件",
    "地震": "地震 震感 余震",
    "洪涝": "洪涝 洪水 内涝 暴雨 山洪 洪灾 特大暴雨 暴雨洪涝",
    "地质灾害": "滑坡 泥石流 山体滑坡 崩塌 落石 地裂缝 地质灾害",
    "矿山事故": "透水 矿难 瓦斯 突水 冒顶 顶板事故",
    "水库险情": "险情 管涌 溃坝 决堤 垮坝 漫坝",
    "污染": "死鱼 鱼死 污染事件 突发环境事件 水体变色",
    "电梯事故": "电梯困人 困电梯 扶梯事故 电梯事故 电梯坠落 电梯下坠 电梯急坠 扶梯逆行",
    "讨薪": "欠薪 讨薪 拖欠工资 工资拖欠 讨要工资 讨工钱",
    "坠落": "坠楼 高处坠落 坠亡 跳楼",
    "触电": "触电 电死",
    "伤人": "持刀 砍人 伤人案 行凶",
    "事故": "事故 倾覆 安全事故 生产安全事故 事故现场",  # an accident of unnamed kind: goes with any accident type
}
AREA_TYPES = frozenset({"地震", "洪涝"})  # one event across streets
DRILL = "演练"
# Compatible types (symmetric). "near": the same evidence as a shared type; "site": only through the same
# facility, site or named organisation (an explosion and a fire at the same factory), never the street alone.
COMPATIBLE: dict[frozenset[str], str] = {
    frozenset(p): how for how, pairs in {
        "near": [("巨响", "爆炸"), ("巨响", "爆破"), ("地震", "坍塌"), ("地震", "地质灾害"), ("洪涝", "地质灾害"),
                 ("洪涝", "水库险情")],
        "site": [("爆炸", "火灾"), ("爆炸", "泄漏"), ("爆炸", "中毒"), ("爆炸", "坍塌"), ("泄漏", "中毒"),
                 ("中毒", "疫情"), ("火灾", "坍塌"),
                 *(("事故", t) for t in ("爆炸", "火灾", "坍塌", "中毒", "泄漏", "交通事故", "溺水", "踩踏", "矿山事故",
                                        "电梯事故", "坠落", "触电", "巨响"))],
    }.items() for p in pairs
}

_COMPATIBLE_TYPES = {(x, y): how for pair, how in COMPATIBLE.items() for x in pair for y in pair if x != y}

SIGNS: dict[str, str] = {  # words of an incident, not of an everyday complaint (味道、安置房、封闭阳台 are not here)
    "伤亡": "死亡 身亡 遇难 罹难 丧生 不行了 没气了 没上来 受伤 伤者 伤员 摔伤 烧伤 烫伤 砸伤 骨折 送医 抢救 被抬 抬出来 "
            "失联 失踪 被困 被埋 下落不明 遗体 伤情 脱离危险 呕吐 头晕 晕倒 遇难者 死伤 伤亡 压着人 压了 被压 砸中 重伤",
    "疏散": "疏散 撤离 紧急转移 转移群众 群众转移 避险 撤出 要不要撤",
    "封闭": "封路 路封了 交通管制 绕行 禁止通行 全线封闭 临时封闭 道路封闭 封闭道路",
    "气味": "刺鼻 烟味 化学品味 焦味 糊味 毒气味",
    "烟": "冒烟 黑烟 白烟 浓烟 烟柱",
    "震动": "震碎 地在抖 都在抖 在晃 晃动",
    "救援": "消防车 救护车 防化服 救援 搜救 消防员",
    "异常": "出事 出大事",
    "续报": "续报 最新情况 最新进展",
}
# Facility words: class; whether a name before it makes a place ("site": 锦苑小区, 碧鸡关), an organisation ("org":
# 星光KTV), or nothing ("plain": 居民楼, 路口 are never named); words.
FACILITIES: list[tuple[str, str, str]] = [
    ("化工厂", "org", "化工厂 化工企业 化工公司 危化品企业 化工"),
    ("园区", "org", "园区 工业园区 化工园区 产业园 工业园 物流园 开发区"),
    ("钢厂", "org", "钢厂 钢铁企业 钢铁厂 钢企 炼钢厂 钢铁公司"),
    ("工厂", "org", "工厂 厂房 厂区 车间 厂 加工厂"),
    ("污水处理厂", "org", "污水处理厂 污水厂"),
    ("仓库", "org", "仓库 冷库 库房 物流仓库"),
    ("工地", "org", "工地 在建项目 项目 项目部 建筑工地 施工现场 基坑"),
    ("隧道", "org", "隧道 隧洞"),
    ("矿山", "org", "采石场 煤矿 矿山 矿井 井下 采矿场"),
    ("商场", "org", "商场 购物中心 超市 商厦 百货"),
    ("商店", "org", "店 商店 服装店 门店 店铺 商铺 商户"),
    ("餐馆", "org", "餐馆 饭店 餐厅 饭馆 烧烤店 酒楼 火锅店"),
    ("餐馆", "plain", "后厨"),
    ("食堂", "org", "食堂"),
    ("酒店", "org", "酒店 宾馆 旅馆"),
    ("娱乐场所", "org", "KTV 歌厅 酒吧 网吧 洗浴中心 浴室 足浴店"),
    ("学校", "org", "学校 校园"),
    ("小学", "org", "小学"),
    ("小学", "plain", "小学生"),
    ("中学", "org", "中学 初中 高中"),
    ("中学", "plain", "中学生 中小学生"),
    ("幼儿园", "org", "幼儿园"),
    ("大学", "org", "大学 高校 学院"),
    ("医院", "org", "医院 卫生院 诊所"),
    ("养老院", "org", "养老院 敬老院 福利院 养老机构"),
    ("加油加气站", "org", "加气站 加油站 燃气站"),
    ("养殖场", "org", "养殖场 猪场 鸡场 沼气池"),
    ("水库", "org", "水库 水坝 大坝 山塘"),
    ("河道", "plain", "河道 河段 河里 河边 那条河 河水"),
    ("场馆", "org", "体育馆 体育场 场馆 演唱会 剧院"),
    ("楼宇", "org", "综合楼 写字楼 办公楼"),
    ("住宅", "site", "小区 公寓 家园 花园 新村"),
    ("住宅", "plain", "居民楼 住宅 住宅楼 出租屋 民房 土坯房 城中村 住户 居民家"),
    ("村", "site", "村"),
    ("村", "plain", "村庄 自然村"),
    ("路口", "plain", "路口 十字路口 交叉口"),
    ("宴席", "org", "婚宴 宴席 酒席 坝坝宴"),
    ("公交站", "org", "公交站 车站 站台"),
    ("企业", "org", "企业 公司 单位 有限公司 有限责任公司 集团"),
    ("", "site", "路 大道 公园 广场 大厦 关 山 社区 桥"),  # named places only: unnamed they say nothing
]
COVERS: dict[str, frozenset[str]] = {  # a broad class covers narrower ones: no conflict, and they are shared
    "企业": frozenset({"*"}),
    "工厂": frozenset({"化工厂", "钢厂", "污水处理厂", "仓库"}),
    "园区": frozenset({"化工厂", "钢厂", "工厂", "仓库", "食堂", "污水处理厂"}),
    "学校": frozenset({"小学", "中学", "幼儿园", "大学", "食堂"}),
    "商场": frozenset({"商店", "餐馆", "娱乐场所"}),
    "工地": frozenset({"隧道"}),
    "住宅": frozenset({"村"}),
    "村": frozenset({"宴席"}),
}
# Facilities found in most complaints: with no place in common they do not tell one event from another.
COMMON = frozenset({"住宅", "村", "路口", "商店", "工地", "企业", "学校", "小学", "中学", "医院", "河道", "公交站", "餐馆"})
NAMELESS = frozenset({"医院"})  # where the injured are taken, not where it happened: only named ones count
FOCUSED = 2  # facility classes a report may name and still be joined by a facility alone
VEHICLES: dict[str, str] = {
    "货车": "货车 大货车 重型货车 卡车 渣土车 半挂车 挂车 罐车 槽罐车 泥头车",
    "小车": "小车 小轿车 轿车 小客车 小型客车 私家车 越野车 SUV",
    "电动车": "电动车 电瓶车 电动自行车",
    "摩托车": "摩托车 摩托",
    "面包车": "面包车",
    "客车": "客车 大客车 大巴 中巴 旅游大巴",
    "公交车": "公交车",
    "校车": "校车",
    "出租车": "出租车 网约车 的士",
    "自行车": "自行车 单车",
    "行人": "行人",
}
# Phrases that contain a word above but do not mean it (炸了锅 is an uproar, 信息泄露 a privacy complaint).
ABSORB = ("炸了锅 炸锅 油炸 炸鸡 炸串 爆炸性 信息泄露 隐私泄露 泄露信息 泄露隐私 泄露个人 泄露了我 火锅店 火锅 火车 发火 "
          "上火 火爆 火化 火葬 打火机 防火门 死心塌地 溺爱 关于 关注 关心 关系 关门 关闭 关掉 关联 关键 关爱 关怀 关照 "
          "关押 有关 相关 机关 海关 开关 难关 把关 公关 攻关 过关 闯关 通关 山区 山体 山坡 山上 山下 山边 山脚 山路 下山 "
          "上山 爬山 深山 山林 路口 路段 路面 路上 路边 路灯 路况 路线 线路 短路 道路 马路 公路 一路 走路 修路 堵路 绕路 "
          "路过 出路 路人 路费 高速路 快速路 村道 村民 村委会 村委 村里 村干部 店员 店主 店长 商店街 厂家 厂商 厂长 "
          "项目经理 单位领导 公司领导 广场舞 关心 转移支付 转移财产 地震台网 演唱会门票 桥梁 过桥 老板 河南 河北 外卖 "
          "塌实 坍台 晃眼 出事故率 车站路 发烧友 流感疫苗 水痘疫苗 疫情防控期间 人家 大家 东家 厂里 化工路 楼道里 "
          # verbs: boundaries before a name (反映星光KTV, 清理沼气池)
          "反映 投诉 举报 咨询 请求 要求 希望 建议 清理 清洗 进入 发生 出现 造成 导致 位于 经营 营业 开办 打电话 电话 联系 "
          "街道 上班 工作 居住 住在 来到 前往 路过 经过 附近 周边 对面 旁边 门口 楼下 楼上 里面 现场 今天 昨天 今日 昨日 今晚 "
          "昨晚 刚才 刚刚 上午 下午 中午 晚上 早上 凌晨 傍晚 疏散通道 消防通道 安全通道 承诺 窒息感 门相撞 油烟 烟雾缭绕 "
          "抽烟 吸烟 香烟 烟草 烟花爆竹经营 生命危险")
# Within one clause these make type words not count: hypotheticals, hazards, history, prevention.
CUES = ("如果 假如 万一 要是 一旦 假设 隐患 防范 预防 防止 避免 以防 以免 去年 前年 往年 曾经 以前 历史上 当年 那年 宣传 "
        "培训 讲座 科普 知识 烧死过 死过 炸过 塌过 着过火 起过火 发生过 出过 险些 差点 差一点 防火 消防检查 安全检查 应急预案 "
        "随时 随时可能 有可能会 容易 易发生 易造成 易受 说不定 风险 危险 安全问题 难免 怎么办 才能 要等到 后果不堪设想 群死群伤 "
        "就像 仿佛 如同 似的 像是 一样")
QUESTION = "是不是 是否 吗 难道 哪里"
MARKS: dict[str, str] = {
    "另一": "另一家 另一起 另一处 另一所 另一座 另外一家 另外一起 另一个",
    "事后": "核定 经核定 核查 调查结果 事故调查 调查报告 原因查明 事故原因 追责 问责 处理结果 善后 赔偿 理赔 此前 日前 "
            "上周 前几天 上个月",
    DRILL: "演练 演习",
}
PUNCT = "，。！？；,.!?;\n：:（）()【】 "
_QUESTION_MARKS = "？?"
# A name before a facility word stops at these (function words, numerals, punctuation).
_STOP = set("的在了是某一个家那这该座栋幢所条间位名与及或到从往向对给被把将也都还就又里着过们说去来跟离由让叫称吗呢吧啊很"
            "太几每各其号层楼户区县市省镇乡已请打问看听找用要想能会可没不无才刚正先再曾并而且但却只仅共约近超") \
    | set("0123456789０１２３４５６７８９")
# Words before a facility word that describe it rather than name it (物流仓库 is a warehouse, not a name).
_DESCRIPTORS = frozenset(
    "化工 物流 烟花 烟花爆竹 钢铁 燃气 在建 安置房 污水处理 建筑 施工 服装 冷链 危化品 养殖 大型 小型 中型 老旧 附近 周边 当地 "
    "涉事 事发 所有 我们 我家 隔壁 对面 旁边 楼下 楼上 门口 民营 私人 国有 综合 居民 住宅 电器 日用品 生鲜 食品 农贸 建材 家具 "
    "电动车 汽车 好多 很多 许多 不少 中心 学生 职工 员工 工人 农民工 老 新 大 小 上游 下游 附近的 这片 整个 一些 多家 "
    "儿童 妇幼 人民 中医 社区 乡镇 村级 市级 区级 县级 私立 公立 民办 公办 寄宿制 九年制 重点 老小区 老旧小区 商品房 "
    "烧烤 夜宵 火锅 沐足 洗浴 桑拿 炼钢 煤气 沼气 水泥 砖 木材 家电 蔬菜 水果 海鲜 肉类 饲料 化肥 农药 纺织 印刷 "
    "建设 改造 回迁 拆迁 保障房 公租房 廉租房 棚改 高层 多层 一期 二期 三期 前面 后面 里面 外面 东门 西门 南门 北门 "
    "自来水 供电 电力 物业 保险 快递 外卖 银行 地下 地面 半山 沿河 河边 湖边 路边 街边 山边 岸边 江边 一座 一处 "
    "孩子 小孩 请问 我 你 他 她 我们 你们 他们 咱们 大家 家长 老师 群众 市民 业主 网友 记者 领导 政府 部门 相关 有关 "
    "这所 那所 本地 外地 全市 全区 该 部分 全部 所有的 各个 各类 有的 一些".split())
_DESTINATION = set("送到去往在进转住赴")  # 送到医院: where the injured went
_OBSERVER_AFTER = ("这边", "这里", "这儿", "也")  # 金碧这边、前卫也听到: where the reporter is
_STEM_NEXT = set("那这某一附方周的也、")  # a bare street stem (海口) is a place only before these or a facility
_STREET_SUFFIXES = ("街道", "镇", "乡")
_AREA_SUFFIXES = ("省", "市", "区", "县", "州", "盟", "旗")
_SITE_LIKE_AREA = ("小区", "园区", "社区", "景区", "校区", "厂区", "矿区", "城区", "片区", "街区", "库区", "湖区", "辖区",
                   "市区", "郊区", "超市", "城市", "开发区")
_MAX_NAME = 5  # characters looked back for a name before a facility word
# The name before a facility word: word characters that are not stops; 家 only where it is not a measure word
# (一家、那家KTV stop there; 万家丽路 does not).
_NAME_TAIL = re.compile("(?:[^" + re.escape("".join(sorted(_STOP))) + r"\W_]|(?<![一那这哪某每几两多另])家)+$")
# Words a name does not start with: verbs and conjunctions before a facility word (解决湖开小区, 因为本小区).
_LEADING = frozenset(
    "因为 属于 保证 未经 解决 创建 分流 请求 要求 希望 建议 投诉 反映 举报 督促 负责 管理 经过 通过 根据 按照 关于 对于 由于 "
    "为了 如果 但是 而且 所以 可以 应该 需要 已经 正在 还是 就是 只是 不是 没有 影响 导致 造成 进入 离开 前往 来到 回到 位于 "
    "处于 作为 成为 包括 以及 还有 这些 那些 整个 周围 本 像 该 整 全 原 现 各 据 从 向 靠近 紧邻 毗邻 隔壁 对面 旁边 "
    "入住 购买 买了 租住 居住 住进 增设 设置 修建 新建 目前 现在 和 同 至 与 及 往 到 经 沿 过 线 近 在 有 是 让".split())

# Patterns with a gap: (what, a substring that must be in the text, the expression). The substring test is a C
# scan, so an expression runs only on texts that can match it.
_CLAUSE = r"[^，。！？；,.!?;\n]"
_PATTERNS: list[tuple[str, tuple[str, ...], re.Pattern]] = [(what, tuple(trigger.split()), re.compile(rx))
                                                             for what, trigger, rx in [
    ("t_火灾", "火", r"火(?:还|已经|已|仍|都|也)?(?:在|没|未|没有)?(?:烧|灭|扑灭)"),
    ("t_泄漏", "漏", rf"(?:燃气|煤气|天然气|液化气|管道|气管|软管|立管|阀门|气罐|气瓶){_CLAUSE}{{0,6}}漏"),
    ("t_溺水", "上来 失踪 不见了",
     r"(?:游泳|下水|下河|下湖|戏水|玩水|掉进|落入|掉入|掉到)[^。！？!?\n]{0,12}?(?:没上来|没有上来|没浮上来|不见了|失踪)"),
    ("t_踩踏", "拥挤", r"拥挤[^。！？!?\n]{0,12}?(?:摔倒|倒地|受伤|踩)"),
    ("t_疫情", "发烧 发热", rf"(?:很多|好多|多名|多个|不少|大批|一批|集体|陆续|多位){_CLAUSE}{{0,8}}?(?:发烧|发热)"),
    ("t_水库险情", "坝 水库 堤 塘",
     rf"(?:水库|堤坝|大坝|坝脚|坝体|河堤|堤防|山塘|坝){_CLAUSE}{{0,8}}?(?:渗漏|渗水|冒水|冒浑水|管涌|溃)"),
    ("t_电梯事故", "梯",
     rf"(?:电梯|扶梯){_CLAUSE}{{0,12}}?(?:被困|困人|困住|卡住|卡在|急坠|下坠|坠落|下滑|逆行|夹伤|夹住|出事|冲顶|蹲底)"
     rf"|(?:困|出事){_CLAUSE}{{0,6}}?(?:电梯|扶梯)"),
    ("t_讨薪", "拖欠", rf"拖欠{_CLAUSE}{{0,12}}?(?:工资|薪)"),
    ("t_污染", "鱼", rf"(?:死鱼|鱼){_CLAUSE}{{0,4}}?(?:死了|翻白|漂)"),
    ("t_交通事故", "车", r"车子?(?:翻|侧翻|冲出|掉进|坠入|坠下)|车[^，。！？]{0,6}冲向"),
    ("t_坍塌", "倒", r"(?:墙|楼|房|棚|架|塔吊|脚手架|围挡|广告牌)[^，。！？]{0,3}倒(?:了|塌|下)"),
    ("t_爆炸", "爆", r"(?:罐|锅炉|管道|气瓶|钢瓶|煤气罐|液化气罐|反应釜|压力容器)[^，。！？]{0,3}爆(?:了|开|裂)"),
    ("s_伤亡", "人数", rf"人数{_CLAUSE}{{0,3}}?(?:上升|升至|增至|增加|攀升|达到)"),
    ("m_复发", "又 再次",
     r"又(?:一次|发生|出现|出事|着火|起火|失火|困人|塌|爆炸|漏|被困|冒烟|撞)|再次(?:发生|出现|出事|着火|起火|困人|爆炸)"),
    ("m_事后", "天前 日前", r"[\d一两二三四五六七八九十][天日]前"),
]]
# A pattern runs only when one of its triggers is in the text: one Aho-Corasick pass finds them (a regular
# expression scanning a Chinese text costs ~25 ns a character; the automaton ~3).
_PATTERNS = [(what, frozenset(triggers), rx) for what, triggers, rx in _PATTERNS]
_TRIGGERS = ahocorasick_rs.AhoCorasick(sorted({t for _, triggers, _ in _PATTERNS for t in triggers}))
_NEGATION = re.compile("无|未|没|不是|并非|非|不会")
_PUNCT = ahocorasick_rs.AhoCorasick(list(PUNCT))
_QUESTION_INDEX = frozenset(i for i, ch in enumerate(PUNCT) if ch in _QUESTION_MARKS)
MAX_CHARS = 600  # the opening of a report says what happened; long tails (complaint histories) add noise and time


# ==================================================================================================== the data
@dataclass(frozen=True)
class Signature:
    """What tells one event from another (see the module docstring)."""

    types: frozenset[str] = frozenset()
    places: frozenset[str] = frozenset()
    entities: frozenset[str] = frozenset()
    facilities: frozenset[str] = frozenset()
    vehicles: frozenset[str] = frozenset()
    signs: frozenset[str] = frozenset()
    marks: frozenset[str] = frozenset()

    @property
    def kind(self) -> str:
        """incident (names an event type), sign (a follow-up: casualties, smoke…) or routine."""
        return "incident" if self.types else "sign" if self.signs else "routine"

    def as_dict(self) -> dict:
        return {k: sorted(getattr(self, k)) for k in self.__dataclass_fields__ if getattr(self, k)}

    @functools.cached_property
    def _split(self) -> tuple[frozenset[str], ...]:
        """places by level: (districts, streets, roads, other sites, streets and sites)"""
        levels = {p: _level(p) for p in self.places}
        sites = {p for p, lv in levels.items() if lv == 2}
        roads = frozenset(p for p in sites if p.endswith(_ROADS))
        return (frozenset(p for p, lv in levels.items() if lv == 0),
                frozenset(p for p, lv in levels.items() if lv == 1),
                roads, frozenset(sites - roads), frozenset(p for p, lv in levels.items() if lv > 0))

    @classmethod
    def from_dict(cls, data: Mapping | None) -> "Signature":
        data = data or {}
        return cls(**{k: frozenset(data.get(k) or ()) for k in cls.__dataclass_fields__})

    def describe(self) -> str:
        """A short Chinese line for the incident page: 爆炸｜马街街道｜化工厂."""
        parts = ["、".join(sorted(self.types)), "、".join(_specific(self.places) or sorted(self.places)),
                 "、".join(sorted(self.entities) or sorted(self.facilities))]
        return "｜".join(p for p in parts if p)


@dataclass(frozen=True)
class Candidate:
    """An open event: its key (incident id…), merged signature, first and last report."""

    key: object
    signature: Signature
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Windows:
    event: timedelta = timedelta(hours=72)  # typed report → typed event, since the event's last report
    follow_up: timedelta = timedelta(hours=24)  # follow-ups, emerging events, reports naming no place or facility
    late: timedelta = timedelta(days=30)  # a report looking back (经核定…) at the same street and facility
    nearby: timedelta = timedelta(hours=6)  # no place at all, only a telling facility (体育馆门口好多救护车)

    @property
    def horizon(self) -> timedelta:
        """How far back the caller must look for candidates."""
        return max(self.event, self.follow_up, self.late)


WINDOWS = Windows()
WINDOW = WINDOWS.event
HORIZON = WINDOWS.horizon


def merge(a: Signature, b: Signature) -> Signature:
    """The event's signature after report b joins event a. Marks are the report's own: dropped. A follow-up
    (signs, no type) joining a typed event adds its signs only: the estate it asks from (我们小区离化工厂不到一公里)
    is not where the event is."""
    if a.types and not b.types:
        return Signature(a.types, a.places, a.entities, a.facilities, a.vehicles, a.signs | b.signs, frozenset())
    return Signature(a.types | b.types, a.places | b.places, a.entities | b.entities, a.facilities | b.facilities,
                     a.vehicles | b.vehicles, a.signs | b.signs, frozenset())


# ================================================================================================ reading a text
_T, _S, _F, _V, _P, _J, _C, _Q, _M, _A = range(10)  # term kinds


def _lexicon_terms() -> dict[str, tuple]:
    terms: dict[str, tuple] = {}

    def add(words: str, payload: tuple) -> None:
        for w in words.split():
            for variant in _variants(w):
                terms.setdefault(variant, payload)

    for t, words in TYPES.items():
        add(words, (_T, t))
    for m, words in MARKS.items():
        add(words, (_M, m))
    for s, words in SIGNS.items():
        add(words, (_S, s))
    for cls, how, words in FACILITIES:
        for w in words.split():
            for variant in _variants(w):
                terms.setdefault(variant, (_F, cls, how, w))
    for v, words in VEHICLES.items():
        add(words, (_V, v))
    add(CUES, (_C,))
    add(QUESTION, (_Q,))
    add(ABSORB, (_A,))
    return terms


def _variants(word: str) -> set[str]:
    """KTV, ktv and full-width ＫＴＶ: the automaton matches all, instead of converting every text."""
    if word.isascii():
        return {word, word.lower(), word.translate({i: i + 0xFEE0 for i in range(0x21, 0x7F)})}
    return {word}


_BASE_TERMS = _lexicon_terms()
_FACILITY_OF = {w: cls for cls, _, words in FACILITIES for w in words.split() if cls}
_FACILITY_WORDS = frozenset(w for _, _, words in FACILITIES for w in words.split())
MAX_SITES = 3  # more named sites than this in one report: a list, not a place
_ROADS = ("路", "大道", "街", "巷", "桥")


@functools.lru_cache(maxsize=4096)
def _level(place: str) -> int:
    """0 a district or larger (官渡区, 昆明市西山区), 1 a street or town, 2 a site (estate, road, landmark)."""
    if place.endswith(_STREET_SUFFIXES):
        return 1
    if place.endswith(_AREA_SUFFIXES) and not place.endswith(_SITE_LIKE_AREA):
        return 0
    return 2


def _specific(places: Iterable[str]) -> list[str]:
    return sorted(p for p in places if _level(p) > 0)


class Reader:
    """Reads signatures for one jurisdiction: its name(s) and places are compiled into the automaton once."""

    def __init__(self, jurisdiction_names: Iterable[str] = (), places: Mapping[str, str] | Iterable[str] = ()):
        names = [n for n in jurisdiction_names if n]
        self.local = names[0] if names else ""
        self.jurisdiction_names = frozenset(names)
        pairs = list(places.items()) if isinstance(places, Mapping) else [(p, p) for p in places]
        self.streets = {canon for _, canon in pairs}
        terms = dict(_BASE_TERMS)
        for n in names:
            terms[n] = (_J,)
        for alias, canon in pairs:
            if alias and alias not in self.jurisdiction_names:
                terms[alias] = (_P, canon, False)
        for canon in self.streets:  # 前卫街道 → 前卫: a place only where the text makes it one (前卫那个商场)
            stem = _stem(canon)
            if stem and stem not in terms:
                terms[stem] = (_P, canon, True)
        words = list(terms)
        self._payload = [terms[w] for w in words]
        self._ac = ahocorasick_rs.AhoCorasick(words, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
        # Only a type word, a sign word or a pattern's trigger can make a report more than routine: one small
        # automaton answers for most reports (routine complaints) without reading the whole signature.
        # Only a type word, a sign word, a drill or a pattern that finds a type or sign can make a report more
        # than routine: one small automaton pass answers for most reports (routine complaints).
        eventful = {w for w, p in _BASE_TERMS.items() if p[0] in (_T, _S) or (p[0] == _M and p[1] == DRILL)}
        triggers = sorted({t for name, ts, _ in _PATTERNS if name[0] in "ts" for t in ts} - eventful)
        self._quick_words = [*sorted(eventful), *triggers]
        self._quick_eventful = len(eventful)  # words before this index decide at once
        self._quick = ahocorasick_rs.AhoCorasick(self._quick_words, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
        self._quick_patterns = [(ts, rx) for name, ts, rx in _PATTERNS if name[0] in "ts"]

    def may_be_event(self, text: str) -> bool:
        """False only when the signature would be routine (no type, no sign) whatever else the text names."""
        text = text[:MAX_CHARS]
        found = self._quick.find_matches_as_indexes(text, overlapping=False)
        if not found:
            return False
        if any(i < self._quick_eventful for i, _, _ in found):
            return True
        present = {self._quick_words[i] for i, _, _ in found}
        present |= set(_TRIGGERS.find_matches_as_strings(text, overlapping=True))  # triggers inside longer words
        return any(not present.isdisjoint(ts) and rx.search(text) for ts, rx in self._quick_patterns)

    # ------------------------------------------------------------------------------------------------ signature
    def signature(self, text: str, region: str = "") -> Signature:
        text = text[:MAX_CHARS]
        payload = self._payload
        found = self._ac.find_matches_as_indexes(text)
        n = len(found)
        punct = _PUNCT.find_matches_as_indexes(text)
        breaks = [at for _, at, _ in punct]  # clause k ends at breaks[k]
        where = bisect.bisect_right  # where(breaks, position): the clause of a position
        types: list[tuple[str, int]] = []  # (type, clause)
        signs: list[tuple[str, int]] = []
        cue_clauses: set[int] = set()
        question_clauses = {k for k, (i, _, _) in enumerate(punct) if i in _QUESTION_INDEX} \
            if "？" in text or "?" in text else set()
        places: set[str] = set()
        observed: set[str] = set()  # streets named as where the reporter is
        sites: set[str] = set()
        entities: set[str] = set()
        facilities: set[str] = set()
        vehicles: set[str] = set()
        marks: set[str] = set()
        drill = local = False
        prev_end = 0
        prev_place: tuple | None = None  # (start, end, canonical, derived) of a place match just before
        negated = _NEGATION.search
        name_tail = _NAME_TAIL.search
        for k in range(n):
            i, s, e = found[k]
            p = payload[i]
            kind = p[0]
            if kind == _A:  # the most frequent: a word that only ends a name
                prev_end, prev_place = e, None
                continue
            if kind == _F:
                _, cls, how, word = p
                if how != "plain":
                    if prev_place is not None and prev_place[1] == s:  # 马街化工厂, 碧鸡关, 金碧路
                        if how == "site":
                            if text[e:e + 2].startswith(_OBSERVER_AFTER):
                                observed.add(prev_place[2])
                            else:
                                sites.add(text[prev_place[0]:e])
                    else:
                        # a name starts after a boundary (的、某、a place, punctuation…); longer runs are clauses
                        m = name_tail(text, max(prev_end, s - _MAX_NAME - 1), s)
                        name = _strip_descriptors(m.group()) if m and s - m.start() <= _MAX_NAME else ""
                        if cls in NAMELESS and (len(name) < 2 or m.start() > 0 and text[m.start() - 1] in _DESTINATION):
                            prev_end, prev_place = e, None
                            continue  # 送到医院, 经医院检查: where the injured went
                        if len(name) >= 2:
                            if how == "org":
                                entities.add(name + word)
                            elif not text[e:e + 2].startswith(_OBSERVER_AFTER):
                                sites.add(name + word)
                if cls:
                    facilities.add(cls)
            elif kind == _T:
                if negated(text, s - 3 if s > 3 else 0, s) is None:
                    types.append((p[1], where(breaks, s)))
            elif kind == _S:
                signs.append((p[1], where(breaks, s)))
            elif kind == _P:
                canon, derived = p[1], p[2]
                after = text[e:e + 2]
                nxt = found[k + 1] if k + 1 < n else None
                adjacent = nxt is not None and nxt[1] == e
                if after.startswith(_OBSERVER_AFTER):
                    observed.add(canon)
                elif adjacent and payload[nxt[0]][0] == _F and payload[nxt[0]][2] == "site":
                    pass  # 碧鸡关, 金碧路, 永昌小区: the place name is part of a site's name
                elif not derived or after[:1] in _STEM_NEXT or (
                        adjacent and payload[nxt[0]][0] in (_F, _T, _S, _V)):
                    places.add(canon)
                    local = True
                prev_place = (s, e, canon, derived)
                prev_end = e
                continue
            elif kind == _V:
                vehicles.add(p[1])
            elif kind == _C:
                cue_clauses.add(where(breaks, s))
            elif kind == _Q:
                question_clauses.add(where(breaks, s))
            elif kind == _M:
                if p[1] == DRILL:
                    drill = drill or negated(text, s - 3 if s > 3 else 0, s) is None
                elif p[1] == "另一" and text[s:e] == "另一个":
                    nxt = found[k + 1] if k + 1 < n else None  # 另一个人 is not another place: a facility must follow
                    if nxt is not None and payload[nxt[0]][0] == _F and nxt[1] - e <= 3:
                        marks.add("另一")
                else:
                    marks.add(p[1])
            elif kind == _J:
                local = True
            prev_end, prev_place = e, None
        present = set(_TRIGGERS.find_matches_as_strings(text, overlapping=True))
        for name, triggers, rx in _PATTERNS:
            if present.isdisjoint(triggers):
                continue
            what, value = name[0], name[2:]
            for m in rx.finditer(text):
                if what == "m":
                    marks.add(value)
                    break
                if what == "s":
                    signs.append((value, where(breaks, m.start())))
                elif not _negated(text, m.start()):
                    types.append((value, where(breaks, m.start())))
        # types and signs of hypothetical, historical or hazard clauses do not count; 爆炸 asked about is a bang
        kept_types = set()
        for t, c in types:
            if c in cue_clauses:
                continue
            kept_types.add("巨响" if t == "爆炸" and c in question_clauses else t)
        if drill:
            kept_types = {DRILL}
        kept_signs = {s for s, c in signs if c not in cue_clauses}
        if "事故" in kept_types and len(kept_types) == 1 and "伤亡" not in kept_signs:
            kept_types = set()  # 事故 alone is an incident only with casualties (安全事故隐患 is a complaint)
        # the router's region
        for part in region.split("、") if region else ():
            part = part.strip()
            if not part or part in self.jurisdiction_names:
                continue
            if part in self.streets or part.endswith(_STREET_SUFFIXES):
                places.add(part)
                local = True
                stem = _stem(part)  # 金碧这边 when the automaton does not know 金碧 (no `places` given)
                if stem and part not in observed and any(stem + after in text for after in _OBSERVER_AFTER):
                    observed.add(part)
            else:
                places.add(part)  # somewhere else: 官渡区, 海口市…
        if observed:
            places -= observed
            stems = {_stem(o) for o in observed}
            sites = {x for x in sites if not any(st and x.startswith(st) for st in stems)}
        places |= sites
        if local and self.local and not any(_level(x) == 0 for x in places):
            places.add(self.local)
        return Signature(frozenset(kept_types), frozenset(places), frozenset(entities), frozenset(facilities),
                         frozenset(vehicles), frozenset(kept_signs), frozenset(marks))


def _stem(street: str) -> str:
    for suffix in _STREET_SUFFIXES:
        if street.endswith(suffix) and len(street) - len(suffix) >= 2:
            return street[: -len(suffix)]
    return ""


def _strip_descriptors(name: str) -> str:
    changed = True
    while name and changed:
        changed = False
        for size in (4, 3, 2, 1):
            if len(name) >= size and name[-size:] in _DESCRIPTORS:
                name, changed = name[:-size], True
                break
            if len(name) >= size and name[:size] in _DESCRIPTORS:
                name, changed = name[size:], True
                break
            if len(name) >= size and name[:size] in _LEADING and (size > 1 or len(name) - size >= 2):
                name, changed = name[size:], True  # 和东四路 → 东四路, but 和园小区 stays
                break
    return name


def _negated(text: str, start: int) -> bool:
    return _NEGATION.search(text, max(0, start - 3), start) is not None


@functools.lru_cache(maxsize=16)
def _reader(names: tuple[str, ...], places: tuple[tuple[str, str], ...]) -> Reader:
    return Reader(names, dict(places))


def signature(text: str, region: str = "", jurisdiction_names: Iterable[str] = (),
              places: Mapping[str, str] | Iterable[str] = ()) -> Signature:
    """The signature of one report (title + body + location). Keeps a compiled Reader per jurisdiction."""
    pairs = tuple(places.items()) if isinstance(places, Mapping) else tuple((p, p) for p in places)
    return _reader(tuple(jurisdiction_names), pairs).signature(text, region)


# =================================================================================================== comparing
def _covers(a: str, b: str) -> bool:
    c = COVERS.get(a)
    return a == b or (c is not None and ("*" in c or b in c))


def _facility_tables() -> tuple[dict[str, frozenset[str]], dict[tuple[str, str], str]]:
    """Decided once for every pair of classes: compatible (no conflict), and the class they share (the
    narrower; none through 企业, which is compatible with anything but shares nothing)."""
    classes = {cls for cls, _, _ in FACILITIES if cls}
    compatible = {x: frozenset(y for y in classes if _covers(x, y) or _covers(y, x)) for x in classes}
    shared = {}
    for x in classes:
        for y in compatible[x]:
            if "*" in COVERS.get(x, ()) or "*" in COVERS.get(y, ()):
                shared[x, y] = ""
            elif x == y:
                shared[x, y] = x
            else:
                shared[x, y] = y if _covers(x, y) else x
    return compatible, shared


_COMPATIBLE_FACILITIES, _SHARED_FACILITY = _facility_tables()


def _facilities_compatible(a: frozenset[str], b: frozenset[str]) -> bool:
    return any(x in b or not _COMPATIBLE_FACILITIES.get(x, frozenset()).isdisjoint(b) for x in a)


def _shared_facilities(a: frozenset[str], b: frozenset[str]) -> list[str]:
    """Facility classes the two have in common (a broad one counting as the narrower it covers), not 企业."""
    out = set()
    for x in a:
        for y in _COMPATIBLE_FACILITIES.get(x, frozenset((x,))) & b:
            shared = _SHARED_FACILITY.get((x, y), x if x == y else "")  # a class unknown here: itself
            if shared:
                out.add(shared)
    return sorted(out)


@functools.lru_cache(maxsize=1 << 16)
def _name_part(name: str) -> str:
    """锦苑小区 → 锦苑: the name without the facility word it ends with."""
    for size in range(min(6, len(name) - 1), 0, -1):
        if name[-size:] in _FACILITY_WORDS:
            return name[:-size]
    return name


@functools.lru_cache(maxsize=1 << 16)
def _same_name(x: str, y: str) -> bool:
    """The same place or organisation written two ways: 经济学院 / 涉外经济学院, 源达 / 达源, 德雅苑 / 德雅苑生活.
    Strict on purpose: taking two companies for one (昆明钢铁 / 昆明铁路, 兴华 / 华华) would leave one of two
    major events without its own deadlines; a missed join only costs a merge by a person."""
    if x == y:
        return True
    a, b = _name_part(x), _name_part(y)
    if a in b or b in a:
        return True
    sa, sb = set(a), set(b)
    return len(sa & sb) * 4 >= len(sa | sb) * 3


def _shared_names(a: Iterable[str], b: Iterable[str]) -> list[str]:
    return sorted({x for x in a for y in b if _same_name(x, y)})


def _entity_class(name: str) -> str:
    for size in range(min(6, len(name)), 0, -1):
        cls = _FACILITY_OF.get(name[-size:])
        if cls is not None:
            return cls
    return ""


def conflicts(a: Signature, b: Signature) -> str | None:
    """Why two reports (or a report and an event) are different events whatever their wording, or None."""
    area_a, streets_a, roads_a, others_a, _ = a._split
    area_b, streets_b, roads_b, others_b, _ = b._split
    if area_a and area_b and not area_a & area_b:
        return f"事发地不同：{'、'.join(sorted(area_a))}／{'、'.join(sorted(area_b))}"
    if area_a and not streets_a and streets_b and not area_b or area_b and not streets_b and streets_a and not area_a:
        return f"事发地不同：{'、'.join(sorted(area_a | streets_a))}／{'、'.join(sorted(area_b | streets_b))}"
    if streets_a and streets_b and not streets_a & streets_b:
        return f"街道不同：{'、'.join(sorted(streets_a))}／{'、'.join(sorted(streets_b))}"
    # Roads against roads, other sites against other sites (a road runs past many estates: 万家丽南路 and
    # 丽发新城小区 may be one place). A text naming many sites is a list (公交线路建议), not where it happened.
    for kind_a, kind_b in ((roads_a, roads_b), (others_a, others_b)):
        if kind_a and kind_b and len(kind_a) <= MAX_SITES and len(kind_b) <= MAX_SITES \
                and not _shared_names(kind_a, kind_b):
            return f"地点不同：{'、'.join(sorted(kind_a))}／{'、'.join(sorted(kind_b))}"
    if a.entities and b.entities and not _shared_names(a.entities, b.entities):
        by_class_a: dict[str, set[str]] = {}
        for name in a.entities:
            by_class_a.setdefault(_entity_class(name), set()).add(name)
        for name in sorted(b.entities):
            same = by_class_a.get(_entity_class(name))
            if same:
                return f"单位不同：{'、'.join(sorted(same))}／{name}"
    if a.facilities and b.facilities and not _facilities_compatible(a.facilities, b.facilities):
        return f"场所不同：{'、'.join(sorted(a.facilities))}／{'、'.join(sorted(b.facilities))}"
    if "交通事故" in a.types and "交通事故" in b.types and a.vehicles and b.vehicles \
            and not a.vehicles & b.vehicles:
        return f"车辆不同：{'、'.join(sorted(a.vehicles))}／{'、'.join(sorted(b.vehicles))}"
    return None


def _gap(at: datetime, c: Candidate) -> timedelta:
    if at >= c.last_seen:
        return at - c.last_seen
    if at < c.first_seen:
        return c.first_seen - at
    return timedelta(0)


def _ago(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    if minutes < 60:
        return f"相隔{minutes}分钟"
    if minutes < 48 * 60:
        return f"相隔{round(minutes / 60)}小时"
    return f"相隔{round(minutes / 1440)}天"


@dataclass
class _Option:
    candidate: Candidate
    rank: tuple  # higher is better; equal ranks are ambiguous
    tier: int  # 3 named site or organisation, 2 street (or an area event), 1 facility only / no place
    why: Callable[[], str]  # the reason, written only for the one chosen
    sim: float = 0.0

    @property
    def reason(self) -> str:
        return self.why()


def _judge(sig: Signature, at: datetime, c: Candidate, w: Windows) -> _Option | None:
    ev = c.signature
    if ev.kind == "routine":
        return None
    gap = _gap(at, c)
    if gap > w.horizon:
        return None
    report_kind, event_kind = sig.kind, ev.kind
    # -------------------------------------------------------------------- types
    same = sig.types & ev.types
    area = same & AREA_TYPES
    if area:  # an earthquake or a flood: one event across streets
        if gap > w.event:
            return None
        return _Option(c, (2, 1, 1, 0, 0), 2, lambda: f"同一事件：{'、'.join(sorted(area))}（波及多地），{_ago(gap)}")
    if DRILL in sig.types or DRILL in ev.types:
        if report_kind == "incident" and event_kind == "incident" and not (DRILL in sig.types and DRILL in ev.types):
            return None  # a real report never joins a drill, nor a drill a real event
    relation = ""
    if report_kind == "incident" and event_kind == "incident":
        if same:
            relation = "same"
        else:
            hows = {_COMPATIBLE_TYPES.get((x, y)) for x in sig.types for y in ev.types}
            relation = "near" if "near" in hows else "site" if "site" in hows else ""
        if not relation:
            return None
        window = w.event
    else:
        relation = "follow"  # a follow-up, or an event that so far has only signs
        window = w.follow_up
    late = False
    if gap > window:
        if not (relation == "same" and "事后" in sig.marks and "复发" not in sig.marks and gap <= w.late):
            return None
        late = True
    # -------------------------------------------------------------------- where
    # The tier first: most candidates that pass the types share no place, and need no full conflicts() check.
    _, streets_r, roads_r, others_r, spec_r = sig._split
    _, streets_e, roads_e, others_e, spec_e = ev._split
    shared_sites = _shared_names(roads_r | others_r, roads_e | others_e)
    shared_streets = sorted(streets_r & streets_e)
    shared_named = _shared_names(sig.entities, ev.entities)
    if shared_sites or shared_named:
        tier = 3
    elif shared_streets:
        tier = 2
    elif not spec_r or not spec_e or not ({_level(p) for p in spec_r} & {_level(p) for p in spec_e}):
        tier = 1  # one of them names no street or site (at most a district): the facility must speak
    else:
        return None
    if conflicts(sig, ev) is not None:
        return None
    shared_fac = _shared_facilities(sig.facilities, ev.facilities)
    bare = not spec_r and not sig.entities and not sig.facilities  # names neither place nor facility
    if "另一" in sig.marks and tier < 3:
        return None  # 另一家/另一起: only a shared name says it is this one after all
    shares_facility = bool(shared_fac)
    if late and tier < 3 and not (tier == 2 and shares_facility):
        return None  # looking back from far: the same street and facility, or the same name
    if tier == 2 and relation == "follow" and report_kind == "sign" and sig.facilities and not shares_facility:
        return None  # a follow-up about another facility in the street is not about this event
    if tier == 2 and relation == "site" and not shares_facility:
        return None  # a fire and an explosion in one street are two things unless at the same facility
    if tier == 1:
        # No street or site in common. A shared district (官渡区; the jurisdiction named) and a shared facility;
        # or no place at all and a facility that is not everywhere (体育馆, not 小区); or one side names neither
        # place nor facility (前卫也听到爆炸声) and the type is the same, soon after. Never for a type that is only
        # compatible (a fire and an explosion somewhere).
        if relation == "site":
            return None
        shared_area = any(_level(p) == 0 for p in sig.places & ev.places)
        telling = [f for f in shared_fac if f not in COMMON]
        focused = len(sig.facilities) <= FOCUSED  # a long complaint naming many facilities is about none of them
        event_bare = not spec_e and not ev.entities and not ev.facilities
        typed = report_kind == "incident" or event_kind == "incident"
        if not (focused and shared_fac and (shared_area or telling and typed and gap <= w.nearby)
                or relation in ("same", "near") and (bare or event_bare) and gap <= w.follow_up):
            return None
    # -------------------------------------------------------------------- the reason
    rank = (tier, len(shared_sites) + len(shared_named), 1 if shared_fac else 0,
            {"same": 2, "near": 1}.get(relation, 0), len(shared_streets))

    def why() -> str:
        if same:
            what = "、".join(sorted(same))
        elif relation in ("near", "site"):
            what = "／".join(sorted(sig.types | ev.types))
        else:
            what = "、".join(sorted(sig.types or ev.types))
        if late:
            head = "同一事件（事后通报）"
        elif relation == "follow" and report_kind == "sign":
            head = f"同一事件（后续报告：{'、'.join(sorted(sig.signs))}）"
        elif relation == "follow":
            head = "同一事件（此前报告只有迹象）"
        else:
            head = "同一事件"
        parts = [what, *(shared_sites or shared_streets), *(shared_named or shared_fac)]
        if tier == 1:
            parts.append("未写明同一地点，唯一在办的同类事件")
        parts.append(_ago(gap))
        return f"{head}：{'，'.join(p for p in parts if p)}"

    return _Option(c, rank, tier, why)


class OpenEvents:
    """The open events a batch of reports is matched against, indexed so that a report meets only the few it
    could join (see _judge): by type (a report that names a type joins an event of the same or a compatible
    type, or one known so far only by its signs), by the day of its last report (an event quiet for longer than
    the window is never joined), and by street and district (_apart). Keeps the order events were added in."""

    def __init__(self, candidates: Iterable[Candidate] = ()) -> None:
        self.by_key: dict[object, tuple[int, Candidate]] = {}
        self.by_type: dict[str, set[object]] = {}
        self.untyped: set[object] = set()  # events known only by their signs
        self.by_day: dict[int, set[object]] = {}  # day of the last report → events
        self._days: list[int] = []  # the keys of by_day, sorted
        self._seq = 0
        for c in candidates:
            self.put(c)

    def put(self, c: Candidate) -> None:
        """Add an event, or replace the one with the same key (its merged signature)."""
        old = self.by_key.get(c.key)
        if old is not None:
            for ty in old[1].signature.types:
                self.by_type[ty].discard(c.key)
            self.untyped.discard(c.key)
            day = _day(old[1].last_seen)
            self.by_day[day].discard(c.key)
            if not self.by_day[day]:
                del self.by_day[day]
                del self._days[bisect.bisect_left(self._days, day)]
            seq = old[0]
        else:
            seq, self._seq = self._seq, self._seq + 1
        self.by_key[c.key] = (seq, c)
        if c.signature.kind == "incident":
            for ty in c.signature.types:
                self.by_type.setdefault(ty, set()).add(c.key)
        else:
            self.untyped.add(c.key)
        day = _day(c.last_seen)
        if day not in self.by_day:
            self.by_day[day] = set()
            bisect.insort(self._days, day)
        self.by_day[day].add(c.key)

    def relevant(self, sig: Signature, at: datetime | None = None, windows: "Windows | None" = None
                 ) -> list[Candidate]:
        """The events `sig` (reported `at`) could join: of a compatible type, not in another street or
        district (unless an earthquake or a flood) and, unless it looks back (事后), within the event window."""
        keys: Iterable[object] = self.by_key.keys()
        within = at is not None and "事后" not in sig.marks
        if within:  # events whose last report is at most `reach` before `at` (later ones: _gap decides)
            w = windows or WINDOWS
            reach = max(w.event, w.follow_up)
            first = bisect.bisect_left(self._days, _day(at - reach))
            keys = set().union(*(self.by_day[d] for d in self._days[first:]))
        if sig.kind == "incident":
            types = sig.types | {y for x in sig.types for y in _NEAR_TYPES.get(x, ())}
            typed = self.untyped.union(*(self.by_type.get(ty, ()) for ty in types))
            keys = typed.intersection(keys)
        area = bool(sig.types & AREA_TYPES)  # an earthquake or a flood joins across places: all of them stay
        out = []
        for k in keys:
            seq, c = self.by_key[k]
            if within and _gap(at, c) > reach or not area and _apart(sig, c.signature):
                continue
            out.append((seq, c))
        out.sort(key=lambda sc: sc[0])
        return [c for _, c in out]


def _day(t: datetime) -> int:
    return t.toordinal()


def _apart(a: Signature, b: Signature) -> bool:
    """Different streets or different districts: the first checks of conflicts(), on sets alone, so that
    OpenEvents drops most candidates before _judge (a street has few of a district's open events)."""
    area_a, streets_a = a._split[0], a._split[1]
    area_b, streets_b = b._split[0], b._split[1]
    return bool(streets_a and streets_b and streets_a.isdisjoint(streets_b)
                or area_a and area_b and area_a.isdisjoint(area_b))


_NEAR_TYPES: dict[str, frozenset[str]] = {}
for (_x, _y), _how in _COMPATIBLE_TYPES.items():
    if _how:
        _NEAR_TYPES[_x] = _NEAR_TYPES.get(_x, frozenset()) | {_y}


def match(sig: Signature, at: datetime, candidates: Sequence[Candidate],
          similarity: Callable[[object], float] | None = None, windows: Windows = WINDOWS
          ) -> tuple[Candidate, str] | None:
    """The open event the report joins and why (in Chinese), or None: a new event, or not sure which.
    Routine complaints (no type, no sign) never join here."""
    if sig.kind == "routine":
        return None
    options = [o for c in candidates if (o := _judge(sig, at, c, windows)) is not None]
    if not options:
        return None
    best_tier = max(o.tier for o in options)
    options = [o for o in options if o.tier == best_tier]
    options.sort(key=lambda o: o.rank, reverse=True)
    if best_tier == 1:  # only by facility or without a place: exactly one such event, or none
        return (options[0].candidate, options[0].reason) if len(options) == 1 else None
    top = [o for o in options if o.rank == options[0].rank]
    if len(top) == 1:
        return top[0].candidate, top[0].reason
    if similarity is not None:
        for o in top:
            o.sim = float(similarity(o.candidate.key))
        top.sort(key=lambda o: o.sim, reverse=True)
        if top[0].sim - top[1].sim >= 0.1:
            return top[0].candidate, f"{top[0].reason}，文本相似{top[0].sim:.2f}"
    return None
