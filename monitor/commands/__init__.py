"""CLI subcommands, one module per group; each exposes register(subparsers)."""

from monitor.commands import config_cmd, db_cmd, deadline_cmd, demo_cmd, import_cmd, ledger_cmd, serve_cmd

COMMANDS = [
    demo_cmd.register,
    import_cmd.register,
    serve_cmd.register,
    deadline_cmd.register,
    ledger_cmd.register,
    config_cmd.register,
    db_cmd.register,
]
