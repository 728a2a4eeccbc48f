"""The assistant's knowledge base: library branches and events (dialogues/knowledge/*.yml)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from app.config import Settings
from app.content import ContentError, YamlDoc, load_yaml

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Branch:
    """A library branch and its weekly opening hours."""

    id: str
    name: str
    district: str
    address: str
    schedule: dict[int, list[tuple[time, time]]]
    collections: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    """A cultural programme item: weekly on some days, or once on a date."""

    id: str
    title: str
    description: str
    place: str
    district: str
    weekdays: tuple[int, ...]
    on_date: date | None
    at: time
    duration_minutes: int
    free: bool
    languages: tuple[str, ...]
    url: str | None

    def occurrences(self, first: date, last: date, zone: ZoneInfo) -> list[datetime]:
        """Return the event's start times between first and last (inclusive), in zone."""
        days: list[date] = []
        if self.on_date is not None:
            if first <= self.on_date <= last:
                days.append(self.on_date)
        else:
            day = first
            while day <= last:
                if day.weekday() in self.weekdays:
                    days.append(day)
                day += timedelta(days=1)
        return [datetime.combine(d, self.at, tzinfo=zone) for d in days]


@dataclass(frozen=True)
class Knowledge:
    """Everything the custom actions look up."""

    branches: tuple[Branch, ...]
    events: tuple[Event, ...]
    crisis_phrases: tuple[str, ...] = ()
    city_forms: dict[str, str] = field(default_factory=dict)  # intent -> form id (forms/<id>.yml)


def _time(doc: YamlDoc, key: tuple[str | int, ...], value: object) -> time:
    if not isinstance(value, str) or not _TIME.match(value):
        raise doc.error(key, 'a time must be a quoted "HH:MM" string')
    return time.fromisoformat(value)


def _schedule(doc: YamlDoc, key: tuple[str | int, ...], spans: object) -> dict[int, list[tuple[time, time]]]:
    if not isinstance(spans, list):
        raise doc.error(key, "schedule must be a list of {days, opens_at, closes_at}")
    schedule: dict[int, list[tuple[time, time]]] = {}
    for index, span in enumerate(spans):
        where = (*key, index)
        if not isinstance(span, dict):
            raise doc.error(where, "each schedule item is a mapping")
        opens, closes = _time(doc, (*where, "opens_at"), span.get("opens_at")), _time(doc, (*where, "closes_at"), span.get("closes_at"))
        if opens >= closes:
            raise doc.error(where, "opens_at must be before closes_at")
        for day in span.get("days") or []:
            if day not in DAYS:
                raise doc.error((*where, "days"), f"unknown day {day!r}; use {' '.join(DAYS)}")
            schedule.setdefault(DAYS.index(day), []).append((opens, closes))
    return schedule


def _districts(settings: Settings) -> set[str]:
    from app.cases import service as case_service

    return set(case_service.content(settings).districts)


def _entries(
    path: Path, section: str, required: tuple[str, ...], districts: set[str]
) -> tuple[YamlDoc | None, list[tuple[tuple[str, int], dict]]]:
    """Return the file's items of section, each checked for required fields, a unique id and a known
    district; raise ContentError with file and line."""
    if not path.exists():
        return None, []
    doc = load_yaml(path)
    items = (doc.data or {}).get(section) if isinstance(doc.data, dict) else None
    if not isinstance(items, list):
        raise ContentError(path, 1, f"expected a `{section}:` list")
    seen: set[str] = set()
    checked = []
    for index, item in enumerate(items):
        key = (section, index)
        if not isinstance(item, dict):
            raise doc.error(key, "each item is a mapping")
        for name in required:
            if not item.get(name):
                raise doc.error(key, f"`{name}` is required")
        if not _ID.match(str(item["id"])) or item["id"] in seen:
            raise doc.error((*key, "id"), "ids are unique and use a-z, 0-9 and -")
        seen.add(item["id"])
        if item["district"] not in districts:
            raise doc.error((*key, "district"), f"unknown district {item['district']!r} (see cases/routing.yml)")
        checked.append((key, item))
    return doc, checked


def read_branches(path: Path, districts: set[str]) -> tuple[Branch, ...]:
    """Return the branches in path; raise ContentError with file and line."""
    doc, items = _entries(path, "branches", ("id", "name", "district", "address", "schedule"), districts)
    return tuple(
        Branch(
            id=item["id"],
            name=str(item["name"]),
            district=item["district"],
            address=str(item["address"]),
            schedule=_schedule(doc, (*key, "schedule"), item["schedule"]),  # type: ignore[arg-type]
            collections=tuple(item.get("collections") or ()),
        )
        for key, item in items
    )


def read_events(path: Path, districts: set[str]) -> tuple[Event, ...]:
    """Return the events in path; raise ContentError with file and line."""
    doc, items = _entries(path, "events", ("id", "title", "place", "district", "when"), districts)
    out = []
    for key, item in items:
        assert doc is not None
        when = item["when"]
        if not isinstance(when, dict):
            raise doc.error((*key, "when"), "`when` is {weekly: [days], time} or {date, time}")
        weekdays: tuple[int, ...] = ()
        on_date = None
        if "weekly" in when:
            bad = [d for d in when["weekly"] or [] if d not in DAYS]
            if bad or not when["weekly"]:
                raise doc.error((*key, "when", "weekly"), f"days must be among {' '.join(DAYS)}")
            weekdays = tuple(DAYS.index(d) for d in when["weekly"])
        elif "date" in when:
            try:
                on_date = date.fromisoformat(str(when["date"]))
            except ValueError:
                raise doc.error((*key, "when", "date"), "a date is YYYY-MM-DD") from None
        else:
            raise doc.error((*key, "when"), "`when` needs `weekly` or `date`")
        out.append(
            Event(
                id=item["id"],
                title=str(item["title"]),
                description=str(item.get("description") or ""),
                place=str(item["place"]),
                district=item["district"],
                weekdays=weekdays,
                on_date=on_date,
                at=_time(doc, (*key, "when", "time"), when.get("time")),
                duration_minutes=int(when.get("duration_minutes") or 60),
                free=bool(item.get("free", False)),
                languages=tuple(item.get("languages") or ()),
                url=item.get("url"),
            )
        )
    return tuple(out)


@lru_cache(maxsize=4)
def _load(folder: str, districts: frozenset[str], intents: frozenset[str], form_ids: frozenset[str]) -> Knowledge:
    base = Path(folder)
    return Knowledge(
        branches=read_branches(base / "library_branches.yml", set(districts)),
        events=read_events(base / "events.yml", set(districts)),
        crisis_phrases=read_crisis_phrases(base / "crisis.yml"),
        city_forms=read_city_forms(base / "city_forms.yml", intents=intents, form_ids=form_ids),
    )


def read_city_forms(path: Path, *, intents: frozenset[str], form_ids: frozenset[str]) -> dict[str, str]:
    """Return intent -> city form id from path; raise ContentError with file and line."""
    if not path.exists():
        return {}
    doc = load_yaml(path)
    offers = (doc.data or {}).get("offers") if isinstance(doc.data, dict) else None
    if not isinstance(offers, dict):
        raise ContentError(path, 1, "expected `offers:` mapping intents to form ids")
    out: dict[str, str] = {}
    for intent, form_id in offers.items():
        if intent not in intents:
            raise doc.error(("offers", intent), f"unknown intent {intent!r} (not in dialogues/domain.yml)")
        if not isinstance(form_id, str) or form_id not in form_ids:
            known = ", ".join(sorted(form_ids))
            raise doc.error(("offers", intent), f"unknown form {form_id!r}; forms/ has: {known}")
        out[str(intent)] = form_id
    return out


def read_crisis_phrases(path: Path) -> tuple[str, ...]:
    """Return the crisis phrases of every language, folded; raise ContentError with file and line."""
    if not path.exists():
        return ()
    from app.assistant.nlu import normalize

    doc = load_yaml(path)
    phrases = (doc.data or {}).get("phrases") if isinstance(doc.data, dict) else None
    if not isinstance(phrases, dict):
        raise ContentError(path, 1, "expected `phrases:` mapping languages to lists of phrases")
    out = []
    for language, items in phrases.items():
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            raise doc.error(("phrases", language), "each language has a list of non-empty phrases")
        out.extend(normalize(i) for i in items)
    return tuple(out)


def load_knowledge(settings: Settings) -> Knowledge:
    """Return the validated knowledge base (loaded once)."""
    from app.forms import service as forms_service

    folder = settings.content_dir / "dialogues"
    return _load(
        str(folder / "knowledge"),
        frozenset(_districts(settings)),
        _domain_intents(str(folder / "domain.yml")),
        frozenset(forms_service.forms(settings)),
    )


@lru_cache(maxsize=4)
def _domain_intents(path: str) -> frozenset[str]:
    """Return the intent names of domain.yml (the dialogue loader checks the file itself)."""
    if not Path(path).exists():
        return frozenset()
    data = load_yaml(Path(path)).data
    items = data.get("intents") if isinstance(data, dict) else None
    return frozenset(next(iter(i)) if isinstance(i, dict) else str(i) for i in items or ())
