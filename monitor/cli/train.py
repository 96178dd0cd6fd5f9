"""yuqing train [PATH…] [--out FILE] [--cv K] [--with-corrections] [--json]"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from monitor.cli.common import InputError, load_config, run


def register(sub) -> None:
    p = sub.add_parser("train", help="训练领域分类模型 / train the domain classifier",
                       description="在训练数据（CSV：label 列，以及 tokens 列或 title/body 列）上训练领域分类模型，"
                       "先做分组交叉验证并报告指标，再用全部数据训练，写出模型文件（npz，不含可执行代码）。\n"
                       "Train the domain classifier on CSV files (label + tokens or title/body): grouped "
                       "cross-validation first, then a final fit on everything; writes a pickle-free npz model.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="CSV 文件或目录 / CSV files or folders")
    p.add_argument("--out", default=None, help="模型文件 / model file (default: domain.npz in the config's data_dir, "
                   "which the service then prefers over the shipped model)")
    p.add_argument("--cv", type=int, default=5, help="交叉验证折数，0 跳过 / CV folds, 0 to skip (default 5)")
    p.add_argument("--with-corrections", action="store_true",
                   help="加入人工研判更正的领域 / add the domain corrections stored in the database (--db)")
    p.add_argument("--model", choices=["svm", "logreg", "nbsvm", "svm+nbsvm"], default=None,
                   help="线性模型 / linear model (default svm)")
    p.add_argument("-C", type=float, default=None, help="正则化参数 / regularisation C")
    p.add_argument("--json", action="store_true", help="最后一行输出 JSON 指标 / print JSON figures as the last line")
    p.set_defaults(func=lambda a: run(_train(a)))


async def _train(args) -> int:
    try:
        from monitor.understanding.classifier import training
    except ImportError as exc:  # scikit-learn is the `train` extra
        raise InputError(f"训练需要 scikit-learn：pip install 'yuqing-sentinel[train]' ({exc})") from None
    from monitor.core.clock import SystemClock
    from monitor.understanding.classifier.domain import MODEL_FILE

    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.exists():
            raise InputError(f"{p}: not found (训练数据不存在)")
    try:
        examples = training.read_training(paths)
    except training.DataError as exc:
        raise InputError(str(exc)) from None
    if args.with_corrections:
        extra = await _corrections(args)
        print(f"人工更正 corrections: {len(extra)} 条", file=sys.stderr)
        examples += extra
    options = {k: v for k, v in {"model": args.model, "C": args.C}.items() if v is not None}
    started = time.perf_counter()
    meta = {"trained_at": SystemClock().now().isoformat(timespec="seconds"),
            "data": [str(p) for p in paths], "corrections": bool(args.with_corrections)}
    model, figures = training.train(examples, options, args.cv, log=lambda m: print(m, file=sys.stderr), meta=meta)
    out = Path(args.out) if args.out else load_config(args).data_path / MODEL_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    summary = {"model": str(out), "bytes": out.stat().st_size, "n": len(examples),
               "features": model.featurizer.n_features, "seconds": round(time.perf_counter() - started, 1)}
    if figures:
        summary |= {"cv_folds": figures["folds"], "cv_macro_f1": figures["macro_f1"],
                    "cv_accuracy": figures["accuracy"], "temperature": figures["temperature"]}
    print(f"模型已写入 model written: {out} ({summary['bytes'] / 1e6:.1f} MB)", file=sys.stderr)
    print(json.dumps(summary, ensure_ascii=False) if args.json else
          "  ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


async def _corrections(args):
    """Incidents whose domain a person corrected: the first item's text with the corrected label."""
    from monitor.understanding import segment
    from monitor.config.settings import database_url
    from monitor.store import Store
    from monitor.understanding.classifier.training import Example

    settings = load_config(args)
    store = await Store(database_url(settings, args.db)).open(migrate_schema=True)
    try:
        async with store.read() as tx:
            rows = await tx.incidents.domain_corrections()
    finally:
        await store.close()
    return [Example(segment.tokens(f"{r['title']}\n{r['body']}"), r["label"], "correction",
                    f"{r['title']}\n{r['body']}") for r in rows]
