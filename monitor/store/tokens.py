"""The used nonces of one-click action links (monitor/core/actiontoken.py): a link acts once.

`use` inserts the nonce under its primary key and skips a conflict, so of two requests racing with one link
exactly one gets True: on PostgreSQL the second INSERT waits for the first to commit, then does nothing; on
SQLite writers queue on BEGIN IMMEDIATE (db.Store.write)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from monitor.store.repos import _Repo
from monitor.store.schema import action_tokens


class TokenRepo(_Repo):
    async def use(self, nonce: str, incident_id: int, rule: str, action: str, used_by: str,
                  now: datetime) -> bool:
        """Mark the nonce used; False if it already was (by this or any other request)."""
        stmt = (self._insert(action_tokens)
                .values(nonce=nonce, incident_id=incident_id, rule=rule, action=action, used_at=now,
                        used_by=used_by[:200])
                .on_conflict_do_nothing(index_elements=["nonce"])
                .returning(action_tokens.c.nonce))
        return (await self.conn.execute(stmt)).first() is not None

    async def get(self, nonce: str) -> dict | None:
        """Who used the nonce and when, or None while it is unused."""
        row = (await self.conn.execute(select(action_tokens).where(action_tokens.c.nonce == nonce))).first()
        return dict(row._mapping) if row else None

    async def release(self, nonce: str) -> None:
        """Unuse a nonce whose action was refused (nothing changed), so the link can be tried again."""
        await self.conn.execute(delete(action_tokens).where(action_tokens.c.nonce == nonce))
