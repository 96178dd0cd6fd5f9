"""Severity from the facts in the text (pure): deaths, missing and trapped people, serious injuries and acute
poisoning, direct economic loss, people evacuated — in digits or Chinese numerals, exact or approximate
(三人死亡, 十几人遇难, 1死12伤, 5000余万元, 壹亿贰仟万元).

National four-level grading (docs/design.md §1; 生产安全事故报告和调查处理条例, 国家突发环境事件应急预案):
Ⅰ 特别重大 ≥30 deaths (incl. missing) or ≥100 seriously injured or ≥1亿元 loss or ≥5万 people evacuated;
Ⅱ 重大 10–29 / 50–99 / 5000万–1亿 / 1万–5万; Ⅲ 较大 3–9 / 10–49 / 1000万–5000万 / 5000–1万; Ⅳ 一般 below.
An office may have a sensitive area (云政办发〔2021〕28号) raise the level (`sensitive_raise`, 0 in the shipped
config/lexicons/severity.yaml: the national grade comes from the figures alone), capped by rules: a raise
never reaches beyond `cap_raised` (default 较大), and without any casualty or loss fact never beyond
`cap_without_facts` — 重大 starts a 5-hour clock, so it comes from facts or from a person.

How figures are read (`extract_facts`), sentence by sentence and clause by clause:
- Each casualty word takes the nearest count of people before it in its clause (`1人死亡12人受伤`: 1 death,
  12 injured), else the count right after it (`死亡12人`, `死亡人数已上升至11人`), else — for deaths and the
  missing — the last count of people in the clauses before (`3名学生…，不幸溺水身亡`). `X死Y伤` too.
- Approximate numerals count by their upper bound (十几 → 19, 二十多 → 29, 近百 → 99, 上百 → 199, 五六 → 6, 数千万
  → 9000万) and say so in `uncertain`; `至少/超过N` counts N and says it may be more; 多人/数人 count 9.
- Missing/失联/下落不明 count with the dead; people trapped or buried in an accident whose state is unknown count
  as missing (not when rescued, nor people stuck in a lift); `死伤/伤亡N人` counts N as deaths; bare 受伤
  counts as possibly serious, 轻伤/均为轻伤 not at all, and when a breakdown is given (其中重伤N人) only the
  serious; acute poisoning (中毒, or vomiting after a meal) counts as serious injury. The only money that counts
  is a 损失 told of with an accident or a disaster, or a 经济损失 (not 投资, 拖欠工程款, 罚款).
- Not counted: negated clauses (没有造成3人以上死亡, 无人员伤亡), rumours that the text refutes (网传…，经核实
  为谣言), history (2008年…, 去年…, 烧死过, 二十年前, 案例), drills (演练, 模拟), hypotheticals (如果, 万一, 一旦,
  若…: from the word to the end of the sentence), statistics (每年, 同比, 今年以来, 1至10月, plan thresholds;
  事故频发…已经死了几个人 unless a new event follows),
  numbers that are no count of people (12栋, 30户, 3号楼, 十几条狗) and figures that a later one in the same text
  corrects (此前通报的死亡7人 … 实际5人; 由52人调整为46人).

Grading (`assess_facts`) uses the upper bounds, so an uncertain reading grades up; it then asks a person
(`triage_reason`) when every dimension that sets a grade of 较大 or above rests on an uncertain reading
(a range that straddles a threshold or reaches 重大, bare 受伤, missing people, a mixed count, hearsay), when
a non-official denial is all that stands against a rumoured figure, or when an official figure is lower than
the earlier reports (`merge_facts`): the law allows raising a grade automatically, never lowering it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable, NamedTuple

import yaml

from monitor.core.model import Reason, Severity
from monitor.understanding import numerals

KINDS = ("deaths", "missing", "injured", "loss_yuan", "trapped", "evacuated")
# Kinds graded together: the people dimension is deaths + missing (+ trapped).
GROUPS = {"people": ("deaths", "missing", "trapped"), "injured": ("injured",), "loss": ("loss_yuan",),
          "evacuated": ("evacuated",)}
GROUP_OF = {k: g for g, ks in GROUPS.items() for k in ks}


def to_number(text: str) -> float | None:
    return numerals.to_number(text.replace(" ", ""))


class Doubt(NamedTuple):
    """Why a figure is not certain. `low` is the lowest value the words allow (for "superseded" and
    "denied_rumour": the figure that was set aside)."""

    kind: str   # one of KINDS
    code: str   # approx | open | missing | trapped | mixed | bare_injury | serious_guess | symptoms | hearsay
    #             | superseded | denied_rumour
    low: float
    reason: str  # Chinese, shown to the duty officer


@dataclass(frozen=True)
class Facts:
    """The figures of one report (or, merged, of one incident). Each count is the upper credible bound."""

    deaths: int = 0
    missing: int = 0
    injured: int = 0  # seriously injured, incl. acute poisoning and unspecified injuries
    loss_yuan: float = 0.0
    trapped: int = 0  # trapped or buried, state unknown
    evacuated: int = 0
    doubts: tuple[Doubt, ...] = ()
    official: bool = False  # an official notice or correction (通报, 经核实, 据…局消息 …)
    light_only: bool = False  # injuries were reported, all of them light
    correction: bool = False  # the text corrects earlier figures (更正, 核减, 实际…)
    stated_none: tuple[str, ...] = ()  # kinds an official text states as none (无人员伤亡)

    @property
    def any(self) -> bool:
        return bool(self.deaths or self.missing or self.injured or self.loss_yuan or self.trapped
                    or self.evacuated)

    @property
    def uncertain(self) -> tuple[str, ...]:
        """Chinese reasons why figures are ranges, approximations or assumptions (no repeats)."""
        return tuple(dict.fromkeys(d.reason for d in self.doubts))

    def as_dict(self) -> dict:
        out: dict = {k: getattr(self, k) for k in KINDS if getattr(self, k)}
        if self.doubts:
            out["uncertain"] = list(self.uncertain)
            out["doubts"] = [[d.kind, d.code, d.low, d.reason] for d in self.doubts]
        for key in ("official", "light_only", "correction"):
            if getattr(self, key):
                out[key] = True
        if self.stated_none:
            out["stated_none"] = list(self.stated_none)
        return out

    @classmethod
    def from_dict(cls, data: dict | None) -> "Facts":
        if not data:
            return NO_FACTS
        kwargs: dict = {k: (float(data[k]) if k == "loss_yuan" else int(data[k])) for k in KINDS if data.get(k)}
        doubts = tuple(Doubt(str(k), str(c), float(lo), str(r)) for k, c, lo, r in data.get("doubts") or ())
        if not doubts and data.get("uncertain"):  # only the reasons were kept: assume the worst kind of doubt
            doubts = tuple(Doubt(_first_kind(kwargs), "approx", 0.0, str(r)) for r in data["uncertain"])
        return cls(**kwargs, doubts=doubts, official=bool(data.get("official")),
                   light_only=bool(data.get("light_only")), correction=bool(data.get("correction")),
                   stated_none=tuple(data.get("stated_none") or ()))


def _first_kind(values: dict) -> str:
    return next((k for k in KINDS if values.get(k)), "deaths")


NO_FACTS = Facts()


# --------------------------------------------------------------------------- words
# One alternation, longest forms first; the group name says (kind, sub, form).
_KW_SPEC: list[tuple[str, str, str, str]] = [
    # (words, kind, sub, form). form: "verb" takes a count before it, after it, or from the clauses before;
    # "word" (informal: 死了, 炸死) only before or after it; "noun" (死者, 伤者, 遗体) only right next to it.
    (r"(?:被压|被埋|被砸|被烧|被撞|被冲|中毒|窒息|溺水|触电|受伤|重伤|坠楼|坠落)(?:死亡|身亡)", "deaths", "", "verb"),
    (r"死伤|伤亡", "deaths", "mixed", "word"),
    (r"死亡|身亡|遇难(?!者)|罹难(?!者)|丧生|殒命|遇害|溺亡|坠亡|(?:已经?)?(?:无|没有)生命体征", "deaths", "", "verb"),
    (r"遇难者|罹难者|死者|遗体|尸体", "deaths", "", "noun"),
    (r"没气了|(?<![热吵烦笑气累饿渴困臭忙急愁恨怕想痛疼冷差亏堵卡锁封关憋挤吓穷闷要])死了"
     r"|[烧炸砸淹撞摔毒踩冻电]死(?!人不|人了|你|我|他)", "deaths", "", "word"),
    (r"(?<![玩搞闹])失踪|失联|下落不明|失去联系|联系不上", "missing", "", "verb"),
    (r"被困|困在|被掩埋|被埋|埋了|掩埋|被压(?!伤)|压了|压着", "trapped", "", "word"),
    (r"伤势(?:较重|严重|过重|较为严重)|危重", "injured", "guess", "word"),
    (r"受重伤|重伤(?!者|员)", "injured", "serious", "word"),
    (r"重伤者|重伤员", "injured", "serious", "noun"),
    (r"受了点轻伤|受轻伤|轻微(?:擦伤|受伤|烧伤|烫伤|划伤|伤)|轻伤|擦伤|皮外伤", "injured", "light", "word"),
    (r"受伤(?!害)|负伤|受了伤|[烧烫砸摔咬压呛夹撞炸刺砍割划灼扎踩]伤|骨折", "injured", "bare", "word"),
    (r"伤者|伤员", "injured", "bare", "noun"),
    (r"中毒", "injured", "poison", "word"),
    (r"上吐下泻|呕吐|腹泻|腹痛|头晕|恶心|不适", "injured", "symptoms", "word"),
    (r"紧急疏散|疏散|转移安置|紧急转移|转移群众|转移受灾|紧急安置|安置群众|安置受灾|撤离|受灾群众|受灾人口", "evacuated", "",
     "word"),
]


def _word_chars() -> str:
    """The Chinese characters of the words (look-arounds left out): a word can only start at one of them."""
    chars = set()
    for pattern, *_ in _KW_SPEC:
        chars.update(c for c in re.sub(r"\(\?<?[=!](?:\[[^]]*\]|[^)])*\)", "", pattern) if "\u4e00" <= c <= "\u9fff")
    return "".join(sorted(chars))


# The leading character class lets the scan skip quickly over positions where no word can start.
_KW = re.compile(f"(?=[{_word_chars()}])(?:" + "|".join(f"(?P<k{i}>{p})" for i, (p, *_) in enumerate(_KW_SPEC)) + ")")
_KW_KIND = {f"k{i}": (kind, sub, form) for i, (_, kind, sub, form) in enumerate(_KW_SPEC)}
# The cheap pre-check: a text with none of these has no facts (most messages).
# Every word of _KW contains one of these (tests/test_severity.py checks it), and so do 损失 and X死Y伤.
_TRIGGER = re.compile(r"死|伤|身亡|遇难|罹难|丧生|殒命|遇害|溺亡|坠亡|生命体征|没气|遗体|尸体|失联|失踪|下落不明|失去联系"
                      r"|联系不上|被困|困在|埋了|被埋|掩埋|压了|压着|被压|危重|中毒|损失|骨折|呕吐|上吐下泻|腹泻|头晕|腹痛"
                      r"|恶心|不适|疏散|撤离|转移安置|紧急转移|转移群众|转移受灾|紧急安置|安置群众|安置受灾|受灾群众|受灾人口"
                      r"|更正为|调整为|核减为|修正为")
# Only these kinds may take a count from an earlier clause (`3名学生…，不幸溺水身亡`).
_ANAPHORA = ("deaths", "missing")
# Counts of trapped people and amounts of loss are read only where an accident or a disaster is told of.
_ACCIDENT = re.compile(r"火灾|失火|起火|着火|大火|火情|爆炸|爆燃|炸了|事故|灾|地震|塌|垮|倒了|透水|泥石流|滑坡|山洪|洪水"
                       r"|洪涝|内涝|暴雨|降雨|冰雹|台风|泄漏|井下|矿井|废墟|被埋|掩埋|埋了|沉没|倾覆|翻车|相撞|撞车|搜救|救援")
# A count right after a noun ends the phrase (伤者23名，…), unlike 死者三个小孩; evacuees are counted in people.
_COUNT_ENDS = re.compile(r"\s*(?:余|多)?(?:人|名|具)(?:[，。、；！？,.;!?\s）)]|$|其中)")
_EVACUEES = re.compile(r"\s*(?:余|多)?(?:人|名)")
# Words between a count and a casualty word that show the count is of somebody else (叫了十多个人…被人砍伤).
_OTHER_ACTOR = re.compile(r"被人|被他|被她|被对方|叫了|叫来|带着|带了|雇了|找了")

_SENTENCE = re.compile(r"[^。！？!?；;\s]+")
_LOSS = re.compile("损失")
_END = re.compile(r"[。！？!?；;\s]")
_ENDS = "。！？!?；; \n\t\r\u3000"
_CLAUSE = re.compile(r"(?:[^，,、：:（）()【】\[\]]|,(?=\d{3}))+")  # 6,000万元 is one number

# A count of people: the numeral with its measure word (余/多 already belong to the numeral).
_PERSON_AFTER_GE = ("人|工人|工友|学生|孩|小孩|小学生|小朋友|小伙|村民|老人|乘客|员工|同事|矿工|农民|居民|业主|游客|群众|家属"
                    "|少年|儿童|男|女|病人|患者|职工|师生|老师|民工|市民|旅客|顾客|观众|住户|邻居|亲戚|朋友|兄弟|姐妹|宝宝"
                    "|婴儿|幼儿|宾客|商户|户主|重伤|轻伤|受伤|伤|死|遇难|失联|失踪|被|烧|炸|老乡|同学|工作人员|作业人员")
_PEOPLE_AFTER = re.compile(r"\s*(?:余|多)?(?:人(?!次|民币|均)|名(?!单|额|次|义)|位(?!置|于)|口(?!罩)|具"
                           r"|个(?=" + _PERSON_AFTER_GE + r"|[了都均在，。、；！？,.;!?\s）)]|$))")
_MONEY_AFTER = re.compile(r"\s*(?:万|亿)?(?:元|块|人民币)")
_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿几"
_RANGE = re.compile(r"([\d" + _CN_DIGITS + r"]+)\s*(?:到|至|~|～|—|－)\s*([\d" + _CN_DIGITS + r"]+)(?=\s*(?:余|多)?[人名个位])")
_COUNTED = re.compile(r"[\d０-９零〇一二两三四五六七八九十百千万亿几数多余来壹贰叁肆伍陆柒捌玖拾佰仟廿卅]\s*(?:人|名|位|个|口|具|元|块|万|亿)"
                      r"|[超过破][百千万]")
_ABOUT_AFTER = re.compile(r"\s*(?:万|亿)?元?左右")
_RANGE_WORD = re.compile(r"[到至~～—－]")
_OVER = re.compile(r"(?:超过|超|过|破)([百千万])(?![分之])")
_VAGUE = re.compile(r"(?:好多|许多|很多|好几|多|数)(?=[人名](?![次员家民士数们群手大口单额字]))")
_OPEN_BEFORE = re.compile(r"(?:至少|最少|超过|已超|超|不少于|不低于|多于|高于)有?\s*$")
_OPEN_AFTER = re.compile(r"\s*(?:余|多)?(?:人|名|个)?以上")
_X_DEATHS = re.compile(r"(?<![\d" + _CN_DIGITS + r"])([\d一二两三四五六七八九十百]+)死(?:([\d一二两三四五六七八九十百]+)([轻重]?)伤"
                       r"|(?=[\s，。、；！？,.;!?）)]|$))")

# Context. Negation before a figure in its clause: 没有造成3人以上死亡, 无人受伤, 不是网上说的死了十几个.
_NEGATION = re.compile(r"没有|并没有|从没|没(?![想气了过])|未(?!成年|经|婚|来|知|满|能)"
                       r"|无(?!效|大碍|生命|法|证|照|人机|锡|论|关|数|辜|故|奈|序|偿|业|名)|不是|并非|并未|从未|零(?=伤亡)")
# Whole sentence: drills and film shoots; statistics and plan thresholds.
_DRILL = re.compile(r"演练|演习|模拟|剧组|影视拍摄|拍摄爆破|拍戏|彩排|实战化训练")
_NOT_DRILL = re.compile(r"(?:不是|并非|并不是|非)(?:演练|演习)")
_STATS = re.compile(r"癌|每年|年均|平均每|每天有|同比|环比|今年以来|近年来|近几年|近\d+年|历年|全年共|(?:\d+|[一二三四五六七八九十]+)"
                    r"(?:至|到|-|—)(?:\d+|[一二三四五六七八九十]+)月|全[国省][^，。]{0,3}(?:每|共|累计|有)|据统计，全")
_THRESHOLD = re.compile(r"以上[^，。；]{0,12}以下")
_RULE_WORDS = re.compile(r"规定|预案|标准|条例|办法")
_CAUSED = re.compile(r"造成|导致|致使|已有|已经|已")
# From the word to the end of the sentence: hypotheticals; history (unless a word of today follows).
_HYPOTHETICAL = re.compile(r"难道|如果|假如|假设|假若|假使|万一|一旦|倘若|(?<![主只需重])要是|如若|若(?!干)|设想|推算|按现有")
_HISTORY = re.compile(r"去年|前年|往年|当年|那年|那次|那一年|(?:很久|多年|早|从|这里|那里|村里)以前|曾经|曾(?=发生|造成|有|致)"
                      r"|历史上|多年前|"
                      r"(?:\d+|[一二三四五六七八九十几两]+)(?:多)?年前|年代|周年|"
                      r"(?:19|20)\d\d年(?!\s*(?:\d{1,2}|[一二三四五六七八九十]{1,3}|某)月|底|初|以来|至今|上半年|下半年)|"
                      r"[死伤亡]过(?!程|度|量|去)")
# From the word to the end of the sentence, unless a new event is told of after it: accidents over time.
_FREQUENT = re.compile(r"频频|频发|高发|屡屡|屡次|多起|接连发生|经常发生|时有发生")
_NEW_EVENT = re.compile(r"今天|今日|今晨|今早|今晚|今夜|昨天|昨日|昨晚|昨夜|前天|刚刚|刚才|刚发生|日前|近日|这次|此次|本次|又(?:发生|造成|一)")
_TODAY = re.compile(r"今天|今日|今晨|今早|今晚|今夜|昨天|昨日|昨晚|昨夜|刚刚|刚才|目前|现在|截至|此次|本次|这次|日前|近日")
_CASE = re.compile(r"案例|教训|警示|回顾|纪念")
# Rumours: a clause that reports one, a quoted claim, and the words that refute one.
_RUMOUR = re.compile(r"网传|网上流传|网上传|网络流传|传言|谣传|谣言|网上说|网上传的|编造|造谣")
_QUOTE_PAIRS = {"“": "”", "‘": "’", "「": "」", "『": "』"}
_REFUTED = re.compile(r"谣言|不实|辟谣|造谣|谣传|虚假|假消息|失实|不属实|并非事实|与事实不符")
_OFFICIAL = re.compile(r"官方通报|官方[：:]|(?:情况|事件|事故|灾情|伤情|处置|最新)通报|通报[：:】]|的通报|据通报|续报|更正|经查|调查报告|调查结果|新闻办|新闻发布"
                       r"|发布会|辟谣|情况说明|经[^，。！？]{0,14}?(?:核实|核查|核定|调查|查明|鉴定|比对|评估)"
                       r"|(?:局|委|政府|部门|中心|大队|支队|分局|办|交警|指挥部)(?:最新)?(?:通报|回应|答复|消息|发布|证实)"
                       r"|(?:局|委|政府|分局|中心|大队|支队|办|指挥部)[：:]"
                       r"|据[^，。！？]{0,20}?(?:局|委|政府|办公室|中心|大队|支队|指挥部|交警)")
_CORRECTION = re.compile(r"更正|核减|调整为|重复统计|重复登记|实际造成|实际死亡|实际为|修正为")
_HEARSAY = re.compile(r"听说|据说|据传|网传|网上传|网上说|网上流传|群里|爆料|扩散|传言|传闻|网友称|网友发帖|转发"
                      r"|听[^，。！？]{1,12}说|朋友说|亲戚说|他说|她说")
_STATEMENT = re.compile(r"[^。！？!?；;]+[。！？!?；;]?")
# Within a clause: the figure before these words was an earlier one (此前通报的死亡7人), after them the new one.
_PRIOR = re.compile(r"此前|原报|先前|初报|早前|原先|之前通报|之前报告|前期")
_CORRECTED_TO = re.compile(r"(?:调整|更正|核减|修正|下调|上调|变更|减少|增加|改|上升|升|增|增加到|降)(?:为|至|到)")
# A clause where the trapped or missing are safe, or found dead.
_RESCUED = re.compile(r"获救|救出|被救|脱困|脱险|生还|联系上|平安|安全(?:撤出|撤离|下山|转移|疏散|脱险|升井)|均安全|都安全"
                      r"|没事|无恙|自行升井|已出院")
_BODIES = re.compile(r"遗体|尸体|遗骸")
_ALL_LIGHT = re.compile(r"(?:均|都|全部)(?:为|系|是|受)?(?:轻伤|轻微伤|轻微擦伤|皮外伤|轻微受伤)|伤势均不重|均无大碍|都无大碍")
_LIGHT_NEXT = re.compile(r"\s*[（(]?\s*(?:均为|均系|系|为|属)?(?:轻伤|轻微伤|皮外伤)")
_MEAL = re.compile(r"中毒|吃|餐|饭|食|饮|喝")
_ALL = re.compile(r"全部|均|都|大家|所有")
_DIAGNOSED = re.compile(r"(?:诊断|确诊|认定|定性|判定)为?[^，。]{0,6}$")
_FATAL = re.compile(r"抢救无效|不治|不幸")


@dataclass(eq=False)
class _Num:
    low: float
    high: float
    approx: bool
    start: int  # in the sentence
    end: int  # after the numeral (and its 余/多), before the measure word
    text: str
    people: bool = False
    money: bool = False
    open: bool = False  # 至少N, 超过N, N人以上: N or more
    vague: bool = False  # 多人, 数人
    clause: int = -1


@dataclass(eq=False)
class _Mention:
    kind: str
    sub: str
    num: _Num
    kw_start: int
    kw_end: int
    kw_text: str
    clause: int
    sentence: int
    prior: bool = False
    snippet: str = ""
    clause_text: str = ""


class _Ctx:
    """What is known about the whole text, each computed once and only when a figure needs it."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def official(self) -> bool:
        text = self.text
        return _OFFICIAL.search(text) is not None and any(  # a question (有没有官方通报？) is no notice
            _OFFICIAL.search(m.group()) for m in _STATEMENT.finditer(text) if m.group()[-1] not in "？?")

    @cached_property
    def refuted(self) -> bool:
        return _REFUTED.search(self.text) is not None

    @cached_property
    def hearsay(self) -> bool:
        return not self.official and not self.refuted and _HEARSAY.search(self.text) is not None

    @cached_property
    def correction(self) -> bool:
        return self.official and _CORRECTION.search(self.text) is not None

    @cached_property
    def quotes(self) -> list[tuple[int, int]]:
        """Spans of quoted claims, in a text that refutes a rumour or is an official notice."""
        return _quoted(self.text) if self.refuted or self.official else []

    @cached_property
    def accident_in_title(self) -> bool:
        first = _SENTENCE.search(self.text)
        return first is not None and _ACCIDENT.search(first.group()) is not None

    @cached_property
    def accident(self) -> bool:
        return self.accident_in_title or _ACCIDENT.search(self.text) is not None


_QUOTE_CHARS = re.compile("['\"“”‘’「」『』]")


def _quoted(text: str) -> list[tuple[int, int]]:
    """Spans of quoted text ('…', "…", “…”, ‘…’, 「…」)."""
    spans: list[tuple[int, int]] = []
    open_at: dict[str, int] = {}
    for m in _QUOTE_CHARS.finditer(text):
        c, i = m.group(), m.start()
        if c in ("'", '"'):
            if c in open_at:
                spans.append((open_at.pop(c), i + 1))
            else:
                open_at[c] = i
        elif c in _QUOTE_PAIRS:
            open_at[_QUOTE_PAIRS[c]] = i
        elif c in open_at:
            spans.append((open_at.pop(c), i + 1))
    return spans


# --------------------------------------------------------------------------- reading
def extract_facts(text: str) -> Facts:
    hit = _TRIGGER.search(text) if text else None
    if hit is None:
        return NO_FACTS  # no word any fact is read around (most messages): nothing to read
    ctx = _Ctx(text)
    mentions: list[_Mention] = []
    stated: set[str] = set()
    denied: list[Doubt] = []
    pos, si, n = 0, 0, len(text)
    # only the sentences with a trigger word are read: find the next one, then its sentence's bounds
    while hit is not None:
        before = text[pos:hit.start()]
        start = pos + max(map(before.rfind, _ENDS)) + 1
        stop = _END.search(text, hit.end())
        end = stop.start() if stop else n
        _read_sentence(text[start:end], start, si, ctx, mentions, stated, denied)
        si += 1
        pos = end + 1
        hit = _TRIGGER.search(text, pos)
    if not (mentions or denied or stated):
        return NO_FACTS
    return _facts(mentions, stated, denied, ctx)


def _numbers(s: str) -> list[_Num]:
    """Every numeral of a sentence that may be a count of people or an amount of money."""
    out: list[_Num] = []
    taken: list[tuple[int, int]] = []
    for m in (_RANGE.finditer(s) if _RANGE_WORD.search(s) else ()):  # 九到十人 = 9–10
        a, b = numerals.read_number(m.group(1)), numerals.read_number(m.group(2))
        if a is not None and b is not None and a.low < b.high:
            out.append(_Num(a.low, b.high, True, m.start(), m.end(), m.group()))
            taken.append((m.start(), m.end()))
    for m in (_OVER.finditer(s) if "百" in s or "千" in s or "万" in s else ()):  # 伤亡过百, 重伤人数超百
        value = {"百": 100, "千": 1000, "万": 10000}[m.group(1)]
        out.append(_Num(value, value, True, m.start(), m.end(), m.group(), open=True))
        taken.append((m.start(), m.end()))
    for q in numerals.find_numbers(s):
        if any(a < q.end and q.start < b for a, b in taken):
            continue
        out.append(_Num(q.low, q.high, q.approx, q.start, q.end, q.text))
        taken.append((q.start, q.end))
    for m in (_VAGUE.finditer(s) if "多" in s or "数" in s or "几" in s else ()):  # 多人死亡, 数人: a few — 2 to 9
        if not any(a < m.end() and m.start() < b for a, b in taken):
            out.append(_Num(2, 9, True, m.start(), m.end(), m.group(), vague=True))
    out.sort(key=lambda n: n.start)
    for n in out:
        if not n.open and (_OPEN_BEFORE.search(s, max(0, n.start - 4), n.start) or _OPEN_AFTER.match(s, n.end)):
            n.open = True
        if n.high >= 1e7 and not n.vague:
            n.money = True
            continue
        if s[n.start - 1:n.start] == "第":
            continue
        n.people = bool(_PEOPLE_AFTER.match(s, n.end)) or (n.open and n.text[-1:] in "百千万")
        n.money = bool("万" in n.text or "亿" in n.text or _MONEY_AFTER.match(s, n.end))
    return out


def _read_sentence(s: str, offset: int, si: int, ctx: _Ctx, out: list[_Mention], stated: set[str],
                   denied: list[Doubt]) -> None:
    kws = [(m.start(), m.end(), *_KW_KIND[m.lastgroup], m.group()) for m in _KW.finditer(s)]  # start end kind sub form
    loss_at = [m.start() for m in _LOSS.finditer(s)] if "损失" in s else []
    # money counts where an accident or a disaster is told of (not 拖欠, 投资, 罚款)
    if loss_at and not ("经济损失" in s or _ACCIDENT.search(s) or ctx.accident_in_title):
        loss_at = []
    if _NONE.search(s) and ctx.official:
        _stated_none(s, stated)
    x_deaths = list(_X_DEATHS.finditer(s)) if "死" in s else []
    if not kws and not loss_at and not x_deaths and not (out and _CORRECTED_TO.search(s)):
        return
    if not x_deaths and _COUNTED.search(s) is None:
        return  # no numeral before a measure word of people or money: no figure
    nums = _numbers(s)
    if not x_deaths and not any(n.people or n.money or n.open for n in nums):
        return
    if _DRILL.search(s) and not _NOT_DRILL.search(s):
        return  # a drill, a film shoot: nothing happened
    if _STATS.search(s):
        return  # statistics of years or places, not one event
    clauses = [(m.start(), m.end()) for m in _CLAUSE.finditer(s)]
    starts = [c[0] for c in clauses]

    def clause_of(pos: int) -> int:
        return max(0, bisect_right(starts, pos) - 1)

    found: list[_Mention] = []
    used: set[int] = set()
    by_clause: dict[int, list] = {}
    for kw in kws:
        by_clause.setdefault(clause_of(kw[0]), []).append(kw)
    people = [n for n in nums if n.people]
    for n in nums:
        n.clause = clause_of(n.start)
    # X死Y伤 (1死3伤, 一死三伤, 致4死)
    for m in x_deaths:
        d = numerals.read_number(m.group(1))
        if d is None:
            continue
        c = clause_of(m.start())
        num = _Num(d.low, d.high, d.approx, m.start(1), m.end(1), m.group(1), people=True)
        found.append(_Mention("deaths", "", num, m.end(1), m.end(1) + 1, "死", c, si))
        if m.group(2):
            h = numerals.read_number(m.group(2))
            if h is not None:
                num = _Num(h.low, h.high, h.approx, m.start(2), m.end(2), m.group(2), people=True)
                sub = {"轻": "light", "重": "serious"}.get(m.group(3), "bare")
                found.append(_Mention("injured", sub, num, m.end(2), m.end(2) + 1, "伤", c, si))
        for n in nums:
            if m.start() <= n.start < m.end():
                used.add(id(n))
    # each word: the count of people before it in its clause, else the one after it
    pending = []
    for c, ckws in by_clause.items():
        cs, ce = clauses[c]
        prev_end = cs
        for kw in ckws:
            start, end, kind, sub, form, word = kw
            reach = 8 if form == "noun" else 18
            subject = None
            for n in people:
                if n.start >= prev_end and n.end <= start and start - n.end <= reach and id(n) not in used:
                    subject = n
            if subject is not None and _OTHER_ACTOR.search(s, subject.end, start):
                subject = None
            if subject is not None and kind == "evacuated" and not _EVACUEES.match(s, subject.end):
                subject = None
            if subject is not None:
                used.add(id(subject))
                found.append(_Mention(kind, sub, subject, start, end, word, c, si))
            else:
                pending.append(kw + (c,))
            prev_end = end
    for start, end, kind, sub, form, word, c in pending:
        cs, ce = clauses[c]
        reach = 4 if form == "noun" else 10
        obj = next((n for n in nums if (n.people or n.open) and n.start >= end and n.end <= ce
                    and n.start - end <= reach and id(n) not in used), None)
        if obj is not None and kind == "evacuated" and not _EVACUEES.match(s, obj.end):
            obj = None
        if obj is not None and form == "noun" and not _COUNT_ENDS.match(s, obj.end):
            obj = None  # 伤者23名 — but not 死者三个小孩
        if obj is not None:
            used.add(id(obj))
            found.append(_Mention(kind, sub, obj, start, end, word, c, si))
        elif ((kind in _ANAPHORA and form == "verb" or sub == "poison" and _DIAGNOSED.search(s, cs, start))
              and not any(n.clause == c and n.start < start for n in nums)
              and _NEGATION.search(s, cs, start) is None):  # 3人受伤，无人死亡: no anaphora
            _anaphora(kind, sub, start, end, word, c, si, people, found, used, _ALL.search(s, cs, ce) is not None
                      or _FATAL.search(s, cs, ce) is not None)
    # money: 损失 and an amount next to it
    for at in loss_at:
        c = clause_of(at)
        cs, ce = clauses[c]
        after = [n for n in nums if n.money and n.start >= at + 2 and n.end <= ce and n.start - at <= 14]
        before = [n for n in nums if n.money and n.start >= cs and n.end <= at and at - n.end <= 10]
        n = after[0] if after else (before[-1] if before else None)
        if n is not None and id(n) not in used:
            used.add(id(n))
            if _ABOUT_AFTER.match(s, n.end) and not n.approx:  # 800万元左右
                n.low, n.high, n.approx = n.low * 0.9, n.high * 1.1, True
            found.append(_Mention("loss_yuan", "", n, at, at + 2, "损失", c, si))
    # a figure corrected within its clause (由52人调整为46人), or given bare after a correction (现更正为12人)
    for c, (cs, ce) in enumerate(clauses):
        cm = _CORRECTED_TO.search(s, cs, ce)
        if cm is None:
            continue
        later = next((n for n in people if n.start >= cm.end() and n.end <= ce and id(n) not in used), None)
        if later is None:
            continue
        mine = [f for f in found if f.clause == c and f.num.start < cm.start()]
        if mine:
            for f in mine:
                f.num = later
            used.add(id(later))
        elif not any(f.clause == c for f in found):
            earlier = [f for f in found if f.clause < c] or out[-1:]  # 此前通报死亡8人。现更正为12人。
            if earlier and earlier[-1].kind != "loss_yuan":
                e = earlier[-1]
                used.add(id(later))
                found.append(_Mention(e.kind, e.sub, later, later.end, later.end, e.kw_text, c, si))
                e.prior = True
    if not found:
        return
    _in_sentence(s, offset, si, clauses, found, ctx, denied)
    out.extend(found)


def _anaphora(kind, sub, start, end, word, c, si, people, found, used, all_of_them: bool) -> None:
    """`3名学生…，不幸溺水身亡`, `4名工人被压，送医后均抢救无效死亡`: the count of the clauses before."""
    before = [n for n in people if c - 3 <= n.clause < c]
    if not before:
        return
    n = before[-1]
    owner = next((f for f in found if f.num is n), None)
    if owner is not None:
        # the trapped or missing were found dead; the injured (all of them) died
        if owner.kind != kind and (owner.kind in ("trapped", "missing") or (owner.kind == "injured" and all_of_them)):
            owner.kind, owner.sub, owner.kw_text = kind, sub, word
        return
    used.add(id(n))
    found.append(_Mention(kind, sub, n, start, end, word, c, si))


def _in_sentence(s: str, offset: int, si: int, clauses, found: list[_Mention], ctx: _Ctx,
                 denied: list[Doubt]) -> None:
    """Drop what the sentence says did not happen, happened elsewhere or long ago, or was rescued."""
    # people stuck in a lift are not casualties, nor trapped people outside an accident (困在传销窝点), nor
    # people trapped in a sentence that says nobody was hurt; rescued ones neither; bodies found are deaths
    if "电梯" in s or not ctx.accident:
        found[:] = [f for f in found if f.kind != "trapped"]
    if _NO_CASUALTY.search(s):
        found[:] = [f for f in found if f.kind not in ("trapped", "missing")]
    # 多人伤亡: no count, and not even whether anybody died
    found[:] = [f for f in found if not (f.sub == "mixed" and f.num.vague)]
    for c, (cs, ce) in enumerate(clauses):
        clause = s[cs:ce]
        if _BODIES.search(clause):
            count = [f.num.high for f in found if f.clause == c and f.kind in ("trapped", "missing")]
            for f in found:
                if f.kind in ("trapped", "missing") and (f.clause == c or f.num.high in count):
                    f.kind = "deaths"
            continue
        if not _RESCUED.search(clause) or "其余" in clause or "其他" in clause:
            continue
        if any(f.clause == c and f.kind == "deaths" for f in found):
            continue  # 1人已被找到但已无生命体征
        counts = [n.high for n in _numbers(clause) if n.people]
        everyone = not counts or _ALL.search(clause)
        found[:] = [f for f in found if f.kind not in ("trapped", "missing")
                    or not (everyone or f.num.high in counts) or f.clause > c]
    # injuries: a breakdown replaces the total; "all light" makes them light
    if any(f.kind == "injured" and f.sub in ("serious", "guess") for f in found):
        found[:] = [f for f in found if not (f.kind == "injured" and f.sub == "bare")]
    all_light = _ALL_LIGHT.search(s) is not None
    for f in found:
        if f.kind == "injured" and f.sub == "bare" and (all_light or _LIGHT_NEXT.match(s, f.kw_end)):
            f.sub = "light"  # 60人受伤，均为轻伤; 1人受伤（轻伤）
    # scopes: hypotheticals and history run from their word to the end of the sentence
    hypothetical = _HYPOTHETICAL.search(s)
    history = [(m.start(), _reset(s, m.end())) for m in _HISTORY.finditer(s)]
    history += [(m.start(), _reset(s, m.end(), _NEW_EVENT)) for m in _FREQUENT.finditer(s)]
    threshold = _RULE_WORDS.search(s) is not None and (_THRESHOLD.search(s) is not None or "以上" in s)
    keep = []
    for f in found:
        at = min(f.num.start, f.kw_start)
        cs, ce = clauses[f.clause]
        clause = s[cs:ce]
        if hypothetical is not None and max(f.num.start, f.kw_start) > hypothetical.start():
            continue
        if any(a <= at < b or a <= f.kw_start < b for a, b in history):
            continue
        if _CASE.search(clause) or (threshold and f.num.open and not _CAUSED.search(s, cs, f.num.start)):
            continue  # a plan's threshold (死亡10人以上30人以下…启动Ⅱ级响应), not a toll
        rumour = _RUMOUR.search(clause) is not None
        if _negated(s, cs, at):
            if rumour and not ctx.official and f.kind != "loss_yuan":
                denied.append(Doubt(f.kind, "denied_rumour", f.num.high,
                                    f"{_snippet(s, f)}（传言）仅有非官方否认，未经核实"))
            continue
        if ctx.quotes and any(a <= offset + f.num.start < b for a, b in ctx.quotes):
            continue  # a quoted rumour in a text that refutes it or in an official notice
        if rumour and ctx.refuted:
            continue
        if _PRIOR.search(clause) and not _CORRECTED_TO.search(clause):
            f.prior = True
        f.snippet = _snippet(s, f)
        f.clause_text = clause
        keep.append(f)
    found[:] = keep


def _negated(s: str, start: int, at: int) -> bool:
    """A negation that governs the figure at `at`: 没有造成3人以上死亡, 不是网上说的死了十几个, 无一人受伤 —
    not one about something else before it (因救援未及时造成3人死亡)."""
    last = None
    for m in _NEGATION.finditer(s, start, at):
        last = m
    return last is not None and _NEGATED_GAP.fullmatch(s, last.end(), at) is not None


_NEGATED_GAP = re.compile(r"(?:造成|导致|发生|出现|发现|致使|致|引起|有|像|是)?(?:网上|网友|群里)?(?:说的|传的|所说的|讲的)?"
                          r"(?:那么|这么)?(?:人员|人)?")


def _reset(s: str, pos: int, today: re.Pattern = _TODAY) -> int:
    """Where a history scope ends: at a word of today after it, else at the end of the sentence."""
    for m in today.finditer(s, pos):
        if s[m.start() - 1] != "的":  # 二十年前的今天 is still then
            return m.start()
    return len(s)


def _stated_none(s: str, stated: set[str]) -> None:
    for m in _NONE.finditer(s):
        stated.update(_NONE_KINDS[m.group(1)])


_NONE = re.compile(r"(?:无|没有|未造成|未发生|未发现|未有|没|零)(?:任何)?(?:人员|人)?(伤亡|死亡|受伤|失踪|失联|被困|中毒|遇难)"
                   r"|(?:人员)?(伤亡)(?:人数)?为零")
_NO_CASUALTY = re.compile(r"(?:无|没有|未造成|未发生|未有|没)(?:任何)?(?:人员|人)?(?:伤亡|死亡|被困|失联|失踪)")
_NONE_KINDS = {"伤亡": ("deaths", "missing", "injured"), "死亡": ("deaths",), "遇难": ("deaths",),
               "受伤": ("injured",), "中毒": ("injured",), "失踪": ("missing",), "失联": ("missing",),
               "被困": ("trapped",), None: ()}


def _snippet(s: str, f: _Mention) -> str:
    n = f.num
    m = _PEOPLE_AFTER.match(s, n.end) if n.people else _MONEY_AFTER.match(s, n.end)
    num_end = m.end() if m else n.end
    a, b = min(n.start, f.kw_start), max(num_end, f.kw_end)
    if b - a <= 14:
        return s[a:b].strip()
    unit = s[n.end:num_end].strip()
    return f"{f.kw_text}{n.text}{unit}" if f.kw_start < n.start else f"{n.text}{unit}{f.kw_text}"


def _facts(mentions: list[_Mention], stated: set[str], denied: list[Doubt], ctx: _Ctx) -> Facts:
    # an earlier figure that the same text replaces (此前通报的死亡7人 … 实际死亡5人) is dropped
    current = {GROUP_OF[f.kind] for f in mentions if not f.prior}
    mentions = [f for f in mentions if not f.prior or GROUP_OF[f.kind] not in current]
    # a breakdown elsewhere in the text (title: 12人受伤; body: 其中3人重伤) replaces the unspecified total
    serious = [f for f in mentions if f.kind == "injured" and f.sub in ("serious", "guess")]
    if serious and any("其中" in f.clause_text for f in serious):
        mentions = [f for f in mentions if not (f.kind == "injured" and f.sub == "bare")]
    elif not serious and _ALL_LIGHT.search(ctx.text):
        for f in mentions:
            if f.kind == "injured" and f.sub == "bare":
                f.sub = "light"
    meal = None
    values: dict[str, float] = {}
    chosen: dict[str, _Mention] = {}
    light = False
    for f in mentions:
        if f.kind == "injured":
            if f.sub == "light":
                light = True
                continue
            if f.sub == "symptoms":
                if meal is None:
                    meal = _MEAL.search(ctx.text) is not None
                if not meal:
                    continue
        best = chosen.get(f.kind)
        if best is None or (f.num.high, -len(_doubts(f, ctx))) > (best.num.high, -len(_doubts(best, ctx))):
            chosen[f.kind] = f
    # 9名工人被困井下、失去联系: one figure for two words is one group of people, counted once (as missing); a
    # title that repeats it (9人被困) is the same group. Two figures (5人被困，5人失联) are two groups.
    trapped, missing = chosen.get("trapped"), chosen.get("missing")
    if trapped and missing:
        both = {(f.sentence, f.num.start) for f in mentions if f.kind == "trapped"} & {
            (f.sentence, f.num.start) for f in mentions if f.kind == "missing"}
        if both and trapped.num.high <= missing.num.high:
            del chosen["trapped"]
    doubts: list[Doubt] = []
    for kind, f in chosen.items():
        values[kind] = f.num.high
        doubts += _doubts(f, ctx)
    if ctx.hearsay:
        doubts += [Doubt(k, "hearsay", v, "消息来自未经核实的传言（听说、网传、群里）") for k, v in values.items() if v]
    doubts += denied
    ints = {k: int(v) for k, v in values.items() if k != "loss_yuan"}
    if not (ints or values.get("loss_yuan") or doubts or light or (ctx.official and stated)):
        return NO_FACTS
    return Facts(**ints, loss_yuan=float(values.get("loss_yuan", 0.0)), doubts=tuple(doubts),
                 official=ctx.official, light_only=light and not ints.get("injured"),
                 correction=ctx.correction and bool(values),
                 stated_none=tuple(sorted(stated - set(values))) if ctx.official else ())


def _doubts(f: _Mention, ctx: _Ctx) -> list[Doubt]:
    n, kind, out = f.num, f.kind, []
    snippet = None
    if n.vague:
        snippet = _snippet_text(f)
        out.append(Doubt(kind, "approx", n.low, f"{snippet}未说明人数，按最多{_count(n.high)}人计"))
    elif n.open:
        out.append(Doubt(kind, "open", n.low, f"{_snippet_text(f)}：实际可能更多"))
    elif n.approx and n.low < n.high:
        if kind == "loss_yuan":
            out.append(Doubt(kind, "approx", n.low,
                             f"{_snippet_text(f)}为约数（{_money(n.low)}–{_money(n.high)}），按上限计"))
        else:
            out.append(Doubt(kind, "approx", n.low, f"{_snippet_text(f)}，按上限{_count(n.high)}人计"))
    count = _count(n.high)
    if kind == "missing":
        out.append(Doubt(kind, "missing", 0, f"失联（失踪）{count}人生死未明，按死亡计"))
    elif kind == "trapped":
        out.append(Doubt(kind, "trapped", 0, f"被困（被埋）{count}人生死未明，按失联计"))
    elif f.sub == "mixed":
        out.append(Doubt(kind, "mixed", 0, f"{_snippet_text(f)}：死亡与受伤未分开，按死亡计"))
    elif kind == "injured" and f.sub == "bare":
        out.append(Doubt(kind, "bare_injury", 0, f"受伤{count}人未说明轻重，按可能重伤计"))
    elif kind == "injured" and f.sub == "guess":
        out.append(Doubt(kind, "serious_guess", 0, f"伤势较重{count}人，按重伤计（未经伤情鉴定）"))
    elif kind == "injured" and f.sub == "symptoms" and "中毒" not in ctx.text:
        out.append(Doubt(kind, "symptoms", 0, f"{count}人出现呕吐等症状，按急性中毒计"))
    return out


def _snippet_text(f: _Mention) -> str:
    return f.snippet or f"{f.num.text}{f.kw_text}"


def _count(value: float) -> str:
    return f"{int(value)}"


def _money(value: float) -> str:
    if value >= 1e8:
        return f"{value / 1e8:.4g}亿元"
    if value >= 1e4:
        return f"{value / 1e4:.4g}万元"
    return f"{value:.4g}元"


# --------------------------------------------------------------------------- several reports of one incident
def merge_facts(reports: Iterable[Facts | None]) -> Facts:
    """An incident's facts from all its reports, in time order: per dimension (people = deaths + missing +
    trapped; serious injuries; loss; evacuated) the report with the highest figure, except that a later
    official figure supersedes the earlier non-official ones (a rumour corrected by 官方通报), and an
    official correction (更正, 核减) supersedes earlier official ones. A figure set aside that was higher
    is kept as a "superseded" doubt: the grade may fall, but only a person lowers it."""
    reports = [r for r in reports if r is not None]
    if not reports:
        return NO_FACTS
    if len(reports) == 1:
        return reports[0]
    values: dict[str, float] = {}
    doubts: list[Doubt] = []
    official = correction = light = False
    stated: list[str] = []
    for group, kinds in GROUPS.items():
        having = [(i, r) for i, r in enumerate(reports) if _states(r, group)]
        if not having:
            continue
        offs = [i for i, r in having if r.official]
        if offs:
            last = offs[-1]
            corrections = [i for i in offs if reports[i].correction]
            first = corrections[-1] if corrections else offs[0]
            candidates = [(i, r) for i, r in having if (first <= i <= last and r.official) or i > last]
        else:
            candidates = having
        i_best, best = max(candidates, key=lambda ir: (_total(ir[1], group), ir[0]))
        for k in kinds:
            if getattr(best, k):
                values[k] = getattr(best, k)
        doubts += [d for d in best.doubts if GROUP_OF.get(d.kind) == group]
        kept = {i for i, _ in candidates}
        dropped = max((_total(r, group) for i, r in having if i not in kept), default=0)
        total = _total(best, group)
        if dropped > total:
            label = _GROUP_LABEL[group]
            doubts.append(Doubt(kinds[0], "superseded", dropped,
                                f"官方通报{label}{_amount(group, total)}，低于此前报道的{_amount(group, dropped)}"
                                "（以官方为准，降级须人工确认）"))
        official |= best.official
        correction |= best.correction
        if group == "injured":
            light = best.light_only
        stated += [k for k in best.stated_none if k in kinds]
    ints = {k: int(v) for k, v in values.items() if k != "loss_yuan"}
    return Facts(**ints, loss_yuan=float(values.get("loss_yuan", 0.0)), doubts=tuple(doubts), official=official,
                 light_only=light and not ints.get("injured"), correction=correction,
                 stated_none=tuple(stated))


_GROUP_LABEL = {"people": "死亡（含失踪）", "injured": "重伤", "loss": "直接经济损失", "evacuated": "疏散转移"}


def _amount(group: str, value: float) -> str:
    return _money(value) if group == "loss" else f"{int(value)}人"


def _total(f: Facts, group: str) -> float:
    return sum(getattr(f, k) for k in GROUPS[group])


def _states(f: Facts, group: str) -> bool:
    """Whether a report gives a figure for a dimension (an explicit none and "all light" count)."""
    kinds = GROUPS[group]
    return (_total(f, group) > 0 or any(k in f.stated_none for k in kinds)
            or (group == "injured" and f.light_only))


# --------------------------------------------------------------------------- policy (thresholds, raises, caps)
@dataclass(frozen=True)
class Threshold:
    level: Severity
    deaths: int  # deaths incl. missing
    injured: int
    loss_yuan: float
    evacuated: int


NATIONAL = (
    Threshold(Severity.EXTRAORDINARY, 30, 100, 1e8, 50000),
    Threshold(Severity.MAJOR, 10, 50, 5e7, 10000),
    Threshold(Severity.LARGER, 3, 10, 1e7, 5000),
)


@dataclass(frozen=True)
class SeverityPolicy:
    thresholds: tuple[Threshold, ...] = NATIONAL
    # A sensitive area (云政办发〔2021〕28号) may raise the level by this many steps. Off by default: the national
    # grade comes from the thresholds alone (docs/design.md §1); the eight areas ask for a fast response, which
    # the routing and the heat rules give. An office that wants the raise sets `sensitive_raise: 1`.
    sensitive_raise: int = 0
    # …only when the text reports casualties or losses (otherwise every 学校 message would be 较大).
    sensitive_requires_facts: bool = True
    # People trapped or buried whose state is unknown count like missing ones (with the dead, sent to triage).
    trapped_counts: bool = True
    # Raises never go beyond this: 重大 starts the legal 5-hour clock, so only facts (or a person) set it.
    cap_raised: Severity = Severity.LARGER
    cap_without_facts: Severity = Severity.LARGER  # nor beyond this when the text has no facts

    @classmethod
    def from_file(cls, path: Path) -> "SeverityPolicy":
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        kwargs: dict = {}
        if "thresholds" in data:
            kwargs["thresholds"] = tuple(
                Threshold(Severity.parse(level), int(t.get("deaths", 10**9)), int(t.get("injured", 10**9)),
                          float(t.get("loss_yuan", 1e18)), int(t.get("evacuated", 10**9)))
                for level, t in data["thresholds"].items())
        for key in ("sensitive_raise",):
            if key in data:
                kwargs[key] = int(data[key])
        for key in ("sensitive_requires_facts", "trapped_counts"):
            if key in data:
                kwargs[key] = bool(data[key])
        for key in ("cap_raised", "cap_without_facts"):
            if key in data:
                kwargs[key] = Severity.parse(data[key])
        unknown = set(data) - {"thresholds", "sensitive_raise", "sensitive_requires_facts", "trapped_counts",
                               "cap_raised", "cap_without_facts", "heat"}
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
        return cls(**kwargs)


@dataclass
class Assessment:
    level: Severity
    base: Severity  # from the facts alone
    facts: Facts
    reasons: list[Reason] = field(default_factory=list)  # the first one states the grade and why
    triage_reason: str = ""  # why a person must confirm the grade ("" when the reading is clear)


_DIMS = ("people", "injured", "loss", "evacuated")
_LIMIT = {"people": "deaths", "injured": "injured", "loss": "loss_yuan", "evacuated": "evacuated"}


def _dims(facts: Facts, policy: SeverityPolicy) -> dict[str, float]:
    people = facts.deaths + facts.missing + (facts.trapped if policy.trapped_counts else 0)
    return {"people": people, "injured": facts.injured, "loss": facts.loss_yuan, "evacuated": facts.evacuated}


def _level(dim: str, value: float, policy: SeverityPolicy) -> Severity:
    for t in sorted(policy.thresholds, key=lambda t: -t.level):
        if value >= getattr(t, _LIMIT[dim]):
            return t.level
    return Severity.GENERAL


def _grade(facts: Facts, policy: SeverityPolicy) -> tuple[Severity, dict[str, Severity], list[Reason]]:
    dims = _dims(facts, policy)
    levels = {d: _level(d, v, policy) for d, v in dims.items()}
    base = max(levels.values())
    if base > Severity.GENERAL:
        t = next(t for t in policy.thresholds if t.level == base)
        why = []
        for d in _DIMS:
            if levels[d] != base:
                continue
            limit = getattr(t, _LIMIT[d])
            if d == "people":
                counted = policy.trapped_counts and facts.trapped
                label = "死亡（含失踪、被困）" if counted else "死亡（含失踪）"
                why.append(f"{label}{int(dims[d])}人 ≥ {limit}")
            elif d == "injured":
                why.append(f"重伤（含中毒）{facts.injured}人 ≥ {limit}")
            elif d == "loss":
                why.append(f"直接经济损失{_yuan(facts.loss_yuan)} ≥ {_yuan(limit)}")
            else:
                why.append(f"疏散转移{facts.evacuated}人 ≥ {limit}")
        reasons = [Reason("severity", f"{base.zh}（{base.roman}级）：" + "；".join(why))]
    elif facts.any:
        reasons = [Reason("severity", f"一般（Ⅳ级）：死亡{int(dims['people'])}人、受伤{facts.injured}人，低于较大标准")]
    else:
        reasons = [Reason("severity", "一般（Ⅳ级）：未发现伤亡或损失数字")]
    if facts.doubts:
        reasons.append(Reason("severity", "数字不确定：" + "；".join(facts.uncertain)))
    return base, levels, reasons


def grade_facts(facts: Facts, policy: SeverityPolicy = SeverityPolicy()) -> tuple[Severity, list[Reason]]:
    base, _, reasons = _grade(facts, policy)
    return base, reasons


_ALWAYS = frozenset({"open", "missing", "trapped", "mixed", "bare_injury", "serious_guess", "symptoms", "hearsay"})


def _triage(facts: Facts, base: Severity, levels: dict[str, Severity], policy: SeverityPolicy) -> str:
    """Why a person must confirm the grade, or "": the grade (较大 or above) rests on uncertain readings only,
    a figure was set aside by a lower official one, or only a non-official denial stands against a rumour."""
    notes: list[str] = []
    if base >= Severity.LARGER and facts.doubts:
        dims = _dims(facts, policy)
        unclear: list[str] = []
        for dim in _DIMS:
            if levels[dim] != base:
                continue
            worthy = []
            for d in facts.doubts:
                if GROUP_OF.get(d.kind) != dim or d.code in ("superseded", "denied_rumour"):
                    continue
                if d.kind == "trapped" and not policy.trapped_counts:
                    continue
                if d.code in _ALWAYS:
                    worthy.append(d.reason)
                elif d.code == "approx":
                    low = dims[dim] - (getattr(facts, d.kind) - d.low)
                    if base >= Severity.MAJOR or _level(dim, low, policy) < base:
                        worthy.append(d.reason)
            if not worthy:
                unclear = []
                break
            unclear += worthy
        if unclear:
            notes.append(f"定为{base.zh}所依据的数字不确定（{'；'.join(dict.fromkeys(unclear))}）")
    for d in facts.doubts:
        dim = GROUP_OF.get(d.kind)
        if dim is None:
            continue
        if d.code == "superseded" and _level(dim, d.low, policy) > base:
            notes.append(d.reason)
        elif d.code == "denied_rumour" and _level(dim, d.low, policy) >= Severity.LARGER:
            notes.append(d.reason)
    return "；".join(dict.fromkeys(notes))


def assess_facts(facts: Facts, areas: list[str] | tuple = (),
                 policy: SeverityPolicy = SeverityPolicy()) -> Assessment:
    """Facts (of one report, or merged for an incident) → national level, the sensitive-area raise within
    the caps, and whether a person must confirm."""
    if facts is NO_FACTS:  # the same grade every time: computed once per policy
        cached = _NO_FACTS_GRADE.get(id(policy))
        if cached is None or cached[0] is not policy:
            cached = _NO_FACTS_GRADE[id(policy)] = (policy, *grade_facts(facts, policy))
        base, reasons, triage = cached[1], list(cached[2]), ""
    else:
        base, levels, reasons = _grade(facts, policy)
        triage = _triage(facts, base, levels, policy)
    level = base
    if areas and policy.sensitive_raise and (facts.any or not policy.sensitive_requires_facts):
        level = raise_level(base, policy.sensitive_raise, facts.any, policy)
        if level > base:
            reasons.append(Reason("severity", f"敏感领域（{'、'.join(areas)}）：由{base.zh}升为{level.zh}"
                                              f"（上限{_cap(facts.any, policy).zh}）"))
    return Assessment(level, base, facts, reasons, triage)


def assess(text: str, areas: list[str] | tuple = (), policy: SeverityPolicy = SeverityPolicy()) -> Assessment:
    """Facts of the text → national level, then the sensitive-area raise within the caps."""
    return assess_facts(extract_facts(text), areas, policy)


_NO_FACTS_GRADE: dict[int, tuple] = {}


def raise_level(level: Severity, steps: int, has_facts: bool, policy: SeverityPolicy) -> Severity:
    cap = _cap(has_facts, policy)
    if level >= cap:
        return level  # a raise never lowers what the facts gave
    return Severity(min(int(level) + steps, int(cap)))


def _cap(has_facts: bool, policy: SeverityPolicy) -> Severity:
    return policy.cap_raised if has_facts else min(policy.cap_raised, policy.cap_without_facts)


def grade(text: str) -> tuple[Severity, list[Reason]]:
    """The national level from the facts alone (no raise)."""
    return grade_facts(extract_facts(text))


def _yuan(value: float) -> str:
    if value >= 1e8:
        return f"{value / 1e8:g}亿元"
    if value >= 1e4:
        return f"{value / 1e4:g}万元"
    return f"{value:g}元"
