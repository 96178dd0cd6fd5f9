"""A jurisdiction: its departments, what each answers for, and its places. Loaded from
config/jurisdictions/*.yaml; consumed by the pure router."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from monitor.settings import Strict, validate_yaml


class Department(Strict):
    name: str
    domains: list[str] = Field(default_factory=list)  # classifier domains this department answers for
    keywords: list[str] = Field(default_factory=list)  # terms that point at it whatever the domain
    aliases: list[str] = Field(default_factory=list)  # other names citizens and replies use


class Place(Strict):
    name: str
    aliases: list[str] = Field(default_factory=list)
    office: str | None = None  # the local government office answering for matters in this place


class Jurisdiction(Strict):
    name: str
    level: Literal["province", "city", "district"]
    upper: str = ""  # the upper-level government (for matters spanning several of our places)
    office: str  # 政府办公厅/室: coordinates, and answers when nothing else fits
    cyberspace: str = ""  # 网信办: supervises, and receives false-information clues
    departments: list[Department]
    places: list[Place] = Field(default_factory=list)

    def department(self, name: str) -> Department | None:
        return next((d for d in self.departments if d.name == name or name in d.aliases), None)


def load_jurisdiction(path: Path) -> Jurisdiction:
    jurisdiction, _ = validate_yaml(path, Jurisdiction)
    return jurisdiction
