"""Training and cross-validation of the domain classifier (`yuqing train`). Fitting needs scikit-learn (the
`train` extra), imported only inside the fitting functions: reading CSVs and scoring (`yuqing eval`) work
without it, and the Understander never imports this module.

Data: CSV files with a `label` column and either `title`,`body` (raw messages, segmented here) or
`tokens` (already segmented, space-separated, stop words removed). Both are turned into token lists
and cleaned the same way (monitor.understanding.classifier.features.clean), so the model sees one kind of input.

Honest evaluation: the two shared files overlap (nearly every raw message is also in the token file)
and the token file holds near-duplicates (the same complaint posted twice). Examples are grouped by
near-duplicate clusters (Jaccard of word sets ≥ 0.6) and folds never split a group.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.understanding import segment
from monitor.understanding.classifier.domain import DomainModel
from monitor.understanding.classifier.features import Featurizer, char_keys, kept_tokens

# Default hyper-parameters, chosen by grouped 5-fold CV (docs/understanding.md).
DEFAULTS = {"model": "svm", "C": 0.5, "min_df_words": 2, "min_df_chars": 2, "orders": (1, 2, 3),
            "max_features": 50000}


@dataclass
class Example:
    tokens: list[str]
    label: str
    origin: str  # "raw" (title/body segmented here) | "tokens" (pre-segmented) | "correction"
    text: str = ""  # raw text when known (for stop-word derivation)


class DataError(ValueError):
    """A training or evaluation file that cannot be used; the message names the file, row and column."""


def read_csv(path: Path, require_label: bool = True) -> list[Example]:
    """Examples of one CSV: `tokens` or `title`+`body` (or a single `text`), and `label`."""
    csv.field_size_limit(sys.maxsize)
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    with handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        if require_label and "label" not in columns:
            raise DataError(f"{path}:1: no 'label' column (columns: {', '.join(sorted(columns))})")
        if "tokens" in columns:
            mode = "tokens"
        elif {"title", "body"} & columns or "text" in columns:
            mode = "raw"
        else:
            raise DataError(f"{path}:1: need a 'tokens' column or 'title'/'body' columns")
        out = []
        for n, row in enumerate(reader, start=2):
            label = (row.get("label") or "").strip()
            if require_label and not label:
                raise DataError(f"{path}:{n}: label: empty")
            if mode == "tokens":
                out.append(Example((row.get("tokens") or "").split(), label, "tokens"))
            else:
                text = "\n".join(x for x in (row.get("title"), row.get("body"), row.get("text")) if x)
                out.append(Example(segment.tokens(text), label, "raw", text))
    return out


def read_training(folder_or_files: list[Path]) -> list[Example]:
    files: list[Path] = []
    for p in folder_or_files:
        files.extend(sorted(p.glob("*.csv")) if p.is_dir() else [p])
    if not files:
        raise DataError(f"{', '.join(map(str, folder_or_files))}: no CSV files")
    out: list[Example] = []
    for f in files:
        out.extend(read_csv(f))
    return out


# --------------------------------------------------------------------------- near-duplicates and stop words
def near_duplicate_groups(docs: list[list[str]], threshold: float = 0.6) -> list[int]:
    """A group id per document; documents whose word sets overlap (Jaccard ≥ threshold) share one."""
    sets = [set(d) for d in docs]
    df = Counter(w for s in sets for w in s)
    index: dict[str, list[int]] = defaultdict(list)
    parent = list(range(len(docs)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, s in enumerate(sets):
        # Candidates share one of the document's rarer words.
        rare = sorted(s, key=lambda w: (df[w], w))[:8]  # ties by the word: the same groups in every process
        votes = Counter(j for w in rare for j in index[w])
        for j, _ in votes.most_common(5):
            union = len(s | sets[j])
            if union and len(s & sets[j]) / union >= threshold:
                parent[find(i)] = find(j)
        for w in rare:
            index[w].append(i)
    return [find(i) for i in range(len(docs))]


def one_per_group(docs: list[list[str]], min_words: int = 3) -> list[int]:
    """Indices of the first document of each near-duplicate group among those with ≥ `min_words` words
    (unlabelled pools for experiments: a complaint posted five times counts once)."""
    kept = [i for i, d in enumerate(docs) if len(d) >= min_words]
    seen: set[int] = set()
    out = []
    for i, g in zip(kept, near_duplicate_groups([docs[i] for i in kept])):
        if g not in seen:
            seen.add(g)
            out.append(i)
    return out


def derive_stopwords(examples: list[Example], min_count: int = 3, drop_rate: float = 0.9) -> frozenset[str]:
    """Stop words as the pre-tokenised file removed them: words of raw messages that (almost) never
    survive in their near-duplicate twin of the token file. Falls back to punctuation-only when there
    are no twins."""
    token_docs = [e for e in examples if e.origin == "tokens"]
    raw_docs = [e for e in examples if e.origin == "raw"]
    if not token_docs or not raw_docs:
        return frozenset()
    sets = [set(e.tokens) for e in token_docs]
    index: dict[str, list[int]] = defaultdict(list)
    df = Counter(w for s in sets for w in s)
    for i, s in enumerate(sets):
        for w in s:
            if df[w] <= 50:
                index[w].append(i)
    seen: Counter = Counter()
    dropped: Counter = Counter()
    for e in raw_docs:
        words = set(e.tokens)
        votes = Counter(j for w in words for j in index.get(w, ()))
        best, score = None, 0.0
        for j, _ in votes.most_common(5):
            jac = len(words & sets[j]) / len(words | sets[j])
            if jac > score:
                best, score = j, jac
        if best is None or score < 0.4:
            continue
        for w in e.tokens:
            seen[w] += 1
            if w not in sets[best]:
                dropped[w] += 1
    return frozenset(w for w, n in seen.items() if n >= min_count and dropped[w] / n >= drop_rate)


# --------------------------------------------------------------------------- features
def build_featurizer(docs: list[list[str]], stop: frozenset[str], min_df_words: int = 2,
                     min_df_chars: int = 2, orders: tuple[int, ...] = (1, 2, 3)) -> Featurizer:
    """Vocabularies and IDF (smooth, like sklearn) from cleaned token lists."""
    n = len(docs)
    df = Counter(w for d in docs for w in set(d))
    vocab = sorted(w for w, c in df.items() if c >= min_df_words)
    word_idf = np.array([math.log((1 + n) / (1 + df[w])) + 1 for w in vocab], np.float32)
    doc, keys = char_keys(docs, orders)
    pairs = np.unique(np.stack([keys, doc.astype(np.uint64)], axis=1), axis=0)
    uniq, counts = np.unique(pairs[:, 0], return_counts=True)
    keep = counts >= min_df_chars
    char_idf = (np.log((1 + n) / (1 + counts[keep])) + 1).astype(np.float32)
    return Featurizer({w: i for i, w in enumerate(vocab)}, word_idf, uniq[keep], char_idf, stop, tuple(orders))


def to_csr(featurizer: Featurizer, docs: list[list[str]]):
    from scipy.sparse import csr_matrix

    rows, cols, values, n = featurizer.triplets(docs)
    return csr_matrix((values, (rows, cols)), shape=(n, featurizer.n_features))  # duplicates add up


@dataclass
class FitResult:
    model: DomainModel
    seconds: float
    options: dict = field(default_factory=dict)


MODELS = ("svm", "logreg", "nbsvm", "svm+nbsvm")  # the linear models `yuqing train --model` offers


def _estimator(options: dict):
    if options["model"] == "svm":
        from sklearn.svm import LinearSVC

        return LinearSVC(C=options["C"], class_weight=options.get("class_weight"), random_state=0)
    if options["model"] == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=options["C"], max_iter=3000, class_weight=options.get("class_weight"))
    raise ValueError(f"unknown model {options['model']!r} ({', '.join(MODELS)})")


def _nbsvm(options: dict, X, y: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest SVMs on features scaled by naive-Bayes log-count ratios (Wang & Manning 2012). Still
    linear in the original features: weight = ratio × SVM weight."""
    from sklearn.svm import LinearSVC

    present = (X > 0).astype(np.float64)
    weights = np.zeros((X.shape[1], n_labels))
    intercept = np.zeros(n_labels)
    for k in range(n_labels):
        p = 1.0 + np.asarray(present[y == k].sum(axis=0)).ravel()
        q = 1.0 + np.asarray(present[y != k].sum(axis=0)).ravel()
        ratio = np.log((p / p.sum()) / (q / q.sum()))
        svm = LinearSVC(C=options.get("nb_C", 0.3), random_state=0)
        svm.fit(X.multiply(ratio).tocsr(), (y == k).astype(int))
        weights[:, k] = ratio * svm.coef_.ravel()
        intercept[k] = svm.intercept_[0]
    return weights, intercept


def _linear(options: dict, X, y: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    if options["model"] == "svm+nbsvm":  # the two, each scaled to unit spread of its training scores
        w1, b1 = _linear(dict(options, model="svm"), X, y, n_labels)
        w2, b2 = _nbsvm(options, X, y, n_labels)
        s1, s2 = np.std(X @ w1 + b1), np.std(X @ w2 + b2)
        return w1 / s1 + w2 / s2, b1 / s1 + b2 / s2
    if options["model"] == "nbsvm":
        return _nbsvm(options, X, y, n_labels)
    est = _estimator(options).fit(X, y)
    coef = np.asarray(est.coef_, np.float64)
    intercept = np.asarray(est.intercept_, np.float64)
    if coef.shape[0] == 1:  # two classes: sklearn keeps one row
        coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    return coef.T.copy(), intercept


def fit(examples: list[Example], stop: frozenset[str], options: dict | None = None,
        temperature: float = 1.0, meta: dict | None = None) -> FitResult:
    """Fit on all features, keep the `max_features` with the largest weights, fit again on those: a small
    model file and fewer lookups, with no loss in cross-validation."""
    opts = {**DEFAULTS, **(options or {})}
    if opts["model"] not in MODELS:
        raise ValueError(f"unknown model {opts['model']!r} ({', '.join(MODELS)})")
    started = time.perf_counter()
    docs = kept_tokens([e.tokens for e in examples], stop)
    labels = sorted({e.label for e in examples})
    y = np.array([labels.index(e.label) for e in examples])
    feat = build_featurizer(docs, stop, opts["min_df_words"], opts["min_df_chars"], tuple(opts["orders"]))
    weights, intercept = _linear(opts, to_csr(feat, docs), y, len(labels))
    if opts.get("max_features") and feat.n_features > opts["max_features"]:
        strength = np.abs(weights).max(axis=1)
        feat = feat.restrict(np.argsort(-strength)[: opts["max_features"]])
        weights, intercept = _linear(opts, to_csr(feat, docs), y, len(labels))
    model = DomainModel(feat, labels, weights.astype(np.float32), intercept.astype(np.float32),
                        temperature, meta=dict(meta or {}, options=_jsonable(opts)))
    return FitResult(model, time.perf_counter() - started, opts)


def _jsonable(opts: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()}


# --------------------------------------------------------------------------- evaluation
def scores(y_true: list[str], y_pred: list[str]) -> dict:
    """accuracy, macro-F1 and per-class precision/recall/F1/support (docs/design.md §5 figures)."""
    labels = sorted(set(y_true) | set(y_pred))
    per_class = {}
    for lab in labels:
        tp = sum(1 for t, p in zip(y_true, y_pred) if t == lab and p == lab)
        fp = sum(1 for t, p in zip(y_true, y_pred) if t != lab and p == lab)
        fn = sum(1 for t, p in zip(y_true, y_pred) if t == lab and p != lab)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[lab] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
                          "support": tp + fn}
    true_labels = [lab for lab in labels if per_class[lab]["support"]]
    macro = sum(per_class[lab]["f1"] for lab in true_labels) / len(true_labels) if true_labels else 0.0
    acc = sum(1 for t, p in zip(y_true, y_pred) if t == p) / len(y_true) if y_true else 0.0
    return {"n": len(y_true), "accuracy": round(acc, 4), "macro_f1": round(macro, 4), "per_class": per_class}


def folds(examples: list[Example], k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedGroupKFold

    groups = near_duplicate_groups([e.tokens for e in examples])
    y = [e.label for e in examples]
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, groups))


def cross_validate(examples: list[Example], stop: frozenset[str], options: dict | None = None, k: int = 5,
                   seed: int = 0, splits=None, log=None) -> dict:
    """Out-of-fold predictions of a grouped, stratified k-fold; figures overall and per origin, and the
    softmax temperature that best calibrates the out-of-fold decision scores (for confidence)."""
    splits = splits or folds(examples, k, seed)
    pred = [""] * len(examples)
    margins: list[np.ndarray] = []
    truth: list[int] = []
    labels = sorted({e.label for e in examples})
    for n, (train, test) in enumerate(splits, start=1):
        result = fit([examples[i] for i in train], stop, options)
        decision = result.model.decision([examples[i].tokens for i in test])
        for i, row in zip(test, decision):
            pred[i] = result.model.labels[int(np.argmax(row))]
        margins.append(decision)
        truth.extend(labels.index(examples[i].label) for i in test)
        if log:
            log(f"fold {n}/{len(splits)}: {result.seconds:.1f}s")
    out = scores([e.label for e in examples], pred)
    for origin in sorted({e.origin for e in examples}):
        idx = [i for i, e in enumerate(examples) if e.origin == origin]
        sub = scores([examples[i].label for i in idx], [pred[i] for i in idx])
        out[f"macro_f1_{origin}"] = sub["macro_f1"]
        out[f"n_{origin}"] = sub["n"]
    out["temperature"] = best_temperature(np.vstack(margins), np.array(truth))
    out["folds"] = len(splits)
    out["predictions"] = pred
    return out


def best_temperature(decision: np.ndarray, truth: np.ndarray) -> float:
    """Softmax temperature minimising the log loss of out-of-fold scores (a one-parameter calibration)."""
    best, best_loss = 1.0, float("inf")
    for t in np.geomspace(0.02, 5.0, 60):
        z = decision / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -float(np.mean(logp[np.arange(len(truth)), truth]))
        if loss < best_loss:
            best, best_loss = float(t), loss
    return round(best, 4)


# --------------------------------------------------------------------------- the whole run (`yuqing train`)
def train(examples: list[Example], options: dict | None = None, cv_folds: int = 5, log=print,
          meta: dict | None = None) -> tuple[DomainModel, dict]:
    """Stop words, grouped cross-validation (figures + temperature), then the final fit on everything."""
    stop = derive_stopwords(examples)
    log(f"训练样本 examples: {len(examples)}（{dict(Counter(e.origin for e in examples))}），停用词 stop words: {len(stop)}")
    figures: dict = {}
    temperature = 0.25
    if cv_folds and cv_folds > 1:
        cv = cross_validate(examples, stop, options, k=cv_folds, log=log)
        cv.pop("predictions")
        temperature = cv["temperature"]
        figures = {k: v for k, v in cv.items() if k != "per_class"} | {"per_class": cv["per_class"]}
        log(f"{cv_folds} 折分组交叉验证 grouped CV: macro-F1 {cv['macro_f1']:.4f}, accuracy {cv['accuracy']:.4f}")
    result = fit(examples, stop, options, temperature,
                 meta=dict(meta or {}, n_examples=len(examples), cv=figures,
                           origins=dict(Counter(e.origin for e in examples))))
    log(f"最终模型 final fit: {result.seconds:.1f}s, {result.model.featurizer.n_features} features")
    return result.model, figures
