"""Typed configuration loaded from one YAML file, with errors that name the file, the line and the key.

The YAML is composed into nodes first so that every key path keeps its line number; pydantic then
validates the plain data and each error is mapped back to `file:line: path: message`.
"""

from __future__ import annotations

import difflib
import os
from importlib import resources
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)

from monitor.core.clock import as_utc
from monitor.core.durations import Duration
from monitor.core.model import Severity
from monitor.core.workcal import WorkCalendar, YearSchedule

DEFAULT_DATABASE = "sqlite:///yuqing.db"
# Package data (demo config and sample, jurisdictions, lexicons): read from the installed package, so a wheel
# works from any directory. Wheels install unzipped, so the resource is a real folder.
BUNDLED_CONFIG = Path(str(resources.files("monitor.config") / "bundled"))
BUNDLED_JURISDICTION = "jurisdictions/xishan.yaml"
BUNDLED_LEXICONS = "lexicons"
ENV_CONFIG = "YUQING_CONFIG"
ENV_DATABASE = "YUQING_DATABASE"

DurationField = Annotated[Duration, PlainValidator(Duration.parse), PlainSerializer(str)]
SeverityField = Annotated[Severity, PlainValidator(Severity.parse), PlainSerializer(lambda s: s.zh)]
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class ConfigError(Exception):
    """Bad configuration. `lines` are complete `file:line: key: message` strings."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- sources
class SourceBase(Strict):
    name: str = Field(min_length=1)
    enabled: bool = True
    interval: DurationField = Duration(5, "m")


class HotlineExportSource(SourceBase):
    """12345 work-order exports: a folder that is watched, or files given to `yuqing import`."""

    kind: Literal["hotline_export"]
    path: str | None = None  # watched folder (relative to the config file); None = only `yuqing import`
    encoding: str | None = None  # None = detect
    sheet: str | int | None = None  # None = first sheet that has a recognised header
    mapping: dict[str, list[str]] = Field(default_factory=dict)  # field -> extra header names
    settle: DurationField = Duration(5, "s")  # a file younger than this may still be being written
    batch: int = Field(default=1000, ge=1, le=100_000)  # records per transaction (importer.BATCH)


class HttpOptions(SourceBase):
    """Politeness and robustness of a source that polls a web site."""

    timeout: DurationField = Duration(20, "s")
    retries: int = Field(default=3, ge=0, le=10)  # retries of a failed request (backoff with jitter)
    delay: DurationField = Duration(1, "s")  # between two requests to the same host
    concurrency: int = Field(default=2, ge=1, le=8)  # requests in flight per host
    user_agent: str | None = None  # None = yuqing-sentinel's own, with its purpose


class BoardSource(HttpOptions):
    """A message board / 领导信箱: list pages → detail pages, read with CSS selectors.

    selectors: item (one message on a list page), link (its detail link, default "a"), next (the next
    list page, optional: else `url` with {page}), and on the detail page title, body, time, reporter,
    location, likes, status, reply, reply_time (all optional except title or body)."""

    kind: Literal["board"]
    url: str
    selectors: dict[str, str] = Field(default_factory=dict)
    id_pattern: str = r"(\d+)"  # regex on the detail URL whose first group is the message id
    max_pages: int = Field(default=5, ge=1, le=1000)
    recheck: int = Field(default=10, ge=0, le=500)  # unreplied messages re-read per poll to catch replies
    robots: bool = True  # obey the site's robots.txt (RFC 9309) and its Crawl-delay; false only with the site's consent


class FeedSource(HttpOptions):
    """RSS 2.0 / Atom / JSON Feed; include/exclude are words matched on word boundaries (jieba)."""

    kind: Literal["feed"]
    url: str
    include: list[str] = Field(default_factory=list)  # keep an entry only if it names one of these
    exclude: list[str] = Field(default_factory=list)  # drop an entry that names one of these


class WebhookSource(SourceBase):
    kind: Literal["webhook"]
    secret_env: str = "YUQING_WEBHOOK_SECRET"
    max_body_bytes: int = 256 * 1024


SourceConfig = Annotated[
    Union[HotlineExportSource, BoardSource, FeedSource, WebhookSource], Field(discriminator="kind")
]


# --------------------------------------------------------------------------- deadlines and escalation
class AppliesTo(Strict):
    severity_at_least: SeverityField | None = None
    kind: Literal["incident", "policy"] | None = None
    domains: list[str] | None = None


class RuleConfig(Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    title: str = ""  # Chinese label shown to people
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    due: DurationField
    satisfied_by: str
    escalation: str | None = None


class EscalationStep(Strict):
    at: DurationField  # relative to the deadline's due time: "-2h" before, "0s" at, "+1h" after
    notify: list[str] = Field(min_length=1)  # roles (responsible, duty_officer, office_leader…) or user names
    channels: list[str] | None = None  # None = each recipient's own channels
    repeat: DurationField | None = None  # keep repeating this step until evidence arrives

    @model_validator(mode="after")
    def _repeat_is_positive(self) -> "EscalationStep":
        if self.repeat is not None and (self.repeat.working_days or self.repeat.amount <= 0):
            raise ValueError(f'repeat "{self.repeat}" must be a positive s/m/h/d duration')
        return self


class RosterEntry(Strict):
    role: str
    user: str
    from_: UtcDatetime = Field(alias="from")
    to: UtcDatetime

    @model_validator(mode="after")
    def _ordered(self) -> "RosterEntry":
        if self.to <= self.from_:
            raise ValueError("to must be later than from")
        return self


class UserConfig(Strict):
    name: str
    display: str = ""
    department: str | None = None
    roles: list[str] = Field(default_factory=list)  # standing roles, e.g. office_leader
    channels: list[str] = Field(default_factory=list)
    telegram_chat_id: int | None = None
    email: str | None = None


class ChannelConfig(Strict):
    name: str
    # webhook: the generic JSON webhook of docs/design.md §5; log: shown on the duty dashboard only.
    # telegram, dingtalk/wecom/feishu robots and email arrive with the responders issues.
    kind: Literal["webhook", "log"]
    url: str | None = None
    secret_env: str | None = None  # e.g. robot signing secret, SMTP password
    token_env: str | None = None  # e.g. Telegram bot token
    chat_id: int | str | None = None
    to: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------- the rest
class ClassifierConfig(Strict):
    min_confidence: float = Field(default=0.35, ge=0, le=1)


class ApiConfig(Strict):
    token_env: str = "YUQING_API_TOKEN"


class Settings(Strict):
    timezone: Literal["Asia/Shanghai"] = "Asia/Shanghai"
    database: str | None = None
    listen: str = "127.0.0.1:8080"
    # Relative paths resolve against the config file's folder; a key left out uses the bundled file.
    jurisdiction: str | None = None
    lexicons: str | None = None
    data_dir: str = "data"  # what the program writes for itself, e.g. a model trained by `yuqing train`
    holidays: list[str] = Field(default_factory=list)
    # Incidents first seen longer ago than this when they arrive (a historical export) get no deadlines:
    # reminding about a 2019 accident helps nobody. The reason is recorded on the incident.
    deadline_horizon: DurationField = Duration(7, "d")
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)
    escalation_policies: dict[str, list[EscalationStep]] = Field(default_factory=dict)
    roster: list[RosterEntry] = Field(default_factory=list)
    users: list[UserConfig] = Field(default_factory=list)
    channels: list[ChannelConfig] = Field(default_factory=list)

    # Filled by load_settings, not by the YAML.
    path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _references(self) -> "Settings":
        problems: list[tuple[tuple, str]] = []
        _unique(problems, "sources", [s.name for s in self.sources])
        _unique(problems, "rules", [r.name for r in self.rules])
        _unique(problems, "channels", [c.name for c in self.channels])
        _unique(problems, "users", [u.name for u in self.users])
        channel_names = {c.name for c in self.channels}
        for i, rule in enumerate(self.rules):
            if rule.escalation and rule.escalation not in self.escalation_policies:
                problems.append(
                    (("rules", i, "escalation"), f'no escalation policy named "{rule.escalation}"'
                     f"{_suggest(rule.escalation, self.escalation_policies)}")
                )
        for name, steps in self.escalation_policies.items():
            # a working day counts as a day here: enough to catch steps written out of order
            approx = [s.at.amount * 86400 if s.at.working_days else s.at.timedelta().total_seconds() for s in steps]
            for j in range(1, len(steps)):
                if approx[j] < approx[j - 1]:
                    problems.append((("escalation_policies", name, j, "at"),
                                     f'steps must be in time order: "{steps[j].at}" comes before "{steps[j - 1].at}"'))
            for j, step in enumerate(steps):
                for k, channel in enumerate(step.channels or []):
                    if channel not in channel_names:
                        problems.append(
                            (("escalation_policies", name, j, "channels", k),
                             f'no channel named "{channel}"{_suggest(channel, channel_names)}')
                        )
        for i, user in enumerate(self.users):
            for k, channel in enumerate(user.channels):
                if channel not in channel_names:
                    problems.append((("users", i, "channels", k), f'no channel named "{channel}"'))
        if problems:
            raise _ReferenceErrors(problems)
        return self

    # -- derived
    @property
    def base_dir(self) -> Path:
        """Relative paths in the config are relative to the config file (without one, the working directory)."""
        return self.path.parent if self.path else Path.cwd()

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def jurisdiction_path(self) -> Path:
        return self.resolve(self.jurisdiction) if self.jurisdiction else BUNDLED_CONFIG / BUNDLED_JURISDICTION

    @property
    def lexicons_path(self) -> Path:
        return self.resolve(self.lexicons) if self.lexicons else BUNDLED_CONFIG / BUNDLED_LEXICONS

    @property
    def data_path(self) -> Path:
        return self.resolve(self.data_dir)

    def source(self, name: str) -> SourceConfig | None:
        return next((s for s in self.sources if s.name == name), None)


class _ReferenceErrors(ValueError):
    def __init__(self, problems: list[tuple[tuple, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(m for _, m in problems))


def _unique(problems: list, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            problems.append(((key, i, "name"), f'duplicate name "{name}"'))
        seen.add(name)


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


# --------------------------------------------------------------------------- YAML with line numbers
def _line_map(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[path + (key,)] = key_node.start_mark.line + 1
            _line_map(value_node, path + (key,), out)
            out[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _line_map(child, path + (i,), out)
    return out


def read_yaml(path: Path) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML, returning the data and a map key-path → line. Raises ConfigError on syntax errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found (配置文件不存在)"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ConfigError([f"{path}:{line}: YAML syntax error: {exc.problem or exc}"]) from None
    return data, (_line_map(node) if node is not None else {})


def format_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _data_path(data: Any, loc: tuple) -> tuple:
    """Drop the discriminator tags pydantic inserts into error locations (sources[2].board.url)."""
    path: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) and node.get("kind") == part:
            continue  # the union tag
        else:
            path.append(part)
            node = None
    return tuple(path)


def _line_for(lines: dict[tuple, int], path: tuple) -> int:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def _model_for(path: tuple, root: type[BaseModel], data: Any) -> type[BaseModel] | None:
    """The pydantic model that owns the mapping at `path`, for "did you mean" hints."""
    model: Any = root
    node = data
    for part in path:
        if isinstance(node, list) and isinstance(part, int):
            node = node[part] if part < len(node) else None
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field is None:
            return None
        node = node.get(part) if isinstance(node, dict) else None
        model = _inner_model(field.annotation, node)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any, node: Any) -> Any:
    import typing

    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _inner_model(args[0], node)
    if origin in (list, tuple):
        return _inner_model(args[0], node[0] if isinstance(node, list) and node else None)
    if origin is dict:
        return _inner_model(args[1], None)
    if origin is Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        kind = node.get("kind") if isinstance(node, dict) else None
        for arg in args:
            inner = _inner_model(arg, node)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                tag = inner.model_fields.get("kind")
                if tag is None or kind is None or kind in typing.get_args(tag.annotation):
                    return inner
        return None
    return annotation


def _message(err: dict, root: type[BaseModel], data: Any, path: tuple) -> str:
    kind = err["type"]
    msg = err["msg"]
    if kind == "extra_forbidden":
        owner = _model_for(path[:-1], root, data)
        names = []
        if owner is not None:
            names = [f.alias or n for n, f in owner.model_fields.items() if not f.exclude]
        return f"unknown key{_suggest(str(path[-1]), names)}"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"unknown kind {err['ctx']['tag']!r} (expected {err['ctx']['expected_tags']})"
    if kind == "union_tag_not_found":
        return "kind is missing"
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg


def validate_yaml(path: Path, model: type[BaseModel]) -> tuple[Any, dict[tuple, int]]:
    data, lines = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: the file must be a mapping of keys (顶层必须是键值映射)"])
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            ctx_error = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_error, _ReferenceErrors):
                for loc, text in ctx_error.problems:
                    out.append(f"{path}:{_line_for(lines, loc)}: {format_path(loc)}: {text}")
                continue
            p = _data_path(data, tuple(err["loc"]))
            out.append(f"{path}:{_line_for(lines, p)}: {format_path(p)}: {_message(err, model, data, p)}")
        raise ConfigError(out) from None
    return obj, lines


def load_settings(path: str | os.PathLike | None) -> Settings:
    """Load the config; without a path, an empty config (all defaults)."""
    if path is None:
        return Settings()
    p = Path(path)
    settings, _ = validate_yaml(p, Settings)
    settings.path = p.resolve()
    return settings


def database_url(settings: Settings, override: str | None = None) -> str:
    """--db beats YUQING_DATABASE beats the config's `database` beats the SQLite default."""
    return override or os.environ.get(ENV_DATABASE) or settings.database or DEFAULT_DATABASE


# --------------------------------------------------------------------------- holidays
class HolidaySpan(Strict):
    from_: date = Field(alias="from")
    to: date
    name: str = ""


class HolidayFile(Strict):
    year: int
    source: str = ""
    holidays: list[date | HolidaySpan] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _within_year(self) -> "HolidayFile":
        for day in self.days_off() | set(self.workdays):
            if day.year != self.year:
                raise ValueError(f"{day} is not in {self.year}")
        return self

    def days_off(self) -> set[date]:
        out: set[date] = set()
        for entry in self.holidays:
            if isinstance(entry, date):
                out.add(entry)
            else:
                day = entry.from_
                while day <= entry.to:
                    out.add(day)
                    day = date.fromordinal(day.toordinal() + 1)
        return out


def load_calendar(settings: Settings) -> WorkCalendar:
    schedules = []
    for name in settings.holidays:
        parsed, _ = validate_yaml(settings.resolve(name), HolidayFile)
        schedules.append(
            YearSchedule(parsed.year, frozenset(parsed.days_off()), frozenset(parsed.workdays), parsed.source)
        )
    return WorkCalendar(schedules)
