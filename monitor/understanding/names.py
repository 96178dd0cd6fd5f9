"""Which department and domain names a person may give in an action (reassign, triage correction, promise):
only those the jurisdiction and the classifier know, so a typo or `<script>…区城管局` is refused with the
allowed names instead of being stored. Pure: the jurisdiction and the label lists are passed in.

The CLI and the HTTP API both call `check_department` (reassign, promise) and `check_correction` (a triage
correction); the error is a ServiceError (HTTP 400, CLI exit 2) that carries the allowed names in
`UnknownName.allowed`.
"""

from __future__ import annotations

import difflib
import re
from typing import Iterable

from monitor.core.errors import ServiceError
from monitor.understanding.jurisdiction import Jurisdiction

SHOWN = 40  # names listed in a message; `UnknownName.allowed` holds them all
UNKNOWN_DOMAIN = "其他"  # what the classifier answers without a model (classifier.domain.UNKNOWN)

# Names the router makes for anonymised places (masked_places: A1区, 洋湖街道 after A3区…): see route._masked.
_MASKED_PLACE = r"[A-Z]\d{0,2}[市区县]"
_MASKED_OFFICE = re.compile(r"[\u4e00-\u9fa5]{2,4}?(?:街道办事处|镇人民政府|乡人民政府)")


class UnknownName(ServiceError):
    """A name that is not one of `allowed`; the message lists them (Chinese first) and a close match."""

    def __init__(self, field: str, value: str, allowed: list[str], what: str) -> None:
        self.field, self.value, self.allowed = field, value, allowed
        shown = "、".join(allowed[:SHOWN]) + (f" 等 {len(allowed)} 个" if len(allowed) > SHOWN else "")
        close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.6)
        hint = f"（是否要找「{close[0]}」？did you mean {close[0]}?）" if close else ""
        shown_value = value if len(value) <= 60 else value[:60] + "…"
        super().__init__(f"{field}: 未知的{what}「{shown_value}」{hint}；可选：{shown} "
                         f"(unknown {field}; allowed: the names listed)")


def department_names(j: Jurisdiction) -> list[str]:
    """Every department name the router can assign in `j`, in a stable order: its departments, the office,
    cyberspace and police, each place's office (or street office / town government), and each department's
    counterpart in the places below us (the `local` templates)."""
    names: list[str] = [d.name for d in j.departments]
    names += [n for n in (j.office, j.cyberspace, j.police) if n]
    for p in j.places:
        if p.office:
            names.append(p.office)
        elif p.level == "street":
            names.append(p.name + "办事处")
        elif p.level == "town":
            names.append(p.name + "人民政府")
    for p in j.places:
        if p.level in ("city", "county", "district"):
            names += [n for n in (d.local_name(p) for d in j.departments) if n]
    return list(dict.fromkeys(names))


def check_department(j: Jurisdiction, value, field: str = "department") -> str:
    """The canonical name of the department `value` names (an alias gives its department's name); UnknownName
    when the jurisdiction has no such department."""
    name = _text(value, field)
    d = j.department(name)
    if d is not None:
        return d.name
    allowed = department_names(j)
    if name in allowed or (j.masked_places and _masked_department(j, name)):
        return name
    raise UnknownName(field, name, allowed, "部门")


def check_departments(j: Jurisdiction, values: Iterable, field: str = "co_departments") -> list[str]:
    return list(dict.fromkeys(check_department(j, v, field) for v in values))


def domain_names(j: Jurisdiction | None = None, *label_sets: Iterable[str]) -> list[str]:
    """The domains a person may choose: the classifier's labels and taxonomy classes passed in, those the
    jurisdiction's departments answer for, and 其他."""
    names: list[str] = []
    for labels in label_sets:
        names += [str(label) for label in labels]
    if j is not None:
        for d in j.departments:
            names += d.domains
    names.append(UNKNOWN_DOMAIN)
    return list(dict.fromkeys(n for n in names if n))


def known_domains(j: Jurisdiction, understander) -> list[str]:
    """domain_names for a loaded Understander: its model's labels, its keyword classifier's, its taxonomy."""
    model, keywords = getattr(understander, "model", None), getattr(understander, "keywords", None)
    return domain_names(j, model.labels if model is not None else [], keywords.labels if keywords is not None else [],
                        list(understander.lexicons.taxonomy))


def check_correction(j: Jurisdiction, understander, values: dict) -> dict:
    """A triage correction (monitor.understanding.triage.FIELDS) with its names checked: department and
    co_departments against the jurisdiction (aliases become names), domain against `known_domains`,
    response_type against the response types. Other fields are left to triage.parse_changes."""
    out = dict(values)
    if out.get("department") is not None:
        out["department"] = check_department(j, out["department"])
    co = out.get("co_departments")
    if co is not None:
        parts = co.replace("，", ",").replace("、", ",").split(",") if isinstance(co, str) else co
        if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
            raise ServiceError("co_departments: 需要部门名称的列表 (a list of department names)")
        out["co_departments"] = check_departments(j, [p for p in parts if p.strip()])
    if out.get("domain") is not None:
        out["domain"] = check_domain(out["domain"], known_domains(j, understander))
    if out.get("response_type") is not None and understander.lexicons.order:
        out["response_type"] = check_name(out["response_type"], understander.lexicons.order, "response_type",
                                          "回应类型")
    return out


def check_domain(value, allowed: Iterable[str], field: str = "domain") -> str:
    return check_name(value, allowed, field, "领域")


def check_name(value, allowed: Iterable[str], field: str, what: str = "名称") -> str:
    """`value` stripped if it is one of `allowed`; UnknownName listing them otherwise."""
    name = _text(value, field)
    allowed = list(allowed)
    if name in allowed:
        return name
    raise UnknownName(field, name, allowed, what)


def _text(value, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ServiceError(f"{field}: 需要一个名称 (a non-empty name is required)")
    return value.strip()


def _masked_department(j: Jurisdiction, name: str) -> bool:
    if _MASKED_OFFICE.fullmatch(name):
        return True
    for d in j.departments:
        templates = d.local.values() if isinstance(d.local, dict) else [d.local] if d.local else []
        for t in templates:
            pattern = re.escape(t).replace(re.escape("{place}"), _MASKED_PLACE)
            if re.fullmatch(pattern, name):
                return True
    return False
