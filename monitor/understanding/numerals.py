"""Chinese and Arabic numerals: the exact value, or for approximate words (十几, 二十多, 数百, 近千, 五六) the
range of values the words allow. Pure, stdlib only, imports nothing from `monitor`.

    to_number(s)     a whole string that is one exact numeral → float, else None
    read_number(s)   a whole string that is one numeral, exact or approximate → Quantity, else None
    find_numbers(s)  every numeral in a longer text → [Quantity], left to right, longest match, no overlap

Exact values
  Arabic: 12, 1.5, 6,000 (comma groups of exactly three), full width １２ and １．５.
  Chinese: 十二, 一百零五, 两千三百, 三万五千, 百万, 万亿; 〇/零 mark a skipped place; 十 alone is 10 and a
  leading 十 needs no 一 (十五). Arabic with units: 1.2万, 5000万, 3亿, 3千. Also 廿 (20), 卅 (30), financial
  壹贰叁…拾佰仟 and traditional 萬億. Chinese decimals with 点: 一点五亿, 三点二万, 零点五.
  Colloquial: a lone digit right after 百/千/万/亿 fills the next lower place: 一万二 = 12000, 三千五 = 3500,
  一百五 = 150, 一亿三 = 1.3亿 (after 十 it is the ones digit: 十五 = 15).
  Plain digits with no unit are read digit by digit: 二〇二六 = 2026, unless they are one of the pairs below.

Ranges (approx=True; `step` is the place of the numeral's last digit: 10 for 二十, 1000 for 3000 or 1.5万)
  pairs        五六 5–6, 两三 2–3, 一两 1–2, 三五 3–5, also in any place: 三四十 30–40, 十五六 15–16, 七八百 700–800
  几           2–9 as the leading digit, 1–9 after a unit: 几 2–9, 几十 20–90, 十几 11–19, 一百几十 110–190
  数 + unit    2–9 of that unit: 数十 20–90, 数百 200–900, 数十万 200,000–900,000
  X余, X多     X round (step ≥ 10): more than X, less than X + step: 十余 11–19, 二十多 21–29, 百余 101–199,
               1.5万多 15,001–15,999. Before 万/亿 the same in that unit: 5000余万 50,000,001–59,999,999,
               3000多万 30,000,001–39,999,999, 二十余万 200,001–299,999 (strictly more, as the words say).
  X来          about X, a little either side: X − 0.2·step … X + 0.3·step: 十来 8–13, 二十来 18–23
  约X, X左右    ±10%
  近X          approaching from below: 0.8·X … X − 1 (近百 80–99, 近千 800–999, 近5 4–4; a decimal loses one in
               its last place: 近2.5 2.0–2.4); also 将近, 接近. Not when 近 belongs
               to a word (最近, 附近 …) or means "the past" before a time word (近三年, 近两个月): then only X is read.
  上X          X a bare unit: at least X, below 2X: 上百 100–199, 上万 10,000–19,999
  逾X          more than X, less than X + its leading place (at least 10): 逾百 101–199, 逾30 31–39

What find_numbers reads (the rule for words; Arabic digits are always numerals)
  A Chinese numeral is read when it is built — a digit with a unit (二十, 三百, 一万二, 几十, 五六十) or 十 with
  a digit (十二, 十几) — or carries 余/多/来/左右, or is digit by digit with 〇/零 or before 年 (二〇二六年,
  一九九八年). Anything else (a lone digit, a pair, 几, a bare 十/百/千/万/亿, 数十) is read only before a
  measure word: 一人, 五六位, 两辆, 几个, 百人, 万元, 数十名. 一, 二, 两, 几, 零, bare units and 数 forms take only
  the unambiguous measure words (人 名 个 次 年 元 …); other digits also take 起 点 种 分 时 … (三起事故 yes;
  一起, 一点, 一时, 十分 no). So 统一, 万一, 一些, 一般, 十分, 万分, 百姓, 千万不要, 一直, 一定, 之一 give nothing.
  Also never: 一 right after 统/唯/同/单/逐/之 … (统一名称), a bare unit before 家/户 (千家万户), a few words
  (四周, 四处, 五台山 …), nor a fraction (三分之一). A Chinese decimal is read before 万/亿, a measure word or
  no word (一点五亿, 三点五公里, 百分之三点五), not as a clock time (三点五分) or in 一点一滴.
  Of a run of numeral characters the longest start that stands as a numeral is read and the scan goes on after
  it (十一五 gives 11, then 五 alone is no numeral); a run with no such start is skipped whole (一五一十, 万一).
  Known limits: idioms whose second character is a measure word read literally (三人成虎 → 3); fractions are
  not read; digits inside codes (H5N1) are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

__all__ = ["Quantity", "find_numbers", "read_number", "to_number"]


@dataclass(frozen=True, slots=True)
class Quantity:
    low: float      # smallest value the words allow
    high: float     # largest value the words allow (== low when exact)
    approx: bool    # a range or an estimate (十几, 二十多, 约30), not one stated value
    start: int      # span in the scanned text
    end: int
    text: str       # the matched characters, text[start:end]


_DIGIT = {"〇": 0, "零": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "貳": 2, "两": 2, "兩": 2, "三": 3, "叁": 3,
          "參": 3, "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "陸": 6, "七": 7, "柒": 7, "八": 8,
          "捌": 8, "九": 9, "玖": 9}
_UNIT = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_TENS = {"廿": 2, "卅": 3}                       # 廿 = 二十, 卅 = 三十
_PLAIN = frozenset("〇零一二三四五六七八九")       # digits read one by one (二〇二六); 两 never is
_PAIRS = {"一二": (1, 2), "一两": (1, 2), "二三": (2, 3), "两三": (2, 3), "三两": (2, 3), "三四": (3, 4),
          "三五": (3, 5), "四五": (4, 5), "五六": (5, 6), "六七": (6, 7), "七八": (7, 8), "八九": (8, 9)}
_FULL = str.maketrans("０１２３４５６７８９．", "0123456789.")

_D = "[0-9０-９]"
# Comma groups of exactly three, not followed by a fourth digit, so a list "2023,2024" stays two numbers.
_ARABIC = _D + "{1,3}(?:," + _D + "{3})+(?!" + _D + ")(?:[.．]" + _D + "+)?|" + _D + "+(?:[.．]" + _D + "+)?"
_CN_CHARS = "".join(_DIGIT) + "".join(_UNIT) + "".join(_BIG) + "".join(_TENS) + "几数"
_ANY = re.compile("[0-9０-９" + _CN_CHARS + "]")       # the one cheap pre-check per step
# 点 belongs to a run only before a plain digit: 一点五亿 is one numeral, never 一 + 五亿.
_RUN = re.compile("(?:" + _ARABIC + "|[" + _CN_CHARS + "]|点(?=[〇零一二三四五六七八九]))+")
_CN_DECIMAL = re.compile("(.+?)点([〇零一二三四五六七八九]+)(万亿|万|亿)?")
_ARABIC_RE = re.compile(_ARABIC)

# Measure words after a numeral. _SAFE ones make even 一/两/十 a number; _WEAK ones only other digits
# (三起事故, 五点) because 一起, 一点, 一时, 十分, 二手 are words.
_SAFE1 = frozenset("人名位个户家次件辆台架艘元岁年天周月日号米亩吨斤条处所座栋幢间套只张份批项例宗场轮层级期届"
                   "倍趟遍篇封支枚颗株棵匹尾列班节组队双根册首笔款档季克升秒")
_SAFE2 = frozenset({"小时", "分钟", "公里", "公斤", "公顷", "平方", "平米", "立方", "个月", "周岁", "千米", "千克",
                    "千瓦", "毫米", "厘米", "毫升", "美元", "欧元", "港元", "日元", "英镑", "季度", "星期"})
_WEAK1 = frozenset("起点种部块分度时口把道步片头对等")
_STRICT = frozenset({"一", "二", "两", "兩", "几", "零", "〇", "壹", "贰", "貳"})
_NOT_BEFORE_ONE = frozenset("统唯同单逐划专归合之均纯不")   # 统一, 唯一, 之一 …
_NOT_NUMERALS = re.compile("四周|四处|四面|四方|八方|五台山|七台河|一条龙")
_NOT_LAI = frozenset("看说讲自到了的源临往电信访去")       # 从三十来看: 来 is a verb there
_NOT_YUE = frozenset("预签制节邀违合公条婚履特相毁践赴爽立契解缔背守续租誓盟集隐")  # 签约3家, 节约
_NOT_JIN = frozenset("最附邻靠就亲远贴拉走新逼迫晚临相")                          # 最近, 附近
_NOT_SHANG = frozenset("以加马之向往网线会晚早楼路山身手头街面海车船千百")   # 成千上万
_TIME1 = frozenset("年日天月周期届季")
_TIME2 = frozenset({"个月", "小时", "星期", "分钟"})
_MULT = (("万亿", 10**12), ("万", 10**4), ("亿", 10**8))   # 3000多万: the unit after 余/多/来
_MULT_OF = {None: 1, "万": 10**4, "亿": 10**8, "万亿": 10**12}
# A lone digit or bare unit is a numeral only with one of these next to it: most words (一些, 十分) stop here.
_MAY_FOLLOW = _SAFE1 | _WEAK1 | {w[0] for w in _SAFE2} | set("余多来左")
_PREFIX_CHARS = frozenset("约近上逾")

# Tokens: ("n", low, high, step, approx, arabic, needs_unit) a number; ("z",) 零; ("u", 10|100|1000); ("b", 万|亿)
_Z = ("z",)


def _tokenize(s: str) -> list | None:
    toks: list = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if "0" <= c <= "9":
            lit = _ARABIC_RE.match(s, i).group()
            i += len(lit)
            lit = lit.replace(",", "")
            if "." in lit:
                v = Decimal(lit)
                step = Decimal(1).scaleb(-len(lit.partition(".")[2]))
            else:
                v = int(lit)
                step = 10 ** (len(lit) - len(lit.rstrip("0"))) if v else 1
            toks.append(("n", v, v, step, False, True, False))
        elif c in _DIGIT:
            d = _DIGIT[c]
            pair = _PAIRS.get(s[i:i + 2])
            if d == 0:
                toks.append(_Z)
                i += 1
            elif pair and (i == 0 or s[i - 1] not in _DIGIT) and s[i + 2:i + 3] not in _DIGIT:
                toks.append(("n", pair[0], pair[1], 1, True, False, False))
                i += 2
            else:
                toks.append(("n", d, d, 1, False, False, False))
                i += 1
        elif c in _UNIT:
            toks.append(("u", _UNIT[c]))
            i += 1
        elif c in _BIG:
            toks.append(("b", _BIG[c]))
            i += 1
        elif c == "几":   # leading 几 is "a few" (2–9); after a unit any digit (十几 = 11–19)
            toks.append(("n", 1 if toks else 2, 9, 1, True, False, False))
            i += 1
        elif c == "数":   # only as the first digit before a unit: 数十, 数百万
            if toks:
                return None
            toks.append(("n", 2, 9, 1, True, False, True))
            i += 1
        elif c in _TENS:
            toks += [("n", _TENS[c], _TENS[c], 1, False, False, False), ("u", 10)]
            i += 1
        else:
            return None
    return toks


def _one_digit(t) -> bool:
    """A number token that can fill one place: a digit, a pair, 几, or Arabic 1–9."""
    return not t[6] and t[1] >= 1 and t[2] <= 9 and (not t[5] or isinstance(t[1], int))


def _small(toks: list, before_big: bool):
    """(low, high, step, approx) of a group below 万: digits with 十/百/千 and 零. `before_big`: the group
    multiplies a 万/亿 that follows, where a lone 数 may stand (数万)."""
    if len(toks) == 1 and toks[0][0] == "z":
        return 0, 0, 1, False
    lo = hi = 0
    step, approx = 1, False
    last = 10_000          # units must fall: 千 > 百 > 十
    coef = before = prev = None
    for i, t in enumerate(toks):
        kind = t[0]
        if kind == "n":
            if coef is not None:
                return None                  # two numbers in a row (五六 is a pair token, not this)
            if t[5] and i and not _one_digit(t):
                return None                  # Arabic after Chinese only as one digit: 3千5
            coef, before = t, prev
        elif kind == "z":
            if prev != "u":
                return None                  # 零 marks a skipped place after a unit
        elif kind == "u":
            u = t[1]
            if u >= last:
                return None
            if coef is None:
                # bare unit: 十 leading (十二) or after 零 (一千零十); 百/千 only alone (百 → 100, as in 百万)
                if not ((u == 10 and prev in (None, "z")) or len(toks) == 1):
                    return None
                c_lo = c_hi = 1
            else:
                if coef[6] and i != 1 or coef[5] and coef[2] >= 10:
                    return None              # 15千 is not 15000
                c_lo, c_hi, approx = coef[1], coef[2], approx or coef[4]
            lo, hi, step, last, coef = lo + c_lo * u, hi + c_hi * u, u, u, None
        else:
            return None
        prev = kind
    if prev == "z":
        return None
    if coef is not None:
        if coef[6] and not (before_big and len(toks) == 1):
            return None                      # 数 needs a unit
        sub = last // 10 if before == "u" and last >= 100 else 1   # 一百五 = 150
        if sub > 1 and not _one_digit(coef):
            return None
        lo, hi = lo + coef[1] * sub, hi + coef[2] * sub
        step, approx = coef[3] * sub, approx or coef[4]
    return lo, hi, step, approx


_LEVELS = (10**8, 10**4)


def _level(toks: list, k: int, before_big: bool = False):
    """(low, high, step, approx) of tokens split at 亿 (k=0), then 万 (k=1), then the small group."""
    if k == len(_LEVELS):
        return _small(toks, before_big) if toks else None
    big = _LEVELS[k]
    at = [i for i, t in enumerate(toks) if t[0] == "b" and t[1] == big]
    if not at:
        return _level(toks, k + 1, before_big)
    if len(at) > 1:
        return None
    left, right = toks[:at[0]], toks[at[0] + 1:]
    if left:
        got = _level(left, k + 1, True)   # may hold 万 itself: 三万亿
        if got is None:
            return None
    elif right:
        return None                 # a bare 万/亿 stands alone or before a bigger unit: 万一, 亿万 are words
    else:
        got = (1, 1, 1, False)
    lo, hi, step, approx = got[0] * big, got[1] * big, got[2] * big, got[3]
    if right:
        if len(right) == 1 and right[0][0] == "n" and _one_digit(right[0]):
            sub = big // 10         # colloquial: 一万二 = 12000, 三亿五 = 3.5亿
            rest = right[0][1] * sub, right[0][2] * sub, sub, right[0][4]
        elif right[0][0] == "z":
            rest = _level(right[1:], k + 1)
        elif right[0][0] == "n":
            rest = _level(right, k + 1)
        else:
            return None             # 一万十: a bare unit cannot start the lower part
        if rest is None or rest[1] >= big:
            return None
        lo, hi, step, approx = lo + rest[0], hi + rest[1], rest[2], approx or rest[3]
    return lo, hi, step, approx


@lru_cache(maxsize=4096)
def _core(s: str):
    """(low, high, step, approx, kind) of one bare numeral (no 约/余/多 …), or None.
    kind: "arabic" (has digits 0-9), "digitwise" (二〇二六), "decimal" (一点五亿), "built" (a digit with a unit,
    or 十 with a digit), "bare" (units only: 百, 千万), "some" (数十), "loose" (a lone digit, a pair, 几)."""
    s = s.translate(_FULL)
    if "点" in s:
        return _decimal(s)
    if len(s) >= 2 and s not in _PAIRS and all(c in _PLAIN for c in s):
        v = int("".join(str(_DIGIT[c]) for c in s))
        return v, v, 1, False, "digitwise"
    toks = _tokenize(s)
    if not toks:
        return None
    got = _level(toks, 0)
    if got is None:
        return None
    if any(t[0] == "n" and t[5] for t in toks):
        kind = "arabic"
    elif toks[0][0] == "n" and toks[0][6]:
        # 数十 alone is also "人数十分"; 数十万 / 数百万 are numerals by themselves
        kind = "built" if any(t[0] == "b" for t in toks) and len(toks) >= 3 else "some"
    elif all(t[0] in "ub" for t in toks):
        kind = "bare"
    elif any(a[0] == "n" and b[0] in "ub" for a, b in zip(toks, toks[1:])) or (
            toks[0] == ("u", 10) and toks[1][0] == "n"):
        kind = "built"
    else:
        kind = "loose"
    return (*got, kind)


def _decimal(s: str):
    """一点五亿, 三点二万, 十二点五, 零点五: a Chinese decimal, with an optional big unit after it."""
    m = _CN_DECIMAL.fullmatch(s)
    whole = m and _core(m.group(1))
    if not whole or whole[3] or whole[4] in ("arabic", "digitwise", "decimal") or whole[1] >= 10**4:
        return None
    digits = m.group(2)
    mult = _MULT_OF[m.group(3)]
    v = (whole[0] + Decimal("0." + "".join(str(_DIGIT[c]) for c in digits))) * mult
    return v, v, Decimal(1).scaleb(-len(digits)) * mult, False, "decimal"


def _suffix(text: str, e: int, core):
    """余/多/来 (with an optional 万/亿 after) or 左右 right after a numeral ending at e: (end, low, high) or None."""
    lo, hi, step, _, kind = core
    c = text[e:e + 1]
    if c and c in "余多来" and kind != "digitwise" and step >= 10:
        if c == "来" and text[e + 1:e + 2] in _NOT_LAI and text[e + 1:e + 2]:
            return None
        end, mult = e + 1, 1
        for word, m in _MULT:
            if text.startswith(word, end) and hi < m:
                end, mult = end + len(word), m
                break
        if c == "来":
            return end, (lo - step * 2 // 10) * mult, (hi + step * 3 // 10) * mult
        return end, lo * mult + 1, (hi + step) * mult - 1
    if text.startswith("左右", e):
        return e + 2, lo * 9 / 10, hi * 11 / 10
    return None


def _prefix(text: str, s: int, e: int, core, floor: int, whole: bool):
    """约/近/上/逾 right before an exact numeral at s..e: (start, low, high) or None.
    `whole`: the string is only this numeral (read_number), so the word tests about context are skipped."""
    if s <= floor or text[s - 1] not in _PREFIX_CHARS:
        return None
    x, kind = core[0], core[4]
    c, before = text[s - 1], text[s - 2:s - 1] if s - 2 >= floor else ""
    if c == "约":
        if before in _NOT_YUE and before:
            return None
        return (s - 2 if before == "大" else s - 1), x * 9 / 10, x * 11 / 10
    # below by one in the last place stated (近百 → 99, 近2.5 → 2.4), down to 0.8·X (or that one value)
    below = 1 if x == int(x) else core[2]
    if c == "近" and x >= 2 * below:
        if not whole and (text[e:e + 1] in _TIME1 and text[e:e + 1] or text[e:e + 2] in _TIME2):
            return None                     # 近三年: the past three years, exactly
        if before in _NOT_JIN and before:
            return None
        high = x - below
        return (s - 2 if before in ("将", "接") else s - 1), min(x * 8 / 10, high), high
    if c == "上" and kind == "bare":
        if before in _NOT_SHANG and before:
            return None
        return s - 1, x, 2 * x - 1
    if c == "逾" and x >= 1:
        place = max(10 ** (len(str(int(x))) - 1), 10)
        return s - 1, x + 1, x + place - 1
    return None


def _measure(text: str, end: int) -> str | None:
    """"safe", "weak" or None for the measure word at end."""
    if text[end:end + 2] in _SAFE2:
        return "safe"
    c = text[end:end + 1]
    if c in _SAFE1 and c:
        return "safe"
    if c in _WEAK1 and c:
        return "weak"
    return None


def _is_han(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff"


def _accepted(text: str, s: int, e: int, core, suffixed: bool, prefixed: bool) -> bool:
    """Whether the characters at s..e stand as a numeral in the text (see the module doc)."""
    kind = core[4]
    if kind == "arabic":
        return True
    if _NOT_NUMERALS.match(text, s):
        return False
    if suffixed or kind == "built":
        return True
    word = text[s:e]
    nxt = text[e:e + 1]
    if kind == "decimal":
        # not a time (三点五分) nor a cut run (三点五十分), nor 一点一滴: a unit, a measure word or no word after
        if nxt and (nxt in _CN_CHARS or nxt in "分秒点"):
            return False
        return (text[e - 1] in _BIG or _measure(text, e) is not None or not _is_han(nxt)
                or text[s - 1:s] == "之")                   # 百分之三点五
    if kind == "digitwise":
        return "〇" in word or "零" in word or text[e:e + 1] == "年"
    grade = _measure(text, e)
    if prefixed:                            # 上百人, 近千。 — the prefix already says "a number"
        return grade is not None and text[e] != "分" or not _is_han(text[e:e + 1])   # not 近百分之
    if grade is None or text.startswith("分之", e):   # 三分之一 is a fraction
        return False
    if grade == "weak" and (kind in ("bare", "some") or word in _STRICT):
        return False
    if kind == "bare" and text[e] in "家户":
        return False                        # 千家万户, 万户
    if word == "一" and s and text[s - 1] in _NOT_BEFORE_ONE:
        return False
    return not (word in ("零", "〇") and text[e] == "件")   # 零件


def _quantity(text: str, s: int, e: int, floor: int, whole: bool) -> Quantity | None:
    """The numeral whose digits are text[s:e], with its approximation words around it, or None."""
    core = _core(text[s:e])
    if core is None:
        return None
    if (not whole and core[4] in ("loose", "bare", "some") and text[e:e + 1] not in _MAY_FOLLOW
            and text[s - 1:s] not in _PREFIX_CHARS):
        return None                         # the cheap common case: 一些, 十分, 万一, 之一
    lo, hi, _, approx, _ = core
    start, end = s, e
    suf = _suffix(text, e, core)
    if suf is not None:
        end, lo, hi = suf
        approx = True
    elif not approx and core[4] != "digitwise":
        pre = _prefix(text, s, e, core, floor, whole)
        if pre is not None:
            start, lo, hi = pre
            approx = True
    if whole:
        if start != 0 or end != len(text):
            return None
    elif not _accepted(text, s, e, core, suf is not None, start != s):
        return None
    return Quantity(float(lo), float(hi), approx, start, end, text[start:end])


def read_number(text: str) -> Quantity | None:
    """The one numeral, exact or approximate, that the whole string is (surrounding spaces allowed), or None.
    start/end are positions in `text`."""
    s, e = 0, len(text)
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    body = text[s:e]
    # the digits sit between at most two prefix characters (大约, 将近) and the suffix words
    m = _RUN.search(body)
    if m is None:
        return None
    q = _quantity(body, m.start(), m.end(), 0, True)
    if q is None:
        return None
    return Quantity(q.low, q.high, q.approx, q.start + s, q.end + s, q.text)


def to_number(text: str) -> float | None:
    """The exact value of a whole string that is one numeral: '12', '6,000', '１２', '一百零五', '1.2万',
    '二〇二六'. None when it is not one numeral, or only an approximate one (十几: use read_number)."""
    q = read_number(text)
    return None if q is None or q.approx else q.low


def find_numbers(text: str) -> list[Quantity]:
    """Every numeral in a longer text, left to right, longest match, non-overlapping (rules: module doc)."""
    out: list[Quantity] = []
    pos = floor = 0
    while (first := _ANY.search(text, pos)) is not None:
        m = _RUN.match(text, first.start())
        s, run = m.start(), m.group()
        q = None
        for k in range(len(run), 0, -1):   # the longest start of the run that stands as a numeral
            q = _quantity(text, s, s + k, floor, False)
            if q is not None:
                break
        if q is not None:
            out.append(q)
            pos = floor = q.end
        else:
            # 人数三十: 数 is usually part of a word; elsewhere the rest of a failed run is not a numeral
            pos = s + 1 if run[0] == "数" else m.end()
    return out
