"""Domain classification. This first classifier scores weighted keywords (config/lexicons/domains.yaml):
explainable and fast; a trained model replaces it behind the same interface."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from monitor.model import Reason

UNKNOWN = "其他"


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    reasons: tuple[Reason, ...]


class KeywordClassifier:
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
