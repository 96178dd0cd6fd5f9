"""From an item's text to what the duty office needs to know: domain, department, severity, sensitive areas,
response type, and whether a person must look first. Pure: resources are loaded once and passed in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from monitor.classify import KeywordClassifier
from monitor.jurisdiction import Jurisdiction
from monitor.model import Reason, Severity, Understanding
from monitor.normalize import normalize
from monitor.route import Router
from monitor.severity import grade

_POLICY_MARKERS = ("政策解读", "印发", "实施办法", "管理办法", "通知》", "意见》", "条例", "暂行规定")
_FALSE_INFO = ("谣言", "不实", "造谣", "假消息", "辟谣")
_SUGGESTION = ("建议", "提议", "希望增设", "能否")
_QUESTION = ("咨询", "请问", "是否", "为什么", "怎么")


@dataclass
class Understander:
    classifier: KeywordClassifier
    router: Router
    sensitive: dict[str, list[str]]
    min_confidence: float = 0.35

    @classmethod
    def load(cls, lexicons: Path, jurisdiction: Jurisdiction, min_confidence: float) -> "Understander":
        sensitive = yaml.safe_load((lexicons / "sensitive.yaml").read_text(encoding="utf-8"))
        return cls(KeywordClassifier.from_file(lexicons / "domains.yaml"), Router(jurisdiction), sensitive,
                   min_confidence)

    def understand(self, title: str, body: str) -> Understanding:
        text = normalize(f"{title}\n{body}")
        prediction = self.classifier.predict(text)
        route = self.router.route(text, prediction.label)
        severity, severity_reasons = grade(text)
        areas = [area for area, terms in self.sensitive.items() if any(t in text for t in terms)]
        reasons: list[Reason] = [*prediction.reasons, *route.reasons, *severity_reasons]
        if areas:
            reasons.append(Reason("severity", "敏感领域：" + "、".join(areas)))
        kind = "policy" if any(m in title for m in _POLICY_MARKERS) else "incident"
        response_type, why = suggest_response_type(text, severity)
        reasons.append(Reason("response", f"建议回应类型「{response_type}」：{why}"))
        needs_triage = prediction.confidence < self.min_confidence or route.ambiguous
        if needs_triage:
            reasons.append(Reason("triage", f"置信度 {prediction.confidence:.2f} 或分办不明确：待人工研判"))
        return Understanding(
            domain=prediction.label,
            domain_confidence=prediction.confidence,
            department=route.department,
            co_departments=route.co_departments,
            region=route.region,
            severity=severity,
            kind=kind,
            sensitive_areas=areas,
            response_type=response_type,
            reasons=reasons,
            needs_triage=needs_triage,
        )


def suggest_response_type(text: str, severity: Severity) -> tuple[str, str]:
    """One of the six handling types of 云政办发〔2017〕22号, with the reason."""
    if severity >= Severity.MAJOR:
        return "重大问题", f"事件等级{severity.zh}，应公布调查和处理情况"
    if any(t in text for t in _FALSE_INFO):
        return "虚假不实信息", "涉及不实信息，应及时回应并移交线索"
    if any(t in text for t in _SUGGESTION):
        return "建设性意见", "提出建议，应公开采纳情况"
    if any(t in text for t in _QUESTION):
        return "模糊认识", "属于咨询或疑问，应发布权威信息解疑释惑"
    return "实际困难", "反映具体困难，应公开解决情况"
