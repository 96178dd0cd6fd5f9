"""Near-duplicate memory: when a message is very similar to a training message (max of word-set and
character-3-gram Jaccard ≥ t), use that training message's label (override), or add α × similarity to
the nearest neighbours' labels' scores (blend). Uses the out-of-fold SVM scores of bench/f1_oof.py
(svm, --inner). Thresholds/α are chosen per outer fold on the inner folds of its training part
(nested); the curve over fixed t is printed too (optimistic: read, don't pick from it).

    python bench/f1_knn.py --split grouped|random
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import f1_data as D  # noqa: E402
from bench.f1_oof import OUT, report  # noqa: E402

THRESHOLDS = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01]
ALPHAS = [0.0, 0.25, 0.5, 1.0, 2.0, 4.0]


def neighbours(q_docs, m_docs, k=5):
    """Per query: top-k (similarity, memory index), similarity = max(word Jaccard, char-3 Jaccard)."""
    sims = np.zeros((len(q_docs), k))
    idx = np.zeros((len(q_docs), k), np.int64)
    word = [set(d) for d in m_docs], [set(d) for d in q_docs]
    char = [D.c3(d) for d in m_docs], [D.c3(d) for d in q_docs]
    blocks = [dict(D.jaccard_matrix(kind[1], kind[0], block=400)) for kind in (word, char)]
    for start in blocks[0]:
        j = np.maximum(blocks[0][start], blocks[1][start])
        top = np.argsort(-j, axis=1)[:, :k]
        idx[start:start + len(j)] = top
        sims[start:start + len(j)] = np.take_along_axis(j, top, axis=1)
    return sims, idx


def apply(dec, sims, nn_y, t=None, alpha=0.0, n_labels=7):
    out = dec.copy()
    if alpha:
        vote = np.zeros_like(dec)
        for c in range(sims.shape[1]):
            np.add.at(vote, (np.arange(len(dec)), nn_y[:, c]), sims[:, c] ** 2)
        out = out + alpha * vote
    if t is not None:
        fire = sims[:, 0] >= t
        out[fire] = -10
        out[fire, nn_y[fire, 0]] = 10
    return out


def macro(y, dec, L):
    return D.macro_f1(y, dec.argmax(axis=1), L)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="grouped")
    args = ap.parse_args()
    examples, stop, docs, labels, y = D.labelled()
    splits = D.splits(examples, args.split)
    oof = np.load(OUT / f"oof_{args.split}_svm.npz")
    test, inner = oof["test"], oof["inner"]
    L = len(labels)
    S = np.zeros((len(docs), 5))
    NY = np.zeros((len(docs), 5), np.int64)
    nested_over = np.zeros_like(test)
    nested_blend = np.zeros_like(test)
    chosen = []
    for f, (tr, te) in enumerate(splits):
        s, i = neighbours([docs[j] for j in te], [docs[j] for j in tr])
        S[te], NY[te] = s, y[tr][i]
        # inner: neighbours of each inner-test row among its inner-train rows
        iS = np.zeros((len(tr), 5))
        iNY = np.zeros((len(tr), 5), np.int64)
        for itr, ite in D.inner_splits(examples, tr, args.split):
            s2, i2 = neighbours([docs[j] for j in tr[ite]], [docs[j] for j in tr[itr]])
            iS[ite], iNY[ite] = s2, y[tr[itr]][i2]
        idec = inner[f, tr]
        best_t = max(THRESHOLDS, key=lambda t: macro(y[tr], apply(idec, iS, iNY, t), L))
        best_a = max(ALPHAS, key=lambda a: macro(y[tr], apply(idec, iS, iNY, None, a), L))
        chosen.append((best_t, best_a))
        nested_over[te] = apply(test[te], s, y[tr][i], best_t)
        nested_blend[te] = apply(test[te], s, y[tr][i], None, best_a)
    base = report(examples, y, labels, test)
    print(f"{args.split}: svm {base}")
    for t in THRESHOLDS[:-1]:
        fire = S[:, 0] >= t
        knn_ok = (NY[fire, 0] == y[fire]).mean()
        svm_ok = (test[fire].argmax(1) == y[fire]).mean()
        r = report(examples, y, labels, apply(test, S, NY, t))
        print(f"  override t={t}: fires {fire.sum()} ({fire.mean():.1%}), kNN right {knn_ok:.3f}, SVM right "
              f"{svm_ok:.3f} on them; macro-F1 {r['macro_f1']:.4f} tokens {r['tokens']:.4f} raw {r['raw']:.4f} "
              f"acc {r['accuracy']:.4f}")
    for a in ALPHAS[1:]:
        r = report(examples, y, labels, apply(test, S, NY, None, a))
        print(f"  blend α={a}: macro-F1 {r['macro_f1']:.4f} tokens {r['tokens']:.4f} raw {r['raw']:.4f} "
              f"acc {r['accuracy']:.4f}")
    for name, dec in (("nested override", nested_over), ("nested blend", nested_blend)):
        r = report(examples, y, labels, dec)
        print(f"  {name}: macro-F1 {r['macro_f1']:.4f} tokens {r['tokens']:.4f} raw {r['raw']:.4f} "
              f"acc {r['accuracy']:.4f}")
    print(f"  chosen (t, α) per fold: {chosen}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
