"""Polite HTTP for collectors: per-host concurrency limit and spacing, conditional GET (ETag /
Last-Modified), timeouts, retries with exponential backoff and full jitter, and a User-Agent that says who
we are. Only collectors open sockets (DESIGN §2)."""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from monitor import __version__

USER_AGENT = f"yuqing-sentinel/{__version__} (+舆情哨兵 government duty-office monitor; polite, low-rate crawler)"
MAX_BYTES = 10 * 1024 * 1024  # a page or feed larger than this is not what we came for
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.I)


class FetchError(Exception):
    """A request that failed for good (after retries, or a status that retrying will not fix)."""


@dataclass
class Response:
    url: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def text(self) -> str:
        """Decoded by the declared charset, else the page's <meta>, else UTF-8, else GB18030 (common on
        Chinese government sites)."""
        candidates = []
        m = re.search(r"charset=([\w\-]+)", self.headers.get("content-type", ""), re.I)
        if m:
            candidates.append(m.group(1))
        m2 = _META_CHARSET.search(self.body[:4096])
        if m2:
            candidates.append(m2.group(1).decode("ascii"))
        for enc in [*candidates, "utf-8", "gb18030"]:
            try:
                return self.body.decode("gb18030" if enc.lower() in ("gb2312", "gbk") else enc)
            except (UnicodeDecodeError, LookupError):
                continue
        return self.body.decode("utf-8", "replace")


class Fetcher:
    """One per source; hosts are throttled independently."""

    def __init__(self, *, timeout: float = 20, retries: int = 3, delay: float = 1.0, concurrency: int = 2,
                 user_agent: str | None = None, session: aiohttp.ClientSession | None = None,
                 backoff_base: float = 0.5, backoff_cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.timeout, self.retries, self.delay, self.concurrency = timeout, retries, delay, concurrency
        self.user_agent = user_agent or USER_AGENT
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self._session, self._own = session, session is None
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._next_at: dict[str, float] = {}
        self._rng = rng or random.Random()

    @classmethod
    def for_source(cls, cfg) -> "Fetcher":
        return cls(timeout=cfg.timeout.timedelta().total_seconds(), retries=cfg.retries,
                   delay=cfg.delay.timedelta().total_seconds(), concurrency=cfg.concurrency,
                   user_agent=cfg.user_agent)

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)], so many retrying clients spread out."""
        return self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))

    async def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Response:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        host = urlsplit(url).netloc
        sem = self._sems.setdefault(host, asyncio.Semaphore(self.concurrency))
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        problem = ""
        for attempt in range(self.retries + 1):
            wait_hint = 0.0
            async with sem:
                await self._space(host)
                try:
                    async with self._session.get(url, headers=headers, allow_redirects=True,
                                                 timeout=aiohttp.ClientTimeout(total=self.timeout)) as r:
                        body = await r.content.read(MAX_BYTES + 1)
                        if len(body) > MAX_BYTES:
                            raise FetchError(f"{url}: 响应过大 (response larger than {MAX_BYTES} bytes)")
                        response = Response(str(r.url), r.status, body,
                                            {k.lower(): v for k, v in r.headers.items()})
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                    problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    response = None
            if response is not None:
                if response.status < 400 or response.status == 304:
                    return response
                problem = f"HTTP {response.status}"
                if response.status not in RETRY_STATUS:
                    raise FetchError(f"{url}: {problem}")
                wait_hint = _retry_after(response.headers.get("retry-after"))
            if attempt < self.retries:
                await asyncio.sleep(min(self.backoff_cap, max(wait_hint, self.backoff(attempt))))
        raise FetchError(f"{url}: {problem}（已重试 {self.retries} 次 / after {self.retries} retries）")

    async def _space(self, host: str) -> None:
        now = time.monotonic()
        at = max(now, self._next_at.get(host, now))
        self._next_at[host] = at + self.delay
        if at > now:
            await asyncio.sleep(at - now)


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0
