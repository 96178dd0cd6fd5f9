"""Wiring: build the program's parts from settings once (the bootstrap of cosmicpython)."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.clock import Clock, SystemClock
from monitor.jurisdiction import Jurisdiction, load_jurisdiction
from monitor.pipeline import Pipeline
from monitor.settings import Settings, database_url, load_calendar
from monitor.store import Store
from monitor.understand import Understander
from monitor.workcal import WorkCalendar


@dataclass
class App:
    settings: Settings
    clock: Clock
    store: Store
    calendar: WorkCalendar
    jurisdiction: Jurisdiction
    understander: Understander
    pipeline: Pipeline

    async def close(self) -> None:
        await self.store.close()


async def build(settings: Settings, db: str | None = None, clock: Clock | None = None,
                migrate: bool = True) -> App:
    clock = clock or SystemClock()
    calendar = load_calendar(settings)
    jurisdiction = load_jurisdiction(settings.resolve(settings.jurisdiction))
    understander = Understander.load(settings.resolve(settings.lexicons), jurisdiction,
                                     settings.classifier.min_confidence)
    store = await Store(database_url(settings, db)).open(migrate_schema=migrate)
    pipeline = Pipeline(store, clock, understander, settings.rules, calendar)
    return App(settings, clock, store, calendar, jurisdiction, understander, pipeline)
