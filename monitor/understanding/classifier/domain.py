"""Domain classification: a linear model over word and character TF-IDF features (monitor.understanding.classifier.features),
trained by `yuqing train` (monitor.understanding.classifier.training) and shipped as monitor/understanding/classifier/domain.npz.

The model file is a plain numpy archive read with allow_pickle=False, so a swapped file can hold only
arrays, never code; a SHA-256 digest over every array detects a damaged or edited file. Run time needs
numpy and scipy (sparse sums, monitor.understanding.classifier.token_scores). A keyword classifier
(config/lexicons/domains.yaml) remains as the fallback when no model file is available.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np
import yaml

from monitor.understanding.classifier.features import Featurizer
from monitor.core.model import Reason
from monitor.understanding.classifier.token_scores import NUL, TokenScores, borderline

UNKNOWN = "其他"
MODEL_PATH = Path(__file__).resolve().parent / "domain.npz"  # the shipped model (package data)
MODEL_FILE = "domain.npz"  # the name `yuqing train` writes in the data folder
FORMAT = "yuqing-domain-linear/2"
_ARRAYS = ("labels", "words", "word_idf", "char_keys", "char_idf", "stop", "weights", "intercept", "orders",
           "meta")


class ModelError(Exception):
    """A model file that cannot be used (missing, damaged, edited, or of another format)."""


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    reasons: tuple[Reason, ...]


@dataclass
class DomainModel:
    featurizer: Featurizer
    labels: list[str]
    weights: np.ndarray  # (n_features, n_labels) float32
    intercept: np.ndarray  # (n_labels,) float32
    temperature: float = 1.0  # softmax temperature calibrated on out-of-fold scores
    meta: dict = field(default_factory=dict)
    _vocab: list[str] | None = field(default=None, repr=False)
    _wi: np.ndarray | None = field(default=None, repr=False)
    _scores: TokenScores | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ scoring
    def decision(self, docs: list[list[str]]) -> np.ndarray:
        """Linear scores (n_docs, n_labels) for token lists."""
        return self._decision(self.featurizer.occurrences(docs))

    def _weighted(self) -> np.ndarray:
        if self._wi is None:  # idf folded into the weights: one gather per occurrence
            self._wi = (self.featurizer.idf[:, None] * self.weights).astype(np.float32)
        return self._wi

    def _decision(self, occ) -> np.ndarray:
        wi = self._weighted()
        blocks = [np.zeros((occ.n_docs, len(self.labels))) for _ in occ.norms]
        for seg in occ.segments:
            if len(seg.rows):
                _add_rows(blocks[seg.block], seg.rows, wi[seg.cols])
        out = np.tile(self.intercept.astype(np.float64), (occ.n_docs, 1))
        for acc, norm in zip(blocks, occ.norms):
            out += acc / norm[:, None]
        return out

    def probabilities(self, decision: np.ndarray) -> np.ndarray:
        z = decision / self.temperature
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_tokens(self, docs: list[list[str]], explain: bool = True) -> list[Prediction]:
        """Label, calibrated confidence and (with `explain`) the words that decided, per token list."""
        if not docs:
            return []
        n = len(docs)
        counts = np.fromiter(map(len, docs), np.int64, n)
        slots = counts + (counts == 0)  # an empty document still makes one (empty) token of the join
        scorer = self.scorer()
        with scorer.lock:  # the cache grows and may start afresh: ids and scores from one state
            ids = scorer.joined_ids(NUL.join(map(NUL.join, docs)), int(slots.sum()))
            if ids is None:  # a token holds a NUL
                ids, slots = scorer.token_ids(list(chain.from_iterable(docs))), counts
            scored = scorer.scores(ids, np.repeat(np.arange(n, dtype=np.int64), slots), n)
        return self._predict(scored, n, explain, docs.__getitem__)

    def predict_joined(self, tokens: list[str], n_docs: int, explain: bool = True) -> list[Prediction]:
        """The same as `predict_tokens` for the segmentation of `SEP.join(texts)`: one tokenizer call per
        batch instead of one per message. The texts must not contain SEP (a prepared text never does)."""
        if not n_docs:
            return []
        scorer = self.scorer()
        with scorer.lock:  # the cache grows and may start afresh: ids and scores from one state
            ids = scorer.token_ids(tokens)
            sep = ids == 0
            bounds = np.flatnonzero(sep)
            if len(bounds) != n_docs - 1:
                raise ValueError(f"{len(bounds) + 1} segments for {n_docs} texts: a text holds a separator")
            doc = np.cumsum(sep) - sep
            words = ~sep
            scored = scorer.scores(ids[words], doc[words], n_docs)
        starts = np.r_[0, bounds + 1].tolist()
        ends = np.r_[bounds, len(tokens)].tolist()
        return self._predict(scored, n_docs, explain, lambda i: tokens[starts[i]:ends[i]])

    def scorer(self) -> TokenScores:
        if self._scores is None:
            self._scores = TokenScores(self)
        return self._scores

    def _predict(self, scored: tuple, n: int, explain: bool, tokens_of) -> list[Prediction]:
        decision, seen, wdoc, wcol = scored
        probs = self.probabilities(decision)
        best = probs.argmax(axis=1)
        confidence = np.where(seen, probs[np.arange(n), best], 0.0)
        redo = np.flatnonzero(borderline(probs, best) & seen).tolist()
        out = self._predictions(best, confidence, self._evidence(wdoc, wcol, best, n) if explain else None)
        if redo:  # too close to a rounding boundary or a tie: the reference decides (see token_scores)
            for i, p in zip(redo, self.predict_reference([tokens_of(i) for i in redo], explain)):
                out[i] = p
        return out

    def predict_reference(self, docs: list[list[str]], explain: bool = True) -> list[Prediction]:
        """The reference implementation: every feature occurrence gathered and summed per n-gram order."""
        if not docs:
            return []
        occ = self.featurizer.occurrences(docs)
        probs = self.probabilities(self._decision(occ))
        best = probs.argmax(axis=1)
        confidence = probs[np.arange(len(docs)), best]
        # A text with no known word or character n-gram has no evidence, whatever the intercepts say.
        seen = np.zeros(len(docs), bool)
        for seg in occ.segments:
            seen[seg.rows] = True
        confidence = np.where(seen, confidence, 0.0)
        words = occ.segments[0]
        evidence = self._evidence(words.rows, words.cols, best, occ.n_docs) if explain else None
        return self._predictions(best, confidence, evidence)

    def _predictions(self, best: np.ndarray, confidence: np.ndarray, evidence) -> list[Prediction]:
        if evidence is None:
            return [Prediction(self.labels[k], round(float(p), 4), ()) for k, p in zip(best, confidence)]
        out = []
        for k, p, words in zip(best.tolist(), confidence.tolist(), evidence):
            label = self.labels[k]
            text = f"领域「{label}」（模型置信度 {p:.2f}）：主要依据 " + ("、".join(words) if words else "字词片段")
            out.append(Prediction(label, round(p, 4), (Reason("classify", text),)))
        return out

    def _evidence(self, rows: np.ndarray, cols: np.ndarray, best: np.ndarray, n_docs: int,
                  top: int = 5) -> list[list[str]]:
        """The words that pushed each document hardest towards its predicted label (word occurrences
        `rows`, `cols` in text order). A word's push is its float32 weight over the document's norm, one
        positive float64 per document: the division cannot make two different float32 values equal, so
        within a document the weights rank the words as the pushes do, ties included, and one sort by
        (document, weight down) suffices."""
        weight = self._weighted()[cols, best[rows]]
        keep = weight > 0
        rows, cols, weight = rows[keep], cols[keep], weight[keep]
        # Positive float32 bits order like the values: the complement puts the largest first.
        key = (rows.astype(np.uint64) << np.uint64(32)) | (~weight.view(np.uint32)).astype(np.uint64)
        order = np.argsort(key, kind="stable")  # stable: text order among equal weights
        rows, cols = rows[order], cols[order]
        # Rank within each document; a word repeated in a text appears several times, so take a few more.
        first = np.r_[0, np.flatnonzero(rows[1:] != rows[:-1]) + 1] if len(rows) else np.zeros(0, np.int64)
        rank = np.arange(len(rows)) - np.repeat(first, np.diff(np.r_[first, len(rows)]))
        pick = rank < top * 3
        rows, cols = rows[pick], cols[pick]
        # The first `top` distinct words of each document's picks (in numpy: no loop over occurrences).
        _, first = np.unique(rows * np.int64(self._n_cols()) + cols, return_index=True)
        first.sort()
        rows, cols = rows[first], cols[first]
        starts = np.r_[0, np.flatnonzero(rows[1:] != rows[:-1]) + 1] if len(rows) else np.zeros(0, np.int64)
        rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
        pick = rank < top
        rows, cols = rows[pick], cols[pick]
        vocab = self.vocabulary()
        out: list[list[str]] = [[] for _ in range(n_docs)]
        if len(rows):
            bounds = (np.flatnonzero(rows[1:] != rows[:-1]) + 1).tolist()
            words = list(map(vocab.__getitem__, cols.tolist()))
            starts = [0, *bounds]
            for r, s, e in zip(rows[starts].tolist(), starts, [*bounds, len(words)]):
                out[r] = words[s:e]
        return out

    def _n_cols(self) -> int:
        return self.weights.shape[0]

    def vocabulary(self) -> list[str]:
        if self._vocab is None:
            self._vocab = self.featurizer.vocabulary()
        return self._vocab

    # ------------------------------------------------------------------ file
    def arrays(self) -> dict[str, np.ndarray]:
        f = self.featurizer
        meta = dict(self.meta, format=FORMAT, temperature=self.temperature)
        return {
            "labels": np.array(self.labels, dtype=str),
            "words": np.array(self.vocabulary(), dtype=str),
            "word_idf": f.word_idf.astype(np.float32),
            "char_keys": f.char_keys.astype(np.uint64),
            "char_idf": f.char_idf.astype(np.float32),
            "stop": np.array(sorted(f.stop), dtype=str),
            "weights": self.weights.astype(np.float16),  # 3 significant digits: no change in CV
            "intercept": self.intercept.astype(np.float32),
            "orders": np.array(f.orders, dtype=np.int64),
            "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False, sort_keys=True).encode(), np.uint8),
        }

    def save(self, path: Path) -> None:
        arrays = self.arrays()
        arrays["digest"] = np.frombuffer(_digest(arrays).encode(), np.uint8)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "DomainModel":
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in (*_ARRAYS, "digest")}
        except FileNotFoundError:
            raise ModelError(f"{path}: model file not found (run `yuqing train`)") from None
        except KeyError as exc:
            raise ModelError(f"{path}: not a domain model file (missing {exc})") from None
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ModelError(f"{path}: damaged or not a model file ({exc})") from None
        if bytes(arrays.pop("digest")).decode(errors="replace") != _digest(arrays):
            raise ModelError(f"{path}: digest mismatch: the file was altered after training (模型文件被改动)")
        meta = json.loads(bytes(arrays["meta"]).decode())
        if meta.get("format") != FORMAT:
            raise ModelError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
        words = arrays["words"].tolist()
        n_features = len(words) + len(arrays["char_keys"])
        labels = arrays["labels"].tolist()
        if arrays["weights"].shape != (n_features, len(labels)) or arrays["intercept"].shape != (len(labels),):
            raise ModelError(f"{path}: inconsistent array shapes")
        featurizer = Featurizer(dict(zip(words, range(len(words)))), arrays["word_idf"], arrays["char_keys"],
                                arrays["char_idf"], frozenset(arrays["stop"].tolist()),
                                tuple(int(n) for n in arrays["orders"]))
        return cls(featurizer, labels, arrays["weights"].astype(np.float32), arrays["intercept"],
                   float(meta["temperature"]), meta, words)


def _add_rows(out: np.ndarray, rows: np.ndarray, contrib: np.ndarray) -> None:
    """out[rows[i]] += contrib[i] for rows sorted ascending (faster than np.add.at)."""
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    sums = np.add.reduceat(contrib, starts, axis=0)
    out[rows[starts]] += sums


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in _ARRAYS:
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- keyword fallback
class KeywordClassifier:
    """Weighted keywords (config/lexicons/domains.yaml): used when no trained model is available."""

    def __init__(self, lexicon: dict[str, dict[int, list[str]]]) -> None:
        self._terms = [
            (term, label, float(weight))
            for label, weights in lexicon.items()
            for weight, terms in weights.items()
            for term in terms
        ]
        self.labels = sorted(lexicon)

    @classmethod
    def from_file(cls, path: Path) -> "KeywordClassifier":
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    def predict(self, text: str) -> Prediction:
        scores: dict[str, float] = {}
        hits: dict[str, list[str]] = {}
        for term, label, weight in self._terms:
            count = text.count(term)
            if count:
                scores[label] = scores.get(label, 0.0) + weight * min(count, 3)
                hits.setdefault(label, []).append(term)
        if not scores:
            return Prediction(UNKNOWN, 0.0, (Reason("classify", "未命中任何领域关键词"),))
        label = max(scores, key=lambda k: (scores[k], k))
        total = sum(scores.values())
        # Share of the evidence, damped when there is little of it.
        confidence = round(scores[label] / total * min(1.0, scores[label] / 4), 3)
        terms = "、".join(hits[label][:6])
        return Prediction(label, confidence, (Reason("classify", f"领域「{label}」：命中关键词 {terms}"),))


def model_path(data_dir: Path) -> Path:
    """A model trained here (`yuqing train`, in the config's data folder) wins over the shipped one."""
    trained = data_dir / MODEL_FILE
    return trained if trained.is_file() else MODEL_PATH
