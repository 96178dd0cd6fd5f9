"""Fast scoring of the domain model: a cache of what each distinct token string contributes.

A message's linear score is a sum over feature occurrences (monitor.understanding.classifier.features). Most of those occurrences
lie inside one token: the token's word feature and the character 1-, 2- and 3-grams within it. They are
computed once per distinct token string and cached as one row (contribution to each label and Σ idf²
per block). A batch costs: one join of its token strings (NUL between them), from whose code points
numpy makes a key per token (`_keys`: exact for up to three characters, Python's string hash only for
the few longer tokens), one lookup of the keys in a numpy hash table, and one sparse product (document ×
cache row counts, scipy) with the cached rows — no per-token Python call and no gathered copy of the
rows. Only the character 2- and 3-grams that straddle two kept tokens depend on the neighbours; they are
built from each token's first and last two characters and looked up in the model's hash tables, all in
numpy.

Exactness: the reference (`DomainModel.predict_reference`) sums float32 contributions per n-gram order,
these sums are float64 in another order, so scores differ by rounding (≤ 1.4e-7 in probability on the
shared data). Confidence is rounded to 4 decimals (2 in the reason text) and the label is an argmax, so
any message whose probability lies within `MARGIN` of a rounding boundary, or whose two best labels lie
within `MARGIN`, is scored again by the reference: the output is identical (tests/test_understand_golden.py).
"""

from __future__ import annotations

import threading

import numpy as np
from scipy import sparse

from monitor.understanding.classifier.features import KeyTable, analyse, ngrams_of

SEP = "\n"  # separates messages in a joined batch: prepared texts never hold one
MARGIN = 1e-6  # 7× the largest float32-vs-float64 difference measured on the shared data
MAX_TOKENS = 1 << 17  # rows kept (161 bytes each, ~21 MB); a batch that would pass it starts the cache afresh
_BITS = np.uint64(21)
_MUL = np.uint64(0x9E3779B97F4A7C15)
_LOW = np.uint64((1 << 21) - 1)  # one code point of a packed pair


class TokenScores:
    """Per-token cache of a DomainModel's contributions; `scores(tokens, doc)` for a batch."""

    def __init__(self, model) -> None:
        self.model = model
        self.n_labels = len(model.labels)
        self.wi = model._weighted()  # float32 (n_features, n_labels): idf × weight
        self.cross = self._cross_table()
        self.lock = threading.Lock()
        self._reset()

    def _cross_table(self):
        """One hash table for the character 2- and 3-grams (their keys never collide, see ngrams_of),
        with each feature's row laid out as the char part of a cache row: contribution, 0, idf², 1."""
        f = self.model.featurizer
        _, char_table, _ = f.tables()
        parts = [char_table[n][1] for n in (2, 3) if n in char_table]
        if set(f.orders) - {1, 2, 3} or not parts:
            return None
        cols = np.concatenate(parts) + len(f.words)
        L = self.n_labels
        ext = np.zeros((len(cols), L + 3))
        ext[:, :L] = self.wi[cols]
        ext[:, L + 1] = f.idf2[cols]
        ext[:, L + 2] = 1
        return _Filtered(f.char_keys[cols - len(f.words)]), ext

    def _reset(self) -> None:
        self.table = _Growing()
        self.table.insert(_keys(SEP, 1)[0], np.zeros(1, np.int64))
        self.size = 1
        L = self.n_labels
        # row: word contribution (L), char contribution (L), word idf², char idf², hits
        self.rows = np.zeros((1024, 2 * L + 3))
        self.keep = np.zeros(1024, bool)
        self.wcol = np.full(1024, -1, np.int64)
        # Per token, side by side (one gather per kept token): its first two and its last two code points,
        # each pair packed as a bigram key (first << 21 | second, second_last << 21 | last); the second and
        # the second last are 0 for a token of one character.
        self.edge = np.zeros((1024, 2), np.uint64)

    def _grow(self, need: int) -> None:
        cap = len(self.keep)
        if need <= cap:
            return
        # A quarter more each time, not double: an import's vocabulary levels off (≈81,000 distinct tokens over
        # 1M generated rows), and doubling would leave up to half the rows (10 MB) allocated and unused.
        new = max(need, min(cap + cap // 4, MAX_TOKENS))  # never past the bound: RSS stays flat
        for name in ("rows", "keep", "wcol", "edge"):
            old = getattr(self, name)
            arr = np.zeros((new, *old.shape[1:]), old.dtype)
            if name == "wcol":
                arr[:] = -1
            arr[:cap] = old
            setattr(self, name, arr)

    def _add(self, tokens: list[str]) -> None:
        """Compute and cache the rows of new distinct tokens."""
        f = self.model.featurizer
        word_table, char_table, stop = f.tables()
        start = self.size
        n = len(tokens)
        self._grow(start + n)
        a = analyse([[t] for t in tokens], stop)
        idx = np.arange(start, start + n)
        L = self.n_labels
        # Tokens "" have no characters: analyse drops them; find the tokens it kept track of.
        lengths = np.fromiter(map(len, tokens), np.int64, n)
        present = np.flatnonzero(lengths > 0)  # analyse's token i is present[i]
        tid = idx[present]
        keep = a.keep
        self.keep[tid] = keep
        rows = self.rows
        wi, idf2 = self.wi, f.idf2
        kept_tokens = np.flatnonzero(keep)
        col = word_table.lookup(a.keys[kept_tokens]) if len(kept_tokens) else np.zeros(0, np.int64)
        hit = col >= 0
        wt, wc = tid[kept_tokens[hit]], col[hit]
        self.wcol[wt] = wc
        rows[wt, :L] = wi[wc]
        rows[wt, 2 * L] = idf2[wc]
        rows[wt, 2 * L + 2] += 1
        # Character n-grams inside each kept token (the token is the "document" here).
        char_keep = keep[a.char_token]
        offset = len(f.words)
        for order, tok, keys in ngrams_of(a.codes[char_keep], a.char_token[char_keep], f.orders):
            table, cols = char_table[order]
            found = table.lookup(keys)
            ok = found >= 0
            c = cols[found[ok]] + offset
            t, m = tok[ok], len(tid)
            block = np.zeros((m, 2 * L + 3))
            for j in range(L):
                block[:, L + j] = np.bincount(t, weights=wi[c, j], minlength=m)
            block[:, 2 * L + 1] = np.bincount(t, weights=idf2[c], minlength=m)
            block[:, 2 * L + 2] = np.bincount(t, minlength=m)
            rows[tid] += block
        # First and last two code points of every token (the second and the second last 0 for one).
        if len(a.codes):
            ln = lengths[present]
            starts = np.cumsum(ln) - ln
            ends = starts + ln
            two = ln >= 2
            codes = a.codes
            self.edge[tid, 0] = (codes[starts] << _BITS) | np.where(two, codes[np.minimum(starts + 1, ends - 1)], 0)
            self.edge[tid, 1] = (np.where(two, codes[np.maximum(ends - 2, starts)], 0) << _BITS) | codes[ends - 1]
        self.size = start + n

    def token_ids(self, tokens: list[str]) -> np.ndarray:
        """Cache row of each token."""
        ids = self.joined_ids(NUL.join(tokens), len(tokens))
        if ids is None:  # some token holds a NUL (rare): key those by their hash, the rest as usual
            nul = [i for i, t in enumerate(tokens) if NUL in t]
            clean = list(tokens)
            for i in nul:
                clean[i] = ""
            keys = _keys(NUL.join(clean), len(tokens))[0]
            keys[nul] = _hashes([tokens[i] for i in nul])
            ids = self._ids(keys, tokens.__getitem__)
        return ids

    def joined_ids(self, text: str, n: int) -> np.ndarray | None:
        """Cache row of each of the `n` tokens of `text` = NUL.join(tokens); None when a token holds a NUL.
        The join costs less than hashing each token string in Python, and the keys come from its code
        points in numpy (see `_keys`)."""
        split = _keys(text, n)
        if split is None:
            return None
        keys, starts, ends = split
        return self._ids(keys, lambda i: text[starts[i]:ends[i]])

    def _ids(self, keys: np.ndarray, token) -> np.ndarray:
        """Cache rows of token keys, computed for the new ones (`token(i)`: the string of token i). The
        keys are looked up in a numpy hash table: the loads of all tokens overlap, where a dict would
        fetch each key in turn."""
        ids = self.table.lookup(keys)
        missing = np.flatnonzero(ids < 0)
        if len(missing):
            new_keys, first = np.unique(keys[missing], return_index=True)
            if self.size + len(new_keys) > MAX_TOKENS:  # start afresh before growing past the bound
                self._reset()
                ids = self.table.lookup(keys)
                missing = np.flatnonzero(ids < 0)
                new_keys, first = np.unique(keys[missing], return_index=True)
            self._add([token(i) for i in missing[first].tolist()])
            self.table.insert(new_keys, np.arange(self.size - len(new_keys), self.size))
            ids[missing] = self.table.lookup(keys[missing])
        return ids

    def scores(self, ids: np.ndarray, doc: np.ndarray, n_docs: int):
        """(decision (n_docs, L), seen, kept word occurrences (doc, col)) for token ids with
        their document index (ascending)."""
        L = self.n_labels
        # Σ of the cached rows per document: a sparse (document × cache row) count matrix times the rows,
        # no gathered copy of them. Dropped tokens have rows of zeros: no need to filter them out first.
        acc = _per_doc(doc, ids, self.rows, n_docs)
        keep = self.keep[ids]
        kid, kdoc = ids[keep], doc[keep]
        # Character n-grams across the boundary of two consecutive kept tokens of one document: the
        # bigram of the characters either side, the trigram ending and the one starting just after the
        # boundary's first character (a trigram spanning two boundaries is counted at its first one).
        if len(kid) > 1 and self.cross is not None:
            table, ext = self.cross
            edge = self.edge[kid]
            head, tail = edge[1:, 0], edge[:-1, 1]  # right token's first two, left token's last two
            r1 = head >> _BITS
            new_doc = np.flatnonzero(kdoc[1:] != kdoc[:-1])  # pairs that straddle two documents
            keys = np.empty((len(head), 3), np.uint64)
            keys[:, 0] = ((tail & _LOW) << _BITS) | r1
            keys[:, 1] = np.where(tail > _LOW, (tail << _BITS) | r1, 0)
            # The character after the right token's first: its second, or the next kept token's first
            # (0, none, leaves a trigram key ending in 0: never a feature).
            after = np.zeros_like(r1)
            after[:-1] = r1[1:]
            after[new_doc[new_doc > 0] - 1] = 0
            second = head & _LOW
            keys[:, 2] = (keys[:, 0] << _BITS) | np.where(second > 0, second, after)
            keys[new_doc] = 0  # 0: no key
            ok, found = table.lookup(keys.ravel())
            if len(ok):
                acc[:, L:] += _per_doc(kdoc[ok // 3], found, ext, n_docs)
        wsq, csq = acc[:, 2 * L], acc[:, 2 * L + 1]
        wnorm = np.where(wsq > 0, np.sqrt(wsq), 1.0)
        cnorm = np.where(csq > 0, np.sqrt(csq), 1.0)
        decision = self.model.intercept.astype(np.float64) + acc[:, :L] / wnorm[:, None] \
            + acc[:, L:2 * L] / cnorm[:, None]
        seen = acc[:, 2 * L + 2] > 0
        wc = self.wcol[kid]
        hit = wc >= 0
        return decision, seen, kdoc[hit], wc[hit]


def _per_doc(doc: np.ndarray, index: np.ndarray, rows: np.ndarray, n_docs: int) -> np.ndarray:
    """Σ rows[index[i]] per document doc[i] (ascending), in float64."""
    indptr = np.searchsorted(doc, np.arange(n_docs + 1))
    counts = sparse.csr_matrix((np.ones(len(index)), index, indptr), shape=(n_docs, len(rows)))
    return counts @ rows


def _keys(text: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(key, start, end) of the `n` tokens of `text` = NUL.join(tokens), None when a token holds a NUL.

    A token of one to three characters is keyed by its code points, packed 21 bits each (exact: no two
    such tokens share a key, and "sb" is not "扳"); a longer one by `_hashes`, with the top bit set."""
    if not n:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    raw = np.frombuffer((text + NUL * 3).encode("utf-32-le"), np.uint32)  # padded: starts + 2 stay inside
    ends = np.flatnonzero(raw == 0)
    if len(ends) != n + 2:
        return None
    ends = ends[:n]
    starts = np.empty(n, np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts
    # The code point after a token's last is its separator (0): no masking for one or two characters.
    keys = raw[starts].astype(np.uint64) << _BITS
    keys |= raw[starts + 1]
    keys <<= _BITS
    keys |= raw[starts + 2] * (lengths >= 3)
    keys[lengths == 0] = _EMPTY
    long = np.flatnonzero(lengths > 3)
    if len(long):
        slices = map(slice, starts[long].tolist(), ends[long].tolist())
        keys[long] = _hashes(list(map(text.__getitem__, slices)))
    return keys, starts, ends


def _hashes(tokens: list[str]) -> np.ndarray:
    """Keys of tokens of more than three characters (or holding a NUL): Python's string hash with the
    top bit set, mixed with the length because the hash reads the string's buffer, and "sbsbsbsb" (bytes
    73 62 …) and "扳扳扳扳" (U+6273 …) have the same buffer."""
    keys = np.fromiter(map(hash, tokens), np.int64, len(tokens)).view(np.uint64)
    keys ^= np.fromiter(map(len, tokens), np.int64, len(tokens)).view(np.uint64) * _MUL
    return keys | _TOP


NUL = "\x00"  # separates tokens in a joined batch
_EMPTY = np.uint64(1)  # the key of "": below any other token's (0 marks an empty slot)
_TOP = np.uint64(1 << 63)


class _Growing(KeyTable):
    """A KeyTable that takes new keys (with their values) and doubles when a third full."""

    def __init__(self) -> None:
        self.count = 0
        super().__init__(np.zeros(0, np.uint64))

    def insert(self, keys: np.ndarray, values: np.ndarray) -> None:
        if (self.count + len(keys)) * 3 > len(self.slots):
            used = self.slots != 0
            old_keys, old_values = self.slots[used], self.values[used]
            self.bits = max(self.bits, int(np.ceil(np.log2((self.count + len(keys)) * 6))))
            self.mask = np.int64((1 << self.bits) - 1)
            self.slots = np.zeros(1 << self.bits, np.uint64)
            self.values = np.full(1 << self.bits, -1, np.int32)
            self.count = 0
            self._place(old_keys, old_values)
        self._place(keys, values)

    def _place(self, keys: np.ndarray, values: np.ndarray) -> None:
        super()._place(keys, values)
        self.count += len(keys)


class _Filtered:
    """A KeyTable behind a one-byte-per-bucket filter: nearly 9 in 10 boundary n-grams are no feature,
    and most of them are rejected by one gather instead of a probe sequence."""

    def __init__(self, keys: np.ndarray) -> None:
        self.table = KeyTable(keys)
        self.bits = np.uint64(64 - 20)
        self.filter = np.zeros(1 << 20, bool)
        self.filter[self._bucket(self.table.keys)] = True

    def _bucket(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * _MUL) >> self.bits).astype(np.int64)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions of the keys found, their index in the table)."""
        maybe = np.flatnonzero(self.filter[self._bucket(keys)])
        found = self.table.lookup(keys[maybe])
        hit = found >= 0
        return maybe[hit], found[hit]


def borderline(probs: np.ndarray, best: np.ndarray, margin: float = MARGIN) -> np.ndarray:
    """Documents whose rounded confidence or label could differ from the reference's."""
    n = len(probs)
    p = probs[np.arange(n), best]
    near = np.zeros(n, bool)
    for scale in (1e4, 1e2):  # round(p, 4) and f"{p:.2f}"
        x = p * scale
        near |= np.abs(x - np.floor(x) - 0.5) < margin * scale
    if probs.shape[1] > 1:
        top2 = np.partition(probs, -2, axis=1)[:, -2:]
        near |= (top2[:, 1] - top2[:, 0]) < margin
    return near
