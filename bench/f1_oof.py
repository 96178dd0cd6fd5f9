"""Out-of-fold decision scores of one model spec, outer folds as bench/classifier_cv.py and (optionally)
inner folds of the same kind inside every outer training part, saved to /tmp/f1/oof_<split>_<name>.npz:
  test   (n, 7)      outer out-of-fold decisions
  inner  (k, n, 7)   per outer fold: inner out-of-fold decisions of its training rows (NaN elsewhere)

    python bench/f1_oof.py NAME --split grouped|random [--inner]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import f1_data as D  # noqa: E402
from bench.f1_engine import fit_predict  # noqa: E402
from monitor import training  # noqa: E402

OUT = Path("/tmp/f1")

SPECS = {
    "svm": {"model": "svm", "C": 0.5},
    "svm-all": {"model": "svm", "C": 0.5, "max_features": 0},
    "logreg": {"model": "logreg", "C": 30.0, "max_features": 0},
    "nbsvm": {"model": "nbsvm", "C": 0.3},
    "svm-words": {"model": "svm", "C": 0.5, "blocks": "words", "max_features": 0},
    "svm-chars": {"model": "svm", "C": 0.5, "blocks": "chars"},
    "svm-cs": {"model": "svm", "C": 0.1, "multi_class": "crammer_singer"},
    "ridge": {"model": "ridge", "alpha": 1.0, "max_features": 0},
    "svm-bal": {"model": "svm", "C": 0.5, "class_weight": "balanced"},
}


def report(examples, y, labels, dec):
    pred = [labels[k] for k in dec.argmax(axis=1)]
    truth = [e.label for e in examples]
    s = training.scores(truth, pred)
    out = {"macro_f1": s["macro_f1"], "accuracy": s["accuracy"]}
    for origin in ("tokens", "raw"):
        idx = [i for i, e in enumerate(examples) if e.origin == origin]
        out[origin] = training.scores([truth[i] for i in idx], [pred[i] for i in idx])["macro_f1"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--split", default="grouped")
    ap.add_argument("--inner", action="store_true")
    ap.add_argument("--spec", help="JSON spec instead of a named one")
    ap.add_argument("--extra", help="weakly labelled extra documents: reply | reply-dom | taxonomy")
    ap.add_argument("--extra-weight", type=float, default=0.5)
    args = ap.parse_args()
    spec = json.loads(args.spec) if args.spec else SPECS[args.name]
    OUT.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    examples, stop, docs, labels, y = D.labelled()
    splits = D.splits(examples, args.split)
    n, L = len(examples), len(labels)
    ex_docs, ex_y, ex_near = (D.extra_examples(args.extra, docs, stop, labels) if args.extra
                              else ([], np.zeros(0, np.int64), []))
    if args.extra:
        print(f"{len(ex_docs)} extra documents ({args.extra}), weight {args.extra_weight}: "
              f"{np.bincount(ex_y, minlength=L).tolist()}", flush=True)

    def fit(a, b):
        """Fit on labelled rows a (+ the extras not near any row of b), score rows b."""
        held = set(b.tolist())
        xs = [k for k in range(len(ex_docs)) if not (ex_near[k] & held)]
        fit_docs = [docs[i] for i in a] + [ex_docs[k] for k in xs]
        yy = np.concatenate([y[a], ex_y[xs]]).astype(np.int64)
        w = np.concatenate([np.ones(len(a)), np.full(len(xs), args.extra_weight)]) if xs else None
        return fit_predict(spec, fit_docs, yy, stop, L, [[docs[i] for i in b]], weights=w)[0]
    test = np.zeros((n, L))
    inner = np.full((len(splits), n, L), np.nan) if args.inner else None
    for f, (tr, te) in enumerate(splits):
        t = time.perf_counter()
        test[te] = fit(tr, te)
        if args.inner:
            for itr, ite in D.inner_splits(examples, tr, args.split):
                a, b = tr[itr], tr[ite]
                inner[f, b] = fit(a, b)
        print(f"fold {f + 1}: {time.perf_counter() - t:.0f}s", flush=True)
    if args.extra:
        args.name = f"{args.name}+{args.extra}-w{args.extra_weight:g}"
    np.savez(OUT / f"oof_{args.split}_{args.name}.npz", test=test,
             **({"inner": inner} if inner is not None else {}))
    r = report(examples, y, labels, test)
    print(f"{args.name:14s} {args.split:8s} macro-F1 {r['macro_f1']:.4f} (tokens {r['tokens']:.4f}, raw "
          f"{r['raw']:.4f}) accuracy {r['accuracy']:.4f}  {time.perf_counter() - t0:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
