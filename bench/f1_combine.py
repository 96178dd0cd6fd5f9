"""Score-level ensembles and per-class bias offsets on saved out-of-fold scores (bench/f1_oof.py).

    python bench/f1_combine.py --split grouped|random --members svm,logreg,... [--bias]

Each member's scores are divided by the spread (std) of its inner out-of-fold scores. Weights (grid
over 0, 0.5, 1 per member, the first member fixed at 1) and per-class additive offsets (coordinate
ascent on macro-F1) are chosen per outer fold on the inner out-of-fold scores of its training rows
(nested); the `oracle` lines choose them on the test folds themselves (optimistic ceilings, for reading).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import f1_data as D  # noqa: E402
from bench.f1_data import macro_f1  # noqa: E402
from bench.f1_oof import OUT, report  # noqa: E402


def tune_bias(dec, y, L, rounds=3, grid=np.linspace(-0.3, 0.3, 25)):
    b = np.zeros(L)
    best = macro_f1(y, dec.argmax(1), L)
    for _ in range(rounds):
        for k in range(L):
            for g in grid:
                trial = b.copy()
                trial[k] = g
                s = macro_f1(y, (dec + trial).argmax(1), L)
                if s > best + 1e-9:
                    best, b = s, trial
    return b


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="grouped")
    ap.add_argument("--members", default="svm")
    ap.add_argument("--bias", action="store_true")
    args = ap.parse_args()
    examples, stop, docs, labels, y = D.labelled()
    splits = D.splits(examples, args.split)
    L = len(labels)
    names = args.members.split(",")
    data = {m: np.load(OUT / f"oof_{args.split}_{m}.npz") for m in names}
    has_inner = all("inner" in d for d in data.values())
    tests = {m: d["test"] for m, d in data.items()}
    for m in names:
        print(f"{m:28s} {report(examples, y, labels, tests[m])}")
    grid = [w for w in itertools.product([0.0, 0.5, 1.0], repeat=len(names) - 1)]
    grid = [(1.0, *w) for w in grid]

    def combo(decs, w, scale):
        return sum(wi * d / s for wi, d, s in zip(w, decs, scale))

    if len(names) > 1:
        scale_all = [np.std(tests[m]) for m in names]
        eq = combo([tests[m] for m in names], [1.0] * len(names), scale_all)
        print(f"{'equal weights':28s} {report(examples, y, labels, eq)}")
        best = max(grid, key=lambda w: macro_f1(y, combo([tests[m] for m in names], w, scale_all).argmax(1), L))
        print(f"{'oracle weights ' + str(best):28s} "
              f"{report(examples, y, labels, combo([tests[m] for m in names], best, scale_all))}")
    if not has_inner:
        return 0
    nested = np.zeros((len(y), L))
    nested_b = np.zeros((len(y), L))
    chosen = []
    for f, (tr, te) in enumerate(splits):
        inn = [data[m]["inner"][f, tr] for m in names]
        scale = [np.std(d) for d in inn]
        w = max(grid, key=lambda w: macro_f1(y[tr], combo(inn, w, scale).argmax(1), L)) if len(names) > 1 \
            else (1.0,)
        tdec = combo([tests[m][te] for m in names], w, scale)
        nested[te] = tdec
        b = tune_bias(combo(inn, w, scale), y[tr], L) if args.bias else np.zeros(L)
        nested_b[te] = tdec + b
        chosen.append((w, np.round(b, 3).tolist()))
    if len(names) > 1:
        print(f"{'nested weights':28s} {report(examples, y, labels, nested)}")
    if args.bias:
        print(f"{'nested weights + bias':28s} {report(examples, y, labels, nested_b)}")
        ob = tune_bias(nested, y, L)
        print(f"{'oracle bias':28s} {report(examples, y, labels, nested + ob)}")
    for c in chosen:
        print("  chosen", c)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
