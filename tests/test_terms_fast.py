"""The fast term finder (UTF-8 byte automaton, per-pattern plans) against its reference `find_slow`."""

import csv
from pathlib import Path

import pytest

from monitor.understanding.terms import TermIndex
from monitor.config.settings import BUNDLED_CONFIG

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "understand_sample.csv"
EDGES = ["大理石厂在大理市", "丽江路上的丽江市民", "海口街道不是海口市", "普洱茶", "在北京路和北京", "ｗ大理", "",
         "大理", "大理石", "昆明市西山区马街街道丽江路", "A1区马街街道的大理石普洱茶厂", "丽江", "丽江路", "𠀀大理"]


def _index() -> TermIndex:
    streets = ("路", "街", "小区")
    idx = TermIndex(longest=frozenset({"place"}), not_before={"place": streets})
    idx.add("place:大理", ["大理", "大理市"]).add("place:丽江", ["丽江", "丽江市"]).add("place:海口街道", ["海口街道"])
    idx.add("place:海口市", ["海口", "海口市"]).add("kw:住建", ["丽江路", "小区", "厂"]).add("kw:大理", ["大理"])
    idx.add("place:北京", ["北京"]).add("kw:茶", ["普洱茶", "普洱"]).block(["大理石", "普洱茶"])
    return idx


@pytest.mark.parametrize("text", EDGES)
def test_edges(text):
    idx = _index()
    assert idx.find(text) == idx.find_slow(text)
    assert list(idx.find(text)) == list(idx.find_slow(text))  # the same order of tags


def _understander_indexes():
    from monitor.understanding.jurisdiction import load_jurisdiction
    from monitor.understanding.understander import Understander

    for name in ("xishan", "yunnan"):
        yield Understander.load(BUNDLED_CONFIG / "lexicons",
                                load_jurisdiction(BUNDLED_CONFIG / "jurisdictions" / f"{name}.yaml"), 0.35).index


def test_real_messages_and_real_indexes():
    from monitor.understanding.understander import prepare

    with SAMPLE.open(encoding="utf-8", newline="") as f:
        texts = [prepare(r["title"], r["body"]) for r in csv.DictReader(f)] + EDGES
    for idx in _understander_indexes():
        for text in texts:
            fast, slow = idx.find(text), idx.find_slow(text)
            assert fast == slow and list(fast) == list(slow), text[:40]
