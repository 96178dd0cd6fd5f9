"""Cross-validated figures of the domain classifier for several model options.

    .venv/bin/python bench/classifier_cv.py [--folds 5] [--option NAME ...]

Grouped, stratified k-fold over both files of ../shared/data/train/ (near-duplicates never straddle a
fold). Prints one line per option: macro-F1 overall, on pre-tokenised rows and on raw rows segmented by
our tokenizer, accuracy, and the seconds it took. Needs the `train` extra (scikit-learn).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import training  # noqa: E402

TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "train"

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
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--option", action="append", choices=sorted(OPTIONS))
    ap.add_argument("--data", type=Path, default=TRAIN)
    args = ap.parse_args()
    started = time.perf_counter()
    examples = training.read_training([args.data])
    stop = training.derive_stopwords(examples)
    splits = training.folds(examples, args.folds)
    print(f"{len(examples)} examples, {len(stop)} stop words, {args.folds} grouped folds "
          f"({time.perf_counter() - started:.1f}s to read and group)", flush=True)
    for name in args.option or list(OPTIONS):
        t = time.perf_counter()
        cv = training.cross_validate(examples, stop, OPTIONS[name], splits=splits)
        cv.pop("predictions")
        print(f"{name:32s} macro-F1 {cv['macro_f1']:.4f} (tokens {cv['macro_f1_tokens']:.4f}, raw "
              f"{cv['macro_f1_raw']:.4f})  accuracy {cv['accuracy']:.4f}  T={cv['temperature']}  "
              f"{time.perf_counter() - t:.0f}s", flush=True)
        print(json.dumps({"option": name, **{k: v for k, v in cv.items() if k != 'per_class'}},
                         ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
