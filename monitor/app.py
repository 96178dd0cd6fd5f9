"""Wiring: build the program's parts from settings once (the bootstrap of cosmicpython)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from monitor.core.clock import Clock, SystemClock
from monitor.deadlines.sweeper import Escalator
from monitor.understanding.heat import HeatPolicy
from monitor.understanding.jurisdiction import Jurisdiction, load_jurisdiction
from monitor.pipeline import Pipeline
from monitor.reports.job import DigestJob
from monitor.service import Service
from monitor.config.settings import ConfigError, Settings, database_url, load_calendar
from monitor.store import Store
from monitor.understanding.classifier.domain import model_path
from monitor.understanding.understander import Understander
from monitor.core.workcal import WorkCalendar


@dataclass
class App:
    settings: Settings
    clock: Clock
    store: Store
    calendar: WorkCalendar
    jurisdiction: Jurisdiction
    understander: Understander
    pipeline: Pipeline
    service: Service
    escalator: Escalator
    digest: DigestJob | None = None  # the daily digest mail (monitor/reports/job.py)

    async def close(self) -> None:
        await self.store.close()


async def build(settings: Settings, db: str | None = None, clock: Clock | None = None,
                migrate: bool = True) -> App:
    clock = clock or SystemClock()
    calendar = load_calendar(settings)
    jurisdiction = load_jurisdiction(settings.jurisdiction_path)
    understander = Understander.load(settings.lexicons_path, jurisdiction, settings.classifier.min_confidence,
                                     model_path(settings.data_path))
    store = await Store(database_url(settings, db)).open(migrate_schema=migrate)
    pipeline = Pipeline(store, clock, understander, settings.rules, calendar, settings.escalation_policies,
                        settings.deadline_horizon, heat=load_heat(settings.lexicons_path))
    await sync_people(store, settings, clock)
    async with store.write() as tx:  # a holiday file added since the last start: recount early deadlines
        await pipeline.book.replan_provisional(tx, clock.now())
    return App(settings, clock, store, calendar, jurisdiction, understander, pipeline,
               Service(store, clock, settings, calendar), Escalator(store, clock, settings, calendar),
               DigestJob(store, clock, settings, organisation=jurisdiction.aliases[0] if jurisdiction.aliases
                         else jurisdiction.name, own_names=(jurisdiction.name, *jurisdiction.aliases)))


def load_heat(lexicons: Path) -> HeatPolicy:
    """The heat section of lexicons/severity.yaml (defaults when absent)."""
    path = lexicons / "severity.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    try:
        return HeatPolicy.from_dict((data or {}).get("heat"))
    except ValueError as exc:
        raise ConfigError([f"{path}: heat: {exc}"]) from None


async def sync_people(store: Store, settings: Settings, clock: Clock) -> None:
    """Users and the configured 值班表 are copied into the store, where escalation reads them."""
    users = [{"name": u.name, "display": u.display or u.name, "department": u.department, "roles": u.roles,
              "contacts": {"channels": u.channels, "telegram_chat_id": u.telegram_chat_id, "email": u.email}}
             for u in settings.users]
    shifts = [{"role": r.role, "user": r.user, "starts_at": r.from_, "ends_at": r.to} for r in settings.roster]
    async with store.write() as tx:
        await tx.people.sync_from_config(users, shifts, clock.now())
