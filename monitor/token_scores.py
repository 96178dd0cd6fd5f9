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

from itertools import repeat

import numpy as np

from monitor.features import analyse, ngrams_of

SEP = "\n"  # separates messages in a joined batch: prepared texts never hold one
MARGIN = 1e-6  # 7× the largest float32-vs-float64 difference measured on the shared data
MAX_TOKENS = 1 << 20  # cache size; past it the cache starts afresh (bounded memory)
_BITS = np.uint64(21)


class TokenScores:
    """Per-token cache of a DomainModel's contributions; `scores(tokens, doc)` for a batch."""

    def __init__(self, model) -> None:
        self.model = model
        self.n_labels = len(model.labels)
        self.wi = model._weighted()  # float32 (n_features, n_labels): idf × weight
        self._reset()

    def _reset(self) -> None:
        self.ids: dict[str, int] = {SEP: 0}
        self.size = 1
        L = self.n_labels
        # row: word contribution (L), char contribution (L), word idf², char idf², hits
        self.rows = np.zeros((1024, 2 * L + 3))
        self.keep = np.zeros(1024, bool)
        self.wcol = np.full(1024, -1, np.int64)
        self.length = np.zeros(1024, np.int64)
        self.head = np.zeros((1024, 2), np.uint64)  # first two code points (0 = none)
        self.tail = np.zeros((1024, 2), np.uint64)  # last two code points: [-2], [-1]

    def _grow(self, need: int) -> None:
        cap = len(self.keep)
        if need <= cap:
            return
        new = max(need, cap * 2)
        for name in ("rows", "keep", "wcol", "length", "head", "tail"):
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
        self.length[idx] = lengths
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
            starts = np.cumsum(lengths[present]) - lengths[present]
            ends = starts + lengths[present]
            ln = lengths[present]
            self.head[tid, 0] = a.codes[starts]
            self.head[tid, 1] = np.where(ln >= 2, a.codes[np.minimum(starts + 1, ends - 1)], 0)
            self.tail[tid, 1] = a.codes[ends - 1]
            self.tail[tid, 0] = np.where(ln >= 2, a.codes[np.maximum(ends - 2, starts)], 0)
        for i, t in enumerate(tokens):
            self.ids[t] = start + i
        self.size = start + n

    def token_ids(self, tokens: list[str]) -> np.ndarray:
        if self.size > MAX_TOKENS:
            self._reset()
        get = self.ids.get
        ids = np.fromiter(map(get, tokens, repeat(-1)), np.int64, len(tokens))
        missing = np.flatnonzero(ids < 0)
        if len(missing):
            new = list(dict.fromkeys([tokens[i] for i in missing.tolist()]))
            self._add(new)
            ids[missing] = np.fromiter(map(self.ids.__getitem__, [tokens[i] for i in missing.tolist()]),
                                       np.int64, len(missing))
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
        # Character n-grams across the boundary of two consecutive kept tokens of one document.
        if len(kid) > 1:
            same = kdoc[1:] == kdoc[:-1]
            left, right = kid[:-1][same], kid[1:][same]
            bdoc = kdoc[:-1][same]
            # The character after the first one past the boundary: the right token's second, or the
            # first of the kept token after it (same document) when the right token has one character.
            after = np.zeros(len(kid), np.uint64)
            after[:-1] = np.where(kdoc[1:] == kdoc[:-1], self.head[kid[1:], 0], 0)
            nxt = after[1:][same]
            r1 = self.head[right, 0]
            r2 = np.where(self.length[right] >= 2, self.head[right, 1], nxt)
            l1, l2 = self.tail[left, 1], self.tail[left, 0]
            parts = [(2, bdoc, (l1 << _BITS) | r1)]
            has = l2 > 0
            parts.append((3, bdoc[has], (((l2[has] << _BITS) | l1[has]) << _BITS) | r1[has]))
            has = r2 > 0
            parts.append((3, bdoc[has], (((l1[has] << _BITS) | r1[has]) << _BITS) | r2[has]))
            _, char_table, _ = f.tables()
            offset = len(f.words)
            idf2 = f.idf2
            for order, d, keys in parts:
                if order not in char_table or not len(keys):
                    continue
                table, cols = char_table[order]
                found = table.lookup(keys)
                ok = found >= 0
                d, c = d[ok], cols[found[ok]] + offset
                if not len(d):
                    continue
                starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
                docs = d[starts]
                acc[docs, L:2 * L] += np.add.reduceat(self.wi[c].astype(np.float64), starts, axis=0)
                acc[docs, 2 * L + 1] += np.add.reduceat(idf2[c], starts)
                acc[docs, 2 * L + 2] += np.diff(np.r_[starts, len(d)])
        wsq, csq = acc[:, 2 * L], acc[:, 2 * L + 1]
        wnorm = np.where(wsq > 0, np.sqrt(wsq), 1.0)
        cnorm = np.where(csq > 0, np.sqrt(csq), 1.0)
        decision = self.model.intercept.astype(np.float64) + acc[:, :L] / wnorm[:, None] \
            + acc[:, L:2 * L] / cnorm[:, None]
        seen = acc[:, 2 * L + 2] > 0
        wc = self.wcol[kid]
        hit = wc >= 0
        return decision, wnorm, seen, kdoc[hit], wc[hit]


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
