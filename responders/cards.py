"""The Card: what a chat message says, as lines of spans (plain, bold or link), before any platform's markup.

Apart from the renderer (render.py: a Card per payload, the formats, `fit()`) so that other words, such as
a grouped message (group_render.py), build Cards without importing the renderer that dispatches to them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Style = Literal["plain", "bold", "link"]


@dataclass(frozen=True)
class Span:
    text: str
    style: Style = "plain"
    href: str = ""


Line = tuple[Span, ...]


@dataclass(frozen=True)
class Mention:
    name: str  # shown
    mobile: str = ""  # @-mentioned where the platform can (DingTalk atMobiles, WeCom mentioned_mobile_list)


@dataclass(frozen=True)
class Card:
    title: str  # the notification preview (DingTalk markdown title, Feishu post title)
    lines: tuple[Line, ...]
    mentions: tuple[Mention, ...] = ()

    @property
    def mobiles(self) -> list[str]:
        return [m.mobile for m in self.mentions if m.mobile]

    def capped(self, cap: int) -> "Card":
        """Every text (title included) cut to at most `cap` characters, ending in … when cut."""
        return Card(_cut(self.title, cap), tuple(tuple(replace(s, text=_cut(s.text, cap)) for s in line)
                                                 for line in self.lines), self.mentions)

    def longest(self) -> int:
        return max([len(self.title)] + [len(s.text) for line in self.lines for s in line])


MARKS = {"特别重大": "🔴", "重大": "🟠", "较大": "🟡", "一般": "🔵"}


def clean(text: object) -> str:
    """One line, no control characters: scraped text never starts a line of its own."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(text or "")).split())


def _cut(text: str, cap: int) -> str:
    if len(text) <= cap:
        return text
    return text[: cap - 1] + "…" if cap > 0 else ""
