"""Word segmentation: the jieba dictionary and algorithm plus our own dictionaries (config/lexicons/*.dict:
one `word [freq] [tag]` a line), initialised once per process. The one place that knows which tokenizer
is used.

Backend chosen by measurement (bench/classifier_speed.py, docs/understanding.md): rjieba, the Python
binding of jieba-rs (the same dictionary and algorithm in Rust), segments about 14× faster than jieba
and identically without HMM. jieba stays as a fallback (`YUQING_TOKENIZER=jieba`) and for comparison.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from monitor.settings import BUNDLED_CONFIG

_lock = threading.Lock()
_ready: set[Path] = set()
_words: set[str] = set()  # user words already added: adding one again would shift its suggested frequency
_backend: str = ""
_cut = None  # the bound segmentation function: str -> list[str]
_add = None  # adds a user word: (word, freq, tag) -> None


def _make_backend(name: str):
    if name == "rjieba":
        import rjieba

        seg = rjieba.Jieba()
        return seg, (lambda text: seg.cut(text, True)), (lambda w, f, t: seg.add_word(w, f, t))
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    seg = jieba.Tokenizer()
    seg.initialize()
    return seg, (lambda text: seg.lcut(text, HMM=True)), (lambda w, f, t: seg.add_word(w, f, t))


def setup(lexicons: Path = BUNDLED_CONFIG / "lexicons", backend: str | None = None) -> str:
    """Load the user dictionaries of `lexicons` (idempotent). Returns the backend in use."""
    global _backend, _cut, _add
    with _lock:
        wanted = backend or os.environ.get("YUQING_TOKENIZER") or _default_backend()
        if _cut is None or wanted != _backend:
            _, _cut, _add = _make_backend(wanted)
            _backend = wanted
            _ready.clear()
            _words.clear()
        if lexicons in _ready:
            return _backend
        for path in sorted(Path(lexicons).glob("*.dict")):
            for word, freq, tag in read_dict(path):
                if word not in _words:
                    _add(word, freq, tag)
                    _words.add(word)
        _ready.add(lexicons)
        return _backend


def reset() -> None:
    """Forget the backend and its user words: the next `setup` starts from jieba's dictionary."""
    global _backend, _cut, _add
    with _lock:
        _backend, _cut, _add = "", None, None
        _ready.clear()
        _words.clear()


def _default_backend() -> str:
    try:
        import rjieba  # noqa: F401

        return "rjieba"
    except ImportError:  # pragma: no cover - rjieba is a dependency; jieba is the fallback
        return "jieba"


def read_dict(path: Path) -> list[tuple[str, int | None, str | None]]:
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


def backend() -> str:
    if _cut is None:
        setup()
    return _backend


def cut(text: str) -> list[str]:
    """Raw segmentation of `text` (whitespace and punctuation tokens included)."""
    if _cut is None:
        setup()
    return _cut(text)


def tokens(text: str) -> list[str]:
    """Words of `text`, without whitespace tokens."""
    return [t for t in cut(text) if t.strip()]
