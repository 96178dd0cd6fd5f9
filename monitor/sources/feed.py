"""News and 政务新媒体 feeds: RSS 2.0 and Atom (feedparser), JSON Feed (its own small decoder), conditional
GET, keyword filters so that a general news feed only yields entries about the jurisdiction.

Decoding (bytes → entries) is split from mapping (entry → RawItem), as miniflux does."""

from __future__ import annotations

import calendar
import hashlib
import json
from datetime import datetime, timezone

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from monitor.core.model import RawItem
from monitor.understanding.normalize import clean_display
from monitor.sources.base import PollContext
from monitor.core.errors import Reject
from monitor.sources.hotline_export import MAX_FIELD, parse_time


class FeedError(Exception):
    """The feed cannot be read at all."""


def strip_html(text: str) -> str:
    """Visible text of an HTML fragment (feeds carry HTML in summaries); never interpreted further."""
    if not text or "<" not in text:
        return clean_display(text or "")
    tree = HTMLParser(text)
    for tag in tree.css("script, style"):
        tag.decompose()
    root = tree.body or tree.root
    return clean_display(root.text(separator="\n", strip=True) if root is not None else "")


def decode(body: bytes, content_type: str = "") -> list[dict]:
    """Entries as plain dicts {id, title, summary, link, published (aware datetime or None)}."""
    head = body.lstrip()[:1]
    if head in (b"{", b"[") or "json" in content_type:
        return _decode_json_feed(body)
    import feedparser

    parsed = feedparser.parse(body, response_headers={"content-type": content_type} if content_type else None)
    if parsed.bozo and not parsed.entries:
        raise FeedError(f"无法解析订阅源 (not a feed): {parsed.get('bozo_exception')}")
    out = []
    for e in parsed.entries:
        content = (e.get("content") or [{}])[0].get("value") if e.get("content") else None
        stamp = e.get("published_parsed") or e.get("updated_parsed")
        out.append({"id": e.get("id") or e.get("link") or "", "title": e.get("title", ""),
                    "summary": content or e.get("summary", ""), "link": e.get("link", ""),
                    "published": datetime.fromtimestamp(calendar.timegm(stamp), timezone.utc) if stamp else None})
    return out


def _decode_json_feed(body: bytes) -> list[dict]:
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(f"JSON Feed 无法解析 (bad JSON Feed): {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise FeedError("JSON Feed 缺少 items (not a JSON Feed: no items list)")
    out = []
    for it in doc["items"]:
        if not isinstance(it, dict):
            continue
        try:
            published = parse_time(it.get("date_published") or it.get("date_modified"))
        except (ValueError, TypeError):
            published = None
        out.append({"id": str(it.get("id") or it.get("url") or ""), "title": str(it.get("title") or ""),
                    "summary": str(it.get("content_html") or it.get("content_text") or it.get("summary") or ""),
                    "link": str(it.get("url") or ""), "published": published})
    return out


def term_tokens(terms: list[str]) -> list[list[str]]:
    from monitor.understanding.segment import tokens

    return [tokens(t) for t in terms if t.strip()]


def mentions(text_tokens: list[str], terms: list[list[str]]) -> list[str]:
    """Terms that occur in the text as whole words (a run of the text's tokens): 西山 does not match 西山区."""
    found = []
    for term in terms:
        n = len(term)
        if n and any(text_tokens[i : i + n] == term for i in range(len(text_tokens) - n + 1)):
            found.append("".join(term))
    return found


def keep(title: str, body: str, include: list[list[str]], exclude: list[list[str]]) -> bool:
    if not include and not exclude:
        return True
    from monitor.understanding.segment import tokens

    words = tokens(f"{title}\n{body}")
    if exclude and mentions(words, exclude):
        return False
    return not include or bool(mentions(words, include))


def to_item(entry: dict, source: str) -> RawItem | Reject:
    title, body = strip_html(entry["title"]), strip_html(entry["summary"])
    record = {"id": entry["id"], "title": title[:2000], "body": body[:2000], "url": entry["link"]}
    if not title and not body:
        return Reject(0, "订阅条目没有标题和内容 (feed entry without text)", {"record": record})
    if len(title) > MAX_FIELD or len(body) > MAX_FIELD:
        return Reject(0, "字段过长 (field too long)", {"record": record})
    ext = entry["id"] or "h:" + hashlib.blake2b(f"{title}\n{body}".encode(), digest_size=12).hexdigest()
    return RawItem(source=source, external_id=ext[:200], title=title, body=body, occurred_at=entry["published"],
                   channel="新闻/新媒体", extra={"row": 0, "cells": {"url": entry["link"]}})


class FeedCollector:
    def __init__(self, cfg) -> None:
        self.cfg = cfg
        self._include = self._exclude = None

    async def poll(self, ctx: PollContext) -> None:
        if self._include is None:
            self._include, self._exclude = term_tokens(self.cfg.include), term_tokens(self.cfg.exclude)
        response = await ctx.fetcher.get(self.cfg.url, ctx.state.etag, ctx.state.last_modified)
        if response.not_modified:
            ctx.state.cursor["last_status"] = 304
            return
        entries = decode(response.body, response.headers.get("content-type", ""))
        records, dropped = [], 0
        for entry in entries:
            record = to_item(entry, ctx.name)
            if isinstance(record, RawItem) and not keep(record.title, record.body, self._include, self._exclude):
                dropped += 1  # not about the jurisdiction: not a record of ours
                continue
            records.append(record)
        ctx.state.etag = response.headers.get("etag")
        ctx.state.last_modified = response.headers.get("last-modified")
        ctx.state.cursor.update({"last_status": response.status, "entries": len(entries),
                                 "filtered_out": ctx.state.cursor.get("filtered_out", 0) + dropped})
        await ctx.emit(records, self.cfg.url)
