"""Word segmentation: jieba with our own dictionaries (config/lexicons/*.dict: one `word [freq] [tag]` a
line), initialised once per process. The one place that knows which tokenizer is used."""

from __future__ import annotations

import threading
from pathlib import Path

import jieba

from monitor.settings import BUNDLED_CONFIG

_lock = threading.Lock()
_ready: set[Path] = set()
_tokenizer = jieba.Tokenizer()


def setup(lexicons: Path = BUNDLED_CONFIG / "lexicons") -> None:
    """Load the user dictionaries of `lexicons` (idempotent)."""
    with _lock:
        if lexicons in _ready:
            return
        import logging

        jieba.setLogLevel(logging.WARNING)
        _tokenizer.initialize()
        for path in sorted(lexicons.glob("*.dict")):
            _tokenizer.load_userdict(str(path))
        _ready.add(lexicons)


def tokens(text: str) -> list[str]:
    """Words of `text`, without whitespace tokens."""
    if not _ready:
        setup()
    return [t for t in _tokenizer.lcut(text, HMM=False) if t.strip()]
