"""A jurisdiction: its departments, what each answers for, and its places. Loaded from
config/jurisdictions/*.yaml; consumed by the pure router (monitor.understanding.route).

Places come from the file's own `places` list and, optionally, from the national gazetteer
(config/lexicons/gazetteer_cn.tsv, generated from cpca): every place under the jurisdiction's adcode
becomes one of ours, every other province or prefecture is known to be elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, model_validator

from monitor.config.settings import ConfigError, Strict, validate_yaml

Level = Literal["province", "city", "county", "district", "street", "town"]
# Depth of each level: a smaller number is higher up. county and district are the same tier.


class Department(Strict):
    name: str
    function: str = ""  # what it is, whatever the level (生态环境, 教育…): for reports and evaluation
    aliases: list[str] = Field(default_factory=list)  # other names citizens and replies use
    domains: list[str] = Field(default_factory=list)  # classifier domains this department answers for
    keywords: list[str] = Field(default_factory=list)  # terms that point at it whatever the domain
    pilot_domains: list[str] = Field(default_factory=list)  # 26 试点领域 it guides (云政办发〔2020〕33号)
    areas: list[str] = Field(default_factory=list)  # sensitive areas it leads (云政办发〔2021〕28号)
    topics: list[str] = Field(default_factory=list)  # level-1 taxonomy classes it answers for
    # Its counterpart in a place below us: "{place}生态环境局", or per level {city: …, county: …}.
    # None: matters in our places stay with this department, the place's office co-handles.
    local: str | dict[str, str] | None = None
    basis: str = ""  # the document that assigns it (shown in reasons)

    @property
    def key(self) -> str:
        return self.function or self.name

    def local_name(self, place: "Place") -> str | None:
        template = self.local.get(place.level) if isinstance(self.local, dict) else self.local
        return template.replace("{place}", place.name) if template else None


class Place(Strict):
    name: str
    aliases: list[str] = Field(default_factory=list)
    level: Level = "street"
    parent: str = ""  # the name of the place it lies in ("" = directly under the jurisdiction)
    office: str | None = None  # the local government office answering for matters in this place


class GazetteerRef(Strict):
    file: str = "../lexicons/gazetteer_cn.tsv"  # relative to the jurisdiction file
    code: str = Field(pattern=r"^\d{6}$")  # our own adcode: places under it are ours


class Jurisdiction(Strict):
    name: str
    level: Literal["province", "city", "district", "county"]
    upper: str = ""  # the upper-level government (for matters spanning several of our places)
    office: str  # 政府办公厅/室: coordinates, and answers when nothing else fits
    cyberspace: str = ""  # 网信办: supervises, and receives false-information clues
    police: str = ""  # receives clues of illegal acts with false information (虚假不实信息)
    aliases: list[str] = Field(default_factory=list)  # other names of the jurisdiction itself
    departments: list[Department]
    places: list[Place] = Field(default_factory=list)
    gazetteer: GazetteerRef | None = None
    masked_places: bool = False  # treat anonymised names (A市, A1区, J9县) as places of ours
    place_blockers: list[str] = Field(default_factory=list)  # phrases that are not places (大理石, 普洱茶)

    # Places elsewhere (other provinces, prefectures, neighbouring counties), from the gazetteer.
    _foreign: list[Place] = PrivateAttr(default_factory=list)

    @property
    def foreign(self) -> list[Place]:
        return self._foreign

    @model_validator(mode="after")
    def _unique_departments(self) -> "Jurisdiction":
        names = [d.name for d in self.departments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate department names: {', '.join(dupes)}")
        return self

    def department(self, name: str) -> Department | None:
        return next((d for d in self.departments if d.name == name or name in d.aliases), None)


# Official names that are also ordinary words (城区 of 阳泉, 新城区 of 西安…): never matched as places.
GENERIC_NAMES = frozenset("城区 郊区 矿区 新区 新城区 老城区 城中区 城东区 城西区 城南区 城北区 市中区 东区 西区 南区 北区 中区 "
                          "和平区 开发区 高新区 示范区 新市区 河东区 河西区 白云区 长安区 铁东区 铁西区 江北区 江南区 "
                          "城关区 城关镇 向阳区 红旗区 中山区 解放区 新华区 桥东区 桥西区 海港区 前进区 东风区 "
                          "东方市".split())


@dataclass(frozen=True)
class GazetteerEntry:
    code: str
    name: str
    level: str
    parent: str
    aliases: tuple[str, ...]


def read_gazetteer(path: Path) -> list[GazetteerEntry]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 5:
            raise ConfigError([f"{path}:{n}: expected 5 tab-separated columns (adcode name level parent aliases)"])
        code, name, level, parent, aliases = parts
        out.append(GazetteerEntry(code, name, level, parent, tuple(a for a in aliases.split(",") if a)))
    return out


def load_jurisdiction(path: Path) -> Jurisdiction:
    jurisdiction, lines = validate_yaml(path, Jurisdiction)
    if jurisdiction.gazetteer:
        ref = jurisdiction.gazetteer
        gz_path = (path.parent / ref.file).resolve()
        try:
            entries = read_gazetteer(gz_path)
        except FileNotFoundError:
            raise ConfigError([f"{path}:{lines.get(('gazetteer', 'file'), 1)}: gazetteer.file: "
                               f"{gz_path} not found"]) from None
        _merge_gazetteer(jurisdiction, entries, ref.code)
    return jurisdiction


def _merge_gazetteer(j: Jurisdiction, entries: list[GazetteerEntry], code: str) -> None:
    by_code = {e.code: e for e in entries}
    if code not in by_code:
        raise ConfigError([f"gazetteer.code: {code} is not in the gazetteer"])
    own = by_code[code]
    ancestors = set()
    up = own.parent
    while up in by_code:
        ancestors.add(up)
        up = by_code[up].parent
    prefix = code[:2] if own.level == "province" else code[:4] if own.level == "city" else code
    known = {p.name for p in j.places}
    for e in entries:
        if (e.name in GENERIC_NAMES or len(e.name) <= 2) and e.code != code:
            continue  # 城区, 和县: ordinary words more often than places
        if e.code in ancestors:
            continue  # 昆明市 in "昆明市西山区…" is where we are, not elsewhere
        if e.code == code:
            for alias in (e.name, *e.aliases):
                if alias != j.name and alias not in j.aliases:
                    j.aliases.append(alias)
            continue
        parent = by_code.get(e.parent)
        parent_name = parent.name if parent and parent.code != code else ""
        ours = e.code.startswith(prefix) and own.level != "county"
        place = Place(name=e.name, aliases=list(e.aliases), level=e.level, parent=parent_name)
        if ours:
            if e.name not in known:
                j.places.append(place)
        else:
            # Elsewhere. Full names only below the province (镇江 inside 金石镇江边村 is no city), but all
            # counties, so that 朝阳区 keeps 朝阳市's name from matching inside it.
            if e.level != "province":
                place.aliases = []
            j._foreign.append(place)
