"""From an item's text to what the duty office needs to know: domain, department, level, severity, sensitive
areas, taxonomy classes, response type, and whether a person must look first — each with its reasons.

Pure once loaded: resources (model, jurisdiction, lexicons) are loaded once and passed in. Built for
batches (`understand_many`): each message is segmented once, the whole batch is classified with numpy,
and all terms (places, departments, areas, classes, response cues) are found in one Aho-Corasick pass.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from loguru import logger

from monitor.understanding import segment
from monitor.understanding.classifier.domain import MODEL_PATH, DomainModel, KeywordClassifier, ModelError, Prediction
from monitor.understanding.jurisdiction import Jurisdiction
from monitor.core.model import Reason, Understanding
from monitor.understanding.policy import is_policy
from monitor.understanding.route import Router
from monitor.config.settings import ConfigError
from monitor.understanding.severity import SeverityPolicy, assess
from monitor.understanding.taxonomy import Lexicons
from monitor.understanding.terms import TermIndex
from monitor.understanding.classifier.token_scores import SEP

_SPACE = re.compile(r"\s+")


# Full-width digits and letters (１２人, ＡＢＣ) → ASCII, the ideographic space → space: the part of NFKC
# that matters here, at a fraction of its cost; full-width punctuation stays (the rules accept both).
_WIDE = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000]+")
_COMPAT = re.compile(r"[\u2460-\u24ff\u3200-\u33ff\ufb00-\ufb4f]")


def _narrow(match: re.Match) -> str:
    return "".join(" " if c == "\u3000" else chr(ord(c) - 0xFEE0) for c in match.group())


def prepare(title: str, body: str) -> str:
    """Message text for understanding: title and body, full-width forms folded, whitespace collapsed.
    One regex scan: full-width forms are folded as they are met; a compatibility character (rare)
    hands the text to `prepare_slow`, whose NFKC may change any character."""
    text = f"{title or ''}\n{body or ''}"
    try:
        text = _FOLD.sub(_fold, text)
    except _NeedsNFKC:
        return prepare_slow(title, body)
    return " ".join(text.split())  # str.split's whitespace is re's \s: the same as _SPACE, then strip


def prepare_slow(title: str, body: str) -> str:
    """The reference implementation of `prepare`."""
    text = _WIDE.sub(_narrow, f"{title or ''}\n{body or ''}")
    if _COMPAT.search(text):  # circled numbers and the like: rare, let NFKC do it
        text = unicodedata.normalize("NFKC", text)
    return _SPACE.sub(" ", text).strip()


_FOLD = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000\u2460-\u24ff\u3200-\u33ff\ufb00-\ufb4f]")


class _NeedsNFKC(Exception):
    pass


def _fold(match: re.Match) -> str:
    if _COMPAT.match(match.group()):
        raise _NeedsNFKC
    return _narrow(match)


MAX_CLASSIFY_CHARS = 1200  # longer messages are classified on their beginning (segmentation is the cost)
BATCH = 1000


@dataclass
class Understander:
    router: Router
    lexicons: Lexicons
    model: DomainModel | None = None
    keywords: KeywordClassifier | None = None
    severity_policy: SeverityPolicy = field(default_factory=SeverityPolicy)
    min_confidence: float = 0.35
    segmenter: segment.Segmenter = field(default_factory=segment.for_lexicons)
    index: TermIndex = field(init=False)

    def __post_init__(self) -> None:
        # One automaton for everything: the router's places/departments plus our lexicons.
        self.index = self.lexicons.register(self.router.index)

    @classmethod
    def load(cls, lexicons: Path, jurisdiction: Jurisdiction, min_confidence: float,
             model_path: Path | None = MODEL_PATH) -> "Understander":
        if not lexicons.is_dir():
            raise ConfigError([f"{lexicons}: lexicons folder not found (词典目录不存在)"])
        segmenter = segment.for_lexicons(lexicons)
        model = None
        if model_path is not None:
            try:
                model = DomainModel.load(model_path)
            except ModelError as exc:
                logger.warning("domain model unavailable, using keywords: {}", exc)
        keywords = KeywordClassifier.from_file(lexicons / "domains.yaml") if (lexicons / "domains.yaml").exists() \
            else None
        policy_file = lexicons / "severity.yaml"
        try:
            policy = SeverityPolicy.from_file(policy_file) if policy_file.exists() else SeverityPolicy()
            lexicon = Lexicons.load(lexicons)
        except (ValueError, yaml.YAMLError) as exc:  # a bad lexicon is bad config: exit 2, naming the file
            raise ConfigError([f"{lexicons}: {exc}"]) from None
        return cls(Router(jurisdiction), lexicon, model, keywords, policy, min_confidence, segmenter)

    # ------------------------------------------------------------------ classification
    def classify_many(self, texts: list[str]) -> list[Prediction]:
        if self.model is not None:
            out: list[Prediction] = []
            for start in range(0, len(texts), BATCH):  # batches that stay in the CPU caches
                batch = [t[:MAX_CLASSIFY_CHARS] for t in texts[start:start + BATCH]]
                try:  # one tokenizer call for the batch: the separator is a token of its own
                    if any(SEP in t for t in batch):
                        raise ValueError("not a prepared text")
                    out += self.model.predict_joined(self.segmenter.cut(SEP.join(batch)), len(batch))
                except ValueError:  # a text holds the separator (or the tokenizer merged it): one call each
                    out += self.model.predict_tokens([self.segmenter.cut(t) for t in batch])
            return out
        if self.keywords is not None:
            return [self.keywords.predict(t) for t in texts]
        return [Prediction("其他", 0.0, (Reason("classify", "无分类模型"),)) for _ in texts]

    # ------------------------------------------------------------------ the whole picture
    def understand(self, title: str, body: str) -> Understanding:
        return self.understand_many([(title, body)])[0]

    def understand_many(self, pairs: list[tuple[str, str]]) -> list[Understanding]:
        return self.understand_texts([title or "" for title, _ in pairs], [prepare(t, b) for t, b in pairs])

    def understand_texts(self, titles: list[str], texts: list[str]) -> list[Understanding]:
        """As understand_many, for texts already prepared (`prepare(title, body)`) by a caller that reads them too."""
        predictions = self.classify_many(texts)
        return [self._one(title, text, p) for title, text, p in zip(titles, texts, predictions)]

    def _one(self, title: str, text: str, prediction: Prediction) -> Understanding:
        found = self.index.find(text)
        areas = self.lexicons.areas(found)
        topics = self.lexicons.topics(found, prediction.label, prediction.confidence)
        severity = assess(text, list(areas), self.severity_policy)
        policy, policy_why = is_policy(title, text)
        kind = "policy" if policy else "incident"
        route = self.router.route(text, prediction.label, prediction.confidence, kind, list(areas), list(topics),
                                  found, emergency=severity.facts.any)
        reasons: list[Reason] = [*prediction.reasons, *route.reasons, *severity.reasons]
        if policy_why:
            reasons.append(Reason("classify", policy_why))
        if areas:
            reasons.append(Reason("severity", "敏感领域：" + "；".join(
                f"{a}（{'、'.join(t[:3])}）" for a, t in areas.items())))
        if topics:
            reasons.append(Reason("classify", "涉及类别：" + "、".join(topics)))
        response_type, why = self.lexicons.response_type(found, severity.level)
        reasons.append(Reason("response", f"建议回应类型「{response_type}」：{why}"))
        # a grade that rests on uncertain figures comes first: it may decide a legal 5-hour deadline
        triage = [severity.triage_reason] if severity.triage_reason else []
        if prediction.confidence < self.min_confidence:
            triage.append(f"领域置信度 {prediction.confidence:.2f} 低于 {self.min_confidence:.2f}")
        elif route.ambiguous:
            triage.append("分办不明确")
        reasons += [Reason("triage", f"{t}：待人工研判") for t in triage]
        triage_reason = "；".join(triage)
        return Understanding(
            domain=prediction.label,
            domain_confidence=prediction.confidence,
            department=route.department,
            co_departments=route.co_departments,
            region=route.region,
            severity=severity.level,
            kind=kind,
            sensitive_areas=list(areas),
            response_type=response_type,
            reasons=reasons,
            needs_triage=bool(triage_reason),
            topics=list(topics),
            level=route.level,
            route_rule=route.rule,
            function=route.function,
            facts=severity.facts.as_dict(),
            triage_reason=triage_reason,
        )
