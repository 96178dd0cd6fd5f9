"""Text → sparse TF-IDF features for the domain classifier, vectorised with numpy. Pure, no I/O.

The same code builds the training matrix (monitor.understanding.classifier.training) and scores messages at run time
(monitor.understanding.classifier.domain), so the two cannot drift apart. A batch of token lists is turned into numpy arrays
once (`analyse`): every token gets a uint64 key (its code points packed, 21 bits each, when it has at
most three characters, else a polynomial hash with the top bit set), and a mask of the tokens that carry
meaning (no stop words, punctuation, masks like A1, lone digits). Keys are looked up in open-addressing
hash tables held in numpy arrays — no per-token Python work after segmentation. Two feature blocks:

- words: the kept tokens found in the vocabulary;
- characters: 1-, 2- and 3-grams of the kept tokens' characters (within a document), which make the
  model robust to segmentation differences between the pre-tokenised training file and our tokenizer.

Values: idf per occurrence (raw term frequency), each block divided by sqrt(Σ idf²) over the document's
occurrences. Unlike sublinear TF this needs no per-document de-duplication (no sort), which keeps
classification above 20,000 messages/s on one core; cross-validation shows no loss (docs/understanding.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain

import numpy as np

_BITS = np.uint64(21)
_MUL = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing
_POW = np.cumprod(np.full(32, np.uint64(1_000_003)), dtype=np.uint64) // np.uint64(1_000_003)  # P**i
_TOP = np.uint64(1) << np.uint64(63)


def _char_classes() -> np.ndarray:
    """Bit flags per BMP code point: 1 carries meaning (letter, digit, CJK), 2 ASCII digit, 4 ASCII letter."""
    cp = np.arange(0x10000)
    digit = (cp >= 48) & (cp <= 57)
    letter = ((cp >= 65) & (cp <= 90)) | ((cp >= 97) & (cp <= 122))
    wordish = digit | letter | ((cp >= 0x3400) & (cp <= 0x9FFF)) | ((cp >= 0xF900) & (cp <= 0xFAFF)) \
        | ((cp >= 0xC0) & (cp <= 0x24F) & (cp != 0xD7) & (cp != 0xF7))
    return (wordish * 1 + digit * 2 + letter * 4).astype(np.uint8)


_WORDISH, _DIGIT, _LETTER = 1, 2, 4
_CLASS = _char_classes()


class KeyTable:
    """uint64 key → index, an open-addressing hash table (linear probing) in two numpy arrays, sized for
    a load factor ≤ 1/3: small enough for the CPU caches, and most lookups end at the first slot."""

    def __init__(self, keys: np.ndarray) -> None:
        keys = np.asarray(keys, np.uint64)
        self.bits = max(4, int(np.ceil(np.log2(max(len(keys), 1) * 3))))
        size = 1 << self.bits
        self.mask = np.int64(size - 1)
        self.keys = keys
        self.slots = np.zeros(size, np.uint64)  # 0 = empty (no key is 0)
        self.values = np.full(size, -1, np.int32)
        self._place(keys, np.arange(len(keys)))

    def _place(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Linear probing, all keys at once: each round, every key tries its next slot; of those trying
        the same free slot, the first takes it."""
        home = self._home(keys)
        pending = np.arange(len(keys))
        probe = 0
        while len(pending):
            slot = (home[pending] + probe) & self.mask
            free = self.slots[slot] == 0
            cand, cand_slot = pending[free], slot[free]
            taken, first = np.unique(cand_slot, return_index=True)
            chosen = cand[first]
            self.slots[taken] = keys[chosen]
            self.values[taken] = values[chosen]
            placed = np.zeros(len(keys), bool)
            placed[chosen] = True
            pending = pending[~placed[pending]]
            probe += 1

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * _MUL) >> np.uint64(64 - self.bits)).astype(np.int64)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Index of each key, -1 when absent."""
        slot = self._home(keys)
        found = self.slots[slot]
        hit = found == keys
        out = np.where(hit, self.values[slot], np.int32(-1)).astype(np.int64)
        active = np.flatnonzero((found != 0) & ~hit)  # collisions: probe on (a minority)
        probe = 1
        while len(active):
            slot = (slot[active] + 1) & self.mask if probe == 1 else (slot + 1) & self.mask
            found = self.slots[slot]
            hit = found == keys[active]
            out[active[hit]] = self.values[slot[hit]]
            more = (found != 0) & ~hit
            active, slot = active[more], slot[more]
            probe += 1
        return out


class CodeTable:
    """Code point → index for single characters of the Basic Multilingual Plane: one gather, no hashing.
    Keys above U+FFFF fall back to a KeyTable."""

    def __init__(self, keys: np.ndarray) -> None:
        keys = np.asarray(keys, np.uint64)
        self.direct = np.full(0x10000, -1, np.int32)
        small = keys < 0x10000
        self.direct[keys[small].astype(np.int64)] = np.flatnonzero(small).astype(np.int32)
        self.rest_index = np.flatnonzero(~small)
        self.rest = KeyTable(keys[~small])

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        small = keys < 0x10000
        out = np.full(len(keys), -1, np.int64)
        out[small] = self.direct[keys[small].astype(np.int64)]
        if not small.all():
            big = np.flatnonzero(~small)
            found = self.rest.lookup(keys[big])
            ok = found >= 0
            out[big[ok]] = self.rest_index[found[ok]]
        return out


@dataclass
class Analysis:
    """A batch of token lists as numpy arrays: one key per token, and which tokens carry meaning."""

    codes: np.ndarray  # uint64 code points of all tokens, concatenated
    char_token: np.ndarray  # token index of each code point
    token_doc: np.ndarray  # document index of each token (ascending)
    keys: np.ndarray  # uint64 per token
    keep: np.ndarray  # bool per token
    n_docs: int


def _split(docs: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(code points, token lengths, token doc) of the non-empty tokens, without a Python loop over tokens:
    the batch is joined with NUL between tokens, and the separators give the boundaries."""
    n = len(docs)
    per_doc = np.fromiter(map(len, docs), np.int64, n)
    slots = per_doc + (per_doc == 0)  # an empty document still yields one (empty) slot in the join
    text = "\x00".join(map("\x00".join, docs))
    if text.count("\x00") != int(slots.sum()) - 1:  # NUL inside a token: take the slow, exact path
        flat = [t for t in chain.from_iterable(docs) if t]
        lengths = np.fromiter(map(len, flat), np.int64, len(flat))
        doc = np.repeat(np.arange(n, dtype=np.int64), [sum(1 for t in d if t) for d in docs])
        codes = np.frombuffer("".join(flat).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        return codes, lengths, doc
    raw = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    sep = raw == 0
    bounds = np.flatnonzero(sep)
    starts = np.r_[0, bounds + 1]
    ends = np.r_[bounds, len(raw)]
    lengths = ends - starts
    doc = np.repeat(np.arange(n, dtype=np.int64), slots)
    real = lengths > 0
    return raw[~sep].astype(np.uint64), lengths[real], doc[real]


def analyse(docs: list[list[str]], stop: "KeyTable | None") -> Analysis:
    n = len(docs)
    codes, lengths, token_doc = _split(docs) if n else (np.zeros(0, np.uint64), np.zeros(0, np.int64),
                                                         np.zeros(0, np.int64))
    if not len(lengths):
        empty = np.zeros(0, np.uint64)
        return Analysis(empty, np.zeros(0, np.int64), token_doc, empty, np.zeros(0, bool), n)
    starts = np.cumsum(lengths) - lengths
    char_token = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    pos = np.arange(len(codes), dtype=np.int64) - starts[char_token]
    tlen = lengths[char_token]
    short = tlen <= 3
    shift = np.where(short, 21 * (tlen - 1 - pos), 0).astype(np.uint64)
    keys = np.add.reduceat(np.where(short, codes << shift, np.uint64(0)), starts)
    long_tokens = np.flatnonzero(lengths > 3)
    if len(long_tokens):  # hash only the characters of tokens longer than three
        chars = np.flatnonzero(~short)
        sub_starts = np.cumsum(lengths[long_tokens]) - lengths[long_tokens]
        keys[long_tokens] = np.add.reduceat(codes[chars] * _POW[np.minimum(pos[chars], 31)], sub_starts) | _TOP
    # Meaning: some letter, digit or CJK character; not a lone digit; not a mask such as A or A1.
    cls = _CLASS[np.minimum(codes, 0xFFFF).astype(np.int64)]
    cls[codes > 0xFFFF] = _WORDISH  # beyond the BMP: CJK extensions and the like
    wordish = (cls & _WORDISH) > 0
    digit = (cls & _DIGIT) > 0
    letter = (cls & _LETTER) > 0
    counts = np.add.reduceat(wordish.astype(np.int64) + (digit.astype(np.int64) << 20), starts)
    has_word = (counts & 0xFFFFF) > 0
    digits = counts >> 20
    noise = ~has_word | ((lengths == 1) & digit[starts]) | (letter[starts] & (digits == lengths - 1))
    keep = ~noise
    if stop is not None and len(stop.keys):
        keep &= stop.lookup(keys) < 0
    return Analysis(codes, char_token, token_doc, keys, keep, n)


def token_keys(tokens: list[str]) -> np.ndarray:
    """The key of each token (vocabularies, stop words), as `analyse` computes it."""
    return analyse([tokens], None).keys if tokens else np.zeros(0, np.uint64)


_STOP_TABLES: dict[frozenset, "KeyTable"] = {}


def stop_table(stop: frozenset[str]) -> "KeyTable":
    table = _STOP_TABLES.get(stop)
    if table is None:
        table = KeyTable(token_keys(sorted(stop)))
        if len(_STOP_TABLES) > 8:
            _STOP_TABLES.clear()
        _STOP_TABLES[stop] = table
    return table


def clean(tokens: list[str], stop: frozenset[str]) -> list[str]:
    """The tokens that carry meaning (the decision `analyse` makes for a batch)."""
    return kept_tokens([tokens], stop)[0]


def kept_tokens(docs: list[list[str]], stop: frozenset[str]) -> list[list[str]]:
    """The tokens `analyse` keeps, as strings (for vocabularies and explanations)."""
    a = analyse(docs, stop_table(stop))
    flat = [t for t in chain.from_iterable(docs) if t]
    out: list[list[str]] = [[] for _ in docs]
    for i in np.flatnonzero(a.keep).tolist():
        out[a.token_doc[i]].append(flat[i])
    return out


def ngrams_of(codes: np.ndarray, doc: np.ndarray, orders: tuple[int, ...]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Per order: (n, doc index, key) of the n-grams of a code-point sequence that stay within a document.

    Keys of different orders never collide: a key of order n is ≥ 2**(21*(n-1)) because no code point
    is 0, and < 2**(21*n)."""
    out = []
    total = len(codes)
    for n in orders:
        if total < n:
            continue
        m = total - n + 1
        key = codes[:m].copy()
        for k in range(1, n):
            key = (key << _BITS) | codes[k: m + k]
        if n > 1:
            ok = doc[:m] == doc[n - 1:]
            out.append((n, doc[:m][ok], key[ok]))
        else:
            out.append((n, doc[:m], key))
    return out


def char_keys(docs: list[list[str]], orders: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(doc index, key) of every character n-gram of the kept tokens of `docs` (already cleaned)."""
    a = analyse(docs, None)
    parts = ngrams_of(a.codes, a.token_doc[a.char_token], orders)
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    return np.concatenate([d for _, d, _ in parts]), np.concatenate([k for _, _, k in parts])


def _order_of(keys: np.ndarray) -> np.ndarray:
    """The n-gram order of each character key (see ngrams_of)."""
    order = np.ones(len(keys), np.int64)
    for n in range(2, 4):
        order[keys >= (np.uint64(1) << np.uint64(21 * (n - 1)))] = n
    return order


@dataclass
class Segment:
    """Occurrences of one feature block (or one n-gram order): doc indices ascending."""

    rows: np.ndarray  # int64 doc index per occurrence
    cols: np.ndarray  # int64 feature index per occurrence (global column)
    block: int  # 0 = words, 1 = characters


@dataclass
class Occurrences:
    n_docs: int
    segments: list[Segment]
    norms: list[np.ndarray]  # per block: sqrt(Σ idf²) over each document's occurrences (1 when empty)


@dataclass
class Featurizer:
    """Vocabulary and IDF of both blocks; built by monitor.understanding.classifier.training, stored in the model file."""

    words: dict[str, int]
    word_idf: np.ndarray  # float32, len(words)
    char_keys: np.ndarray  # uint64, len(char features)
    char_idf: np.ndarray  # float32, len(char_keys)
    stop: frozenset[str]
    orders: tuple[int, ...] = (1, 2, 3)
    _tables: tuple | None = field(default=None, repr=False)
    _idf: np.ndarray | None = field(default=None, repr=False)
    _idf2: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_features(self) -> int:
        return len(self.words) + len(self.char_keys)

    @property
    def idf(self) -> np.ndarray:
        if self._idf is None:
            self._idf = np.concatenate([self.word_idf, self.char_idf]).astype(np.float64)
        return self._idf

    @property
    def idf2(self) -> np.ndarray:
        if self._idf2 is None:
            self._idf2 = self.idf ** 2
        return self._idf2

    def vocabulary(self) -> list[str]:
        vocab = [""] * len(self.words)
        for w, i in self.words.items():
            vocab[i] = w
        return vocab

    def tables(self) -> tuple[KeyTable, dict, KeyTable]:
        """Word table, per-order character tables (n → (table, column offsets)), stop-word table."""
        if self._tables is None:
            order = _order_of(self.char_keys)
            by_order = {}
            for n in self.orders:
                cols = np.flatnonzero(order == n)
                keys = self.char_keys[cols]
                by_order[n] = (CodeTable(keys) if n == 1 else KeyTable(keys), cols)
            self._tables = (KeyTable(token_keys(self.vocabulary())), by_order, stop_table(self.stop))
        return self._tables

    def occurrences(self, docs: list[list[str]]) -> Occurrences:
        """Feature occurrences of token lists (raw segmentation: cleaning happens here)."""
        word_table, char_table, stop = self.tables()
        a = analyse(docs, stop)
        n = a.n_docs
        idx = word_table.lookup(a.keys[a.keep])
        hit = idx >= 0
        segments = [Segment(a.token_doc[a.keep][hit], idx[hit], 0)]
        offset = len(self.words)
        char_keep = a.keep[a.char_token]
        grams = ngrams_of(a.codes[char_keep], a.token_doc[a.char_token][char_keep], self.orders)
        for order, c_doc, keys in grams:
            table, cols = char_table[order]
            idx = table.lookup(keys)
            hit = idx >= 0
            segments.append(Segment(c_doc[hit], cols[idx[hit]] + offset, 1))
        idf2 = self.idf2
        squares = [np.zeros(n), np.zeros(n)]
        for seg in segments:
            if len(seg.rows):
                squares[seg.block] += np.bincount(seg.rows, weights=idf2[seg.cols], minlength=n)
        norms = [np.where(sq > 0, np.sqrt(sq), 1.0) for sq in squares]
        return Occurrences(n, segments, norms)

    def triplets(self, docs: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """(rows, cols, values, n_docs) with one entry per occurrence (duplicates add up)."""
        occ = self.occurrences(docs)
        rows = np.concatenate([s.rows for s in occ.segments])
        cols = np.concatenate([s.cols for s in occ.segments])
        blocks = np.concatenate([np.full(len(s.rows), s.block) for s in occ.segments])
        if not len(rows):
            return rows, cols, np.zeros(0), occ.n_docs
        norm = np.where(blocks == 0, occ.norms[0][rows], occ.norms[1][rows])
        return rows, cols, self.idf[cols] / norm, occ.n_docs

    def restrict(self, keep: np.ndarray) -> "Featurizer":
        """The same featurizer limited to the columns `keep` (global indices)."""
        keep = np.sort(np.asarray(keep, np.int64))
        n_words = len(self.words)
        kw, kc = keep[keep < n_words], keep[keep >= n_words] - n_words
        vocab = self.vocabulary()
        words = {vocab[i]: j for j, i in enumerate(kw.tolist())}
        return Featurizer(words, self.word_idf[kw], self.char_keys[kc], self.char_idf[kc], self.stop, self.orders)
