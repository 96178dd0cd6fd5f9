"""Developer tool: autogenerate a migration from schema.py against a scratch SQLite database.

    python -m monitor.store.revision "add x to y"
"""

import asyncio
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config

from monitor.store.db import MIGRATIONS, make_engine, migrate


async def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        await migrate(engine)

        def _revise(sync_conn):
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = sync_conn
            command.revision(cfg, message=message, autogenerate=True)

        async with engine.begin() as conn:
            await conn.run_sync(_revise)
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(" ".join(sys.argv[1:]) or "change"))
