"""yuqing eval PATH --format json|text [--model FILE]"""

from __future__ import annotations

import json
import time
from pathlib import Path

from monitor.cli.common import InputError, load_config, run


def register(sub) -> None:
    p = sub.add_parser("eval", help="评估领域分类模型 / score the domain classifier on a labelled CSV",
                       description="在带 label 列（以及 title/body 或 tokens 列）的 CSV 上评估领域分类器。"
                       "--format json 时最后一行为 {n, accuracy, macro_f1, per_class, seconds}。\n"
                       "Score the classifier on a CSV with a label column and title/body or tokens.")
    p.add_argument("path", metavar="PATH", help="带 label 列的 CSV 文件 / a CSV file with a label column")
    p.add_argument("--format", choices=["json", "text"], default="text",
                   help="text 先打印可读结果；两者最后一行都是 JSON / text adds a readable report; the last line is JSON")
    p.add_argument("--model", default=None, help="模型文件 / model file (default: the packaged model)")
    p.set_defaults(func=lambda a: run(_eval(a)))


async def _eval(args) -> int:
    from monitor.understanding.classifier.domain import DomainModel, ModelError, model_path
    from monitor.understanding.classifier.training import DataError, read_csv, scores

    started = time.perf_counter()
    try:
        model = DomainModel.load(Path(args.model) if args.model else model_path(load_config(args).data_path))
    except ModelError as exc:
        raise InputError(str(exc)) from None
    try:
        examples = read_csv(Path(args.path))
    except DataError as exc:
        raise InputError(str(exc)) from None
    predictions = []
    for start in range(0, len(examples), 2000):
        chunk = examples[start:start + 2000]
        predictions += [p.label for p in model.predict_tokens([e.tokens for e in chunk], explain=False)]
    result = scores([e.label for e in examples], predictions)
    result["seconds"] = round(time.perf_counter() - started, 3)
    if args.format == "text":
        print(f"n={result['n']}  accuracy={result['accuracy']:.4f}  macro-F1={result['macro_f1']:.4f}")
        for label, s in result["per_class"].items():
            print(f"  {label:10s} P={s['precision']:.3f} R={s['recall']:.3f} F1={s['f1']:.3f} n={s['support']}")
    print(json.dumps(result, ensure_ascii=False))
    return 0
