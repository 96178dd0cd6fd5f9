"""The per-token score cache (monitor.understanding.classifier.token_scores) against the reference scoring of DomainModel."""

import csv
from pathlib import Path

import numpy as np
import pytest

from monitor.understanding import segment
from monitor.understanding.classifier.domain import DomainModel
from monitor.understanding.classifier.token_scores import SEP, TokenScores
from monitor.understanding.understander import MAX_CLASSIFY_CHARS, prepare

ROOT = Path(__file__).resolve().parents[1]
ODD = [[], [""], ["A1", "区"], ["\x00", "学\x00校"], ["𠀀", "学", "校", "𠀀𠀁"], ["学"], ["学", "校", "老", "师"],
       ["小区", "停水", "，", " ", "三天"], ["1", "2", "人", "死亡"], ["，"], ["。", "的", "了"], ["公交车不准点"]]


@pytest.fixture(scope="module")
def model():
    segment.for_lexicons()
    return DomainModel.load()


@pytest.fixture(scope="module")
def texts():
    with (ROOT / "tests" / "fixtures" / "understand_sample.csv").open(encoding="utf-8", newline="") as f:
        return [prepare(r["title"], r["body"])[:MAX_CLASSIFY_CHARS] for r in csv.DictReader(f)]


def test_scores_equal_reference_decision(model, texts):
    docs = [segment.cut(t) for t in texts] + ODD
    fresh = TokenScores(model)
    ids = fresh.token_ids([t for d in docs for t in d])
    doc = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
    decision, *_ = fresh.scores(ids, doc, len(docs))
    assert np.allclose(decision, model.decision(docs), atol=1e-5, rtol=0)


@pytest.mark.parametrize("explain", [True, False])
def test_predictions_equal_reference(model, texts, explain):
    docs = [segment.cut(t) for t in texts] + ODD
    assert model.predict_tokens(docs, explain) == model.predict_reference(docs, explain)
    # The cache filled, again; and one document at a time.
    assert model.predict_tokens(docs, explain) == model.predict_reference(docs, explain)
    assert [model.predict_tokens([d], explain)[0] for d in docs[-12:]] == model.predict_reference(docs[-12:], explain)


def test_joined_equals_one_call_each(model, texts):
    batch = texts + ["", "A1", "学校", ""]
    tokens = segment.cut(SEP.join(batch))
    assert model.predict_joined(tokens, len(batch)) == model.predict_tokens([segment.cut(t) for t in batch])
    with pytest.raises(ValueError):
        model.predict_joined(segment.cut("学校\n老师\n"), 2)


def test_cache_starts_afresh(model, texts, monkeypatch):
    import monitor.understanding.classifier.token_scores as ts

    docs = [segment.cut(t) for t in texts[:10]]
    scorer = TokenScores(model)
    monkeypatch.setattr(ts, "MAX_TOKENS", 50)
    first = scorer.token_ids([t for d in docs for t in d])
    assert scorer.size > 50  # one batch with more distinct tokens than the bound still gets its rows
    assert (scorer.token_ids(docs[0]) == first[:len(docs[0])]).all()  # all known: the cache is kept
    again = scorer.token_ids(docs[0] + ["新词甲"])  # a new token past the bound: a new cache
    assert scorer.size <= len(set(docs[0])) + 2 and len(again) == len(docs[0]) + 1
    # Batch after batch of new tokens: the cache starts afresh instead of doubling past the bound.
    monkeypatch.setattr(ts, "MAX_TOKENS", 2048)
    scorer = TokenScores(model)
    for start in range(0, 20000, 700):
        scorer.token_ids([f"词{i}" for i in range(start, start + 700)])
        assert scorer.size <= 2048 and len(scorer.keep) <= 2048
    sample = [f"词{i}" for i in range(19000, 19700)] + docs[0]
    assert model.predict_tokens([sample]) == model.predict_reference([sample])


def test_same_buffer_different_tokens(model):
    # Python's str hash reads the buffer: "sb" (73 62) and "扳" (U+6273) hash alike; the key must not.
    scorer = TokenScores(model)
    tokens = ["sb", "扳", "XX", "塘", "HY", "奈", "", "\n", "sb"]
    ids = scorer.token_ids(tokens).tolist()
    assert len(set(ids[:8])) == 8 and ids[0] == ids[8] and ids[7] == 0


def test_keys_short_exact_long_hashed(model):
    # ≤ 3 characters: code points packed (exact); longer: the string hash mixed with the length ("sbsbsbsb"
    # and "扳扳扳扳" share a buffer); a token holding a NUL is keyed by its hash, the others as usual.
    scorer = TokenScores(model)
    tokens = ["sbsbsbsb", "扳扳扳扳", "sb", "扳", "学校", "学校老师们", "𠀀𠀁", "a", "", "\x00", "a\x00", "\x00a"]
    ids = scorer.token_ids(tokens).tolist()
    assert len(set(ids)) == len(tokens)
    assert scorer.token_ids(tokens[:9]).tolist() == ids[:9]
    assert scorer.token_ids(tokens[::-1]).tolist() == ids[::-1]
