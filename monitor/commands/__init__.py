"""CLI subcommands, one module per group; each exposes register(subparsers)."""

from monitor.commands import (
    classify_cmd,
    config_cmd,
    db_cmd,
    deadline_cmd,
    demo_cmd,
    eval_cmd,
    import_cmd,
    incidents_cmd,
    ledger_cmd,
    quarantine_cmd,
    serve_cmd,
    sources_cmd,
    train_cmd,
    triage_cmd,
)

COMMANDS = [
    demo_cmd.register,
    import_cmd.register,
    serve_cmd.register,
    deadline_cmd.register,
    ledger_cmd.register,
    classify_cmd.register,
    triage_cmd.register,
    train_cmd.register,
    eval_cmd.register,
    config_cmd.register,
    db_cmd.register,
    sources_cmd.register,
    quarantine_cmd.register,
    incidents_cmd.register,
]
