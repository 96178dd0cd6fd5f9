"""CLI subcommands, one module per group; each exposes register(subparsers). The one arrow that runs back up."""

from monitor.cli import (
    classify,
    config,
    db,
    deadlines,
    demo,
    digest,
    eval,
    imports,
    incidents,
    ledger,
    quarantine,
    report,
    serve,
    sources,
    train,
    triage,
)

COMMANDS = [
    demo.register,
    imports.register,
    serve.register,
    deadlines.register,
    ledger.register,
    digest.register,
    report.register,
    classify.register,
    triage.register,
    train.register,
    eval.register,
    config.register,
    db.register,
    sources.register,
    quarantine.register,
    incidents.register,
]
