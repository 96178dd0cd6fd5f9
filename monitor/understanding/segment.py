"""Word segmentation: the jieba dictionary and algorithm plus our own dictionaries (lexicons/*.dict: one
`word [freq] [tag]` a line). The one place that knows which tokenizer is used.

A `Segmenter` belongs to one set of dictionaries: two Understanders loaded from different lexicons in one
process never shift each other's words. Segmenters are shared by the content of their dictionaries (the same
files copied to another folder give the same segmenter), since building one costs a dictionary load.

Backend chosen by measurement (bench/classifier_speed.py, docs/understanding.md): rjieba, the Python
binding of jieba-rs (the same dictionary and algorithm in Rust), segments about 14× faster than jieba
and identically without HMM. jieba stays as a fallback (`YUQING_TOKENIZER=jieba`) and for comparison.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from pathlib import Path
from typing import Callable

from monitor.config.settings import BUNDLED_CONFIG, BUNDLED_LEXICONS

Entry = tuple[str, int | None, str | None]


class Segmenter:
    def __init__(self, entries: list[Entry], backend: str) -> None:
        self.backend = backend
        cut, add = _make_backend(backend)
        seen: set[str] = set()
        for word, freq, tag in entries:
            if word not in seen:  # adding a word again would shift its suggested frequency
                add(word, freq, tag)
                seen.add(word)
        self._cut: Callable[[str], list[str]] = cut

    def cut(self, text: str) -> list[str]:
        """Raw segmentation of `text` (whitespace and punctuation tokens included)."""
        return self._cut(text)

    def tokens(self, text: str) -> list[str]:
        """Words of `text`, without whitespace tokens."""
        return [t for t in self._cut(text) if t.strip()]


_lock = threading.Lock()
_shared: dict[tuple, Segmenter] = {}


def for_lexicons(lexicons: Path | None = None, backend: str | None = None) -> Segmenter:
    """The segmenter of the dictionaries in `lexicons` (default: the bundled ones)."""
    lexicons = Path(lexicons) if lexicons is not None else BUNDLED_CONFIG / BUNDLED_LEXICONS
    backend = backend or os.environ.get("YUQING_TOKENIZER") or _default_backend()
    files = sorted(lexicons.glob("*.dict"))
    key = (backend, tuple(hashlib.sha256(p.read_bytes()).hexdigest() for p in files))
    with _lock:
        if key not in _shared:
            _shared[key] = Segmenter([e for p in files for e in read_dict(p)], backend)
        return _shared[key]


def _make_backend(name: str):
    if name == "rjieba":
        import rjieba

        seg = rjieba.Jieba()
        return (lambda text: seg.cut(text, True)), (lambda w, f, t: seg.add_word(w, f, t))
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    seg = jieba.Tokenizer()
    seg.initialize()
    return (lambda text: seg.lcut(text, HMM=True)), (lambda w, f, t: seg.add_word(w, f, t))


def _default_backend() -> str:
    try:
        import rjieba  # noqa: F401

        return "rjieba"
    except ImportError:  # pragma: no cover - rjieba is a dependency; jieba is the fallback
        return "jieba"


def read_dict(path: Path) -> list[Entry]:
    """`word [freq] [tag]` lines; '#' starts a comment."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        tag = parts[-1] if len(parts) > 1 and not parts[-1].isdigit() else None
        out.append((parts[0], freq, tag))
    return out


# The bundled dictionaries, for callers without a loaded Understander (training, eval, feed filters): looked
# up once, not per call (for_lexicons reads and hashes the dictionary files).
@functools.cache
def _bundled() -> Segmenter:
    return for_lexicons()


def cut(text: str) -> list[str]:
    return _bundled().cut(text)


def tokens(text: str) -> list[str]:
    return _bundled().tokens(text)
