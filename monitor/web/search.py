"""Search over titles and texts (docs/dashboard.md, "当前"): Chinese has no spaces, so items are indexed as the words
the understanding's segmenter cuts them into (items.tokens, space-joined), and a query is cut by the same segmenter;
each query word matches a stored word that begins with it (化工 finds 化工厂). SQLite FTS5 or PostgreSQL full text
index the words (monitor/store/dashboard.py, migration 0014).

The indexer runs beside the web server: it segments items whose words are not stored yet, newest first, off the
import's path (segmenting costs ≈110 µs a message, a quarter of an import's time per row), so a new item is
searchable within about a second and a store migrated from before search is indexed in the background."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web
from loguru import logger

from monitor.understanding.understander import prepare
from monitor.web.auth import APP_KEY

_WORD = re.compile(r"\w+")
MAX_QUERY_WORDS = 12
MAX_WORD = 50
MAX_TEXT = 20_000  # characters of an item segmented for search (a longer one is searched on its beginning)
BATCH = 200  # items per round: ≈20 ms of segmenting, in a thread, so the event loop keeps answering
IDLE = 1.0  # seconds between rounds when nothing waits
INDEXER = web.AppKey("yuqing_search_indexer", object)


def query_words(segmenter, query: str) -> tuple[str, ...]:
    """The words of a typed query, cut as items are cut; only letters and digits (nothing a query syntax reads)."""
    out: list[str] = []
    for part in query.split():
        for token in segmenter.cut(prepare(part, "")):
            for w in _WORD.findall(token.lower()):
                if w not in out and len(out) < MAX_QUERY_WORDS:
                    out.append(w[:MAX_WORD])
    return tuple(out)


def item_words(segmenter, title: str, body: str) -> str:
    """An item's title and text as its space-joined words (what is stored in items.tokens)."""
    text = prepare(title or "", body or "")[:MAX_TEXT]
    return " ".join(w for token in segmenter.cut(text) for w in _WORD.findall(token.lower()))


async def index_pending(app, limit: int = BATCH) -> int:
    """Segment and store up to `limit` items not yet indexed; how many were."""
    async with app.store.read() as tx:
        pending = await tx.dashboard.unindexed(limit)
    if not pending:
        return 0
    segmenter = app.understander.segmenter
    rows = await asyncio.to_thread(lambda: [(i, t, b, item_words(segmenter, t, b)) for i, t, b in pending])
    async with app.store.write() as tx:
        await tx.dashboard.set_tokens(rows)
    return len(rows)


class Indexer:
    def __init__(self, app) -> None:
        self.app = app
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            done = 0
            try:
                done = await index_pending(self.app)
            except Exception as exc:  # a locked or unreachable store: try again next round
                logger.warning("search indexer: {}", exc)
            if done >= BATCH:
                await asyncio.sleep(0.05)  # more waiting: go on, after letting requests through
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), IDLE)
            except asyncio.TimeoutError:
                pass


def setup(web_app: web.Application) -> None:
    """Run the indexer while the web application runs."""

    async def indexer(web_app: web.Application):
        stop = asyncio.Event()
        web_app[INDEXER] = idx = Indexer(web_app[APP_KEY])
        task = asyncio.create_task(idx.run(stop), name="search-indexer")
        yield
        stop.set()
        idx.wake()
        try:
            await asyncio.wait_for(task, 10)
        except asyncio.TimeoutError:
            task.cancel()

    web_app.cleanup_ctx.append(indexer)
