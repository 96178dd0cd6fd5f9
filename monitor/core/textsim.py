"""How alike two texts are, by their character 3-grams: a pure measure for rules that must say "this is
plainly another text" (a re-imported id that now holds another complaint)."""

from __future__ import annotations


def grams(text: str, n: int = 3) -> set[str]:
    """Character n-grams; a text shorter than n is its own gram (an empty text has none)."""
    if len(text) <= n:
        return {text} if text else set()
    return {text[i:i + n] for i in range(len(text) - n + 1)}


def jaccard(a: str, b: str, n: int = 3) -> float:
    """|A ∩ B| / |A ∪ B| of the two texts' n-gram sets; 1.0 when both are empty."""
    ga, gb = grams(a, n), grams(b, n)
    if not ga and not gb:
        return 1.0
    return len(ga & gb) / len(ga | gb)
