"""Domain values shared by the pure rules, the store and the responders. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum


class Severity(IntEnum):
    """National four-level grading. Higher value = more severe, so `>=` reads naturally."""

    GENERAL = 1  # Ⅳ 一般
    LARGER = 2  # Ⅲ 较大
    MAJOR = 3  # Ⅱ 重大
    EXTRAORDINARY = 4  # Ⅰ 特别重大

    @property
    def zh(self) -> str:
        return _SEVERITY_ZH[self]

    @property
    def roman(self) -> str:
        return _SEVERITY_ROMAN[self]

    @classmethod
    def parse(cls, value: object) -> "Severity":
        if isinstance(value, Severity):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        text = str(value).strip()
        for sev in cls:
            if text in (sev.zh, sev.roman, sev.name, sev.name.lower(), f"{sev.roman}级"):
                return sev
        raise ValueError(f'"{value}" is not a severity (use 一般, 较大, 重大, 特别重大)')


_SEVERITY_ZH = {
    Severity.GENERAL: "一般",
    Severity.LARGER: "较大",
    Severity.MAJOR: "重大",
    Severity.EXTRAORDINARY: "特别重大",
}
_SEVERITY_ROMAN = {
    Severity.GENERAL: "Ⅳ",
    Severity.LARGER: "Ⅲ",
    Severity.MAJOR: "Ⅱ",
    Severity.EXTRAORDINARY: "Ⅰ",
}


@dataclass
class RawItem:
    """One record as a source delivered it, before understanding."""

    source: str
    external_id: str
    title: str
    body: str
    occurred_at: datetime | None = None
    location: str = ""
    reporter: str = ""
    likes: int = 0
    status: str = ""
    handler: str = ""  # 承办单位 named by the source, if any
    channel: str = ""  # 信息来源 (电话/网站/app…)
    reply: str = ""
    replied_at: datetime | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Reason:
    """One line of "why": which rule decided, from what evidence. Shown to duty officers."""

    stage: str  # classify | route | severity | dedupe | deadline
    text: str  # Chinese, human-readable

    def as_dict(self) -> dict:
        return {"stage": self.stage, "text": self.text}


@dataclass
class Understanding:
    """What the pipeline concluded about one item (and so about a new incident)."""

    domain: str
    domain_confidence: float
    department: str
    co_departments: list[str]
    region: str
    severity: Severity
    kind: str  # incident | policy
    sensitive_areas: list[str]
    response_type: str
    reasons: list[Reason]
    needs_triage: bool = False
    topics: list[str] = field(default_factory=list)  # level-1 taxonomy classes (multi-label)
    level: str = ""  # the level that answers: province | city | county | district | street | town
    route_rule: str = ""  # local | cross_region | jurisdiction | policy | outside | fallback
    function: str = ""  # what the lead department is (教育, 生态环境 …) whatever its level and name
    facts: dict = field(default_factory=dict)  # deaths, injured, missing, loss_yuan … found in the text
    triage_reason: str = ""  # why a person must look first ("" = no triage)


# --------------------------------------------------------------------------- records read from the store
@dataclass
class Incident:
    id: int
    title: str
    kind: str
    status: str
    triage: str
    domain: str
    domain_confidence: float
    department: str
    co_departments: list
    region: str
    severity: int
    response_type: str
    sensitive_areas: list
    reasons: list
    first_seen_at: datetime
    last_seen_at: datetime
    published_at: datetime | None
    item_count: int
    reporter_count: int
    likes: int
    created_at: datetime
    updated_at: datetime
    merged_into: int | None = None  # status "merged": the incident it was merged into (monitor.regroup)
    transfer: str = ""  # outside the jurisdiction: the body it is transferred to (转办); no deadlines of ours
    event: dict | None = None  # what tells the event apart (monitor.dedupe.events.Signature), None = routine
    closed_at: datetime | None = None  # status "closed" (办结): when, by whom, and its reply
    closed_by: str | None = None
    reply: str = ""

    @property
    def level(self) -> Severity:
        return Severity(self.severity)


@dataclass
class Deadline:
    id: int
    incident_id: int
    rule: str
    title: str
    department: str
    starts_at: datetime
    due_at: datetime
    state: str
    satisfied_by: str
    closed_at: datetime | None
    close_reason: str | None
    evidence_id: int | None
    policy: str | None
    step: int
    fires: int
    next_at: datetime | None
    acked_step: int | None
    acked_by: str | None
    acked_at: datetime | None
    created_at: datetime
    updated_at: datetime
    provisional_year: int = 0  # see DeadlinePlan.provisional_year


@dataclass
class OutboxMessage:
    id: int
    key: str
    channel: str
    recipient: str
    incident_id: int | None
    deadline_id: int | None
    payload: dict
    status: str
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


DASHBOARD = "dashboard"  # built-in channel: every reminder without another address lands on the dashboard


def from_row(cls, mapping):
    """Build a record dataclass from a row mapping (extra columns ignored)."""
    names = cls.__dataclass_fields__
    return cls(**{k: v for k, v in mapping.items() if k in names})
