"""Polite HTTP for collectors: per-host concurrency limit and spacing, conditional GET (ETag /
Last-Modified), timeouts, retries with exponential backoff and full jitter, a User-Agent that says who
we are, and (for crawlers) robots.txt as RFC 9309 reads it. Only collectors open sockets (docs/design.md §2)."""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import aiohttp

from monitor import __version__

USER_AGENT = f"yuqing-sentinel/{__version__} (+舆情哨兵 government duty-office monitor; polite, low-rate crawler)"
MAX_BYTES = 10 * 1024 * 1024  # a page or feed larger than this is not what we came for
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
ROBOTS_TTL = 24 * 3600.0  # RFC 9309: a cached robots.txt should not be used for more than 24 hours
MAX_CRAWL_DELAY = 300.0  # a site's Crawl-delay is honoured up to this many seconds between requests
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
                 backoff_base: float = 0.5, backoff_cap: float = 30.0, rng: random.Random | None = None,
                 robots: bool = False) -> None:
        self.timeout, self.retries, self.delay, self.concurrency = timeout, retries, delay, concurrency
        self.robots = robots
        self._robots: dict[str, tuple[float, RobotFileParser | None]] = {}  # origin -> (fetched at, rules)
        self.user_agent = user_agent or USER_AGENT
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self._session, self._own = session, session is None
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._next_at: dict[str, float] = {}
        self._delays: dict[str, float] = {}  # host -> spacing asked for by its robots.txt (Crawl-delay)
        self._rng = rng or random.Random()

    @classmethod
    def for_source(cls, cfg) -> "Fetcher":
        return cls(timeout=cfg.timeout.timedelta().total_seconds(), retries=cfg.retries,
                   delay=cfg.delay.timedelta().total_seconds(), concurrency=cfg.concurrency,
                   user_agent=cfg.user_agent, robots=getattr(cfg, "robots", False))

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)], so many retrying clients spread out."""
        return self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))

    async def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Response:
        if self.robots:
            await self._allowed(url)
        return await self._get(url, etag, last_modified)

    async def _allowed(self, url: str) -> None:
        """Raise FetchError if the site's robots.txt disallows `url` for our User-Agent. RFC 9309: a 4xx
        robots.txt means no rules; a 5xx or no answer means "assume everything is disallowed" (not cached,
        so the next poll asks again)."""
        parts = urlsplit(url)
        origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        fetched_at, rules = self._robots.get(origin, (None, None))
        if fetched_at is None or time.monotonic() - fetched_at > ROBOTS_TTL:
            try:
                response = await self._get(origin + "/robots.txt", client_errors=True)
            except FetchError as exc:
                raise FetchError(f"{url}: robots.txt 无法读取，按 RFC 9309 暂不抓取 (robots.txt unreachable: {exc})") \
                    from None
            rules = None
            if response.status < 400:
                rules = RobotFileParser()
                rules.parse(response.text().splitlines())
            self._robots[origin] = (time.monotonic(), rules)
            wait = rules.crawl_delay(self.user_agent) if rules is not None else None
            if wait:
                self._delays[parts.netloc] = min(MAX_CRAWL_DELAY, float(wait))
            else:
                self._delays.pop(parts.netloc, None)
        if rules is not None and not rules.can_fetch(self.user_agent, url):
            raise FetchError(f"{url}: robots.txt 不允许抓取 (disallowed by robots.txt for "
                             f"{self.user_agent.split('/')[0]})")

    async def _get(self, url: str, etag: str | None = None, last_modified: str | None = None,
                   client_errors: bool = False) -> Response:
        """GET with retries; a 4xx answer is returned instead of raised when `client_errors`."""
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
                        body = await _read_body(r.content, url)
                        response = Response(str(r.url), r.status, body,
                                            {k.lower(): v for k, v in r.headers.items()})
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                    problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    response = None
            if response is not None:
                if response.status < 400 or response.status == 304:
                    return response
                problem = f"HTTP {response.status}"
                if client_errors and response.status < 500 and response.status not in RETRY_STATUS:
                    return response
                if response.status not in RETRY_STATUS:
                    raise FetchError(f"{url}: {problem}")
                wait_hint = _retry_after(response.headers.get("retry-after"))
            if attempt < self.retries:
                await asyncio.sleep(min(self.backoff_cap, max(wait_hint, self.backoff(attempt))))
        raise FetchError(f"{url}: {problem}（已重试 {self.retries} 次 / after {self.retries} retries）")

    async def _space(self, host: str) -> None:
        now = time.monotonic()
        at = max(now, self._next_at.get(host, now))
        self._next_at[host] = at + max(self.delay, self._delays.get(host, 0.0))
        if at > now:
            await asyncio.sleep(at - now)


async def _read_body(content: aiohttp.StreamReader, url: str) -> bytes:
    """The whole body, at most MAX_BYTES. One read() returns only what has arrived so far (a page that comes
    in several network reads was once taken whole after its first), so read to the end; a body that never
    ends is cut by the request's total timeout."""
    chunks, size = [], 0
    while chunk := await content.read(MAX_BYTES + 1 - size):
        size += len(chunk)
        if size > MAX_BYTES:
            raise FetchError(f"{url}: 响应过大 (response larger than {MAX_BYTES} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0
