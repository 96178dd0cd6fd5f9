"""monitor.understanding.numerals: exact values, approximate ranges, and which words in running text are
numerals. The property tests check the reader against an independent formatter written here."""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.understanding.numerals import Quantity, find_numbers, read_number, to_number

MODULE = Path(__file__).resolve().parents[1] / "monitor" / "understanding" / "numerals.py"

# --- an independent canonical formatter: 12345 → 一万二千三百四十五 -------------------------------------
_CN_DIGITS = "零一二三四五六七八九"


def _four(n: int) -> str:
    """1..9999 with every place written and inner zeros collapsed into one 零."""
    out, zero = [], False
    for place, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // place % 10
        if d == 0:
            zero = bool(out)
        else:
            if zero:
                out.append("零")
                zero = False
            out.append(_CN_DIGITS[d] + unit)
    return "".join(out)


def _render(n: int) -> str:
    if n >= 10**8:
        high, low = divmod(n, 10**8)
        return _render(high) + "亿" + (("零" if low < 10**7 else "") + _render(low) if low else "")
    if n >= 10**4:
        high, low = divmod(n, 10**4)
        return _four(high) + "万" + (("零" if low < 1000 else "") + _four(low) if low else "")
    return _four(n)


def cn(n: int) -> str:
    if n == 0:
        return "零"
    s = _render(n)
    return s[1:] if s.startswith("一十") else s   # 十五, but 一百一十五


def with_liang(s: str) -> str:
    """两 for 二 before 百/千/万/亿 where it starts a number (两千, 两万), never after 十 (十二万)."""
    return re.sub(r"(?<!十)二(?=[百千万亿])", "两", s)


_FULL = str.maketrans("0123456789", "０１２３４５６７８９")


def test_formatter_itself():
    assert [cn(n) for n in (0, 10, 15, 110, 1005, 10010, 100000, 1100000, 100010000, 10**12)] == [
        "零", "十", "十五", "一百一十", "一千零五", "一万零一十", "十万", "一百一十万", "一亿零一万", "一万亿"]


# --- hand-written cases ---------------------------------------------------------------------------------
# text → (low, high, approx) from read_number; approx=False rows are also what to_number returns.
READ_CASES = [
    ("12", 12, 12, False), ("1.5", 1.5, 1.5, False), ("6,000", 6000, 6000, False), ("１２", 12, 12, False),
    ("１．５", 1.5, 1.5, False), ("1,234,567", 1234567, 1234567, False), ("0", 0, 0, False),
    ("十二", 12, 12, False), ("一百零五", 105, 105, False), ("两千三百", 2300, 2300, False),
    ("三万五千", 35000, 35000, False), ("1.2万", 12000, 12000, False), ("5000万", 5 * 10**7, 5 * 10**7, False),
    ("3亿", 3 * 10**8, 3 * 10**8, False), ("二〇二六", 2026, 2026, False), ("二零二六", 2026, 2026, False),
    ("廿", 20, 20, False), ("卅", 30, 30, False), ("廿五", 25, 25, False), ("三十五", 35, 35, False),
    ("一万二", 12000, 12000, False), ("三千五", 3500, 3500, False), ("一百五", 150, 150, False),
    ("一亿三", 1.3e8, 1.3e8, False), ("两", 2, 2, False), ("〇", 0, 0, False), ("零", 0, 0, False),
    ("十", 10, 10, False), ("百", 100, 100, False), ("百万", 10**6, 10**6, False), ("千万", 10**7, 10**7, False),
    ("万亿", 10**12, 10**12, False), ("三万亿", 3 * 10**12, 3 * 10**12, False),
    ("一亿零五百万", 105000000, 105000000, False), ("一千零十", 1010, 1010, False),
    ("十万八千", 108000, 108000, False), ("1万2", 12000, 12000, False), ("3千5", 3500, 3500, False),
    ("一点五亿", 1.5e8, 1.5e8, False), ("零点五", 0.5, 0.5, False), ("壹佰贰拾", 120, 120, False),
    ("两万亿", 2 * 10**12, 2 * 10**12, False), (" 42 ", 42, 42, False),
    # ranges
    ("十几", 11, 19, True), ("十余", 11, 19, True), ("二十多", 21, 29, True), ("百余", 101, 199, True),
    ("一百多", 101, 199, True), ("一百二十多", 121, 129, True), ("5000余万", 50000001, 59999999, True),
    ("3000多万", 30000001, 39999999, True), ("二十余万", 200001, 299999, True), ("1.5万多", 15001, 15999, True),
    ("万余", 10001, 19999, True), ("十多万", 100001, 199999, True), ("数十", 20, 90, True),
    ("几十", 20, 90, True), ("数百", 200, 900, True), ("数万", 20000, 90000, True),
    ("数十万", 200000, 900000, True), ("上百", 100, 199, True), ("上万", 10000, 19999, True),
    ("近百", 80, 99, True), ("近千", 800, 999, True), ("将近三十", 24, 29, True), ("五六", 5, 6, True),
    ("三四十", 30, 40, True), ("七八百", 700, 800, True), ("两三千", 2000, 3000, True),
    ("十五六", 15, 16, True), ("三十五六万", 350000, 360000, True), ("一两", 1, 2, True),
    ("两三", 2, 3, True), ("三五", 3, 5, True), ("几", 2, 9, True), ("十几万", 110000, 190000, True),
    ("一百几十", 110, 190, True), ("十来", 8, 13, True), ("二十来", 18, 23, True), ("约30", 27, 33, True),
    ("大约五十", 45, 55, True), ("30左右", 27, 33, True), ("逾百", 101, 199, True), ("逾30", 31, 39, True),
]

NOT_NUMERALS = ["", "  ", "abc", "12a", "约", "多", "十多多", "一万零", "万一", "亿万", "百二", "一百十", "15千",
                "1,2345", "十分", "一些", "一五一十", "千千万万", "数", "点五", "一点", "五多", "近"]


@pytest.mark.parametrize("text, low, high, approx", READ_CASES)
def test_read_number_table(text, low, high, approx):
    q = read_number(text)
    assert q is not None, text
    assert (q.low, q.high, q.approx) == (pytest.approx(low), pytest.approx(high), approx)
    assert text[q.start:q.end] == q.text == text.strip()
    assert to_number(text) == (None if approx else pytest.approx(low))


@pytest.mark.parametrize("text", NOT_NUMERALS)
def test_not_a_numeral(text):
    assert read_number(text) is None
    assert to_number(text) is None


# Words that hold numeral characters but are not numbers, each in a sentence.
WORDS = ["统一", "万一出事怎么办", "一些人", "一般情况", "十分严重", "万分感谢", "百姓生活", "千万不要去", "一直没人管",
         "一定要解决", "原因之一", "统一名称", "一起去", "几乎没有", "两岸关系", "有一点", "一点一滴", "十万火急",
         "千家万户", "零件", "二手车", "三五成群", "一五一十", "三三两两", "一国两制", "一带一路", "第一时间",
         "一把手", "两会", "人数十分庞大", "房屋四周", "三分之一", "万万没想到", "亿万人民", "一一对应"]


@pytest.mark.parametrize("text", WORDS)
def test_words_are_not_numbers(text):
    assert find_numbers(text) == []


# text → [(matched text, low, high, approx)]
FIND_CASES = [
    ("一人死亡，三人受伤", [("一", 1, 1, False), ("三", 3, 3, False)]),
    ("五六位业主反映", [("五六", 5, 6, True)]),
    ("造成3000多万元损失", [("3000多万", 30000001, 39999999, True)]),
    ("事故造成十二人受伤，经济损失1.2亿元", [("十二", 12, 12, False), ("1.2亿", 1.2e8, 1.2e8, False)]),
    ("二〇二六年三月五日", [("二〇二六", 2026, 2026, False), ("三", 3, 3, False), ("五", 5, 5, False)]),
    ("一九九八年发大水", [("一九九八", 1998, 1998, False)]),
    ("约30人围观", [("约30", 27, 33, True)]),
    ("损失约1200万元", [("约1200万", 1.08e7, 1.32e7, True)]),
    ("近三年来", [("三", 3, 3, False)]),            # the past three years, not "nearly three"
    ("附近三人", [("三", 3, 3, False)]),
    ("近百人受灾", [("近百", 80, 99, True)]),
    ("上百名群众聚集", [("上百", 100, 199, True)]),
    ("数十名群众", [("数十", 20, 90, True)]),
    ("数十万元", [("数十万", 200000, 900000, True)]),
    ("发生三起事故", [("三", 3, 3, False)]),
    ("十一五规划", [("十一", 11, 11, False)]),
    ("两人被困", [("两", 2, 2, False)]),
    ("几个人", [("几", 2, 9, True)]),
    ("十几个孩子", [("十几", 11, 19, True)]),
    ("百分之五十", [("五十", 50, 50, False)]),
    ("十分钟后", [("十", 10, 10, False)]),
    ("零人死亡", [("零", 0, 0, False)]),
    ("一两个", [("一两", 1, 2, True)]),
    ("从三十来看", [("三十", 30, 30, False)]),
    ("二十来岁", [("二十来", 18, 23, True)]),
    ("共6,000元", [("6,000", 6000, 6000, False)]),
    ("１２人", [("１２", 12, 12, False)]),
    ("共计5000余万元", [("5000余万", 50000001, 59999999, True)]),
    ("万余人参加", [("万余", 10001, 19999, True)]),
    ("2023,2024年", [("2023", 2023, 2023, False), ("2024", 2024, 2024, False)]),
    ("人数三十", [("三十", 30, 30, False)]),
    ("签约3家企业", [("3", 3, 3, False)]),
    ("损失一点五亿元", [("一点五亿", 1.5e8, 1.5e8, False)]),
    ("百分之三点五的增长", [("三点五", 3.5, 3.5, False)]),
    ("三十五六万人", [("三十五六万", 350000, 360000, True)]),
    ("第十九届", [("十九", 19, 19, False)]),
    ("接近1万人", [("接近1万", 8000, 9999, True)]),
    ("逾千人", [("逾千", 1001, 1999, True)]),
    ("30人左右", [("30", 30, 30, False)]),           # 左右 after the measure word is not read
    ("30左右人", [("30左右", 27, 33, True)]),
]


@pytest.mark.parametrize("text, expected", FIND_CASES)
def test_find_numbers_table(text, expected):
    got = [(q.text, q.low, q.high, q.approx) for q in find_numbers(text)]
    assert got == [(t, pytest.approx(lo), pytest.approx(hi), a) for t, lo, hi, a in expected]


def test_quantity_is_frozen_and_slotted():
    q = read_number("三十五")
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.low = 1.0  # type: ignore[misc]
    assert not hasattr(q, "__dict__")
    assert q == Quantity(35.0, 35.0, False, 0, 3, "三十五")


def test_module_is_pure_stdlib():
    tree = ast.parse(MODULE.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative import"
            names.add(node.module.split(".")[0])
    assert "monitor" not in names
    assert names <= set(sys.stdlib_module_names), names - set(sys.stdlib_module_names)


# --- properties -----------------------------------------------------------------------------------------
INTS = st.integers(min_value=0, max_value=10**12)
EDGES = [0, 1, 9, 10, 11, 19, 20, 99, 100, 101, 110, 1000, 1001, 1010, 9999, 10000, 10001, 10010, 100000,
         100001, 1000000, 10**7, 10**8 - 1, 10**8, 10**8 + 1, 100010000, 10**11 + 10**4, 10**12 - 1, 10**12]


def _with_edges(f):
    for n in EDGES:
        f = example(n)(f)
    return f


@given(INTS)
@_with_edges
@settings(max_examples=400)
def test_chinese_reads_back(n):
    assert to_number(cn(n)) == n
    assert to_number(with_liang(cn(n))) == n


@given(INTS)
@_with_edges
@settings(max_examples=300)
def test_arabic_reads_back(n):
    assert to_number(str(n)) == n
    assert to_number(f"{n:,}") == n
    assert to_number(str(n).translate(_FULL)) == n


@given(st.integers(1, 9999), st.sampled_from([("万", 10**4), ("亿", 10**8), ("万亿", 10**12)]))
def test_arabic_with_unit(n, unit):
    word, value = unit
    assert to_number(f"{n}{word}") == n * value
    assert to_number(f"{n / 10}{word}") == pytest.approx(n * value / 10)


@given(INTS)
@_with_edges
@settings(max_examples=200)
def test_found_in_a_sentence(n):
    for numeral in (cn(n), str(n), f"{n:,}"):
        text = f"据报道，现场共有{numeral}人受伤。"
        got = find_numbers(text)
        assert [(q.low, q.high, q.approx) for q in got] == [(n, n, False)], numeral
        assert got[0].text == numeral


# A round number m·10^k (m not a multiple of 10) written out: its last place is 10^k.
ROUND = st.tuples(st.integers(1, 10**6).filter(lambda m: m % 10), st.integers(1, 8)).filter(
    lambda mk: mk[0] * 10 ** mk[1] <= 10**12)


@given(ROUND, st.sampled_from(["多", "余"]))
def test_more_than_a_round_number(mk, word):
    m, k = mk
    x, step = m * 10**k, 10**k
    for numeral in (cn(x), str(x)):
        q = read_number(numeral + word)
        assert q is not None and q.approx, numeral + word
        assert (q.low, q.high) == (x + 1, x + step - 1)
        assert q.low <= x + step / 2 <= q.high


@given(st.integers(1, 999).filter(lambda m: m % 10), st.integers(1, 3), st.sampled_from(["多", "余", "来"]))
def test_before_wan(m, k, word):
    x, step = m * 10**k, 10**k
    if x >= 10**4:
        return
    q = read_number(f"{x}{word}万")
    assert q is not None and q.approx and q.low <= q.high
    assert q.low <= (x if word == "来" else x + step / 2) * 10**4 <= q.high   # 来: about x; 多/余: above x
    if word != "来":
        assert (q.low, q.high) == (x * 10**4 + 1, (x + step) * 10**4 - 1)


@given(st.integers(1, 10**12))
@settings(max_examples=200)
def test_about_contains_the_number(n):
    for text in ("约" + cn(n), cn(n) + "左右", f"约{n}", f"{n}左右"):
        q = read_number(text)
        assert q is not None and q.approx
        assert q.low <= n <= q.high


@given(st.integers(2, 10**12))
def test_nearly_is_below(n):
    q = read_number("近" + cn(n))
    assert q is not None and q.approx
    assert q.low <= q.high < n


@given(st.sampled_from(["五六", "两三", "三四", "七八", "八九", "一两", "三五"]),
       st.sampled_from(["", "十", "百", "千", "万", "十万", "百万", "千万", "亿"]))
def test_pairs_cover_both_ends(pair, unit):
    exact = to_number(unit) if unit else 1
    q = read_number(pair + unit)
    assert q is not None and q.approx
    a, b = (to_number(c) for c in pair)
    assert (q.low, q.high) == (a * exact, b * exact)


@given(st.sampled_from(["十", "百", "千", "万", "十万", "百万", "千万", "亿"]))
def test_some_and_few(unit):
    exact = to_number(unit)
    for lead in ("几", "数"):
        q = read_number(lead + unit)
        assert q is not None and q.approx and (q.low, q.high) == (2 * exact, 9 * exact)
    up = read_number("上" + unit)
    assert up.low == exact and up.high == 2 * exact - 1


TEXT_CHARS = st.sampled_from(list("〇零一二两三四五六七八九十百千万亿几数余多来约近上逾左右点分之人名个起元年件家户统"
                                  "的了是在有，。、 abc0123456789,.０１２"))


@given(st.lists(TEXT_CHARS, max_size=60).map("".join))
@settings(max_examples=500)
def test_find_numbers_spans(text):
    found = find_numbers(text)
    end = 0
    for q in found:
        assert end <= q.start < q.end <= len(text)
        assert text[q.start:q.end] == q.text
        assert q.low <= q.high
        assert q.approx or q.low == q.high
        # the matched characters read alone give the same quantity
        alone = read_number(q.text)
        assert alone is not None, q
        assert (alone.low, alone.high, alone.approx) == (q.low, q.high, q.approx)
        end = q.end


@given(st.text(max_size=40))
@settings(max_examples=300)
def test_never_raises(text):
    find_numbers(text)
    q = read_number(text)
    x = to_number(text)
    assert x is None or (q is not None and not q.approx and x == q.low)
