"""CLI subcommands, one module per group; each exposes register(subparsers)."""

from monitor.commands import config_cmd, db_cmd, demo_cmd, import_cmd, incidents_cmd, quarantine_cmd, serve_cmd, sources_cmd

COMMANDS = [
    demo_cmd.register,
    import_cmd.register,
    serve_cmd.register,
    config_cmd.register,
    db_cmd.register,
    sources_cmd.register,
    quarantine_cmd.register,
    incidents_cmd.register,
]
