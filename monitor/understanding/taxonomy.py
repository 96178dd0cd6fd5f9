"""Multi-label flags by rules (pure once loaded): the 15 level-1 classes of the board's taxonomy, the eight
sensitive areas of 云政办发〔2021〕28号, and the six response types of 云政办发〔2017〕22号.

Term lists live in config/lexicons/ (taxonomy.yaml, sensitive.yaml, response_types.yaml) and are matched
in the same single Aho-Corasick pass as the routing terms (monitor.understanding.terms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from monitor.core.model import Severity
from monitor.understanding.terms import TermIndex

SENSITIVE_AREAS = ("疫情防控", "房地产金融", "工资拖欠", "环境污染和生态破坏", "食品药品安全", "教育医疗养老",
                   "安全生产", "困难群众生活")
RESPONSE_TYPES = ("建设性意见", "实际困难", "重大问题", "模糊认识", "错误看法", "虚假不实信息")
DEFAULT_RESPONSE = "实际困难"
MODEL_TOPIC_CONFIDENCE = 0.5  # the model's domain counts as a taxonomy flag from this confidence on


@dataclass
class Lexicons:
    sensitive: dict[str, list[str]]
    taxonomy: dict[str, list[str]]
    responses: dict[str, dict]  # type -> {output, terms}, in checking order
    order: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> "Lexicons":
        def read(name: str) -> dict:
            path = folder / name
            return yaml.safe_load(path.read_text(encoding="utf-8")) or {} if path.exists() else {}

        sensitive = read("sensitive.yaml")
        unknown = set(sensitive) - set(SENSITIVE_AREAS)
        if unknown:
            raise ValueError(f"{folder / 'sensitive.yaml'}: unknown sensitive areas {sorted(unknown)}")
        responses = read("response_types.yaml")
        unknown = set(responses) - set(RESPONSE_TYPES)
        if unknown:
            raise ValueError(f"{folder / 'response_types.yaml'}: unknown response types {sorted(unknown)}")
        return cls(sensitive, read("taxonomy.yaml"), responses, list(responses))

    def register(self, index: TermIndex) -> TermIndex:
        for area, terms in self.sensitive.items():
            index.add("area:" + area, terms)
        for topic, terms in self.taxonomy.items():
            index.add("topic:" + topic, terms)
        for kind, spec in self.responses.items():
            index.add("response:" + kind, spec.get("terms", []))
        return index

    # ------------------------------------------------------------------ decisions on found terms
    def areas(self, found: dict[str, list[str]]) -> dict[str, list[str]]:
        return {a: found["area:" + a] for a in SENSITIVE_AREAS if "area:" + a in found}

    def topics(self, found: dict[str, list[str]], domain: str = "", confidence: float = 0.0) -> dict[str, list[str]]:
        """Flagged classes → evidence. The model's domain counts when confident."""
        out = {t: found["topic:" + t] for t in self.taxonomy if "topic:" + t in found}
        if domain in self.taxonomy and confidence >= MODEL_TOPIC_CONFIDENCE:
            out.setdefault(domain, [])
            out[domain] = ["模型"] + out[domain]
        return out

    def response_type(self, found: dict[str, list[str]], severity: Severity) -> tuple[str, str]:
        """One of the six handling types with its reason (matched terms and the expected output)."""
        if severity >= Severity.LARGER:
            spec = self.responses.get("重大问题", {})
            return "重大问题", f"事件等级{severity.zh}：应{spec.get('output', '及时发布调查处置情况')}"
        for kind in self.order:
            terms = found.get("response:" + kind)
            if terms:
                return kind, f"命中「{'、'.join(terms[:3])}」：应{self.responses[kind].get('output', '')}"
        spec = self.responses.get(DEFAULT_RESPONSE, {})
        return DEFAULT_RESPONSE, f"反映具体问题：应{spec.get('output', '对外公布研究解决情况')}"
