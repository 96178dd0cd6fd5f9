"""Fast scoring of the domain model: a cache of what each distinct token string contributes.

A message's linear score is a sum over feature occurrences (monitor.features). Most of those occurrences
lie inside one token: the token's word feature and the character 1-, 2- and 3-grams within it. They are
computed once per distinct token string and cached as one row (contribution to each label and Σ idf²
per block), so a batch costs one dict lookup per token (`map(dict.get, …)`, no Python loop), one gather
of cached rows and one `np.add.reduceat`. Only the character 2- and 3-grams that straddle two kept
tokens depend on the neighbours; they are built from each token's first and last two characters and
looked up in the model's hash tables, all in numpy.

Exactness: the reference (`DomainModel.predict_reference`) sums float32 contributions per n-gram order,
these sums are float64 in another order, so scores differ by rounding (≤ 1.4e-7 in probability on the
shared data). Confidence is rounded to 4 decimals (2 in the reason text) and the label is an argmax, so
any message whose probability lies within `MARGIN` of a rounding boundary, or whose two best labels lie
within `MARGIN`, is scored again by the reference: the output is identical (tests/test_understand_golden.py).
"""

from __future__ import annotations

import threading

import numpy as np

from monitor.features import KeyTable, analyse, ngrams_of

SEP = "\n"  # separates messages in a joined batch: prepared texts never hold one
MARGIN = 1e-6  # 7× the largest float32-vs-float64 difference measured on the shared data
MAX_TOKENS = 1 << 17  # rows kept (185 bytes each, ~24 MB); a batch that would pass it starts the cache afresh
_BITS = np.uint64(21)
_MUL = np.uint64(0x9E3779B97F4A7C15)
_FIRST, _SECOND, _LAST, _LAST2, _LEN = range(5)


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
        self.table.insert(_hashes([SEP]), np.zeros(1, np.int64))
        self.size = 1
        L = self.n_labels
        # row: word contribution (L), char contribution (L), word idf², char idf², hits
        self.rows = np.zeros((1024, 2 * L + 3))
        self.keep = np.zeros(1024, bool)
        self.wcol = np.full(1024, -1, np.int64)
        # Per token, side by side (one gather per kept token): first, second code point (0 = none), last,
        # key of the last two (0 = one character), length.
        self.edge = np.zeros((1024, 5), np.uint64)

    def _grow(self, need: int) -> None:
        cap = len(self.keep)
        if need <= cap:
            return
        new = max(need, min(cap * 2, MAX_TOKENS))  # never double past the bound: RSS stays flat
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
        self.edge[idx, _LEN] = lengths
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
        # First and last two code points of every token.
        if len(a.codes):
            ln = lengths[present]
            starts = np.cumsum(ln) - ln
            ends = starts + ln
            two = ln >= 2
            self.edge[tid, _FIRST] = a.codes[starts]
            self.edge[tid, _SECOND] = np.where(two, a.codes[np.minimum(starts + 1, ends - 1)], 0)
            self.edge[tid, _LAST] = a.codes[ends - 1]
            self.edge[tid, _LAST2] = np.where(two, (a.codes[np.maximum(ends - 2, starts)] << _BITS)
                                              | a.codes[ends - 1], 0)
        self.size = start + n

    def token_ids(self, tokens: list[str]) -> np.ndarray:
        """Cache row of each token. Tokens are told apart by Python's 64-bit string hash, looked up in a
        numpy hash table: the loads of all tokens overlap, where a dict would fetch each key in turn
        (the reference, too, tells words of more than three characters apart by a 64-bit hash)."""
        keys = _hashes(tokens)
        ids = self.table.lookup(keys)
        missing = np.flatnonzero(ids < 0)
        if len(missing):
            new_keys, first = np.unique(keys[missing], return_index=True)
            if self.size + len(new_keys) > MAX_TOKENS:  # start afresh before growing past the bound
                self._reset()
                ids = self.table.lookup(keys)
                missing = np.flatnonzero(ids < 0)
                new_keys, first = np.unique(keys[missing], return_index=True)
            self._add([tokens[i] for i in missing[first].tolist()])
            self.table.insert(new_keys, np.arange(self.size - len(new_keys), self.size))
            ids[missing] = self.table.lookup(keys[missing])
        return ids

    def scores(self, ids: np.ndarray, doc: np.ndarray, n_docs: int):
        """(decision (n_docs, L), word norm, seen, kept word occurrences (doc, col)) for token ids with
        their document index (ascending)."""
        L = self.n_labels
        f = self.model.featurizer
        keep = self.keep[ids]
        kid, kdoc = ids[keep], doc[keep]
        acc = np.zeros((n_docs, 2 * L + 3))
        if len(kid):
            starts = np.flatnonzero(np.r_[True, kdoc[1:] != kdoc[:-1]])
            acc[kdoc[starts]] = np.add.reduceat(self.rows[kid], starts, axis=0)
        # Character n-grams across the boundary of two consecutive kept tokens of one document: the
        # bigram of the characters either side, the trigram ending and the one starting just after the
        # boundary's first character (a trigram spanning two boundaries is counted at its first one).
        if len(kid) > 1 and self.cross is not None:
            table, ext = self.cross
            edge = self.edge[kid]
            left, right = edge[:-1], edge[1:]
            same = kdoc[1:] == kdoc[:-1]
            l1, r1 = left[:, _LAST], right[:, _FIRST]
            # The character after the right token's first: its second, or the next kept token's first.
            after = np.zeros(len(right), np.uint64)
            after[:-1] = np.where(same[1:], edge[2:, _FIRST], 0)
            r2 = np.where(right[:, _LEN] >= 2, right[:, _SECOND], after)
            keys = np.empty((len(right), 3), np.uint64)
            keys[:, 0] = (l1 << _BITS) | r1
            l2 = left[:, _LAST2]
            keys[:, 1] = np.where(l2 > 0, (l2 << _BITS) | r1, 0)
            keys[:, 2] = np.where(r2 > 0, (keys[:, 0] << _BITS) | r2, 0)
            keys = keys[same].ravel()
            ok, found = table.lookup(keys)
            if len(ok):
                d = kdoc[:-1][same][ok // 3]
                starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
                acc[d[starts], L:] += np.add.reduceat(ext[found], starts, axis=0)
        wsq, csq = acc[:, 2 * L], acc[:, 2 * L + 1]
        wnorm = np.where(wsq > 0, np.sqrt(wsq), 1.0)
        cnorm = np.where(csq > 0, np.sqrt(csq), 1.0)
        decision = self.model.intercept.astype(np.float64) + acc[:, :L] / wnorm[:, None] \
            + acc[:, L:2 * L] / cnorm[:, None]
        seen = acc[:, 2 * L + 2] > 0
        wc = self.wcol[kid]
        hit = wc >= 0
        return decision, wnorm, seen, kdoc[hit], wc[hit]


def _hashes(tokens: list[str]) -> np.ndarray:
    """A 64-bit key per token: Python's string hash, mixed with the length because the hash reads the
    string's buffer, and "sb" (bytes 73 62) and "扳" (U+6273) have the same buffer."""
    keys = np.fromiter(map(hash, tokens), np.int64, len(tokens)).view(np.uint64)
    keys ^= np.fromiter(map(len, tokens), np.int64, len(tokens)).view(np.uint64) * _MUL
    keys[keys == 0] = _ZERO  # 0 marks an empty slot
    return keys


_ZERO = np.uint64(0x5BD1E9955BD1E995)


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
