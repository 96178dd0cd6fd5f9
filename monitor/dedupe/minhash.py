"""Near-duplicate detection: MinHash over character 3-grams, LSH banding, exact Jaccard to confirm. Pure.

Why characters and not words: a re-submitted or re-worded complaint shares most of its 3-character runs
with the original whatever a word segmenter makes of it, and 3-grams need no dictionary and cost a few numpy
operations per batch (docs/collectors.md has the measurements). On the 4,326 real board messages, pairs with
3-gram Jaccard ≥ 0.3 are the same matter re-submitted or reported by several people, while 99.9 % of random
pairs stay below 0.04.

LSH: 24 MinHash values in 12 bands of 2. Two texts become candidates when any band agrees (measured on the
board data: 97 % of the pairs with Jaccard ≥ 0.3 are found). Candidates are cheap to reject: the stored
signature gives an estimate first (a share of equal values ≥ 0.3), and only the best few are confirmed by
exact Jaccard on their text; the number of candidates looked at per item is capped, so templated text
cannot make an import slow.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

PERMUTATIONS = 24
BANDS = 12
ROWS = PERMUTATIONS // BANDS
THRESHOLD = 0.3  # Jaccard of 3-gram sets at or above which two items are the same matter
ESTIMATE_MIN = 0.3  # share of equal MinHash values a candidate needs before its text is compared
EXACT_CHECKS = 2  # candidates per item whose text is compared (the best estimates)
WINDOW = timedelta(days=30)  # an old complaint said again after this long opens a new incident
MAX_CANDIDATES = 6  # per new item: those sharing most bands (bounds the work on templated text)
CHANGES_KEPT = 100_000  # rows of minhash_changes kept; an index further behind than that is rebuilt
MAX_CHARS = 400  # the opening of a message decides; long tails (attachments, quotes) add cost, not signal
_CHUNK = 16  # texts per numpy pass: the (grams × permutations) matrices, ~0.6 MB each, stay in L2 (32: 2.8× slower here)

_NON_WORD = re.compile(r"[\W_]+")
_rng = np.random.default_rng(20261123)  # fixed: band keys are stored and must agree across processes
_A = _rng.integers(1, 2**32, size=PERMUTATIONS, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
_B = _rng.integers(1, 2**32, size=PERMUTATIONS, dtype=np.uint64).astype(np.uint32)
_BAND_MIX = _rng.integers(1, 2**63, size=(ROWS + 1), dtype=np.uint64) | np.uint64(1)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_S42, _S21 = np.uint64(42), np.uint64(21)


def shingle_text(title_norm: str, body_norm: str) -> str:
    """The characters that take part: letters and digits of the normalised title and body."""
    text = _NON_WORD.sub("", title_norm + body_norm)[:MAX_CHARS]
    return text if len(text) >= 3 else text.ljust(3, "\x01")


def shingle_texts(pairs: list[tuple[str, str]]) -> list[str]:
    """shingle_text of each (title_norm, body_norm): one table look-up over the whole batch's code points
    instead of a regex pass per text (≈3× faster on an import batch)."""
    if not pairs:
        return []
    texts = [title + body for title, body in pairs]
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    keep = _word_chars()[codes]
    kept = codes[keep].tobytes().decode("utf-32-le")
    counts = np.zeros(len(codes) + 1, dtype=np.int64)  # kept characters before each position
    np.cumsum(keep, out=counts[1:])
    out, start = [], 0
    for end in counts[np.cumsum([len(t) for t in texts])].tolist():
        text = kept[start : min(end, start + MAX_CHARS)]
        out.append(text if len(text) >= 3 else text.ljust(3, "\x01"))
        start = end
    return out


@functools.cache
def _word_chars() -> np.ndarray:
    """Per code point: does shingle_text keep it? Made by _NON_WORD itself, so the two always agree
    (≈30 ms and 1.1 MB, once)."""
    every = np.arange(0x110000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    kept = _NON_WORD.sub("", every)
    table = np.zeros(0x110000, dtype=bool)
    table[np.frombuffer(kept.encode("utf-32-le"), dtype=np.uint32)] = True
    return table


def grams(shingled: str) -> np.ndarray:
    """The distinct 3-grams of a shingled text, each packed exactly into an integer (sorted, unique)."""
    c = np.frombuffer(shingled.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    g = c[:-2] << _S42
    g |= c[1:-1] << _S21
    g |= c[2:]
    g.sort()  # then drop repeats: np.unique does the same with twice the overhead on short arrays
    keep = np.empty(len(g), dtype=bool)
    keep[:1] = True
    np.not_equal(g[1:], g[:-1], out=keep[1:])
    return g[keep]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two gram sets (as returned by grams)."""
    if not len(a) or not len(b):
        return 0.0
    # both sorted and unique: where each of a would sit in b, and whether it is there
    at = np.searchsorted(b, a)
    at[at == len(b)] = 0
    inter = int(np.count_nonzero(b[at] == a))
    return inter / (len(a) + len(b) - inter)


def signatures(texts: list[str]) -> np.ndarray:
    """MinHash signatures (n × PERMUTATIONS, uint32) of shingled texts (see shingle_text)."""
    out = np.empty((len(texts), PERMUTATIONS), dtype=np.uint32)
    for start in range(0, len(texts), _CHUNK):
        chunk = texts[start : start + _CHUNK]
        out[start : start + len(chunk)] = _signatures(chunk)
    return out


def _signatures(texts: list[str]) -> np.ndarray:
    # One array of code points for the whole chunk, texts separated by NUL; a 3-gram is packed exactly
    # into 63 bits (code points < 2^21) and grams that straddle a separator are dropped.
    joined = "\x00".join(texts)
    c = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    g = (c[:-2] << np.uint64(42)) | (c[1:-1] << np.uint64(21)) | c[2:]
    valid = (c[:-2] != 0) & (c[1:-1] != 0) & (c[2:] != 0)
    lengths = np.fromiter((len(t) - 2 for t in texts), dtype=np.int64, count=len(texts))
    g = g[valid]
    g *= _MIX
    g ^= g >> np.uint64(32)
    # 32-bit permutations (a·x + b, then an xorshift so that the order is not linear): half the memory
    # traffic of 64-bit ones, and candidates are confirmed by exact Jaccard anyway.
    hashed = np.multiply(g.astype(np.uint32)[:, None], _A[None, :])
    hashed += _B[None, :]
    hashed ^= hashed >> np.uint32(15)
    starts = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    return np.minimum.reduceat(hashed, starts, axis=0)


def estimate(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard: the share of equal MinHash values."""
    return float(np.count_nonzero(a == b)) / PERMUTATIONS


def to_bytes(signature: np.ndarray) -> bytes:
    return signature.astype("<u4").tobytes()


def rows_to_bytes(signatures: np.ndarray) -> list[bytes]:
    """to_bytes of each row of an (n × PERMUTATIONS) array."""
    data, size = signatures.astype("<u4").tobytes(), 4 * PERMUTATIONS
    return [data[i : i + size] for i in range(0, len(data), size)]


def from_bytes(data: bytes) -> np.ndarray | None:
    return np.frombuffer(data, dtype="<u4") if data and len(data) == 4 * PERMUTATIONS else None


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """One signed 63-bit key per band (n × BANDS, int64): equal keys ⇒ that band of the signature agrees."""
    n = sigs.shape[0]
    keys = np.empty((n, BANDS), dtype=np.uint64)
    for band in range(BANDS):
        part = sigs[:, band * ROWS : (band + 1) * ROWS]
        k = np.full(n, (band + 1) * int(_BAND_MIX[ROWS]) % 2**64, dtype=np.uint64)
        for r in range(ROWS):
            k ^= part[:, r].astype(np.uint64) * _BAND_MIX[r]
            k ^= k >> np.uint64(31)
        keys[:, band] = k
    return (keys >> np.uint64(1)).astype(np.int64)


@dataclass(frozen=True)
class Candidate:
    """An earlier item that shares a band with a new one."""

    ref: object  # an item id (stored) or a batch index (same batch)
    incident: object  # the incident id, or the batch group it leads
    grams: np.ndarray
    at: datetime | None
    label: str  # how to name it to people: #123 or 来源:编号


@dataclass(frozen=True)
class Match:
    candidate: Candidate
    similarity: float

    def reason(self) -> str:
        return (f"与留言 {self.candidate.label}相似（字符三元组 Jaccard 相似度 {self.similarity:.2f} ≥ "
                f"{THRESHOLD:.2f}）")


def best_match(new: np.ndarray, at: datetime | None, candidates: list[Candidate],
               threshold: float = THRESHOLD, window: timedelta = WINDOW) -> Match | None:
    """The most similar candidate within the time window, if it is similar enough."""
    best: Match | None = None
    for c in candidates:
        if at is not None and c.at is not None and abs(at - c.at) > window:
            continue
        sim = jaccard(new, c.grams)
        if sim >= threshold and (best is None or sim > best.similarity):
            best = Match(c, sim)
    return best


class BandIndex:
    """In-memory LSH band index of stored items: which stored items share a band with new ones.

    Replaces a table of 12 rows per item, whose random-key B-tree inserts and windowed look-ups were most of
    an import's database time. Per band, sorted uint64 values `key32 << 32 | item_id` (the low 32 bits of
    the band key: a collision only adds a candidate that the signature estimate then drops), so a key's
    items are one run, newest last. 8 bytes per item and band, no Python object per item. Values live in
    blocks of at most BLOCK items: the open block grows by np.insert (small copies), full blocks are sealed
    and never copied again, so memory never doubles to grow.

    Transactions: `begin()` snapshots the block lists (arrays are replaced, never changed in place, so the
    snapshot is O(1)); `rollback()` restores it when the batch's transaction fails, `commit()` drops it.
    `seen_id` / `seen_change` say how far the store's items and minhash_changes have been folded in.

    It also keeps the low byte of each item's 24 MinHash values (24 bytes per item id, in chunks of FP_CHUNK
    ids): equal values have equal low bytes, so the share of equal bytes is never below the true estimate,
    and a candidate that fails ESTIMATE_MIN on bytes fails it on the full signature too. Only the others'
    signatures need reading from the store.
    """

    BLOCK = 1 << 16  # items per sealed block: 512 KB per band array
    FP_CHUNK = 1 << 16  # item ids per chunk of signature bytes: 1.5 MB
    PER_KEY = 20  # newest items per key and band that count (a boilerplate key says little)

    def __init__(self) -> None:
        self._sealed: list[list[np.ndarray]] = []
        self._open: list[np.ndarray] = [np.empty(0, dtype=np.uint64) for _ in range(BANDS)]
        self._open_items = 0
        self.seen_id = 0
        self.seen_change = 0
        self._snapshot: tuple | None = None
        self._fp: dict[int, np.ndarray] = {}  # item id // FP_CHUNK → (FP_CHUNK × PERMUTATIONS) uint8
        self._fp_undo: list[tuple[np.ndarray, np.ndarray]] = []  # (ids, bytes before) written in this transaction

    def __len__(self) -> int:
        return len(self._sealed) * self.BLOCK + self._open_items  # approximate (sealed blocks may be fuller)

    def nbytes(self) -> int:
        return (sum(a.nbytes for block in (*self._sealed, self._open) for a in block)
                + sum(a.nbytes for a in self._fp.values()))

    def clear(self) -> None:
        """Forget everything, so that the next sync reads every stored item again (the change log was pruned
        past what this index had seen). Inside a transaction a rollback returns here, not to the stale state."""
        in_tx = self._snapshot is not None
        self.__init__()
        if in_tx:
            self.begin()

    def begin(self) -> None:
        self._snapshot = (len(self._sealed), list(self._open), self._open_items, self.seen_id, self.seen_change)

    def commit(self) -> None:
        self._snapshot = None
        self._fp_undo.clear()

    def rollback(self) -> None:
        if self._snapshot is None:
            return
        sealed, self._open, self._open_items, self.seen_id, self.seen_change = self._snapshot
        del self._sealed[sealed:]
        self._snapshot = None
        for ids, before in reversed(self._fp_undo):  # a changed text's bytes go back to the stored one's
            self._set_fp(ids, before)
        self._fp_undo.clear()

    def add(self, item_ids, keys: np.ndarray, sigs: np.ndarray) -> None:
        """Index items: ids, their band keys (band_keys, n × BANDS) and signatures (signatures, n × PERMUTATIONS)."""
        ids = np.asarray(item_ids, dtype=np.uint64)
        if not len(ids):
            return
        if int(ids.max()) >= 2**32:
            raise ValueError("item ids above 2^32 do not fit the band index")
        fp = (np.asarray(sigs) & 0xFF).astype(np.uint8)
        if self._snapshot is not None:
            self._fp_undo.append((ids, self._get_fp(ids)))
        self._set_fp(ids, fp)
        low = (np.asarray(keys).astype(np.uint64) & _LOW32) << np.uint64(32)
        start = 0
        while start < len(ids):
            room = self.BLOCK - self._open_items
            if room <= 0:
                self._seal()
                continue
            end = min(len(ids), start + room)
            for band in range(BANDS):
                values = np.unique(low[start:end, band] | ids[start:end])
                arr = self._open[band]
                pos = np.searchsorted(arr, values)
                if len(arr):  # an item re-indexed with unchanged bands: keep one copy
                    fresh = arr[np.minimum(pos, len(arr) - 1)] != values
                    values, pos = values[fresh], pos[fresh]
                self._open[band] = np.insert(arr, pos, values)
            self._open_items += end - start
            start = end

    def _get_fp(self, ids: np.ndarray) -> np.ndarray:
        out = np.zeros((len(ids), PERMUTATIONS), dtype=np.uint8)
        chunk, slot = np.divmod(ids.astype(np.int64), self.FP_CHUNK)
        for c in np.unique(chunk).tolist():
            if c in self._fp:
                at = chunk == c
                out[at] = self._fp[c][slot[at]]
        return out

    def _set_fp(self, ids: np.ndarray, fp: np.ndarray) -> None:
        chunk, slot = np.divmod(ids.astype(np.int64), self.FP_CHUNK)
        for c in np.unique(chunk).tolist():
            if c not in self._fp:
                self._fp[c] = np.zeros((self.FP_CHUNK, PERMUTATIONS), dtype=np.uint8)
            at = chunk == c
            self._fp[c][slot[at]] = fp[at]

    def may_pass_estimate(self, sigs: np.ndarray, candidates: list[list[int]]) -> list[list[int]]:
        """Of each row's candidates, those whose signature bytes agree often enough that the full signature
        might reach ESTIMATE_MIN (never drops one that does; see the class note)."""
        counts = [len(row) for row in candidates]
        total = sum(counts)
        if not total:
            return [[] for _ in candidates]
        q = np.repeat(np.arange(len(candidates)), counts)
        ids = np.fromiter(itertools.chain.from_iterable(candidates), dtype=np.int64, count=total)
        mine = (np.asarray(sigs) & 0xFF).astype(np.uint8)[q]
        equal = np.count_nonzero(self._get_fp(ids) == mine, axis=1)
        ok = equal / PERMUTATIONS >= ESTIMATE_MIN
        out: list[list[int]] = [[] for _ in candidates]
        for query, item in zip(q[ok].tolist(), ids[ok].tolist()):
            out[query].append(item)
        return out

    def _seal(self) -> None:
        self._sealed.append(self._open)
        self._open = [np.empty(0, dtype=np.uint64) for _ in range(BANDS)]
        self._open_items = 0

    def candidates(self, keys: np.ndarray, limit: int = MAX_CANDIDATES) -> list[list[int]]:
        """For each row of band keys, the stored items sharing most bands with it (ties: newest first), at
        most `limit`; only the newest PER_KEY items of each key and band count."""
        n = len(keys)
        if not n:
            return []
        if n >= 1 << 27:  # query numbers must fit the packed sort keys below; queries are independent
            return self.candidates(keys[: n // 2], limit) + self.candidates(keys[n // 2 :], limit)
        low = (np.asarray(keys).astype(np.uint64) & _LOW32) << np.uint64(32)
        hits = []
        for band in range(BANDS):
            # queries in key order: the searches then walk each block forwards through cached lines (in
            # batch order nearly every search missed the cache: most of the look-up's time at 200k items)
            queries = np.argsort(low[:, band])
            first = low[queries, band]
            last = first | _LOW32
            for block in (*self._sealed, self._open):
                arr = block[band]
                if not len(arr):
                    continue
                hi = np.searchsorted(arr, last, side="right")
                lo = np.maximum(np.searchsorted(arr, first, side="left"), hi - self.PER_KEY)
                count = hi - lo
                total = int(count.sum())
                if not total:
                    continue
                offsets = np.repeat(lo - (np.cumsum(count) - count), count)
                items = arr[np.arange(total) + offsets] & _LOW32
                # one integer per hit that sorts by query, band, then newest item first (bits 36+, 32-35, 0-31)
                hits.append((np.repeat(queries.astype(np.uint64), count) << _AT_QUERY) | np.uint64(band << 32)
                            | (_LOW32 - items))
        out: list[list[int]] = [[] for _ in range(n)]
        if not hits:
            return out
        # One hit per (query, band, item), the newest PER_KEY per (query, band) across blocks. (Plain sorts
        # of packed integers: a lexsort of three arrays took most of the look-up's time.)
        hit = np.unique(np.concatenate(hits))
        query_band = hit >> np.uint64(32)
        hit = hit[_rank_in_runs(query_band[1:] != query_band[:-1]) < self.PER_KEY]
        # Shared bands per (query, item), then the best `limit` per query: most bands shared, then newest.
        pair = np.sort(((hit >> _AT_QUERY) << np.uint64(32)) | (_LOW32 - (hit & _LOW32)))
        starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        shared = np.diff(np.r_[starts, len(pair)]).astype(np.uint64)
        pair = pair[starts]
        best = np.sort(((pair >> np.uint64(32)) << _AT_QUERY) | ((np.uint64(BANDS) - shared) << np.uint64(32))
                       | (_LOW32 - (pair & _LOW32)))
        q, i = best >> _AT_QUERY, _LOW32 - (best & _LOW32)
        keep = _rank_in_runs(q[1:] != q[:-1]) < limit
        for query, item in zip(q[keep].tolist(), i[keep].tolist()):
            out[query].append(item)
        return out


_LOW32 = np.uint64(0xFFFFFFFF)
_AT_QUERY = np.uint64(36)  # the query's bit position in candidates' packed keys (bands: 4 bits, items: 32)
assert BANDS <= 16, "candidates packs a band number in 4 bits"


def _rank_in_runs(boundaries: np.ndarray) -> np.ndarray:
    """Position of each element within its run, given `boundaries[k]` = element k+1 starts a new run."""
    n = len(boundaries) + 1
    starts = np.flatnonzero(np.r_[True, boundaries])
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)
