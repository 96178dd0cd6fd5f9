"""GET /api/openapi.json — the OpenAPI 3.1 document of the JSON API, built from the list of operations declared
here. tests/test_office_pages.py checks that every /api/ route of the router is in this list and every entry here
is a route, so a new endpoint without its entry (or an entry without its endpoint) fails the tests: add yours to
OPERATIONS. Like every page it needs a session or a token (monitor/web/security.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata

from aiohttp import web

from monitor.web.office_kit import json_response

PATH = "/api/openapi.json"


def _obj(required: tuple[str, ...] = (), **props) -> dict:
    out: dict = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


_STR, _INT, _BOOL, _NUM = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}, {"type": "number"}
_TIME = {"type": "string", "format": "date-time"}
_OBJECTS = {"type": "array", "items": {"type": "object"}}
_ACTOR = {"type": "string", "maxLength": 100,
          "description": "操作人：会话中为登录用户（忽略此字段）；令牌调用时必填 / "
                         "who acts: the signed-in user in a session; required with a token"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(name: str, key: str) -> dict:
    return _obj((key,), **{key: {"type": "array", "items": _ref(name)}})


SCHEMAS = {
    "Error": _obj(("error",), error={"type": "string", "description": "中文在前，英文说明在后 / Chinese, then English"},
                  allowed={"type": "array", "items": _STR}),
    "Incident": {**_obj(("id", "title", "status", "department", "severity"), id=_INT, title=_STR,
                        kind={"enum": ["incident", "policy"]}, status={"enum": ["open", "closed", "merged"]},
                        triage={"enum": ["none", "pending", "accepted", "corrected"]}, domain=_STR,
                        domain_confidence=_NUM, department=_STR, co_departments={"type": "array", "items": _STR},
                        region=_STR, severity={"enum": ["一般", "较大", "重大", "特别重大"]},
                        level={"enum": ["Ⅳ", "Ⅲ", "Ⅱ", "Ⅰ"]}, response_type=_STR,
                        reasons={"type": "array", "items": _obj(stage=_STR, text=_STR)},
                        first_seen_at=_TIME, last_seen_at=_TIME, item_count=_INT, reporter_count=_INT, likes=_INT,
                        merged_into={"type": ["integer", "null"]}), "additionalProperties": True},
    "Deadline": {**_obj(("rule", "due_at", "state"), id=_INT, incident_id=_INT, rule=_STR, title=_STR,
                        department=_STR, starts_at=_TIME, due_at=_TIME,
                        state={"enum": ["open", "satisfied", "cancelled"]}, provisional_year=_INT),
                 "additionalProperties": True},
    "IncidentDetail": {"allOf": [_ref("Incident"), _obj(
        route=_obj(department=_STR, co_departments={"type": "array", "items": _STR}, region=_STR),
        items=_OBJECTS, deadlines={"type": "array", "items": _ref("Deadline")}, evidence=_OBJECTS,
        timeline=_OBJECTS)]},
    "TriageOutcome": _obj(incident=_ref("Incident"), changes={"type": "object"}, deadlines_moved=_INT,
                          opened={"type": "array", "items": _STR}, cancelled={"type": "array", "items": _STR}),
    "Shift": _obj(("id", "role", "user", "starts_at", "ends_at", "origin"), id=_INT, role=_STR, user=_STR,
                  starts_at=_TIME, ends_at=_TIME, origin={"enum": ["config", "manual"]}),
    "RoleGap": _obj(role=_STR, nobody=_BOOL, uncovered_hours=_NUM,
                    holes={"type": "array", "items": {"type": "array", "items": _TIME}}, text=_STR),
    "Rate": _obj(deadlines=_INT, on_time=_INT, late=_INT, missing=_INT, pending=_INT,
                 on_time_rate={"type": ["number", "null"], "description": "按时 ÷（按时+逾期+未回应）"}),
    "SourceHealth": {**_obj(("name", "kind", "healthy", "state"), name=_STR, kind=_STR, enabled=_BOOL,
                            healthy=_BOOL, state=_STR, failures=_INT, last_error={"type": ["string", "null"]},
                            last_poll_at={"type": ["string", "null"], "format": "date-time"},
                            last_ok_at={"type": ["string", "null"], "format": "date-time"},
                            next_poll_at={"type": ["string", "null"], "format": "date-time"},
                            overdue=_BOOL, items=_INT, quarantined=_INT), "additionalProperties": True},
}
SCHEMAS["Stats"] = _obj(
    period=_obj(kind={"enum": ["month", "quarter", "year"]}, key=_STR, label=_STR, start=_TIME, end=_TIME, at=_TIME),
    department={"type": ["string", "null"]}, totals={"allOf": [_ref("Rate"), _obj(incidents=_INT, reports=_INT)]},
    days={"type": "array", "items": _obj(date={"type": "string", "format": "date"}, incidents=_INT, reports=_INT)},
    departments={"type": "array", "items": {"allOf": [
        _ref("Rate"), _obj(department=_STR, rank={"type": ["integer", "null"]}, incidents=_INT)]}},
    severity={"type": "array", "items": _obj(severity=_STR, level=_STR, incidents=_INT)},
    rules={"type": "array", "items": {"allOf": [_ref("Rate"), _obj(rule=_STR, title=_STR)]}})


def _q(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PARAMETERS = {
    "id": {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}},
    "limit": _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "每页条数，超出范围为 400 / 1–1000"),
    "offset": _q("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}, "跳过条数 / rows to skip"),
    "cursor": _q("cursor", _STR, "上一页返回的 next_cursor / the previous page's next_cursor"),
    "status": _q("status", {"enum": ["open", "closed", "merged", "all"]}, "事件状态 / incident status"),
    "severity": _q("severity", {"type": "string"}, "等级：1–4 或 一般、较大、重大、特别重大 / a level"),
    "source": _q("source", _STR, "来源名称 / a source"),
    "from": _q("from", {"type": "string", "format": "date"}, "首次发现不早于该日（北京时间）/ first seen on or after"),
    "to": _q("to", {"type": "string", "format": "date"}, "首次发现不晚于该日（北京时间）/ first seen on or before"),
    "q": _q("q", {"type": "string", "maxLength": 200}, "检索标题和正文（中文分词）/ search titles and texts"),
    "month": _q("month", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}, "月份（北京时间），默认本月 / YYYY-MM"),
    "department": _q("department", _STR, "责任单位；部门联络员只能是本部门 / a department (a liaison: its own)"),
    "state": _q("state", {"enum": ["on_time", "late", "missing", "pending", "none"]}, "是否按时 / on-time state"),
    "period": _q("period", {"type": "string", "pattern": "^[0-9]{4}(-[0-9]{2}|[Qq][1-4])?$"},
                 "月 2026-11、季 2026Q4 或年 2026，默认本月 / a month, quarter or year"),
    "days": _q("days", {"type": "integer", "minimum": 1, "maximum": 31}, "从今天起的天数 / days from today"),
}


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    tag: str
    params: tuple[str, ...] = ()
    body: dict | None = None
    status: int = 200
    response: dict = field(default_factory=lambda: {"type": "object"})
    content: str = "application/json"
    security: list | None = None  # None: a session or a bearer token


_INCIDENT = "/api/v1/incidents/{id}"
_FILTERS = ("status", "department", "severity", "source", "from", "to", "q")
OPERATIONS: list[Op] = [
    Op("get", "/api/v1/incidents", "事件列表：最先到期的在前，可筛选、检索、翻页 / list, filter, search incidents",
       "incidents", (*_FILTERS, "limit", "offset", "cursor"),
       response=_obj(("incidents",), incidents={"type": "array", "items": _ref("Incident")},
                     next_cursor={"type": ["string", "null"]}, total=_INT)),
    Op("get", "/api/v1/now/summary", "当前页的统计卡片与超时横幅 / the now page's counts and overdue banner", "incidents",
       _FILTERS, response=_obj(counts={"type": "object"}, total=_INT, banner={"type": ["object", "null"]}, now=_TIME)),
    Op("get", "/api/v1/stream", "实时更新（服务器发送事件，断线后带 Last-Event-ID 续传）/ live updates (server-sent events)",
       "incidents", content="text/event-stream", response={"type": "string"}),
    Op("get", _INCIDENT, "事件详情：留言、分办、等级、依据、期限、证据、时间线 / one incident in full", "incidents", ("id",),
       response=_ref("IncidentDetail")),
    Op("post", _INCIDENT + "/ack", "确认收到：停止当前一级提醒，期限继续 / acknowledge", "actions", ("id",),
       _obj(actor=_ACTOR, rule=_STR), response=_obj(acknowledged={"type": "array", "items": _STR})),
    Op("post", _INCIDENT + "/evidence", "登记证据，完成其满足的期限 / record evidence", "actions", ("id",),
       _obj(actor=_ACTOR, rule=_STR, kind=_STR, url={"type": "string", "format": "uri"}, note=_STR),
       response=_obj(satisfied={"type": "array", "items": _obj(rule=_STR, on_time=_BOOL)})),
    Op("post", _INCIDENT + "/reassign", "改派责任单位，时钟不变 / reassign", "actions", ("id",),
       _obj(("department",), actor=_ACTOR, department=_STR, reason=_STR), response=_obj(department=_STR)),
    Op("post", _INCIDENT + "/regrade", "调整等级（须写明理由）/ regrade with a reason", "actions", ("id",),
       _obj(("severity", "reason"), actor=_ACTOR, severity={"type": ["string", "integer"]}, reason=_STR),
       response=_obj(severity=_STR, level=_STR, opened={"type": "array", "items": _STR},
                     cancelled={"type": "array", "items": _STR})),
    Op("post", _INCIDENT + "/note", "添加备注 / add a note to the timeline", "actions", ("id",),
       _obj(("text",), actor=_ACTOR, text={"type": "string", "maxLength": 2000}), response=_obj(noted=_BOOL)),
    Op("post", _INCIDENT + "/close", "办结：期限已满足且答复已登记 / close the incident", "actions", ("id",),
       _obj(actor=_ACTOR, reply_url={"type": "string", "format": "uri"}, note=_STR)),
    Op("post", _INCIDENT + "/reopen", "重新打开（须写明理由）/ reopen with a reason", "actions", ("id",),
       _obj(("reason",), actor=_ACTOR, reason=_STR), response=_obj(incident_id=_INT, status=_STR)),
    Op("post", _INCIDENT + "/merge", "合并事件 / merge incidents into this one", "actions", ("id",),
       _obj(("incident_ids",), actor=_ACTOR, reason=_STR, incident_ids={"type": "array", "items": _INT})),
    Op("post", _INCIDENT + "/split", "拆分事件 / split items into a new incident", "actions", ("id",),
       _obj(("item_ids",), actor=_ACTOR, item_ids={"type": "array", "items": _INT}), 201,
       _obj(incident_id=_INT, new_incident_id=_INT, item_ids={"type": "array", "items": _INT})),
    Op("get", "/api/v1/triage", "待分诊队列 / the triage queue", "triage", ("limit", "offset"),
       response=_list("Incident", "incidents")),
    Op("post", _INCIDENT + "/triage/accept", "确认系统研判 / accept as understood", "triage", ("id",),
       _obj(actor=_ACTOR), response=_ref("TriageOutcome")),
    Op("post", _INCIDENT + "/triage/correct", "更正领域、部门、等级等（可附理由）/ correct", "triage", ("id",),
       _obj(actor=_ACTOR, domain=_STR, department=_STR, co_departments={"type": ["array", "string"]},
            severity={"enum": ["一般", "较大", "重大", "特别重大"]}, response_type=_STR,
            reason={"type": "string", "maxLength": 500}), response=_ref("TriageOutcome")),
    Op("post", "/api/v1/ingest", "推送留言（HMAC-SHA256 签名，无需登录）/ push a message, signed", "ingest",
       body=_obj(("id", "title", "body", "time"), id=_STR, title=_STR, body=_STR, time=_TIME, source=_STR,
                 location=_STR, reporter=_STR), status=202,
       response=_obj(item_id=_INT, incident_id=_INT, duplicate=_BOOL, updated=_BOOL), security=[]),
    Op("get", "/api/v1/roster", "值班表：班次、常任角色、未来 7 天的空缺 / the duty roster", "roster", ("days",),
       response=_obj(**{"from": _TIME, "to": _TIME}, shifts={"type": "array", "items": _ref("Shift")},
                     standing={"type": "object", "additionalProperties": {"type": "array", "items": _STR}},
                     gaps={"type": "array", "items": _ref("RoleGap")})),
    Op("post", "/api/v1/roster", "添加手动班次（值班员、管理员）/ add a manual shift", "roster",
       body=_obj(("role", "user", "starts_at", "ends_at"), role=_STR, user=_STR, actor=_ACTOR,
                 starts_at={"type": "string", "description": "ISO 8601；不带时区为北京时间"},
                 ends_at={"type": "string", "description": "ISO 8601；不带时区为北京时间"}),
       status=201, response=_ref("Shift")),
    Op("delete", "/api/v1/roster/{id}", "删除手动班次（配置中的班次 409）/ remove a manual shift", "roster", ("id",),
       response=_obj(removed=_ref("Shift"))),
    Op("get", "/api/v1/ledger", "回应台账（按月，可按部门、是否按时筛选）/ the response ledger", "ledger",
       ("month", "department", "state", "limit", "cursor"),
       response=_obj(month=_STR, columns={"type": "array", "items": _STR},
                     rows=_OBJECTS, stats=_OBJECTS,
                     next_cursor={"type": ["string", "null"]})),
    Op("get", "/api/v1/sources", "数据源健康 / sources health", "sources",
       response=_list("SourceHealth", "sources")),
    Op("get", "/api/v1/stats", "统计：按日、部门、等级、期限规则 / statistics of a period", "stats", ("period",),
       response=_ref("Stats")),
    Op("get", PATH, "本文档 / this document", "meta", response={"type": "object"}),
]


def _operation(op: Op) -> dict:
    out: dict = {"summary": op.summary, "tags": [op.tag], "operationId": f"{op.method}_{op.path}",
                 "parameters": [PARAMETERS[p] for p in op.params]}
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
    out["responses"] = {str(op.status): {"description": "成功 / OK", "content": {op.content: {"schema": op.response}}},
                        "default": {"description": "错误 / error",
                                    "content": {"application/json": {"schema": _ref("Error")}}}}
    if op.security is not None:
        out["security"] = op.security
    if op.path == "/api/v1/stream":
        out["parameters"] = [{"name": "Last-Event-ID", "in": "header", "required": False, "schema": _STR,
                              "description": "上次收到的事件编号，续传其后的变化 / resume after this event"}]
    if op.path == "/api/v1/ingest":
        out["parameters"] = [{"name": "X-Yuqing-Signature", "in": "header", "required": True,
                              "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
                              "description": "sha256=<原始请求体的 HMAC-SHA256> / of the raw body"}]
    return out


def document() -> dict:
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    try:
        version = metadata.version("yuqing-sentinel")
    except metadata.PackageNotFoundError:
        version = "0"
    return {
        "openapi": "3.1.0",
        "info": {"title": "舆情哨兵 yuqing-sentinel API", "version": version,
                 "description": "值班台的 JSON 接口。除推送接口外，每个请求都需要登录会话（Cookie，修改操作另带 "
                                "X-CSRF-Token 头）或 Authorization: Bearer 令牌；部门联络员只能查看和处理本部门的事件。"
                                " / The duty dashboard's JSON API: a session (with X-CSRF-Token on changes) or a "
                                "bearer token on every call but ingest; a liaison sees its own department only."},
        "servers": [{"url": "/"}],
        "security": [{"session": []}, {"bearer": []}],
        "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "parameters": PARAMETERS,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "yuqing_session",
                            "description": "登录会话（/login）/ a signed-in session"},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "API 令牌（yuqing token add，或环境变量 YUQING_API_TOKEN）/ an API token"},
            },
        },
    }


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(document())


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get(PATH, openapi_json)
