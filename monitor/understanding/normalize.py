"""Text normalisation and content hashing. Pure (the 繁→简 table is built once, lazily, from OpenCC).

`normalize` is on the import hot path (every row, twice), so the common case — simplified Chinese that is
already NFKC — costs a few C-level scans; the rarer work (NFKC, 繁→简, salutations) runs only when needed.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

# Salutations and sign-offs that carry no meaning but make identical complaints look different.
_LEADING = re.compile(
    r"^(?:(?:尊敬的|敬爱的)[^，,：:！!。]{0,12}[，,：:！!]?|(?:各位)?领导(?:好|您好|你们好)?[，,：:！!]|"
    r"您好[，,：:！!。]?|你好[，,：:！!。]?|\s+)+"
)
# Sign-offs, longest first (checked with endswith on the stripped end, never by scanning the text).
_SIGNOFFS = tuple(sorted(("谢谢", "感谢", "万分感谢", "谢谢领导", "谢谢您", "此致敬礼", "此致", "敬礼", "特此投诉",
                          "望处理", "恳请处理", "望回复", "望尽快处理", "盼复"), key=len, reverse=True))
_END_PUNCT = " \t\r\n。.！!？?，,；;~～"
# Full-width ASCII (！ → !, Ａ → A) and odd spaces: what NFKC does to most Chinese text. The common marks are
# replaced with C-level str.replace, the rest by a regex; full NFKC (≈50 µs on a 400-character CJK text)
# runs only if something else remains (①, ㎡, compatibility forms).
_COMMON_WIDE = (("，", ","), ("：", ":"), ("！", "!"), ("？", "?"), ("；", ";"), ("（", "("), ("）", ")"),
                ("\u3000", " "), ("\xa0", " "))
_WIDE = re.compile("[\uff01-\uff5e]")


def _narrow(m: re.Match) -> str:
    return chr(ord(m.group()) - 0xFEE0)


@functools.lru_cache(maxsize=1)
def _traditional() -> tuple[re.Pattern, object] | None:
    """(a pattern that finds characters OpenCC would simplify, the t2s converter); None without OpenCC."""
    try:
        import opencc
    except ImportError:  # pragma: no cover - opencc is a dependency; degrade to no conversion
        return None
    converter = opencc.OpenCC("t2s")
    chars = [chr(c) for c in range(0x4E00, 0xA000)]
    converted = converter.convert("\n".join(chars)).split("\n")
    trad = "".join(a for a, b in zip(chars, converted) if a != b)
    return re.compile("[" + re.escape(trad) + "]"), converter


def to_simplified(text: str) -> str:
    """繁→简, only when the text holds a traditional character (most input does not)."""
    table = _traditional()
    if table is None or not text:
        return text
    pattern, converter = table
    if pattern.search(text) is None:
        return text
    return converter.convert(text)


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), 繁→简, collapse whitespace, strip salutations and sign-offs."""
    if not text:
        return ""
    if not unicodedata.is_normalized("NFKC", text):
        for wide, narrow in _COMMON_WIDE:
            if wide in text:
                text = text.replace(wide, narrow)
        if _WIDE.search(text):
            text = _WIDE.sub(_narrow, text)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
    text = to_simplified(text)
    text = " ".join(text.split())
    text = _LEADING.sub("", text, count=1)
    return strip_signoff(text)


def strip_signoff(text: str) -> str:
    text = text.rstrip(_END_PUNCT)
    while text.endswith(_SIGNOFFS):
        for s in _SIGNOFFS:
            if text.endswith(s):
                text = text[: -len(s)].rstrip(_END_PUNCT)
                break
    return text


def clean_display(text: str) -> str:
    """For showing: trim the tabs/newlines exporters pad cells with, keep paragraphs."""
    if not text:
        return ""
    text = str(text)
    # " ".join(t.split()) = re.sub(r"\s+", " ", t).strip(): the same whitespace (str.isspace), ≈5× faster
    if "\n" not in text and "\r" not in text:
        return " ".join(text.split())
    lines = [" ".join(line.split()) for line in text.replace("\r", "\n").split("\n")]
    return "\n".join(line for line in lines if line)


def hash_normalized(title_norm: str, body_norm: str) -> str:
    key = title_norm + "\n" + body_norm
    return hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest()


def content_hash(title: str, body: str) -> str:
    """Same complaint text → same hash, whatever the padding, width, script or salutation."""
    return hash_normalized(normalize(title), normalize(body))
