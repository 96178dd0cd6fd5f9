"""The database schema (SQLAlchemy Core). Alembic migrations in ./migrations are generated from it.

Times are stored in UTC. Every timer (a deadline, the next escalation step, the next poll of a source,
the next delivery attempt) is a column with an index, so a sweeper asks "what is due?" and a restart or
`kill -9` loses nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    text,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

UTC = timezone.utc

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator):
    """Aware UTC in Python; timestamptz on PostgreSQL, naive-UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use clock.as_utc()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(name: str, **kw) -> Column:
    return Column(name, UtcDateTime(), **kw)


sources = Table(
    "sources",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("kind", String(30), nullable=False),
    Column("cursor", JSON, nullable=False, default=dict),  # kind-specific resume point
    Column("etag", String(300)),
    Column("last_modified", String(100)),
    _ts("next_poll_at", index=True),
    _ts("last_ok_at"),
    Column("last_error", Text),
    Column("failures", Integer, nullable=False, default=0),
    _ts("updated_at", nullable=False),
    # who is polling it now and until when (monitor/sources/runner.py): one process at a time, and a
    # crashed one's lease runs out
    Column("lease_owner", String(200)),
    _ts("lease_until"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", Text, nullable=False),
    Column("kind", String(20), nullable=False, default="incident"),  # incident | policy
    Column("status", String(20), nullable=False, default="open"),  # open | closed | merged (ix_…_status_rank)
    # status "merged": the incident this one was merged into (monitor.regroup.merge_incidents). No foreign key:
    # adding one would make SQLite rebuild the table, which other tables reference.
    Column("merged_into", Integer),
    Column("triage", String(20), nullable=False, default="none", index=True),  # none|pending|accepted|corrected
    Column("domain", String(50), nullable=False, default=""),
    Column("domain_confidence", Float, nullable=False, default=0.0),
    Column("department", String(100), nullable=False, index=True),
    Column("co_departments", JSON, nullable=False, default=list),
    Column("region", String(100), nullable=False, default=""),
    Column("severity", Integer, nullable=False, default=1, index=True),  # monitor.core.model.Severity
    Column("response_type", String(20), nullable=False, default=""),
    Column("sensitive_areas", JSON, nullable=False, default=list),
    Column("reasons", JSON, nullable=False, default=list),
    _ts("first_seen_at", nullable=False, index=True),
    _ts("last_seen_at", nullable=False),
    _ts("published_at"),  # for kind=policy: when the policy document was published
    Column("item_count", Integer, nullable=False, default=0),
    Column("reporter_count", Integer, nullable=False, default=0),
    Column("likes", Integer, nullable=False, default=0),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    # What tells this event from another (monitor.dedupe.events.Signature): types, places, entities; null for
    # routine complaints, which group by text alone.
    Column("event", JSON(none_as_null=True)),
    Column("transfer", String(200), nullable=False, default=""),  # outside the jurisdiction: 转办 to this body
    # 办结 (monitor/deadlines/closing.py): when and by whom it closed, and what its reply was (a URL or a note)
    _ts("closed_at"),
    Column("closed_by", String(100)),
    Column("reply", Text, nullable=False, default="", server_default=""),
    # the open events a new report may belong to (Pipeline._join_events): few rows, read every batch
    Index("ix_incidents_event_last_seen", "last_seen_at", sqlite_where=text("event IS NOT NULL"),
          postgresql_where=text("event IS NOT NULL")),
    # the now page: incidents without an open deadline, most severe and most recent first, of every department or
    # of one (a liaison's view; also the counts by level and by department) (monitor/store/dashboard.py, 0014)
    Index("ix_incidents_status_rank", "status", "severity", "last_seen_at", "id"),
    Index("ix_incidents_status_department_rank", "status", "department", "severity", "last_seen_at", "id"),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(100), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("content_hash", String(32), nullable=False, index=True),
    Column("simhash", String(16)),  # unused: near-duplicate fingerprints are minhash (dedupe.BandIndex)
    Column("minhash", LargeBinary),  # MinHash signature (monitor.dedupe.minhash: 24 × uint32 little-endian)
    Column("title", Text, nullable=False, default=""),
    Column("body", Text, nullable=False, default=""),
    Column("location", String(300), nullable=False, default=""),
    Column("reporter", String(200), nullable=False, default=""),
    Column("channel", String(100), nullable=False, default=""),
    Column("handler", String(200), nullable=False, default=""),
    Column("status", String(50), nullable=False, default=""),
    Column("likes", Integer, nullable=False, default=0),
    Column("reply", Text, nullable=False, default=""),
    _ts("replied_at"),
    _ts("occurred_at"),
    _ts("received_at", nullable=False),
    _ts("updated_at", nullable=False),
    Column("domain", String(50), nullable=False, default=""),
    Column("domain_confidence", Float, nullable=False, default=0.0),
    Column("incident_id", Integer, ForeignKey("incidents.id"), index=True),
    Column("group_reason", String(300), nullable=False, default=""),
    Column("raw", JSON, nullable=False, default=dict),
    # The casualty/loss figures this report states (monitor.understanding.severity.Facts): an incident is graded
    # from all of its reports, so each report's reading is kept. Null when it states none (most).
    Column("facts", JSON(none_as_null=True)),
    # title and text as segmented words, space-joined, for search (FTS5 / PostgreSQL full text: migration 0014);
    # written by the search indexer (monitor/web/search.py), NULL until then and again after the text changes
    Column("tokens", Text),
    UniqueConstraint("source", "external_id"),
    # PostgreSQL's full-text index of those words (SQLite's is the FTS5 table items_fts, which is no Core table)
    Index("ix_items_tokens_search", text("to_tsvector('simple', tokens)"), postgresql_using="gin")
    .ddl_if(dialect="postgresql"),
    # the few items the indexer has still to segment, found without reading the others
    Index("ix_items_unindexed", "id", sqlite_where=text("tokens IS NULL"), postgresql_where=text("tokens IS NULL")),
)

# Near-duplicate index (monitor.dedupe.minhash.BandIndex) lives in memory, built from items.minhash. A signature that
# changes (a re-imported record with new text) is logged here so that other processes' indexes see it.
minhash_changes = Table(
    "minhash_changes",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False),
)

item_history = Table(
    "item_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False, index=True),
    _ts("at", nullable=False),
    Column("changes", JSON, nullable=False),  # {field: [old, new]}
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(100), nullable=False, index=True),
    Column("file", Text, nullable=False, default=""),
    Column("row_no", Integer),
    Column("reason", Text, nullable=False),
    Column("raw", JSON, nullable=False, default=dict),  # bounded (monitor.core.excerpt): long values cut
    _ts("created_at", nullable=False),
    _ts("resolved_at"),
    # The row's identity (file digest:row, or the id conflict's texts): importing the same file again adds
    # no second row. Null for rows that have none (a collector's reject).
    Column("row_key", String(100)),
    # {"sizes": {value: original characters}} of what was cut; {"conflict": {...}} for an id conflict
    Column("detail", JSON(none_as_null=True)),
    UniqueConstraint("source", "row_key"),
)

deadlines = Table(
    "deadlines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("rule", String(100), nullable=False),
    Column("title", String(200), nullable=False, default=""),
    Column("department", String(100), nullable=False, index=True),
    _ts("starts_at", nullable=False),
    _ts("due_at", nullable=False, index=True),
    Column("state", String(20), nullable=False, default="open"),  # open | satisfied | cancelled
    Column("satisfied_by", String(50), nullable=False),  # evidence kind that closes it
    _ts("closed_at"),
    Column("close_reason", Text),
    Column("evidence_id", Integer, ForeignKey("evidence.id")),
    # escalation state: the next step to fire and when (a timer row)
    Column("policy", String(100)),
    Column("step", Integer, nullable=False, default=0),
    Column("fires", Integer, nullable=False, default=0),
    _ts("next_at"),
    Column("acked_step", Integer),
    Column("acked_by", String(100)),
    _ts("acked_at"),
    # a year without holiday data: due_at counted early (every day a working day) until it is configured
    Column("provisional_year", Integer, nullable=False, default=0, server_default="0"),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    UniqueConstraint("incident_id", "rule"),
    Index("ix_deadlines_state_next_at", "state", "next_at"),
    # the now page: open deadlines in due order, and each incident's earliest (migration 0014)
    Index("ix_deadlines_state_due", "state", "due_at", "incident_id"),
    Index("ix_deadlines_state_incident", "state", "incident_id", "due_at"),
)

# One row per visible change of an incident (new; status, severity, department, title, heat, triage; a deadline
# opened, closed, acknowledged), written by triggers (migration 0014) whichever process made it: the live
# stream of the now page reads it by id (monitor/web/stream.py). `was_department`: the department it left.
incident_changes = Table(
    "incident_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", Integer, nullable=False),
    Column("was_department", String(100)),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("kind", String(50), nullable=False),  # release | press_conference | interpretation | reply …
    Column("url", Text, nullable=False, default=""),
    Column("note", Text, nullable=False, default=""),
    Column("actor", String(100), nullable=False),
    _ts("at", nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(300), nullable=False, unique=True),  # idempotency key incident:rule:step:channel
    Column("channel", String(100), nullable=False),
    Column("recipient", String(200), nullable=False, default=""),
    Column("incident_id", Integer, ForeignKey("incidents.id"), index=True),
    Column("deadline_id", Integer, ForeignKey("deadlines.id")),
    Column("payload", JSON, nullable=False),
    Column("status", String(20), nullable=False, default="pending"),  # pending | sent | dead
    Column("attempts", Integer, nullable=False, default=0),
    _ts("next_attempt_at", nullable=False),
    Column("lease_owner", String(100)),
    _ts("lease_until"),
    Column("last_error", Text),
    _ts("created_at", nullable=False),
    _ts("sent_at"),
    Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False, index=True),
    _ts("responded_at", nullable=False),
    Column("response_type", String(20), nullable=False, default=""),  # 六类回应 of 云政办发〔2017〕22号
    Column("method", String(100), nullable=False, default=""),  # 回应方式: 新闻发布会, 政府网站, 留言答复…
    Column("published_url", Text, nullable=False, default=""),
    Column("promise", Text, nullable=False, default=""),  # 承诺事项
    Column("promised_by", String(100), nullable=False, default=""),
    _ts("promise_due_at"),
    Column("deadline_id", Integer, ForeignKey("deadlines.id")),
    Column("kept", Boolean),  # None until decided
    Column("result", Text, nullable=False, default=""),  # 办理结果
    Column("actor", String(100), nullable=False),
    _ts("created_at", nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("display", String(100), nullable=False, default=""),
    Column("department", String(100)),
    Column("roles", JSON, nullable=False, default=list),
    Column("contacts", JSON, nullable=False, default=dict),  # channel name -> address (chat id, email…)
    _ts("updated_at", nullable=False),
)

roster = Table(
    "roster",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("role", String(50), nullable=False),
    Column("user", String(100), nullable=False),
    _ts("starts_at", nullable=False),
    _ts("ends_at", nullable=False),
    Column("origin", String(20), nullable=False, default="config"),  # config | manual
    Index("ix_roster_role_starts_at", "role", "starts_at"),
)

corrections = Table(
    "corrections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("field", String(50), nullable=False),  # domain | department | severity …
    Column("old", Text, nullable=False, default=""),
    Column("new", Text, nullable=False),
    Column("actor", String(100), nullable=False),
    _ts("at", nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    _ts("at", nullable=False, index=True),
    Column("actor", String(100), nullable=False),  # a user name, or system:<component>
    Column("action", String(100), nullable=False),
    Column("entity", String(50), nullable=False),
    Column("entity_id", String(100), nullable=False, default=""),
    Column("detail", JSON, nullable=False, default=dict),
    # one incident's timeline (the incident page, the API, the chat bot) without reading the whole log
    Index("ix_audit_log_entity_entity_id_at", "entity", "entity_id", "at"),
)


# one-click action links (monitor/core/actiontoken.py): a token's nonce is written when the link is used, so it
# works once; the token itself (signed, expiring) is never stored
action_tokens = Table(
    "action_tokens",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("incident_id", Integer, nullable=False),
    Column("rule", String(100), nullable=False, default=""),
    Column("action", String(20), nullable=False),
    _ts("used_at", nullable=False),
    Column("used_by", String(200), nullable=False, default=""),
)


# sign-in (monitor/store/accounts.py, docs/accounts.md): a person's account, the dashboard's sessions and the API
# tokens of scripts. Not `users` (the people of the roster and their contacts, from config): an account is who may
# sign in. Passwords are kept as argon2 hashes; session ids and tokens only as SHA-256 digests.
accounts = Table(
    "accounts",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # viewer | duty_officer | liaison | admin
    Column("department", String(100)),  # a liaison's department (required for that role)
    Column("disabled", Boolean, nullable=False, default=False),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # SHA-256 of the cookie's value
    Column("csrf", String(64), nullable=False),
    Column("account", String(100), ForeignKey("accounts.name"), nullable=False, index=True),
    _ts("created_at", nullable=False),
    _ts("last_seen_at", nullable=False),
    _ts("expires_at", nullable=False, index=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scope", String(10), nullable=False),  # read | write
    Column("owner", String(100), ForeignKey("accounts.name")),  # the token acts with at most its owner's rights
    _ts("created_at", nullable=False),
)


def include_name(name, type_, parent_names) -> bool:
    """What schema comparisons (autogenerate, tests/test_store.py) look at: not the tables SQLite's FTS5 makes
    for items_fts (migration 0014), which no Core table describes."""
    return not (type_ == "table" and name is not None and name.startswith("items_fts"))
