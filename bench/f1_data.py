"""Shared data for the macro-F1 experiments (bench/f1_oof.py, f1_knn.py, f1_combine.py, selftrain_cv.py; the folds of classifier_cv.py): the labelled examples as
bench/classifier_cv.py reads them, the same grouped and random folds, and the board's raw messages of
../shared/data/raw/ (fj2 unlabelled, fj3 likes, fj4 replies with 答复意见), segmented by our tokenizer and
cleaned with the derived stop words. Segmentation is cached under /tmp (derived data, never in the repo).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import tokenize, training  # noqa: E402
from monitor.features import kept_tokens  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAIN = DATA / "train"
POOL_FILES = ["tipdm2020C_fj2_testphase2801_unlabeled.xlsx", "tipdm2020C_fj3_full4326_likes.xlsx",
              "tipdm2020C_fj4_full2816_replies.xlsx"]
CACHE = Path("/tmp/yuqing_f1_pool.json")


def labelled():
    """(examples, stop words, cleaned docs, labels, y)."""
    examples = training.read_training([TRAIN])
    stop = training.derive_stopwords(examples)
    labels = sorted({e.label for e in examples})
    y = np.array([labels.index(e.label) for e in examples])
    docs = kept_tokens([e.tokens for e in examples], stop)
    return examples, stop, docs, labels, y


def splits(examples, kind: str, k: int = 5, seed: int = 0):
    """Grouped (near-duplicates in one fold, training.folds) or random stratified k-fold."""
    if kind == "grouped":
        return training.folds(examples, k, seed)
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(
        np.zeros(len(examples)), [e.label for e in examples]))


def inner_splits(examples, train_idx: np.ndarray, kind: str, k: int = 5):
    """Folds inside a training part, of the same kind as the outer ones (indices into train_idx)."""
    return splits([examples[i] for i in train_idx], kind, k, seed=1)


def macro_f1(y: np.ndarray, pred: np.ndarray, n_labels: int) -> float:
    """training.scores' macro-F1 on class indices, unrounded and vectorised (for grid searches)."""
    f1 = []
    for k in range(n_labels):
        if not np.any(y == k):
            continue
        tp = np.sum((pred == k) & (y == k))
        fp = np.sum((pred == k) & (y != k))
        fn = np.sum((pred != k) & (y == k))
        f1.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(f1))


def pool() -> list[dict]:
    """Raw board messages: {source, id, title, text, reply, tokens} (tokens as segmented, not cleaned)."""
    from python_calamine import CalamineWorkbook

    paths = [DATA / "raw" / f for f in POOL_FILES]
    key = hashlib.sha1("".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime}" for p in paths).encode()).hexdigest()
    if CACHE.exists():
        cached = json.loads(CACHE.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return cached["rows"]
    tokenize.setup()
    out = []
    for p in paths:
        rows = CalamineWorkbook.from_path(str(p)).get_sheet_by_index(0).to_python()
        head = [str(h).strip() for h in rows[0]]
        ti, bi = head.index("留言主题"), head.index("留言详情")
        ri = head.index("答复意见") if "答复意见" in head else None
        ii = head.index("留言编号")
        for r in rows[1:]:
            text = "\n".join(str(r[i]).strip() for i in (ti, bi) if r[i] not in (None, ""))
            if not text.strip():
                continue
            out.append({"source": p.name.split("_")[1], "id": str(r[ii]), "title": str(r[ti]).strip(),
                        "text": text, "reply": str(r[ri]).strip() if ri is not None and r[ri] else "",
                        "tokens": tokenize.tokens(text)})
    CACHE.write_text(json.dumps({"key": key, "rows": out}, ensure_ascii=False), encoding="utf-8")
    return out


def _binary(sets, vocab):
    rows, cols = [], []
    for i, s in enumerate(sets):
        for w in s:
            rows.append(i)
            cols.append(vocab.setdefault(w, len(vocab)))
    return rows, cols


def c3(doc: list[str]) -> set[str]:
    s = "".join(doc)
    return {s[i:i + 3] for i in range(len(s) - 2)}


def jaccard_matrix(a: list[set], b: list[set], block: int = 500):
    """Yields (start, dense Jaccard block of a[start:start+block] × b)."""
    from scipy.sparse import csr_matrix

    vocab: dict = {}
    r, c = _binary(b, vocab)
    rb, cb = r, c
    r, c = _binary(a, vocab)
    n = len(vocab)
    B = csr_matrix((np.ones(len(rb), np.float32), (rb, cb)), shape=(len(b), n)).T.tocsr()
    A = csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(a), n))
    bs = np.array([len(s) for s in b], np.float32)
    as_ = np.array([len(s) for s in a], np.float32)
    for start in range(0, len(a), block):
        inter = (A[start:start + block] @ B).toarray()
        union = as_[start:start + block, None] + bs[None, :] - inter
        yield start, np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def near_sets(a_docs: list[list[str]], b_docs: list[list[str]], floor: float):
    """Per a-doc: max similarity (word-set or char-3-gram Jaccard) to any b-doc, and the b-docs ≥ floor."""
    best = np.zeros(len(a_docs))
    near: list[set[int]] = [set() for _ in a_docs]
    for kind in (set, c3):
        for start, jac in jaccard_matrix([kind(d) for d in a_docs], [kind(d) for d in b_docs]):
            best[start:start + len(jac)] = np.maximum(best[start:start + len(jac)], jac.max(axis=1))
            for i, j in zip(*np.nonzero(jac >= floor)):
                near[start + i].add(int(j))
    return best, near


def extra_examples(name: str, docs, stop, labels, dedup: float = 0.5, fold_floor: float = 0.35):
    """Weakly labelled extra training documents: (docs, y, near) where near[i] is the set of labelled
    rows the extra doc i is similar to (≥ fold_floor): a fold drops the extras near any held-out row.
    Extras near any labelled row (≥ dedup) and in-pool near-duplicates are removed beforehand.
    name: 'reply' (fj4 replies naming one class's bureaus), 'reply-dom' (dominant class ≥ 2×),
    'taxonomy' (one pseudo-document per level-2/3 pair of the official taxonomy)."""
    from bench import f1_weak as W

    if name == "taxonomy":
        tokenize.setup()
        pairs = [(c, t) for c, t in W.taxonomy_docs(DATA / "raw" / "tipdm2020C_fj1_label_taxonomy.xlsx")
                 if c in labels]
        tdocs = kept_tokens([tokenize.tokens(t) for _, t in pairs], stop)
        return tdocs, np.array([labels.index(c) for c, _ in pairs]), [set() for _ in pairs]
    rows = [p for p in pool() if p["source"] == "fj4"]
    fn = W.reply_label if name == "reply" else (lambda r: W.reply_label_dominant(r, 2.0))
    lab = [fn(p["reply"])[0] for p in rows]
    keep = [i for i, l in enumerate(lab) if l in labels]
    pdocs = kept_tokens([rows[i]["tokens"] for i in keep], stop)
    uniq = training.one_per_group(pdocs)
    best, near = near_sets([pdocs[k] for k in uniq], docs, fold_floor)
    sel = [j for j in range(len(uniq)) if best[j] < dedup]
    return ([pdocs[uniq[j]] for j in sel], np.array([labels.index(lab[keep[uniq[j]]]) for j in sel]),
            [near[j] for j in sel])
