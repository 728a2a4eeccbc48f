"""knowledge/: what the assistant's actions look up (dialogues/knowledge/README.md): library branches,
events, crisis phrases and the city form offered for a topic; and dialogues/answers.yml (the hosts
answers may link to, review dates). Not Rasa files: each starts with `version: 1`."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.config import HOST_NAME
from app.content import DAYS, Checker, Key, Schedule

VERSION = 1
AUDIENCES = ("adults", "children", "families", "all")
DEFAULT_MINUTES = 60
ACCESSIBILITY = ("wheelchair", "accessible_toilet", "parent_room")
#: How long an answer's facts hold when answers.yml does not say (`review_after_days`).
REVIEW_AFTER_DAYS = 365
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class Branch:
    """A library branch and its weekly opening hours."""

    id: str
    name: str
    district: str
    address: str
    schedule: Schedule
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
    audience: str = "all"

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


def read_branches(c: Checker, districts: Collection[str]) -> tuple[Branch, ...]:
    """Return the branches of library_branches.yml, after recording every problem in the checker."""
    top = _top(c, "branches", optional=("demo", "source"))
    branches: list[Branch] = []
    ids: set[str] = set()
    for key, entry in _listed(c, top, "branches"):
        start = c.error_count
        item = c.mapping(
            key,
            entry,
            required=("id", "name", "district", "address", "schedule"),
            optional=("collections", "accessibility"),
        )
        if item is None:
            continue
        branch_id, district = _identity(c, key, item, ids, districts)
        name = c.field(item, key, "name", c.text)
        address = c.field(item, key, "address", c.text)
        schedule = c.field(item, key, "schedule", lambda k, v: _schedule(c, k, v))
        collections = c.field(item, key, "collections", c.items, lambda k, v: _language(c, k, v), min_items=0)
        c.field(item, key, "accessibility", c.choices, ACCESSIBILITY, min_items=0)
        if branch_id is None or district is None or name is None or address is None or schedule is None:
            continue
        if c.error_count == start:
            branches.append(Branch(branch_id, name, district, address, schedule, collections or ()))
    return tuple(branches)


def read_events(c: Checker, districts: Collection[str]) -> tuple[Event, ...]:
    """Return the events of events.yml, after recording every problem in the checker."""
    top = _top(c, "events", optional=("demo",))
    events: list[Event] = []
    ids: set[str] = set()
    for key, entry in _listed(c, top, "events"):
        start = c.error_count
        item = c.mapping(
            key,
            entry,
            required=("id", "title", "place", "district", "when"),
            optional=("description", "free", "languages", "audience", "url"),
        )
        if item is None:
            continue
        event_id, district = _identity(c, key, item, ids, districts)
        title = c.field(item, key, "title", c.text)
        place = c.field(item, key, "place", c.text)
        description = c.field(item, key, "description", c.text)
        free = c.field(item, key, "free", c.boolean)
        languages = c.field(item, key, "languages", c.items, lambda k, v: _language(c, k, v), min_items=0)
        audience = c.field(item, key, "audience", c.choice, AUDIENCES)
        url = c.field(item, key, "url", c.text)
        when = c.field(item, key, "when", lambda k, v: _when(c, k, v))
        if event_id is None or district is None or title is None or place is None or when is None:
            continue
        if c.error_count > start:
            continue
        weekdays, on_date, at, minutes = when
        events.append(
            Event(
                id=event_id,
                title=title,
                description=description or "",
                place=place,
                district=district,
                weekdays=weekdays,
                on_date=on_date,
                at=at,
                duration_minutes=minutes,
                free=bool(free),
                languages=languages or (),
                url=url,
                audience=audience or "all",
            )
        )
    return tuple(events)


def read_crisis_phrases(c: Checker) -> tuple[str, ...]:
    """Return the phrases of crisis.yml, every language's, as written, after recording every problem."""
    top = _top(c, "phrases")
    phrases = top.get("phrases") if top else None
    if phrases is None:
        return ()
    if not isinstance(phrases, dict):
        c.fail(("phrases",), "expected `phrases:` mapping languages to lists of phrases")
        return ()
    found: list[str] = []
    for language, items in phrases.items():
        key: Key = ("phrases", language)
        _language(c, key, language)
        found.extend(c.items(key, items, c.text) or ())
    return tuple(found)


def read_city_forms(c: Checker, *, intents: Collection[str], form_ids: Collection[str]) -> dict[str, str]:
    """Return intent -> city form id of city_forms.yml, after recording every problem in the checker."""
    top = _top(c, "offers")
    offers = top.get("offers") if top else None
    if offers is None:
        return {}
    if not isinstance(offers, dict):
        c.fail(("offers",), "expected `offers:` mapping intents to form ids")
        return {}
    found: dict[str, str] = {}
    for intent, form_id in offers.items():
        key: Key = ("offers", intent)
        if intent not in intents:
            c.fail(key, f"unknown intent {intent!r} (not in dialogues/domain.yml)")
        elif not isinstance(form_id, str) or form_id not in form_ids:
            c.fail(key, f"unknown form {form_id!r}; forms/ has: {', '.join(sorted(form_ids))}")
        else:
            found[str(intent)] = form_id
    return found


#: The short questions follow_ups.yml answers per topic.
FOLLOW_UP_KINDS = ("where", "when", "cost")


def read_follow_ups(
    c: Checker, *, intents: Collection[str], answers: Collection[str]
) -> dict[str, dict[str, str]]:
    """Return topic intent -> {where|when|cost: response or action} of follow_ups.yml, after recording
    every problem in the checker."""
    top = _top(c, "follow_ups")
    topics = top.get("follow_ups") if top else None
    if topics is None:
        return {}
    if not isinstance(topics, dict):
        c.fail(("follow_ups",), "expected `follow_ups:` mapping intents to their answers")
        return {}
    found: dict[str, dict[str, str]] = {}
    for intent, kinds in topics.items():
        key: Key = ("follow_ups", intent)
        if intent not in intents:
            c.fail(key, f"unknown intent {intent!r} (not in dialogues/domain.yml)")
            continue
        if not isinstance(kinds, dict) or not kinds:
            c.fail(key, f"expected a mapping of {', '.join(FOLLOW_UP_KINDS)} to a response or an action")
            continue
        for kind, answer in kinds.items():
            if kind not in FOLLOW_UP_KINDS:
                c.fail((*key, kind), f"unknown question {kind!r}: use {', '.join(FOLLOW_UP_KINDS)}")
            elif not isinstance(answer, str) or answer not in answers:
                c.fail((*key, kind), f"{answer!r} is neither a response nor an action of dialogues/domain.yml")
            else:
                found.setdefault(str(intent), {})[kind] = answer
    return found


@dataclass(frozen=True)
class AnswerPolicy:
    """dialogues/answers.yml: the hosts answers may link to (each with its subdomains), how many days
    an answer's facts hold, and when a person last checked each response."""

    allowed_hosts: tuple[str, ...] = ()
    review_after_days: int = REVIEW_AFTER_DAYS
    reviewed: dict[str, date] = field(default_factory=dict)
    #: response name -> the line of its date in answers.yml
    reviewed_lines: dict[str, int] = field(default_factory=dict)

    def allows(self, host: str) -> bool:
        """Return whether host is one of allowed_hosts or a subdomain of one."""
        return any(host == allowed or host.endswith("." + allowed) for allowed in self.allowed_hosts)


def read_answers(c: Checker, *, responses: Collection[str]) -> AnswerPolicy | None:
    """Return the answer policy of answers.yml, after recording every problem in the checker."""
    top = _top(c, "allowed_hosts", optional=("review_after_days", "reviewed"))
    if top is None:
        return None

    def host(key: Key, value: object) -> str | None:
        if isinstance(value, str) and HOST_NAME.match(value):
            return value
        c.fail(key, f"{value!r} is not a host name: write it in lower case without https:// or a path, e.g. krakow.pl")
        return None

    hosts = c.field(top, (), "allowed_hosts", c.items, host, min_items=0)
    days = c.field(top, (), "review_after_days", c.integer, minimum=1, maximum=3650)
    reviewed: dict[str, date] = {}
    lines: dict[str, int] = {}
    dates = top.get("reviewed")
    if dates is not None and not isinstance(dates, dict):
        c.fail(("reviewed",), "`reviewed` must map response names to the quoted date of their last review")
        dates = None
    for name, value in (dates or {}).items():
        key: Key = ("reviewed", name)
        if not str(name).startswith("utter_") or name not in responses:
            c.fail(key, f"{name!r} is no response of dialogues/domain.yml")
            continue
        if not isinstance(value, str | date):
            c.fail(key, f'`{name}` must be the quoted date of its last review, "YYYY-MM-DD"')
            continue
        day = _date(c, key, value)
        if day is not None:
            reviewed[name] = day
            lines[name] = c.doc.line(*key)
    return AnswerPolicy(
        allowed_hosts=hosts or (),
        review_after_days=days or REVIEW_AFTER_DAYS,
        reviewed=reviewed,
        reviewed_lines=lines,
    )


def _top(c: Checker, section: str, *, optional: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Return the file's top-level mapping, its `version: 1` checked; None when it is not a mapping."""
    top = c.mapping((), c.doc.data, required=("version", section), optional=optional)
    if top is None:
        return None
    version = top.get("version", VERSION)
    if isinstance(version, bool) or version != VERSION:
        c.fail(("version",), f"`version` is {version!r}; this format is version {VERSION}")
    c.field(top, (), "demo", c.boolean)
    return top


def _listed(c: Checker, top: dict[str, Any] | None, section: str) -> list[tuple[Key, object]]:
    """Return (key, item) for every item of the top-level list section."""
    items = c.field(top, (), section, c.sequence) if top is not None else None
    return [((section, index), item) for index, item in enumerate(items or ())]


def _identity(
    c: Checker, key: Key, item: dict[str, Any], ids: set[str], districts: Collection[str]
) -> tuple[str | None, str | None]:
    """Return the item's id, unique in the file, and its district, one of the city's (else None)."""
    item_id = c.field(item, key, "id", c.matching, _ID, "an id of a-z, 0-9 and - such as filia-21")
    if item_id is not None and item_id in ids:
        c.fail((*key, "id"), f"the id {item_id!r} is used twice; ids are unique in a file")
        item_id = None
    elif item_id is not None:
        ids.add(item_id)
    district = item.get("district")
    if "district" in item and (not isinstance(district, str) or district not in districts):
        c.fail((*key, "district"), f"unknown district {district!r} (see cases/routing.yml)")
        district = None
    return item_id, district


def _schedule(c: Checker, key: Key, value: object) -> Schedule | None:
    # A branch may be closed all week (README: `schedule` may be []), which Checker.schedule refuses.
    return {} if value == [] else c.schedule(key, value)


def _when(c: Checker, key: Key, value: object) -> tuple[tuple[int, ...], date | None, time, int] | None:
    """Return (weekdays, date, start, minutes) of an event's `when`: weekly on some days, or on a date."""
    start = c.error_count
    when = c.mapping(key, value, required=("time",), optional=("weekly", "date", "duration_minutes"))
    if when is None:
        return None
    at = c.field(when, key, "time", c.time_of_day)
    minutes = c.field(when, key, "duration_minutes", c.integer, minimum=1, maximum=720)
    weekdays: tuple[int, ...] = ()
    on_date: date | None = None
    if ("weekly" in when) == ("date" in when):
        c.fail(key, "`when` needs exactly one of `weekly` (a list of days) and `date`")
    elif "weekly" in when:
        days = c.choices((*key, "weekly"), when["weekly"], DAYS)
        weekdays = tuple(DAYS.index(day) for day in days or ())
    else:
        on_date = _date(c, (*key, "date"), when["date"])
    if at is None or c.error_count > start:
        return None
    return weekdays, on_date, at, minutes or DEFAULT_MINUTES


def _date(c: Checker, key: Key, value: object) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):  # YAML reads 2027-03-20 as a date
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        c.fail(key, f'{value!r} is not a date: write a quoted "YYYY-MM-DD"')
        return None


def _language(c: Checker, key: Key, value: object) -> str | None:
    return c.matching(key, value, _LANGUAGE, "a two-letter language code such as en")
