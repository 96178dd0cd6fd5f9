"""Government message boards and 领导信箱: list pages → detail pages, read with CSS selectors (selectolax).

Page by page, newest first, until a page holds a message already seen (or max_pages); each page's messages
and the cursor after it are stored in one transaction, so a crawl interrupted by a restart resumes at the
next page. Messages seen without a reply are re-read a few per poll: a reply (text and time) that appears
later updates the item, is kept in its history and noted in the incident's timeline.
Page content is hostile data: it is only ever stored as text and escaped when shown.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urljoin

from loguru import logger
from selectolax.lexbor import LexborHTMLParser as HTMLParser, LexborNode as Node

from monitor.core.model import RawItem
from monitor.understanding.normalize import clean_display
from monitor.sources.base import PollContext
from monitor.core.errors import Reject
from monitor.sources.hotline_export import MAX_FIELD, parse_time

SEEN_CAP = 5000  # ids remembered to stop pagination (the store is the real de-duplication)
PENDING_CAP = 500  # unreplied messages remembered for re-reading
_TIME = re.compile(r"\d{4}\s*[-/年.]\s*\d{1,2}\s*[-/月.]\s*\d{1,2}\s*日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?")
_NUMBER = re.compile(r"\d+")
DETAIL_FIELDS = ("title", "body", "time", "reporter", "location", "likes", "status", "reply", "reply_time")


def find_time(text: str):
    """The first date/time in a text such as "留言时间：2026年11月20日 10:05" (Beijing), or None."""
    m = _TIME.search(text or "")
    if not m:
        return None
    value = re.sub(r"\s+", " ", m.group())
    value = re.sub(r"\s*([-/年月.])\s*", r"\1", value).replace(" 日", "日")
    try:
        return parse_time(value)
    except ValueError:
        try:
            return parse_time(re.sub(r"[年月.]", "-", value).replace("日", ""))
        except ValueError:
            return None


def _text(node: Node | None) -> str:
    return clean_display(node.text(separator="\n", strip=True)) if node is not None else ""


def parse_list(html: str, base_url: str, selectors: dict[str, str], id_pattern: str) -> tuple[list[tuple[str, str]], str | None]:
    """(message id, detail URL) pairs on a list page, and the next list page's URL if a selector finds it."""
    tree = HTMLParser(html)
    pattern = re.compile(id_pattern)
    out: list[tuple[str, str]] = []
    for node in tree.css(selectors.get("item", "li")):
        link = node if node.tag == "a" else node.css_first(selectors.get("link", "a"))
        href = (link.attributes.get("href") or "").strip() if link is not None else ""
        if not href or href.startswith(("javascript:", "#", "mailto:")):
            continue
        url = urljoin(base_url, href)
        m = pattern.search(href)
        ext = m.group(1) if m and m.groups() else (m.group() if m else url)
        if ext not in {e for e, _ in out}:
            out.append((ext[:200], url))
    next_url = None
    if selectors.get("next"):
        nxt = tree.css_first(selectors["next"])
        href = (nxt.attributes.get("href") or "").strip() if nxt is not None else ""
        if href and not href.startswith(("javascript:", "#")):
            next_url = urljoin(base_url, href)
    return out, next_url


def parse_detail(html: str, ext: str, url: str, source: str, selectors: dict[str, str]) -> RawItem | Reject:
    tree = HTMLParser(html)
    for tag in tree.css("script, style, noscript"):  # code in a page is never message text
        tag.decompose()
    values = {f: _text(tree.css_first(selectors[f])) for f in DETAIL_FIELDS if selectors.get(f)}
    record = {"id": ext, "url": url, **{k: v[:2000] for k, v in values.items()}}
    for f, v in values.items():
        if len(v) > MAX_FIELD:
            return Reject(0, f"字段过长 (field too long): {f} has {len(v)} characters", {"record": record})
    if not values.get("title") and not values.get("body"):
        return Reject(0, "详情页没有标题和内容 (no text on the detail page; check the selectors)", {"record": record})
    likes = _NUMBER.search(values.get("likes", ""))
    reply = values.get("reply", "")
    return RawItem(
        source=source, external_id=ext, title=values.get("title", ""), body=values.get("body", ""),
        occurred_at=find_time(values.get("time", "")), location=values.get("location", "")[:300],
        reporter=values.get("reporter", "")[:200], likes=int(likes.group()) if likes else 0,
        status=values.get("status", "")[:50] or ("已答复" if reply else ""), channel="留言板", reply=reply,
        replied_at=find_time(values.get("reply_time", "")) if reply else None,
        extra={"row": 0, "cells": {"url": url}},
    )


class BoardCollector:
    def __init__(self, cfg) -> None:
        self.cfg = cfg

    def _page_url(self, page: int) -> str | None:
        return self.cfg.url.replace("{page}", str(page)) if "{page}" in self.cfg.url else (
            self.cfg.url if page == 1 else None)

    async def poll(self, ctx: PollContext) -> None:
        cur = ctx.state.cursor
        seen: list[str] = cur.setdefault("seen", [])
        pending: dict[str, str] = cur.setdefault("pending", {})
        crawl = cur.get("crawl")  # an interrupted crawl: resume at its next page
        page, url = (crawl["page"], crawl["url"]) if crawl else (1, self._page_url(1))
        resuming = crawl is not None
        while url and page <= self.cfg.max_pages:
            first = page == 1 and not resuming
            response = await ctx.fetcher.get(url, *( (ctx.state.etag, ctx.state.last_modified) if first else ()))
            if response.not_modified:
                break
            if first:
                ctx.state.etag = response.headers.get("etag")
                ctx.state.last_modified = response.headers.get("last-modified")
            entries, next_url = parse_list(response.text(), response.url, self.cfg.selectors, self.cfg.id_pattern)
            known = set(seen)
            new = [(e, u) for e, u in entries if e not in known]
            records = await self._details(ctx, new)
            done = {r.external_id if isinstance(r, RawItem) else r.raw["record"]["id"] for r in records}
            seen.extend(e for e, _ in new if e in done)
            del seen[:-SEEN_CAP]
            for r in records:
                if isinstance(r, RawItem) and not r.reply:
                    pending[r.external_id] = r.extra["cells"]["url"]
            while len(pending) > PENDING_CAP:
                pending.pop(next(iter(pending)))
            reached_seen = len(new) < len(entries)
            next_url = next_url or self._page_url(page + 1)
            more = bool(entries) and next_url and page < self.cfg.max_pages and (resuming or not reached_seen)
            cur["crawl"] = {"page": page + 1, "url": next_url} if more else None
            await ctx.emit(records, url)
            if not more:
                break
            page, url = page + 1, next_url
        cur["crawl"] = None
        await self._recheck(ctx, pending)

    async def _details(self, ctx: PollContext, entries: list[tuple[str, str]]) -> list[RawItem | Reject]:
        async def one(ext: str, url: str):
            try:
                r = await ctx.fetcher.get(url)
            except Exception as exc:  # one broken detail page must not stop the crawl; retried next poll
                logger.warning("board {}: detail {} failed: {}", ctx.name, url, exc)
                return None
            return parse_detail(r.text(), ext, r.url, ctx.name, self.cfg.selectors)

        results = await asyncio.gather(*(one(e, u) for e, u in entries))
        return [r for r in results if r is not None]

    async def _recheck(self, ctx: PollContext, pending: dict[str, str]) -> None:
        """Re-read a few unreplied messages; emit those that now carry a reply."""
        if not pending or not self.cfg.recheck or "reply" not in self.cfg.selectors:
            return
        batch = list(pending.items())[: self.cfg.recheck]
        records = [r for r in await self._details(ctx, batch) if isinstance(r, RawItem)]
        replied = [r for r in records if r.reply]
        for ext, url in batch:  # rotate: re-read ones go to the back of the queue
            pending.pop(ext, None)
            if ext not in {r.external_id for r in replied}:
                pending[ext] = url
        if replied:
            await ctx.emit(replied, self.cfg.url)
        elif batch:
            await ctx.emit([], self.cfg.url)  # store the rotated queue
