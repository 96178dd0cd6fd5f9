"""Experiment: does semi-supervised self-training on the board's unlabeled raw messages raise the
cross-validated macro-F1 of the domain classifier?

    .venv/bin/python bench/selftrain_cv.py [--split grouped|random] [--variant NAME ...] [--folds 5]

Labeled data: both files of ../shared/data/train/ (as bench/classifier_cv.py). Unlabeled pool: the raw
messages (留言主题 + 留言详情) of ../shared/data/raw/tipdm2020C_fj{2,3,4}_*.xlsx, segmented by our tokenizer
and cleaned with the derived stop words, exactly as raw training rows are.

Leakage control:
  * the pool is deduplicated within itself (near_duplicate_groups, word-set Jaccard ≥ 0.6, one kept per
    group) and against ALL labeled rows: a pool message goes when its word-set Jaccard or its character
    3-gram Jaccard with any labeled row reaches --dedup (0.5);
  * in every fold, pool messages whose similarity to any held-out row reaches --fold-dedup (0.35, lower
    than the global cut) are dropped too (a second net; the global cut already removes most).

Model: a faithful re-implementation of monitor.training.fit (word + character 1–3-gram TF-IDF, LinearSVC
C=0.5, fit on all features, keep the 50k strongest, refit), plus sample weights and an optional corpus
for vocabulary/IDF. Variants:
  base            the shipped model (must reproduce training.cross_validate)
  idf-all         vocabulary and IDF from labeled-train + whole pool (no pseudo-labels)
  st-pP-wW        one round: pool messages with calibrated confidence ≥ P (softmax of the decision
                  scores at the shipped temperature T=0.30) get their predicted label, weight W
  st2-pP-wW       two rounds (the pool is relabelled by the round-1 model)
  bal-KK-wW       class-balanced: per predicted class, the most confident messages, in number
                  KK % of the pool × the class's labeled share (only confidence ≥ 0.5)
  ...+idf         the same with vocabulary/IDF from labeled-train + whole pool
Prints one line per variant (macro-F1, pseudo-labels used per fold) and a JSON line with per-class F1.

The grouped folds are the same in every run (training.near_duplicate_groups breaks ties by the word since
2 December; before, by set order, which moved the figures by ~±0.002 between processes).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import f1_data as D  # noqa: E402
from monitor import training  # noqa: E402
from monitor.features import kept_tokens  # noqa: E402

T = 0.30  # the shipped softmax temperature (grouped-CV calibration of the current model)
C = 0.5
MAX_FEATURES = 50000


def parse(name: str) -> dict:
    """Variant name → options."""
    v = {"name": name, "kind": "base", "idf_all": name.endswith("+idf"), "rounds": 1}
    core = name.removesuffix("+idf")
    if core in ("base", "idf-all"):
        v["idf_all"] = v["idf_all"] or core == "idf-all"
        return v
    m = re.fullmatch(r"(st2?)-p([\d.]+)-w([\d.]+)", core)
    if m:
        return v | {"kind": "threshold", "rounds": 2 if m[1] == "st2" else 1, "p": float(m[2]), "w": float(m[3])}
    m = re.fullmatch(r"bal(\d+)-w([\d.]+)", core)
    if m:
        return v | {"kind": "balanced", "share": int(m[1]) / 100, "w": float(m[2])}
    raise SystemExit(f"unknown variant {name!r}")


VARIANTS = ["base", "idf-all", "st-p0.9-w0.5", "st-p0.9-w1.0", "st-p0.97-w0.5", "st-p0.7-w0.3",
            "bal40-w0.5", "st2-p0.9-w0.5", "st-p0.9-w0.5+idf"]


# --------------------------------------------------------------------------- the unlabeled pool
# --------------------------------------------------------------------------- fitting (training.fit + weights)
def _svm(X, y, w):
    from sklearn.svm import LinearSVC

    est = LinearSVC(C=C, random_state=0).fit(X, y, sample_weight=w)
    return np.asarray(est.coef_, np.float64).T, np.asarray(est.intercept_, np.float64)


def fit_predict(train_docs, y, weights, stop, n_labels, idf_docs, predict_docs):
    """training.fit on cleaned docs with sample weights; vocabulary/IDF from train_docs + idf_docs.
    Returns the decision scores of each list in predict_docs."""
    feat = training.build_featurizer(train_docs + idf_docs, stop, 2, 2, (1, 2, 3))
    weights = np.asarray(weights, np.float64)
    W, b = _svm(training.to_csr(feat, train_docs), y, weights)
    if feat.n_features > MAX_FEATURES:
        feat = feat.restrict(np.argsort(-np.abs(W).max(axis=1))[:MAX_FEATURES])
        W, b = _svm(training.to_csr(feat, train_docs), y, weights)
    assert W.shape[1] == n_labels
    return [training.to_csr(feat, d) @ W + b if d else np.zeros((0, n_labels)) for d in predict_docs]


def softmax(d: np.ndarray) -> np.ndarray:
    z = d / T
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def select(v: dict, prob: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Indices (into the fold's pool) to pseudo-label."""
    conf, pred = prob.max(axis=1), prob.argmax(axis=1)
    if v["kind"] == "threshold":
        return np.flatnonzero(conf >= v["p"])
    budget = v["share"] * len(prob)
    out = []
    for k in range(prob.shape[1]):
        idx = np.flatnonzero((pred == k) & (conf >= 0.5))
        idx = idx[np.argsort(-conf[idx])][: int(round(budget * prior[k]))]
        out.extend(idx.tolist())
    return np.array(sorted(out), dtype=np.int64)


# --------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--split", choices=["grouped", "random"], default="grouped")
    ap.add_argument("--variant", action="append")
    ap.add_argument("--dedup", type=float, default=0.5)
    ap.add_argument("--fold-dedup", type=float, default=0.35)
    args = ap.parse_args()
    variants = [parse(n) for n in (args.variant or VARIANTS)]
    started = time.perf_counter()

    examples, stop, docs, labels, y_all = D.labelled()
    splits = D.splits(examples, args.split, args.folds)

    rows = D.pool()
    source = [r["source"] for r in rows]
    pool = kept_tokens([r["tokens"] for r in rows], stop)
    n_raw = len(pool)
    uniq = training.one_per_group(pool)
    best, near = D.near_sets([pool[i] for i in uniq], docs, args.fold_dedup)
    keep = [k for k, s in enumerate(best) if s < args.dedup]
    pool = [pool[uniq[k]] for k in keep]
    near = [near[k] for k in keep]
    by_source = Counter(source[uniq[k]] for k in keep)
    print(f"{len(examples)} labeled, {len(stop)} stop words, {args.folds} {args.split} folds; pool {n_raw} raw "
          f"→ {len(uniq)} after in-pool dedup → {len(pool)} after dedup against labeled (sim < {args.dedup}; "
          f"{dict(sorted(by_source.items()))}); sim histogram of in-pool-unique vs labeled: "
          f"{np.histogram(best, bins=[0, .2, .3, .4, .5, .6, .8, 1.01])[0].tolist()} "
          f"({time.perf_counter() - started:.0f}s)", flush=True)

    preds = {v["name"]: np.zeros(len(examples), np.int64) for v in variants}
    used = {v["name"]: [] for v in variants}
    for n, (train, test) in enumerate(splits, start=1):
        t0 = time.perf_counter()
        test_set = set(test.tolist())
        fold_pool = [pool[i] for i in range(len(pool)) if not (near[i] & test_set)]
        tr_docs, te_docs = [docs[i] for i in train], [docs[i] for i in test]
        y_tr = y_all[train]
        prior = np.bincount(y_tr, minlength=len(labels)) / len(y_tr)
        cache: dict = {}  # (idf_all) → (test decision, pool decision) of the labeled-only model

        def labeled_only(idf_all: bool):
            if idf_all not in cache:
                cache[idf_all] = fit_predict(tr_docs, y_tr, np.ones(len(tr_docs)), stop, len(labels),
                                             fold_pool if idf_all else [], [te_docs, fold_pool])
            return cache[idf_all]

        for v in variants:
            dec_te, dec_pool = labeled_only(v["idf_all"])
            if v["kind"] != "base":
                for _ in range(v["rounds"]):
                    chosen = select(v, softmax(dec_pool), prior)
                    ps_docs = [fold_pool[i] for i in chosen]
                    ps_y = dec_pool[chosen].argmax(axis=1)
                    taken = set(chosen.tolist())
                    extra = [d for i, d in enumerate(fold_pool) if i not in taken] if v["idf_all"] else []
                    dec_te, dec_pool = fit_predict(
                        tr_docs + ps_docs, np.concatenate([y_tr, ps_y]),
                        np.concatenate([np.ones(len(tr_docs)), np.full(len(ps_docs), v["w"])]),
                        stop, len(labels), extra, [te_docs, fold_pool])
                used[v["name"]].append(len(chosen))
            preds[v["name"]][test] = dec_te.argmax(axis=1)
        print(f"fold {n}/{len(splits)}: pool {len(fold_pool)} after held-out dedup "
              f"(-{len(pool) - len(fold_pool)}), {time.perf_counter() - t0:.0f}s", flush=True)

    truth = [e.label for e in examples]
    rows = []
    for v in variants:
        pred = [labels[k] for k in preds[v["name"]]]
        s = training.scores(truth, pred)
        raw_idx = [i for i, e in enumerate(examples) if e.origin == "raw"]
        raw = training.scores([truth[i] for i in raw_idx], [pred[i] for i in raw_idx])["macro_f1"]
        rows.append((v["name"], s["macro_f1"], raw, s["accuracy"], used[v["name"]]))
        print(json.dumps({"split": args.split, "variant": v["name"], "macro_f1": s["macro_f1"],
                          "macro_f1_raw": raw, "accuracy": s["accuracy"], "pseudo_used": used[v["name"]],
                          "per_class_f1": {k: c["f1"] for k, c in s["per_class"].items()}},
                         ensure_ascii=False), flush=True)
    print(f"\n{args.split} {args.folds}-fold   macro-F1   raw-rows   accuracy   pseudo-labels used per fold")
    for name, f1, raw, acc, u in rows:
        print(f"{name:22s} {f1:.4f}     {raw:.4f}     {acc:.4f}     {u}")
    print(f"({time.perf_counter() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
