"""Text → sparse TF-IDF features for the domain classifier, vectorised with numpy. Pure, no I/O.

The same code builds the training matrix (monitor.training) and scores messages at run time
(monitor.classify), so the two can never drift apart. Two blocks of features:

- words: the tokens left after dropping stop words and noise, looked up in a vocabulary;
- characters: 1-, 2- and 3-grams of the kept tokens joined together. A message's code points are packed
  into one uint64 per n-gram (21 bits a character), so a whole batch is keyed with a few numpy operations
  and looked up with `searchsorted` in a sorted key array. This makes the classifier robust to the
  segmentation differences between the training file (pre-tokenised) and our own tokenizer.

Each block is TF-IDF weighted (1 + log tf) and L2-normalised on its own, like two sklearn vectorisers
side by side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_NOISE = re.compile(r"[\W_]+|[A-Za-z]\d*|\d")  # punctuation, masked places (A, A1), single digits
_BITS = np.uint64(21)


def clean(tokens: list[str], stop: frozenset[str]) -> list[str]:
    """Tokens that carry meaning: no stop words, whitespace, punctuation, masks or single digits."""
    return [t for t in tokens if t not in stop and not _NOISE.fullmatch(t)]


def char_keys(joined: list[str], orders: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(doc index, n-gram key) for every character n-gram of every document, in document order.

    Keys of different orders never collide: a key of order n is ≥ 2**(21*(n-1)) because no character
    is NUL, and < 2**(21*n)."""
    if not joined:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    text = "\x00".join(joined) + "\x00"
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    doc = np.cumsum(codes == 0) - (codes == 0)  # the NUL closing document i still belongs to i
    docs, keys = [], []
    n_codes = len(codes)
    for n in orders:
        if n_codes < n:
            continue
        key = codes[: n_codes - n + 1].copy()
        ok = key != 0
        for k in range(1, n):
            nxt = codes[k: n_codes - n + 1 + k]
            key = (key << _BITS) | nxt
            ok &= nxt != 0
        docs.append(doc[: n_codes - n + 1][ok])
        keys.append(key[ok])
    return np.concatenate(docs).astype(np.int64), np.concatenate(keys)


@dataclass
class Triplets:
    """Sparse rows as (row, column, value) arrays, rows sorted."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    n_rows: int


def tfidf(doc: np.ndarray, feat: np.ndarray, n_docs: int, idf: np.ndarray) -> Triplets:
    """Sublinear TF-IDF, L2-normalised per document, from one (doc, feature) pair per occurrence."""
    n_feat = np.int64(len(idf))
    combined = np.unique(doc * n_feat + feat, return_counts=True)
    pairs, counts = combined
    rows, cols = pairs // n_feat, pairs % n_feat
    values = (1.0 + np.log(counts)) * idf[cols]
    norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=n_docs))
    values = values / np.where(norms > 0, norms, 1.0)[rows]
    return Triplets(rows, cols, values.astype(np.float32), n_docs)


@dataclass
class Featurizer:
    """Vocabulary and IDF of both blocks; built by monitor.training, stored in the model file."""

    words: dict[str, int]
    word_idf: np.ndarray  # float32, len(words)
    char_keys: np.ndarray  # uint64, sorted
    char_idf: np.ndarray  # float32, len(char_keys)
    stop: frozenset[str]
    orders: tuple[int, ...] = (1, 2, 3)

    @property
    def n_features(self) -> int:
        return len(self.words) + len(self.char_keys)

    def transform(self, docs: list[list[str]], cleaned: bool = False) -> Triplets:
        """Rows of features for token lists (cleaned here unless `cleaned`); word columns first."""
        kept = docs if cleaned else [clean(d, self.stop) for d in docs]
        n = len(kept)
        # words
        lookup = self.words.get
        w_doc, w_feat = [], []
        for i, d in enumerate(kept):
            ids = [j for j in map(lookup, d) if j is not None]
            w_feat.extend(ids)
            w_doc.extend([i] * len(ids))
        words = tfidf(np.asarray(w_doc, np.int64), np.asarray(w_feat, np.int64), n, self.word_idf)
        # characters
        c_doc, keys = char_keys(["".join(d) for d in kept], self.orders)
        pos = np.searchsorted(self.char_keys, keys)
        pos = np.minimum(pos, max(len(self.char_keys) - 1, 0))
        hit = self.char_keys[pos] == keys if len(self.char_keys) else np.zeros(len(keys), bool)
        chars = tfidf(c_doc[hit], pos[hit].astype(np.int64), n, self.char_idf)
        offset = len(self.words)
        rows = np.concatenate([words.rows, chars.rows])
        order = np.argsort(rows, kind="stable")
        return Triplets(rows[order], np.concatenate([words.cols, chars.cols + offset])[order],
                        np.concatenate([words.values, chars.values])[order], n)
