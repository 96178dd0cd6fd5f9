"""Typed configuration loaded from one YAML file, with errors that name the file, the line and the key.

The YAML is composed into nodes first so that every key path keeps its line number; pydantic then
validates the plain data and each error is mapped back to `file:line: path: message`.
"""

from __future__ import annotations

import difflib
import os
from importlib import resources
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
    PrivateAttr,
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
    # bounded reading (monitor/sources/limits.py): rows per sheet or file (empty ones included; more refuse
    # the file), and characters per cell (a longer cell's row is quarantined with an excerpt)
    max_rows: int = Field(default=1_000_000, ge=1, le=100_000_000)
    max_cell_chars: int = Field(default=65_536, ge=1024, le=16 << 20)


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
    telegram_user_id: int | None = None  # who may press the Telegram bot's buttons and use its commands
    email: str | None = None
    mobile: str | None = Field(default=None, pattern=r"^\+?[0-9]{5,20}$")  # @-mentioned by DingTalk/WeCom robots


# --------------------------------------------------------------------------- the law, built in
# docs/design.md §1: a 特别重大/重大 incident gets authoritative information within 5 hours and a press
# conference within 24 hours; a policy document gets its interpretation within 3 working days. A config that
# names no `rules:` gets exactly these (the same names, titles and evidence as the bundled demo.yaml), so
# leaving the key out can never switch the law off; `yuqing check-config` warns when a config that names its
# own rules drops or weakens one of them (legal_gaps).
LEGAL_RULES: tuple[RuleConfig, ...] = tuple(RuleConfig.model_validate(r) for r in (
    {"name": "authoritative_release", "title": "5小时内发布权威信息", "applies_to": {"severity_at_least": "重大"},
     "due": "5h", "satisfied_by": "release", "escalation": "major_incident"},
    {"name": "press_conference", "title": "24小时内举行新闻发布会", "applies_to": {"severity_at_least": "重大"},
     "due": "24h", "satisfied_by": "press_conference", "escalation": "major_incident"},
    {"name": "policy_interpretation", "title": "3个工作日内发布政策解读", "applies_to": {"kind": "policy"},
     "due": "3wd", "satisfied_by": "interpretation", "escalation": "routine"},
))
# Escalation policies under these names are built in: each one the config does not define itself is added, so
# the legal rules (and a rule of the config that names one of them) always remind someone. A reminder whose
# roles resolve to nobody lands on the dashboard (monitor/deadlines/sweeper.py).
DEFAULT_ESCALATION_POLICIES: dict[str, tuple[EscalationStep, ...]] = {
    name: tuple(EscalationStep.model_validate(s) for s in steps) for name, steps in {
        "major_incident": (
            {"at": "-2h", "notify": ["responsible"]},
            {"at": "-30m", "notify": ["responsible", "duty_officer"]},
            {"at": "0s", "notify": ["duty_officer", "office_leader"]},
            {"at": "+1h", "notify": ["office_leader"], "repeat": "1h"},
        ),
        "routine": (
            {"at": "-1wd", "notify": ["responsible"]},
            {"at": "0s", "notify": ["responsible", "duty_officer"]},
        ),
    }.items()
}


def legal_rules() -> list[RuleConfig]:
    return [r.model_copy(deep=True) for r in LEGAL_RULES]


def default_escalation_policies() -> dict[str, list[EscalationStep]]:
    return {name: [s.model_copy(deep=True) for s in steps] for name, steps in DEFAULT_ESCALATION_POLICIES.items()}


@dataclass(frozen=True)
class LegalGap:
    """A legal rule that a config's own `rules:` drop (index None) or weaken (index of the weaker rule)."""

    rule: str  # the legal rule's name
    index: int | None
    zh: str
    en: str


_DAY = timedelta(days=1)


def legal_gaps(rules: list[RuleConfig]) -> list[LegalGap]:
    """Where `rules` fall short of the law (pure). A config rule stands for a legal rule when it has its name
    or closes with the same evidence (`satisfied_by`); the law is met when one such rule applies at least as
    widely and is due no later. Otherwise each candidate is reported with what makes it weaker."""
    out: list[LegalGap] = []
    for law in LEGAL_RULES:
        candidates = [(i, r) for i, r in enumerate(rules)
                      if r.name == law.name or r.satisfied_by == law.satisfied_by]
        if not candidates:
            out.append(LegalGap(law.name, None, f"缺少法定规则「{law.title}」（{law.name}），{_scope_zh(law)}将不开启该期限",
                                f"the legal rule {law.name} ({_law_en(law)}) is missing: no such deadline will open"))
            continue
        weaknesses = [(i, r, _weaker(law, r)) for i, r in candidates]
        if any(not w for _, _, w in weaknesses):
            continue
        for i, r, w in weaknesses:
            out.append(LegalGap(law.name, i, f"规则 {r.name} 弱于法定「{law.title}」：" + "；".join(zh for zh, _ in w),
                                f"rule {r.name} is weaker than the law ({_law_en(law)}): "
                                + "; ".join(en for _, en in w)))
    return out


def _scope_zh(law: RuleConfig) -> str:
    return "政策文件" if law.applies_to.kind == "policy" else f"{law.applies_to.severity_at_least.zh}及以上事件"


def _law_en(law: RuleConfig) -> str:
    scope = "a policy document" if law.applies_to.kind == "policy" else \
        f"severity {law.applies_to.severity_at_least.zh} and above"
    return f"{law.due} for {scope}"


def _weaker(law: RuleConfig, rule: RuleConfig) -> list[tuple[str, str]]:
    """What makes `rule` weaker than `law`: (Chinese, English) per point; empty when it is as strict."""
    out: list[tuple[str, str]] = []
    want, got = law.applies_to, rule.applies_to
    if law.due.working_days:  # 3wd: a working-day count up to 3, or calendar time up to 3 days (never later)
        longer = rule.due.amount > law.due.amount if rule.due.working_days else rule.due.timedelta() > law.due.amount * _DAY
    else:  # hours: a working-day count can run past them
        longer = rule.due.working_days or rule.due.timedelta() > law.due.timedelta()
    if longer:
        out.append((f"期限 {rule.due.describe_zh()} 长于法定 {law.due.describe_zh()}",
                    f"due {rule.due} is longer than the law's {law.due}"))
    if want.kind == "policy":
        if got.kind == "incident":
            out.append(("只适用于事件，不适用于政策文件", "applies to incidents, not to policy documents"))
        if got.severity_at_least is not None and got.severity_at_least > Severity.GENERAL:
            out.append((f"只适用于{got.severity_at_least.zh}及以上的政策文件",
                        f"applies only to policies graded {got.severity_at_least.zh} and above"))
    else:
        if got.severity_at_least is not None and got.severity_at_least > want.severity_at_least:
            out.append((f"只适用于{got.severity_at_least.zh}及以上，法定为{want.severity_at_least.zh}及以上",
                        f"applies only from {got.severity_at_least.zh}, the law from {want.severity_at_least.zh}"))
        if got.kind == "policy":
            out.append(("只适用于政策文件，不适用于突发事件", "applies to policy documents only, not to incidents"))
    if got.domains is not None:
        out.append((f"只适用于领域 {'、'.join(got.domains) or '（空）'}", f"applies only to domains {got.domains}"))
    return out


class ChannelConfig(Strict):
    name: str
    # webhook: the generic JSON webhook of docs/design.md §5; log: shown on the duty dashboard only;
    # email: SMTP (the daily digest, and reminders to users who list this channel);
    # dingtalk/wecom/feishu: group robots (responders/channels/robots.py); telegram: the bot
    # (responders/channels/telegram.py, responders/telegram_bot.py).
    kind: Literal["webhook", "log", "email", "dingtalk", "wecom", "feishu", "telegram"]
    url: str | None = None
    url_env: str | None = None  # robots: the webhook URL (it carries the robot's token or key) from the environment
    secret_env: str | None = None  # e.g. robot signing secret
    token_env: str | None = None  # e.g. Telegram bot token
    chat_id: int | str | None = None
    base_url: str | None = None  # telegram: the Bot API's base, as python-telegram-bot's (None = the public one)
    # what this channel carries and when (responders/grouping.py): filters, grouping of bursts, quiet hours
    min_severity: SeverityField | None = None  # None = every severity
    departments: list[str] = Field(default_factory=list)  # empty = every department
    group_wait: DurationField | None = None  # hold a new burst this long and send it as one message
    group_interval: DurationField | None = None  # at most one grouped message per this interval
    quiet_hours: str | None = None  # "22:00-07:00" Beijing time; never applies to 重大 and above
    to: list[str] = Field(default_factory=list)  # email: addresses, user names or roles (office_leader…)
    # email (responders/channels/email.py): the SMTP server; credentials only through environment variables
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)  # None = 587 (starttls), 465 (ssl), 25 (none)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username_env: str | None = None
    password_env: str | None = None
    from_: str | None = Field(default=None, alias="from")  # 舆情哨兵 <yuqing@example.gov.cn>
    ca_file: str | None = None  # a CA bundle for the server's certificate (an internal CA); None = the system's
    timeout: DurationField = Duration(30, "s")

    @model_validator(mode="after")
    def _robot_fields(self) -> "ChannelConfig":
        if self.kind in ("dingtalk", "wecom", "feishu"):
            if not self.url_env:
                raise ValueError(f"kind {self.kind} needs url_env (the environment variable holding the webhook URL)")
            if self.url:
                raise ValueError(f"kind {self.kind} takes its URL only from url_env: the URL carries the robot's token")
            if self.kind == "wecom" and self.secret_env:
                raise ValueError("kind wecom is not signed (the key is in its URL): remove secret_env")
        return self

    @model_validator(mode="after")
    def _telegram_fields(self) -> "ChannelConfig":
        if self.kind == "telegram":
            if not self.token_env:
                raise ValueError("kind telegram needs token_env (the environment variable holding the bot token)")
            if self.chat_id is None:
                raise ValueError("kind telegram needs chat_id (the group or user the alerts go to)")
        return self

    @model_validator(mode="after")
    def _delivery_fields(self) -> "ChannelConfig":
        import re

        if self.quiet_hours is not None and not re.fullmatch(
                r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", self.quiet_hours):
            raise ValueError(f'quiet_hours "{self.quiet_hours}" is not HH:MM-HH:MM in Beijing time, e.g. 22:00-07:00')
        for key in ("group_wait", "group_interval"):
            value = getattr(self, key)
            if value is not None and value.working_days:
                raise ValueError(f"{key} must be s/m/h")
        return self

    @model_validator(mode="after")
    def _email_fields(self) -> "ChannelConfig":
        if self.kind == "email":
            missing = [k for k, v in (("host", self.host), ("from", self.from_)) if not v]
            if missing:
                raise ValueError(f"kind email needs {' and '.join(missing)}")
            if "@" not in (self.from_ or ""):
                raise ValueError(f'from "{self.from_}" is not an email address')
            if self.timeout.working_days:
                raise ValueError("timeout must be s/m/h")
        return self

    @property
    def smtp_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]


class DigestConfig(Strict):
    """The daily digest mail (monitor/reports): sent by `yuqing serve` every day at `time` (Beijing time)
    to the recipients of the email channels named here (default: every email channel)."""

    time: str = "08:00"  # HH:MM, Beijing time
    enabled: bool = True
    channels: list[str] | None = None
    dashboard_url: str | None = None  # links to incidents; None = http://<listen>
    font: str | None = None  # a CJK font file for the chart; None = the first installed one found

    @model_validator(mode="after")
    def _time(self) -> "DigestConfig":
        import re

        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", self.time):
            raise ValueError(f'time "{self.time}" is not HH:MM in Beijing time, e.g. 08:00')
        return self

    @property
    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.time.split(":")
        return int(hour), int(minute)


# --------------------------------------------------------------------------- the rest
class ClassifierConfig(Strict):
    min_confidence: float = Field(default=0.35, ge=0, le=1)


class ApiConfig(Strict):
    token_env: str = "YUQING_API_TOKEN"
    # one-click action links in robot messages (monitor/web/action_links.py): the HMAC key's variable, lifetime
    action_secret_env: str = "YUQING_ACTION_SECRET"
    action_ttl: DurationField = Duration(2, "h")

    @model_validator(mode="after")
    def _ttl(self) -> "ApiConfig":
        if self.action_ttl.working_days or self.action_ttl.timedelta().total_seconds() <= 0:
            raise ValueError(f"action_ttl must be a positive s/m/h/d duration, e.g. 2h (got {self.action_ttl})")
        return self


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
    # Left out (or `rules:` with nothing under it): the legal rules, LEGAL_RULES. An explicit `rules: []` means
    # none (check-config warns).
    rules: list[RuleConfig] = Field(default_factory=legal_rules)
    # DEFAULT_ESCALATION_POLICIES fill in every one of their names the config does not define.
    escalation_policies: dict[str, list[EscalationStep]] = Field(default_factory=dict)
    roster: list[RosterEntry] = Field(default_factory=list)
    users: list[UserConfig] = Field(default_factory=list)
    channels: list[ChannelConfig] = Field(default_factory=list)
    digest: DigestConfig = Field(default_factory=DigestConfig)

    # Filled by load_settings, not by the YAML.
    path: Path | None = Field(default=None, exclude=True)
    # What came from the built-in defaults rather than the config (check-config says so).
    _legal_defaults: bool = PrivateAttr(False)
    _default_policies: tuple[str, ...] = PrivateAttr(())

    @model_validator(mode="before")
    @classmethod
    def _null_rules(cls, data: Any) -> Any:
        """`rules:` with nothing under it (every rule commented out) is a config that names no rules."""
        if isinstance(data, dict) and "rules" in data and data["rules"] is None:
            data = {k: v for k, v in data.items() if k != "rules"}
        return data

    @model_validator(mode="after")
    def _references(self) -> "Settings":
        self._legal_defaults = "rules" not in self.model_fields_set
        self._default_policies = tuple(n for n in DEFAULT_ESCALATION_POLICIES if n not in self.escalation_policies)
        if self._default_policies:
            defaults = default_escalation_policies()
            self.escalation_policies = {**self.escalation_policies,
                                        **{n: defaults[n] for n in self._default_policies}}
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
        problems += _mail_problems(self)
        if problems:
            raise _ReferenceErrors(problems)
        return self

    # -- derived
    @property
    def legal_defaults(self) -> bool:
        """True when the config names no rules and the legal rules (LEGAL_RULES) apply."""
        return self._legal_defaults

    @property
    def default_policies(self) -> tuple[str, ...]:
        """Escalation policies taken from DEFAULT_ESCALATION_POLICIES because the config does not define them."""
        return self._default_policies

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


def _mail_problems(settings: "Settings") -> list[tuple[tuple, str]]:
    """Email recipients must be addresses, users with an email, or roles someone holds; the digest names
    email channels."""
    problems: list[tuple[tuple, str]] = []
    users = {u.name: u for u in settings.users}
    roles = {r for u in settings.users for r in u.roles} | {e.role for e in settings.roster}
    emails = {c.name for c in settings.channels if c.kind == "email"}
    for i, channel in enumerate(settings.channels):
        if channel.kind != "email":
            continue
        if not channel.to:
            problems.append((("channels", i, "to"), "kind email needs at least one recipient in to"))
        for k, entry in enumerate(channel.to):
            if "@" in entry:
                continue
            if entry in users and not users[entry].email:
                problems.append((("channels", i, "to", k), f'user "{entry}" has no email'))
            elif entry not in users and entry not in roles:
                problems.append((("channels", i, "to", k), f'"{entry}" is no email address, user or role'
                                 f"{_suggest(entry, [*users, *roles])}"))
    for k, name in enumerate(settings.digest.channels or []):
        if name not in emails:
            problems.append((("digest", "channels", k), f'no email channel named "{name}"{_suggest(name, emails)}'))
    return problems


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
        raise ConfigError([f"{path}: 配置文件不存在，请检查路径 (file not found)"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: 这是一个目录，请给出配置文件 (is a folder, not a config file)"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: 不是 UTF-8 文本，请用 UTF-8 保存 (not UTF-8 text: {exc.reason} at byte "
                           f"{exc.start})"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: 无法读取 (cannot read): {exc.strerror or exc}"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ConfigError([f"{path}:{line}: YAML 语法错误 (YAML syntax error): {exc.problem or exc}"]) from None
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


def line_for(lines: dict[tuple, int], path: tuple) -> int:
    """The line of `path` in a file read by read_yaml, or of its nearest ancestor the file has."""
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
                    out.append(f"{path}:{line_for(lines, loc)}: {format_path(loc)}: {text}")
                continue
            p = _data_path(data, tuple(err["loc"]))
            out.append(f"{path}:{line_for(lines, p)}: {format_path(p)}: {_message(err, model, data, p)}")
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
