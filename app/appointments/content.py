"""Reads appointments/ (services.yml, places.yml) as appointments/README.md specifies: the services
people can book a visit for, and the places that take visits, with their desks, languages, access
and weekly hours. Every problem of the folder is reported at once, each as `file:line: message`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.cases.content import case_content
from app.config import Settings
from app.content import Checker, ContentError, ContentErrors, Key, Schedule, load_yaml
from app.languages import LANGUAGES
from app.partners import service as partner_service

KINDS = ("office", "branch", "kiosk", "partner")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_ID = 40
#: A place opens after this in the evening (for people who work in the day).
EVENING = time(17, 0)


@dataclass(frozen=True)
class Service:
    """A kind of visit: its name and description (English msgids), length and what to bring."""

    id: str
    name: str
    description: str
    minutes: int
    category: str
    bring: tuple[str, ...]


@dataclass(frozen=True)
class Place:
    """A place that takes visits: desks working in parallel, weekly hours, the services it offers."""

    id: str
    name: str
    kind: str
    address: str
    district: str
    lat: float
    lon: float
    step_free: bool
    languages: tuple[str, ...]
    desks: int
    hours: Schedule
    services: tuple[str, ...]
    organisation: str | None = None
    closed: frozenset[date] = field(default_factory=frozenset)

    @property
    def has_evenings(self) -> bool:
        """Return whether the place is open after 17:00 on some day."""
        return any(closes > EVENING for spans in self.hours.values() for _, closes in spans)

    @property
    def has_weekends(self) -> bool:
        """Return whether the place is open on Saturday or Sunday."""
        return bool(self.hours.get(5) or self.hours.get(6))

    @property
    def map_url(self) -> str:
        """Return an OpenStreetMap link to the place (no API key, no tracking)."""
        return f"https://www.openstreetmap.org/?mlat={self.lat:.5f}&mlon={self.lon:.5f}#map=18/{self.lat:.5f}/{self.lon:.5f}"


@dataclass(frozen=True)
class Catalogue:
    """The validated appointments/ folder."""

    unit_minutes: int
    services: dict[str, Service]
    places: dict[str, Place]

    def places_for(self, service_id: str) -> list[Place]:
        """Return the places that offer service_id, in the file's order."""
        return [place for place in self.places.values() if service_id in place.services]


class _Reader:
    def __init__(self, errors: list[ContentError], *, categories: list[str], districts: list[str], partners: set[str]):
        self.errors = errors
        self.categories = categories
        self.districts = districts
        self.partners = partners

    def services(self, doc_checker: Checker, unit: int) -> dict[str, Service]:
        check = doc_checker
        root = check.mapping((), check.doc.data, required=("version", "services"))
        if root is None:
            return {}
        self._version(check, root)
        entries = check.field(root, (), "services", check.sequence, min_items=1) or []
        services: dict[str, Service] = {}
        for index, entry in enumerate(entries):
            key: Key = ("services", index)
            item = check.mapping(key, entry, required=("id", "name", "description", "minutes", "category", "bring"))
            if item is None:
                continue
            start = check.error_count
            ident = check.field(item, key, "id", self._id, check)
            name = check.field(item, key, "name", check.text)
            description = check.field(item, key, "description", check.text)
            minutes = check.field(item, key, "minutes", check.integer, minimum=unit, maximum=240)
            if minutes is not None and minutes % unit:
                check.fail((*key, "minutes"), f"`minutes` is {minutes}; it must be a multiple of unit_minutes ({unit}) in places.yml")
            category = check.field(item, key, "category", check.choice, self.categories)
            bring = check.field(item, key, "bring", check.items, check.text, min_items=0)
            if ident is not None and ident in services:
                check.fail((*key, "id"), f"service id {ident!r} is used twice")
                continue
            if check.error_count == start and ident and name and description and minutes and category and bring is not None:
                services[ident] = Service(ident, name, description, minutes, category, bring)
        return services

    def places(self, check: Checker, services: dict[str, Service], unit: int) -> dict[str, Place]:
        root = check.doc.data if isinstance(check.doc.data, dict) else {}
        entries = check.field(root, (), "places", check.sequence, min_items=1) or []
        places: dict[str, Place] = {}
        for index, entry in enumerate(entries):
            key: Key = ("places", index)
            item = check.mapping(
                key,
                entry,
                required=("id", "name", "kind", "address", "district", "location", "step_free", "languages", "desks", "hours", "services"),
                optional=("organisation", "closed"),
            )
            if item is None:
                continue
            start = check.error_count
            ident = check.field(item, key, "id", self._id, check)
            name = check.field(item, key, "name", check.text)
            kind = check.field(item, key, "kind", check.choice, KINDS)
            address = check.field(item, key, "address", check.text)
            district = check.field(item, key, "district", check.choice, self.districts)
            lat = lon = None
            location = check.field(item, key, "location", check.mapping, required=("lat", "lon"))
            if location is not None:
                lat = check.field(location, (*key, "location"), "lat", check.number, minimum=-90, maximum=90)
                lon = check.field(location, (*key, "location"), "lon", check.number, minimum=-180, maximum=180)
            step_free = check.field(item, key, "step_free", check.boolean)
            languages = check.field(item, key, "languages", check.items, lambda k, v: self._language(check, k, v))
            desks = check.field(item, key, "desks", check.integer, minimum=1, maximum=50)
            hours = check.field(item, key, "hours", check.schedule)
            if hours is not None:
                self._on_grid(check, (*key, "hours"), hours, unit)
            offered = check.field(item, key, "services", check.choices, sorted(services) or ["(none)"])
            organisation = check.field(item, key, "organisation", check.text)
            if kind == "partner" and organisation is None and "organisation" not in item:
                check.fail(key, "a place of kind `partner` names its partner's file as `organisation`")
            if organisation is not None and organisation not in self.partners:
                check.fail((*key, "organisation"), f"`organisation` {organisation!r} is no partner in partners/ (known: {', '.join(sorted(self.partners))})")
            closed = self._dates(check, (*key, "closed"), item.get("closed", []))
            if ident is not None and ident in places:
                check.fail((*key, "id"), f"place id {ident!r} is used twice")
                continue
            if check.error_count > start or None in (ident, name, kind, address, district, lat, lon, step_free, languages, desks, hours, offered):
                continue
            places[ident] = Place(
                id=ident, name=name, kind=kind, address=address, district=district, lat=lat, lon=lon,  # type: ignore[arg-type]
                step_free=step_free, languages=languages, desks=desks, hours=hours, services=offered,  # type: ignore[arg-type]
                organisation=organisation, closed=closed,
            )
        return places

    @staticmethod
    def _version(check: Checker, root: dict[str, Any]) -> None:
        if "version" in root and root["version"] != 1:
            check.fail(("version",), f"`version` is {root['version']!r}; this Witaj reads version 1")

    @staticmethod
    def _id(key: Key, value: object, check: Checker) -> str | None:
        ident = check.matching(key, value, _ID, "an id of small letters, digits and single dashes (e.g. kiosk-bonarka)")
        if ident is not None and len(ident) > MAX_ID:
            check.fail(key, f"the id is longer than {MAX_ID} characters")
            return None
        return ident

    @staticmethod
    def _language(check: Checker, key: Key, value: object) -> str | None:
        code = check.matching(key, value, _LANGUAGE, "a two-letter language code such as uk")
        if code is not None and code not in LANGUAGES:
            check.fail(key, f"unknown language {code!r} (known: {', '.join(sorted(LANGUAGES))})")
            return None
        return code

    @staticmethod
    def _on_grid(check: Checker, key: Key, hours: Schedule, unit: int) -> None:
        for spans in hours.values():
            for opens, closes in spans:
                for moment in (opens, closes):
                    if (moment.hour * 60 + moment.minute) % unit:
                        check.fail(key, f"{moment:%H:%M} is not on the {unit}-minute grid of unit_minutes; visits start and end on it")
                        return

    @staticmethod
    def _dates(check: Checker, key: Key, value: object) -> frozenset[date]:
        days = check.sequence(key, value) or []
        found = set()
        for index, item in enumerate(days):
            if isinstance(item, date):  # YAML reads an unquoted 2026-12-31 as a date
                found.add(item)
                continue
            text = check.matching((*key, index), item, _DATE, "a date YYYY-MM-DD")
            if text is None:
                continue
            try:
                found.add(date.fromisoformat(text))
            except ValueError:
                check.fail((*key, index), f"{text!r} is no date of the calendar")
        return frozenset(found)


def load_catalogue(folder: Path, *, categories: list[str], districts: list[str], partners: set[str]) -> Catalogue:
    """Return the validated appointments/ folder; raise ContentErrors listing every problem."""
    errors: list[ContentError] = []
    docs: dict[str, Checker] = {}
    for name in ("places.yml", "services.yml"):
        try:
            docs[name] = Checker(load_yaml(folder / name), errors)
        except ContentError as exc:
            errors.append(exc)
    if errors:
        raise ContentErrors(errors)
    places_check, services_check = docs["places.yml"], docs["services.yml"]
    root = places_check.mapping((), places_check.doc.data, required=("version", "unit_minutes", "places"))
    if root is None:
        raise ContentErrors(errors)
    _Reader._version(places_check, root)
    unit = places_check.field(root, (), "unit_minutes", places_check.integer, minimum=5, maximum=60) or 15
    if 60 % unit:
        places_check.fail(("unit_minutes",), f"`unit_minutes` is {unit}; it must divide an hour (5, 10, 15, 20, 30 or 60)")
    reader = _Reader(errors, categories=categories, districts=districts, partners=partners)
    services = reader.services(services_check, unit)
    places = reader.places(places_check, services, unit)
    if errors:
        raise ContentErrors(errors)
    return Catalogue(unit_minutes=unit, services=services, places=places)


@lru_cache(maxsize=4)
def _cached(folder: str, categories: tuple[str, ...], districts: tuple[str, ...], partners: frozenset[str]) -> Catalogue:
    return load_catalogue(Path(folder), categories=list(categories), districts=list(districts), partners=set(partners))


def catalogue(settings: Settings) -> Catalogue:
    """Return the validated appointments/ content of settings' content folder, loaded once."""
    cc = case_content(settings)
    partners = frozenset(partner_service.directory(settings).organisations)
    return _cached(str(settings.content_dir / "appointments"), tuple(cc.categories), tuple(cc.districts), partners)
