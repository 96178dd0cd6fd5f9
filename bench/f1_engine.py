"""Model fitting for the macro-F1 experiments: a faithful, faster re-implementation of
monitor.training.fit (word + character 1–3-gram TF-IDF blocks, each divided by sqrt(Σ idf²) of the
document's occurrences; fit on all features, keep the `max_features` strongest, refit with the norms
recomputed over the kept features), with sample weights, extra training documents and other linear
estimators. Every model here is linear in the shipped features, so it fits the fast scoring path,
unless its spec says otherwise.

The featurizer of a training part is built once; a document × feature count matrix is kept and the
normalised matrix of any column subset is derived from it (norms recomputed as training.to_csr would).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import training  # noqa: E402


class Design:
    """Featurizer of `fit_docs` and count matrices of the documents to fit and score."""

    def __init__(self, fit_docs, stop, orders=(1, 2, 3)):
        from scipy.sparse import csr_matrix

        self.feat = training.build_featurizer(fit_docs, stop, 2, 2, tuple(orders))
        self.n_words = len(self.feat.words)
        self.idf = self.feat.idf
        self._csr = csr_matrix

    def counts(self, docs):
        occ = self.feat.occurrences(docs)
        rows = np.concatenate([s.rows for s in occ.segments])
        cols = np.concatenate([s.cols for s in occ.segments])
        m = self._csr((np.ones(len(rows)), (rows, cols)), shape=(occ.n_docs, self.feat.n_features))
        m.sum_duplicates()
        return m

    def matrix(self, counts, cols=None):
        """Normalised TF-IDF of the columns `cols` (all when None), norms over those columns per block."""
        from scipy.sparse import diags

        if cols is None:
            cols = np.arange(counts.shape[1])
        cols = np.sort(np.asarray(cols))
        c = counts[:, cols]
        idf = self.idf[cols]
        nw = int(np.searchsorted(cols, self.n_words))  # word columns come first
        parts = []
        for lo, hi in ((0, nw), (nw, len(cols))):
            block = c[:, lo:hi]
            sq = block @ (idf[lo:hi] ** 2)
            norm = np.where(sq > 0, np.sqrt(sq), 1.0)
            parts.append(diags(1.0 / norm) @ block @ diags(idf[lo:hi]))
        from scipy.sparse import hstack

        return hstack(parts, format="csr"), cols


def linear(spec: dict, X, y, w, n_labels):
    """(weights (n_cols, n_labels), intercept) of one estimator on X."""
    kind = spec.get("model", "svm")
    if kind == "nbsvm":
        return training._nbsvm({"nb_C": spec.get("C", 0.3)}, X, y, n_labels, sample_weight=w)
    if kind == "svm":
        from sklearn.svm import LinearSVC

        est = LinearSVC(C=spec.get("C", 0.5), random_state=0, class_weight=spec.get("class_weight"),
                        multi_class=spec.get("multi_class", "ovr"), loss=spec.get("loss", "squared_hinge"),
                        max_iter=spec.get("max_iter", 1000))
    elif kind == "logreg":
        from sklearn.linear_model import LogisticRegression

        est = LogisticRegression(C=spec.get("C", 30.0), max_iter=spec.get("max_iter", 300), tol=1e-3)
    elif kind == "ridge":
        from sklearn.linear_model import RidgeClassifier

        est = RidgeClassifier(alpha=spec.get("alpha", 1.0), solver="sparse_cg")
    else:
        raise ValueError(kind)
    est.fit(X, y, sample_weight=w)
    return np.asarray(est.coef_, np.float64).T.copy(), np.asarray(est.intercept_, np.float64)


def block_cols(design: Design, blocks: str):
    n = design.feat.n_features
    if blocks == "words":
        return np.arange(design.n_words)
    if blocks == "chars":
        return np.arange(design.n_words, n)
    return np.arange(n)


def fit_predict(spec: dict, train_docs, y, stop, n_labels, predict_docs, weights=None, extra_fit_docs=()):
    """Fit a model of `spec` on train_docs (vocabulary/IDF from train_docs + extra_fit_docs) and return
    the decision scores of each list in predict_docs. spec: model, C, blocks (all|words|chars),
    max_features (0 = all), orders."""
    design = Design(list(train_docs) + list(extra_fit_docs), stop, spec.get("orders", (1, 2, 3)))
    cnt = design.counts(list(train_docs))
    w = None if weights is None else np.asarray(weights, np.float64)
    cols = block_cols(design, spec.get("blocks", "all"))
    X, cols = design.matrix(cnt, cols)
    W, b = linear(spec, X, y, w, n_labels)
    k = spec.get("max_features", 50000)
    if k and len(cols) > k:
        strength = np.abs(W).max(axis=1)
        cols = cols[np.sort(np.argsort(-strength)[:k])]
        X, cols = design.matrix(cnt, cols)
        W, b = linear(spec, X, y, w, n_labels)
    out = []
    for docs in predict_docs:
        if not len(docs):
            out.append(np.zeros((0, n_labels)))
            continue
        Xp, _ = design.matrix(design.counts(list(docs)), cols)
        out.append(Xp @ W + b)
    return out
