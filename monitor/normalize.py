"""Text normalisation and content hashing. Pure."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WS = re.compile(r"\s+")
# Salutations and sign-offs that carry no meaning but make identical complaints look different.
_LEADING = re.compile(
    r"^(?:(?:尊敬的|敬爱的)[^，,：:！!。]{0,12}[，,：:！!]?|(?:各位)?领导[，,：:！!]|您好[，,：:！!。]?|你好[，,：:！!。]?)+"
)
_TRAILING = re.compile(r"(?:[，,。.！!]*(?:谢谢|感谢|万分感谢|此致敬礼|特此投诉|望处理|恳请处理|望回复)[！!。.，,]*)+$")
_END_PUNCT = re.compile(r"[\s。.！!？?，,；;~～]+$")


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), collapse whitespace, strip salutations and sign-offs."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = _WS.sub(" ", text).strip()
    text = _LEADING.sub("", text).strip()
    text = _TRAILING.sub("", text).strip()
    return _END_PUNCT.sub("", text)


def clean_display(text: str) -> str:
    """For showing: trim the tabs/newlines exporters pad cells with, keep paragraphs."""
    if not text:
        return ""
    lines = [_WS.sub(" ", line).strip() for line in str(text).replace("\r", "\n").split("\n")]
    return "\n".join(line for line in lines if line)


def content_hash(title: str, body: str) -> str:
    """Same complaint text → same hash, whatever the padding, width or salutation."""
    key = normalize(title) + "\n" + normalize(body)
    return hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest()
