"""Cross-validated figures of the domain classifier for several model options.

    .venv/bin/python bench/classifier_cv.py [--folds 5] [--split grouped|random] [--option NAME ...]

Grouped, stratified k-fold over both files of ../shared/data/train/ (near-duplicates never straddle a
fold); `--split random` is a plain stratified k-fold, which lets near-duplicates fall on both sides as a
random split of the board would. Prints one line per option: macro-F1 overall, on pre-tokenised rows and
on raw rows segmented by our tokenizer, accuracy, and the seconds it took. The option `baseline` is the
plain reference of ../shared/data/README.md (jieba words, TF-IDF 1–2-grams, LinearSVC). Needs the
`train` extra (scikit-learn).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.understanding.classifier import training  # noqa: E402

TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "train"


def splits_of(examples, kind: str, k: int = 5, seed: int = 0):
    """Grouped (near-duplicates in one fold, training.folds) or random stratified k-fold."""
    if kind == "grouped":
        return training.folds(examples, k, seed)
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(
        np.zeros(len(examples)), [e.label for e in examples]))

OPTIONS = {
    "svm-50k": {"model": "svm", "C": 0.5},
    "svm-C0.3-50k": {"model": "svm", "C": 0.3},
    "svm-C1-50k": {"model": "svm", "C": 1.0},
    "svm-20k": {"model": "svm", "C": 0.5, "max_features": 20000},
    "svm-100k": {"model": "svm", "C": 0.5, "max_features": 100000},
    "svm-all-features": {"model": "svm", "C": 0.5, "max_features": 0},
    "svm-chars23-50k": {"model": "svm", "C": 0.5, "orders": (2, 3)},
    "svm-balanced-50k": {"model": "svm", "C": 0.5, "class_weight": "balanced"},
    "logreg-C30-50k": {"model": "logreg", "C": 30.0},
    "nbsvm-50k": {"model": "nbsvm", "nb_C": 0.3},
    "svm+nbsvm-50k": {"model": "svm+nbsvm", "C": 0.5, "nb_C": 0.3},
    "svm+nbsvm-C1-50k": {"model": "svm+nbsvm", "C": 1.0, "nb_C": 0.3},
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--option", action="append", choices=sorted(OPTIONS) + ["baseline"])
    ap.add_argument("--data", type=Path, default=TRAIN)
    ap.add_argument("--split", choices=["grouped", "random"], default="grouped")
    args = ap.parse_args()
    started = time.perf_counter()
    examples = training.read_training([args.data])
    stop = training.derive_stopwords(examples)
    splits = splits_of(examples, args.split, args.folds)
    print(f"{len(examples)} examples, {len(stop)} stop words, {args.folds} {args.split} folds "
          f"({time.perf_counter() - started:.1f}s to read and group)", flush=True)
    result: dict = {"examples": len(examples), "folds": args.folds, "split": args.split, "options": {},
                    "goal_macro_f1": 0.94}
    for name in args.option or list(OPTIONS):
        t = time.perf_counter()
        if name == "baseline":
            cv = baseline(examples, splits)
        else:
            cv = training.cross_validate(examples, stop, OPTIONS[name], splits=splits)
        cv.pop("predictions")
        print(f"{name:32s} macro-F1 {cv['macro_f1']:.4f} (tokens {cv['macro_f1_tokens']:.4f}, raw "
              f"{cv['macro_f1_raw']:.4f})  accuracy {cv['accuracy']:.4f}  T={cv['temperature']}  "
              f"{time.perf_counter() - t:.0f}s", flush=True)
        print(json.dumps({"option": name, **{k: v for k, v in cv.items() if k != 'per_class'}},
                         ensure_ascii=False), flush=True)
        result["options"][name] = {k: cv[k] for k in ("macro_f1", "macro_f1_tokens", "macro_f1_raw", "accuracy")}
        result["options"][name]["seconds"] = round(time.perf_counter() - t, 1)
    from bench.result import emit

    emit(result)
    return 0


def baseline(examples, splits) -> dict:
    """jieba words (our segmentation of raw rows), TF-IDF of 1–2-grams, LinearSVC: the reference."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    def grams(tokens):
        words = [t for t in tokens if t.strip()]
        return words + [a + " " + b for a, b in zip(words, words[1:])]

    pred = [""] * len(examples)
    for train, test in splits:
        vec = TfidfVectorizer(analyzer=grams, sublinear_tf=True)
        X = vec.fit_transform([examples[i].tokens for i in train])
        model = LinearSVC().fit(X, [examples[i].label for i in train])
        for i, p in zip(test, model.predict(vec.transform([examples[i].tokens for i in test]))):
            pred[i] = p
    out = training.scores([e.label for e in examples], pred)
    for origin in ("raw", "tokens"):
        idx = [i for i, e in enumerate(examples) if e.origin == origin]
        sub = training.scores([examples[i].label for i in idx], [pred[i] for i in idx])
        out[f"macro_f1_{origin}"] = sub["macro_f1"]
    out |= {"temperature": None, "folds": len(splits), "predictions": pred}
    return out


if __name__ == "__main__":
    raise SystemExit(main())
