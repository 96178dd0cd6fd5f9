"""What an import learns from each record's own text, whatever is stored: cleaned and normalised text, the
content hash, the MinHash signature, the understanding (domain, route, grade, reasons), the figures and the
event signature. Pure and per record — the same values whatever batch or process a record is read in — so
`yuqing import --workers N` computes it in worker processes (monitor/sources/parallel.py) and hands it to
the one writer (`Pipeline.ingest(ready=…)`), which does what needs the whole history, in input order.

The serial path (`--workers 1`) computes the same things lazily inside the pipeline, with the same
functions (`digest_of`, `events_reader`, `event_signature`); tests/test_import_workers.py compares the stores.

`pack`/`unpack` carry a batch through a pipe cheaply: plain tuples and strings, one string object per repeated
value (pickle then writes a back-reference), one array for the signatures. Unpickling dataclasses costs the
writer ≈30 µs a row; these tuples a few.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitor.core.model import Reason, Severity, Understanding
from monitor.dedupe import events, minhash
from monitor.understanding.normalize import clean_display, hash_normalized, normalize
from monitor.understanding.understander import Understander, prepare

ROUTINE = events.Signature()


@dataclass(slots=True)
class Ready:
    """One record's text-only results (see the module docstring)."""

    digest: str
    title_norm: str
    body_norm: str
    shingled: str
    sig: np.ndarray  # its MinHash row (PERMUTATIONS uint32)
    understanding: Understanding
    event: events.Signature  # ROUTINE for most reports

    @property
    def facts(self) -> dict | None:
        # what the pipeline stores per report: the understanding read the same figures (severity.assess)
        return self.understanding.facts or None


def events_reader(understander: Understander) -> events.Reader:
    """The event reader of the understander's jurisdiction: its names and its places' aliases."""
    j = understander.router.j
    return events.Reader([j.name, *j.aliases], {a: p.name for p in j.places for a in (p.name, *p.aliases)})


def digest_of(title_norm: str, body_norm: str, location: str) -> str:
    """The exact-duplicate key: the same words about another place are another matter."""
    return hash_normalized(title_norm, f"{body_norm}\n{normalize(location)}" if location else body_norm)


def event_signature(reader: events.Reader, text: str, region: str) -> events.Signature:
    # most reports are routine complaints: the quick automaton answers without reading the whole signature
    return reader.signature(text, region) if reader.may_be_event(text) else ROUTINE


def body_at(body: str, location: str) -> str:
    """The body with the reported place (a 12345 export's 地址 column): routing and event grouping read both."""
    return f"{body}\n{location}" if location else body


def compute(understander: Understander, reader: events.Reader,
            records: list[tuple[str, str, str]]) -> list[Ready]:
    """Ready of each (title, body, location) as the pipeline reads them (title and body cleaned for display)."""
    if not records:
        return []
    titles = [clean_display(t) for t, _, _ in records]
    bodies = [clean_display(b) for _, b, _ in records]
    norms = [(normalize(t), normalize(b)) for t, b in zip(titles, bodies)]
    digests = [digest_of(t, b, loc) for (t, b), (_, _, loc) in zip(norms, records)]
    shingled = minhash.shingle_texts(norms)
    sigs = minhash.signatures(shingled)
    texts = [prepare(t, body_at(b, loc)) for t, b, (_, _, loc) in zip(titles, bodies, records)]
    understood = understander.understand_texts([t or "" for t in titles], texts)
    return [Ready(d, tn, bn, sh, sig, u, event_signature(reader, text, u.region))
            for d, (tn, bn), sh, sig, u, text in zip(digests, norms, shingled, sigs, understood, texts)]


# ---------------------------------------------------------------------------------------------- through a pipe
_SIG_FIELDS = tuple(events.Signature.__dataclass_fields__)


def pack(ready: list[Ready]) -> tuple:
    """A batch as tuples and strings for a pipe (see the module docstring); `unpack` gives it back equal."""
    shared: dict = {}

    def one(value):  # one object per equal value: pickle writes the repeats as back-references
        return shared.setdefault(value, value)

    rows = []
    for r in ready:
        u = r.understanding
        reasons = tuple(one((x.stage, x.text)) for x in u.reasons)
        facts = tuple(u.facts.items()) if u.facts else ()
        event = None if r.event is ROUTINE or r.event == ROUTINE else \
            tuple(tuple(sorted(getattr(r.event, f))) for f in _SIG_FIELDS)
        rows.append((r.digest, r.title_norm, r.body_norm, r.shingled, one(u.domain), u.domain_confidence,
                     one(u.department), one(tuple(u.co_departments)), one(u.region), int(u.severity), one(u.kind),
                     one(tuple(u.sensitive_areas)), one(u.response_type), reasons, u.needs_triage,
                     one(tuple(u.topics)), one(u.level), one(u.route_rule), one(u.function), facts,
                     one(u.triage_reason), event))
    sigs = np.vstack([r.sig for r in ready]) if ready else np.empty((0, minhash.PERMUTATIONS), np.uint32)
    return rows, sigs


def unpack(packed: tuple) -> list[Ready]:
    rows, sigs = packed
    reasons: dict = {}  # one Reason per distinct (stage, text), as the worker shared them
    out = []
    for row, sig in zip(rows, sigs):
        (digest, title_norm, body_norm, shingled, domain, confidence, department, co, region, severity, kind,
         areas, response_type, why, triage, topics, level, rule, function, facts, triage_reason, event) = row
        u = Understanding(domain, confidence, department, list(co), region, Severity(severity), kind, list(areas),
                          response_type, [reasons.get(w) or reasons.setdefault(w, Reason(*w)) for w in why], triage,
                          list(topics), level, rule, function, dict(facts), triage_reason)
        sig_ = ROUTINE if event is None else events.Signature(*map(frozenset, event))
        out.append(Ready(digest, title_norm, body_norm, shingled, sig, u, sig_))
    return out
