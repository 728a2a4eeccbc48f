"""Reads and validates cases/ (categories.yml, workflow.yml, routing.yml) as cases/README.md specifies.

Every problem in the folder is reported at once, each as `file:line: message`, so a city
administrator fixes a file in one pass instead of one error per run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.auth.enums import ROLES_FOR_KIND, OrgKind
from app.cases.calendar import HOLIDAY_SETS, BusinessCalendar
from app.config import Settings
from app.content import Checker, ContentError, ContentErrors, Key, load_yaml, one_of

# --- the contract (cases/README.md) --------------------------------------------------------------

CATEGORY_IDS = (
    "labour_registration",
    "job_search",
    "work_permit",
    "training",
    "library",
    "culture",
    "polish_course",
    "legal_aid",
    "housing",
    "psychological_support",
    "other",
)
STATUS_IDS = (
    "new",
    "triaged",
    "referred",
    "accepted",
    "declined",
    "in_progress",
    "waiting_on_client",
    "resolved",
    "closed",
)
OUTCOME_IDS = (
    "helped",
    "referred_outside",
    "no_longer_needed",
    "not_eligible",
    "no_contact",
    "duplicate",
    "out_of_scope",
)
CLOCKS = ("first_response", "referral_answer", "resolution")
OWNERS = ("office", "partner")
SCOPES = ("holder", "referral", "office")
HOLDERS = ("office", "referral")
REQUIREMENTS = ("category", "partner", "consent", "reason", "outcome")
EVENTS = ("client_message",)
SYSTEM_ROLE = "system"
OFFICE_ROLES = tuple(sorted(ROLES_FOR_KIND[OrgKind.office]))
PARTNER_ROLES = tuple(sorted(ROLES_FOR_KIND[OrgKind.partner]))
STAFF_ROLES = OFFICE_ROLES + PARTNER_ROLES
FACTORS = ("language", "district", "capacity", "response_time")
TIE_BREAKERS = ("capacity_remaining_desc", "response_hours_asc", "organization_id_asc", "service_id_asc")
DISTRICT_COUNT = 18

#: The status a pending referral lives in: refer leads into it, and every way out ends the referral.
REFERRED = "referred"
#: Statuses in which a case is no longer open (README: "A case is open while ...").
FINISHED_STATUSES = frozenset({"resolved", "closed"})


_TRANSITION_NAME = re.compile(r"^[a-z_]+$")
_HOURS = re.compile(r"^[1-9][0-9]*h$")
_DAYS_AFTER = re.compile(r"^[1-9][0-9]*d$")


# --- shapes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    """A case category: who usually handles it and its deadlines in office opening hours per clock."""

    id: str
    label: str
    description: str
    owner: str  # office | partner
    deadlines: dict[str, int]


@dataclass(frozen=True)
class Status:
    """A workflow status and the deadline clock that runs in it (None: no clock)."""

    id: str
    label: str
    terminal: bool
    clock: str | None
    description: str | None

    @property
    def is_open(self) -> bool:
        """Return whether a case in this status is still open (neither resolved nor closed)."""
        return self.id not in FINISHED_STATUSES


@dataclass(frozen=True)
class Outcome:
    """Why a case was resolved or closed."""

    id: str
    label: str


@dataclass(frozen=True)
class Trigger:
    """When a system transition fires: a clock's deadline, N calendar days, or an event."""

    kind: Literal["deadline", "after", "event"]
    clock: str | None = None
    days: int | None = None
    event: str | None = None


@dataclass(frozen=True)
class Transition:
    """A named move between statuses, who may make it, and what it needs and changes."""

    name: str
    label: str
    from_: frozenset[str]
    to: str
    roles: frozenset[str]
    scope: str | None
    requires: frozenset[str]
    holder: str | None
    resets_clocks: frozenset[str]
    trigger: Trigger | None
    outcome: str | None

    @property
    def is_system(self) -> bool:
        """Return whether the app makes this move itself (roles: [system])."""
        return self.roles == {SYSTEM_ROLE}


@dataclass(frozen=True)
class Workflow:
    """Statuses, outcomes and transitions (in file order) and the office calendar."""

    initial: str
    statuses: dict[str, Status]
    outcomes: dict[str, Outcome]
    transitions: dict[str, Transition]
    calendar: BusinessCalendar

    def transitions_from(self, status: str) -> list[Transition]:
        """Return every transition that starts from status, in file order."""
        return [transition for transition in self.transitions.values() if status in transition.from_]

    def human_transitions_from(self, status: str) -> list[Transition]:
        """Return the transitions from status that staff make (the case page's buttons)."""
        return [transition for transition in self.transitions_from(status) if not transition.is_system]

    def system_transitions(self) -> list[Transition]:
        """Return the transitions the app makes on a trigger."""
        return [transition for transition in self.transitions.values() if transition.is_system]


@dataclass(frozen=True)
class RoutingRule:
    """Per-category adjustments to the ranking."""

    category: str
    weights: dict[str, int]
    language_required: bool


@dataclass(frozen=True)
class District:
    """A city district, numbered as the city numbers them."""

    number: int
    name: str


@dataclass(frozen=True)
class Routing:
    """How partner services are ranked for a referral (cases/README.md, "routing.yml")."""

    weights: dict[str, int]
    other_language_factor: float
    area_only_factor: float
    open_statuses: frozenset[str]
    exclude_full: bool
    best_hours: int
    worst_hours: int
    missing_response_score: float
    tie_breakers: tuple[str, ...]
    max_suggestions: int
    rules: dict[str, RoutingRule]
    districts: tuple[District, ...]

    def weights_for(self, category: str) -> dict[str, int]:
        """Return the factor weights for category: the rule's weights merged over the defaults."""
        rule = self.rules.get(category)
        return {**self.weights, **rule.weights} if rule else dict(self.weights)

    def language_required(self, category: str) -> bool:
        """Return whether only services speaking one of the client's languages are suggested."""
        rule = self.rules.get(category)
        return rule.language_required if rule else False


@dataclass(frozen=True)
class CaseContent:
    """Everything in cases/: categories (in UI order), workflow, routing and the city's districts."""

    categories: dict[str, Category]
    workflow: Workflow
    routing: Routing
    districts: tuple[str, ...]


# --- loading -------------------------------------------------------------------------------------


def load_case_content(folder: Path) -> CaseContent:
    """Return the validated content of the cases/ folder; raise ContentErrors listing every problem."""
    errors: list[ContentError] = []
    checkers: dict[str, Checker] = {}
    for name in ("categories.yml", "workflow.yml", "routing.yml"):
        try:
            checkers[name] = Checker(load_yaml(folder / name), errors)
        except ContentError as exc:
            errors.append(exc)
    categories = _read_categories(checkers["categories.yml"]) if "categories.yml" in checkers else None
    workflow = _read_workflow(checkers["workflow.yml"]) if "workflow.yml" in checkers else None
    routing = _read_routing(checkers["routing.yml"]) if "routing.yml" in checkers else None
    if errors or categories is None or workflow is None or routing is None:
        raise ContentErrors(errors)
    return CaseContent(
        categories=categories,
        workflow=workflow,
        routing=routing,
        districts=tuple(district.name for district in routing.districts),
    )


@lru_cache(maxsize=4)
def _cached(folder: str) -> CaseContent:
    return load_case_content(Path(folder))


def case_content(settings: Settings) -> CaseContent:
    """Return the validated case content of settings' content folder (cases/*.yml), loaded once."""
    return _cached(str(settings.content_dir / "cases"))


def check_time_zone(settings: Settings) -> None:
    """Raise ContentError (file:line) when cases/workflow.yml's office time zone is not WITAJ_TIME_ZONE:
    deadlines would be counted in one zone and the pages' dates shown in another."""
    zone = case_content(settings).workflow.calendar.zone.key
    if zone == settings.time_zone:
        return
    doc = load_yaml(settings.content_dir / "cases" / "workflow.yml")
    raise doc.error(
        ("business_hours", "time_zone"),
        f"the office time zone {zone} differs from WITAJ_TIME_ZONE={settings.time_zone}; "
        "deadlines and the dates on the pages would disagree: set both to the same zone",
    )


def _read_ids(
    c: Checker, key: Key, entries: list[Any], id_of: Callable[[Key, dict[str, Any]], str | None]
) -> dict[str, Key]:
    """Return the valid ids of a list's items mapped to their keys; record duplicates."""
    seen: dict[str, Key] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry:
            continue
        found = id_of((*key, index, "id"), entry)
        if found is None:
            continue
        if found in seen:
            c.fail(
                (*key, index, "id"), f"id {found!r} is used twice (first on line {c.doc.line(*seen[found])})"
            )
        else:
            seen[found] = (*key, index, "id")
    return seen


def _require_exactly(c: Checker, key: Key, found: Collection[str], wanted: Sequence[str], what: str) -> None:
    missing = [name for name in wanted if name not in found]
    if missing:
        c.fail(key, f"missing {what}: {one_of(missing)} (exactly these are required: {one_of(wanted)})")


# --- categories.yml ------------------------------------------------------------------------------


_Entry = TypeVar("_Entry", Category, Status, Outcome)


def _read_contract_entries(
    c: Checker,
    section: str,
    entries: list[Any],
    contract: Sequence[str],
    read_one: Callable[[Checker, Key, object], _Entry | None],
    start: int,
) -> dict[str, _Entry] | None:
    """Return the entries of a list whose ids must be exactly `contract`, by id (the first of a
    repeated id wins); None when the list had any error since `start` (the error count before it)."""
    ids = _read_ids(c, (section,), entries, lambda key, entry: c.choice(key, entry["id"], contract))
    _require_exactly(c, (section,), ids, contract, section)
    found: dict[str, _Entry] = {}
    for index, entry in enumerate(entries):
        item = read_one(c, (section, index), entry)
        if item is not None:
            found.setdefault(item.id, item)
    return found if c.error_count == start else None


def _read_categories(c: Checker) -> dict[str, Category] | None:
    start = c.error_count
    top = c.mapping((), c.doc.data, required=("categories",))
    entries = c.field(top, (), "categories", c.sequence, min_items=1) if top is not None else None
    if entries is None:
        return None
    return _read_contract_entries(c, "categories", entries, CATEGORY_IDS, _read_category, start)


def _read_category(c: Checker, key: Key, entry: object) -> Category | None:
    item = c.mapping(key, entry, required=("id", "label", "description", "owner", "deadlines"))
    if item is None:
        return None
    label = c.field(item, key, "label", c.text)
    description = c.field(item, key, "description", c.text)
    owner = c.field(item, key, "owner", c.choice, OWNERS)
    deadlines = c.field(item, key, "deadlines", lambda k, v: _read_deadlines(c, k, v))
    category_id = item.get("id")
    if not isinstance(category_id, str) or category_id not in CATEGORY_IDS:
        return None
    if label is None or description is None or owner is None or deadlines is None:
        return None
    return Category(
        id=category_id,
        label=label,
        description=description,
        owner=owner,
        deadlines=deadlines,
    )


def _read_deadlines(c: Checker, key: Key, value: object) -> dict[str, int] | None:
    deadlines = c.mapping(key, value, required=CLOCKS)
    if deadlines is None:
        return None
    hours: dict[str, int] = {}
    for clock in CLOCKS:
        if clock not in deadlines:
            continue
        text = c.matching(
            (*key, clock), deadlines[clock], _HOURS, "a whole number of office hours such as 8h"
        )
        if text is not None:
            hours[clock] = int(text[:-1])
    return hours if len(hours) == len(CLOCKS) and len(deadlines) == len(CLOCKS) else None


# --- workflow.yml --------------------------------------------------------------------------------


def _read_workflow(c: Checker) -> Workflow | None:
    start = c.error_count
    top = c.mapping(
        (), c.doc.data, required=("initial", "business_hours", "statuses", "outcomes", "transitions")
    )
    if top is None:
        return None
    calendar = c.field(top, (), "business_hours", lambda k, v: _read_calendar(c, k, v))
    statuses = c.field(top, (), "statuses", lambda k, v: _read_statuses(c, v))
    initial = c.field(top, (), "initial", c.choice, STATUS_IDS)
    if initial is not None and statuses is not None and initial in statuses and statuses[initial].terminal:
        c.fail(("initial",), f"`initial` is {initial!r}, a terminal status; a new case must be able to move")
    outcomes = c.field(top, (), "outcomes", lambda k, v: _read_outcomes(c, v))
    transitions_start = c.error_count
    transitions = c.field(top, (), "transitions", lambda k, v: _read_transitions(c, v))
    if transitions is not None and statuses is not None and c.error_count == transitions_start:
        _check_transitions_against_statuses(c, transitions, statuses)
        if initial is not None:
            _check_reachability(c, initial, statuses, transitions)
    if c.error_count > start or calendar is None or statuses is None or initial is None:
        return None
    if outcomes is None or transitions is None:
        return None
    return Workflow(
        initial=initial,
        statuses=statuses,
        outcomes=outcomes,
        transitions={transition.name: transition for transition, _ in transitions},
        calendar=calendar,
    )


def _read_calendar(c: Checker, key: Key, value: object) -> BusinessCalendar | None:
    hours = c.mapping(key, value, required=("time_zone", "schedule"), optional=("holidays",))
    if hours is None:
        return None
    zone: ZoneInfo | None = None
    if "time_zone" in hours:
        name = c.text((*key, "time_zone"), hours["time_zone"])
        if name is not None:
            try:
                zone = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                c.fail(
                    (*key, "time_zone"),
                    f"`time_zone` {name!r} is not an IANA time zone such as Europe/Warsaw",
                )
    schedule = c.field(hours, key, "schedule", c.schedule)
    holidays = c.field(hours, key, "holidays", c.choice, sorted(HOLIDAY_SETS))
    if zone is None or schedule is None or ("holidays" in hours and holidays is None):
        return None
    return BusinessCalendar(zone=zone, schedule=schedule, holidays=holidays)


def _read_statuses(c: Checker, value: object) -> dict[str, Status] | None:
    start = c.error_count
    entries = c.sequence(("statuses",), value, min_items=1)
    if entries is None:
        return None
    return _read_contract_entries(c, "statuses", entries, STATUS_IDS, _read_status, start)


def _read_status(c: Checker, key: Key, entry: object) -> Status | None:
    item = c.mapping(key, entry, required=("id", "label", "terminal", "clock"), optional=("description",))
    if item is None:
        return None
    status_id = item.get("id")
    label = c.field(item, key, "label", c.text)
    terminal = c.field(item, key, "terminal", c.boolean)
    clock = c.field(item, key, "clock", c.choice, (*CLOCKS, "none"))
    description = c.field(item, key, "description", c.text)
    if not isinstance(status_id, str) or status_id not in STATUS_IDS:
        return None
    if terminal is not None and terminal != (status_id == "closed"):
        c.fail(
            (*key, "terminal"),
            "only `closed` is terminal (`resolved` still waits for auto_close and may be reopened)",
        )
        return None
    if terminal and clock not in (None, "none"):
        c.fail((*key, "clock"), f"a terminal status runs no clock: `clock` must be none, not {clock!r}")
        return None
    if label is None or terminal is None or clock is None or ("description" in item and description is None):
        return None
    return Status(
        id=status_id,
        label=label,
        terminal=terminal,
        clock=None if clock == "none" else clock,
        description=description,
    )


def _read_outcomes(c: Checker, value: object) -> dict[str, Outcome] | None:
    start = c.error_count
    entries = c.sequence(("outcomes",), value, min_items=1)
    if entries is None:
        return None
    return _read_contract_entries(c, "outcomes", entries, OUTCOME_IDS, _read_outcome, start)


def _read_outcome(c: Checker, key: Key, entry: object) -> Outcome | None:
    item = c.mapping(key, entry, required=("id", "label"))
    if item is None:
        return None
    label = c.field(item, key, "label", c.text)
    outcome_id = item.get("id")
    if label is not None and isinstance(outcome_id, str) and outcome_id in OUTCOME_IDS:
        return Outcome(id=outcome_id, label=label)
    return None


_TRANSITION_KEYS = ("name", "label", "from", "to", "roles")
_TRANSITION_OPTIONAL = ("scope", "requires", "holder", "resets_clocks", "trigger", "outcome", "note")


def _read_transitions(c: Checker, value: object) -> list[tuple[Transition, Key]] | None:
    start = c.error_count
    entries = c.sequence(("transitions",), value, min_items=1)
    if entries is None:
        return None
    transitions: list[tuple[Transition, Key]] = []
    names: dict[str, Key] = {}
    for index, entry in enumerate(entries):
        key: Key = ("transitions", index)
        transition = _read_transition(c, key, entry)
        if transition is None:
            continue
        if transition.name in names:
            first = c.doc.line(*names[transition.name])
            c.fail(
                (*key, "name"), f"transition name {transition.name!r} is used twice (first on line {first})"
            )
            continue
        names[transition.name] = (*key, "name")
        transitions.append((transition, key))
    return transitions if c.error_count == start else None


def _read_transition(c: Checker, key: Key, entry: object) -> Transition | None:
    item = c.mapping(key, entry, required=_TRANSITION_KEYS, optional=_TRANSITION_OPTIONAL)
    if item is None:
        return None
    start = c.error_count

    name = c.field(item, key, "name", c.matching, _TRANSITION_NAME, "a name of a-z and _")
    label = c.field(item, key, "label", c.text)
    from_ = c.field(item, key, "from", c.choices, STATUS_IDS)
    to = c.field(item, key, "to", c.choice, STATUS_IDS)
    roles = c.field(item, key, "roles", c.choices, (*STAFF_ROLES, SYSTEM_ROLE))
    requires = c.field(item, key, "requires", c.choices, REQUIREMENTS, min_items=0) or ()
    holder = c.field(item, key, "holder", c.choice, HOLDERS)
    resets = c.field(item, key, "resets_clocks", c.choices, CLOCKS, min_items=0) or ()
    scope = c.field(item, key, "scope", c.choice, SCOPES)
    trigger = c.field(item, key, "trigger", lambda k, v: _read_trigger(c, k, v))
    outcome = c.field(item, key, "outcome", c.choice, OUTCOME_IDS)
    c.field(item, key, "note", c.text)
    if c.error_count > start or name is None or label is None or from_ is None or to is None or roles is None:
        return None

    if to in from_:
        c.fail((*key, "to"), f"`to` is {to!r}, which is also in `from`; a transition must change the status")
    is_system = SYSTEM_ROLE in roles
    if is_system:
        if len(roles) > 1:
            c.fail(
                (*key, "roles"), "a system transition has exactly `roles: [system]`, no staff roles beside it"
            )
        for forbidden in ("scope", "requires"):
            if forbidden in item:
                c.fail(
                    (*key, forbidden), f"a system transition has no `{forbidden}`: nobody makes the request"
                )
        if "trigger" not in item:
            c.fail(key, "a system transition (roles: [system]) needs a `trigger`: deadline, after or event")
    else:
        if "scope" not in item:
            c.fail(key, f"a transition made by staff needs a `scope`: {one_of(SCOPES)}")
        for system_only in ("trigger", "outcome"):
            if system_only in item:
                c.fail(
                    (*key, system_only),
                    f"only system transitions (roles: [system]) have `{system_only}`"
                    + ("; staff transitions use `requires: [outcome]`" if system_only == "outcome" else ""),
                )
        _check_scope(c, key, scope=scope, roles=roles, from_=from_)
    if holder == "referral" and set(from_) != {REFERRED}:
        c.fail(
            (*key, "holder"),
            f"`holder: referral` needs a pending referral, which exists only in `{REFERRED}`; "
            f"`from` must be [{REFERRED}]",
        )
    _check_requires(c, key, requires=requires, to=to, from_=from_, sets_outcome=outcome is not None)
    if c.error_count > start:
        return None
    return Transition(
        name=name,
        label=label,
        from_=frozenset(from_),
        to=to,
        roles=frozenset(roles),
        scope=scope,
        requires=frozenset(requires),
        holder=holder,
        resets_clocks=frozenset(resets),
        trigger=trigger,
        outcome=outcome,
    )


def _check_scope(
    c: Checker, key: Key, *, scope: str | None, roles: Sequence[str], from_: Sequence[str]
) -> None:
    if scope == "referral":
        if set(from_) != {REFERRED}:
            c.fail(
                (*key, "scope"),
                f"`scope: referral` means the partner of the pending referral, which exists only in "
                f"`{REFERRED}`; `from` must be [{REFERRED}]",
            )
        office = [role for role in roles if role in OFFICE_ROLES]
        if office:
            c.fail(
                (*key, "roles"),
                "`scope: referral` is for the referred partner's staff; "
                f"office roles cannot use it: {one_of(office)}",
            )
    elif scope == "office":
        partner = [role for role in roles if role in PARTNER_ROLES]
        if partner:
            c.fail(
                (*key, "roles"),
                f"`scope: office` is for the office's staff; partner roles cannot use it: {one_of(partner)}",
            )


def _check_requires(
    c: Checker, key: Key, *, requires: Sequence[str], to: str, from_: Sequence[str], sets_outcome: bool
) -> None:
    if to == REFERRED and not {"partner", "consent"} <= set(requires):
        c.fail(key, f"a transition to `{REFERRED}` creates the referral: it must require partner and consent")
    if "partner" in requires and to != REFERRED:
        c.fail(
            (*key, "requires"),
            f"`partner` is only required by transitions to `{REFERRED}` (they create a referral)",
        )
    if "consent" in requires and "partner" not in requires:
        c.fail(
            (*key, "requires"), "`consent` is consent to share with the chosen partner: require `partner` too"
        )
    with_outcome = "outcome" in requires or sets_outcome
    finishes = to in FINISHED_STATUSES and any(status not in FINISHED_STATUSES for status in from_)
    if finishes and not with_outcome:
        c.fail(
            key,
            f"a transition that finishes an open case (to {to!r}) must record why: "
            "`requires: [outcome]` (staff) or `outcome:` (system)",
        )
    if with_outcome and to not in FINISHED_STATUSES:
        c.fail(
            key, f"an outcome is only recorded when a case is resolved or closed, not when it moves to {to!r}"
        )


def _read_trigger(c: Checker, key: Key, value: object) -> Trigger | None:
    trigger = c.mapping(key, value, required=(), optional=("deadline", "after", "event"))
    if trigger is None:
        return None
    if len(trigger) != 1:
        c.fail(key, "`trigger` has exactly one key: deadline, after or event")
        return None
    kind, setting = next(iter(trigger.items()))
    if kind == "deadline":
        clock = c.choice((*key, kind), setting, CLOCKS)
        return Trigger(kind="deadline", clock=clock) if clock else None
    if kind == "after":
        if isinstance(setting, int) and not isinstance(setting, bool):
            c.fail((*key, kind), f"`after` counts calendar days: write `{setting}d`")
            return None
        text = c.matching((*key, kind), setting, _DAYS_AFTER, "a whole number of calendar days such as 14d")
        return Trigger(kind="after", days=int(text[:-1])) if text else None
    if kind == "event":
        event = c.choice((*key, kind), setting, EVENTS)
        return Trigger(kind="event", event=event) if event else None
    return None  # an unknown key, already reported by mapping()


def _check_transitions_against_statuses(
    c: Checker, transitions: list[tuple[Transition, Key]], statuses: dict[str, Status]
) -> None:
    for transition, key in transitions:
        trigger = transition.trigger
        if trigger is not None and trigger.kind == "deadline":
            idle = sorted(status for status in transition.from_ if statuses[status].clock != trigger.clock)
            if idle:
                c.fail(
                    (*key, "trigger", "deadline"),
                    f"the {trigger.clock} clock does not run in {one_of(idle)}, so it cannot breach there",
                )
        for status in sorted(transition.from_):
            if not statuses[status].terminal:
                continue
            if transition.is_system:
                c.fail((*key, "from"), f"`{status}` is terminal: no timer or event may move a case out of it")
            elif not (transition.name == "reopen" or transition.name.startswith("reopen_")):
                c.fail(
                    (*key, "from"),
                    f"`{status}` is terminal: only a reopen transition (reopen, reopen_*) may leave it",
                )


def _check_reachability(
    c: Checker, initial: str, statuses: dict[str, Status], transitions: list[tuple[Transition, Key]]
) -> None:
    edges = [(source, transition.to) for transition, _ in transitions for source in transition.from_]
    status_keys = {status_id: ("statuses", index) for index, status_id in enumerate(statuses)}
    forward = _closure(initial, edges)
    backward = _closure("closed", [(target, source) for source, target in edges])
    for status_id in statuses:
        if status_id not in forward:
            c.fail(status_keys[status_id], f"status `{status_id}` cannot be reached from `{initial}`")
        if status_id not in backward:
            c.fail(status_keys[status_id], f"no transitions lead from `{status_id}` to `closed`")


def _closure(start: str, edges: list[tuple[str, str]]) -> set[str]:
    reached = {start}
    frontier = [start]
    while frontier:
        current = frontier.pop()
        for source, target in edges:
            if source == current and target not in reached:
                reached.add(target)
                frontier.append(target)
    return reached


# --- routing.yml ---------------------------------------------------------------------------------

_ROUTING_KEYS = (
    "weights",
    "language",
    "district",
    "capacity",
    "response_time",
    "tie_breakers",
    "max_suggestions",
    "districts",
)


def _read_routing(c: Checker) -> Routing | None:
    start = c.error_count
    top = c.mapping((), c.doc.data, required=_ROUTING_KEYS, optional=("rules",))
    if top is None:
        return None
    weights = c.field(top, (), "weights", lambda k, v: _read_weights(c, k, v, partial=False))
    language = c.field(top, (), "language", c.mapping, required=("other_language_factor",))
    district = c.field(top, (), "district", c.mapping, required=("area_only_factor",))
    capacity = c.field(top, (), "capacity", c.mapping, required=("open_statuses", "exclude_full"))
    other_language = _factor(c, ("language",), language, "other_language_factor")
    area_only = _factor(c, ("district",), district, "area_only_factor")
    open_statuses = exclude_full = None
    if capacity is not None:
        open_statuses = c.field(capacity, ("capacity",), "open_statuses", c.choices, STATUS_IDS)
        exclude_full = c.field(capacity, ("capacity",), "exclude_full", c.boolean)
    response = c.field(top, (), "response_time", lambda k, v: _read_response_time(c, k, v))
    tie_breakers = c.field(top, (), "tie_breakers", c.choices, TIE_BREAKERS, min_items=0)
    max_suggestions = c.field(top, (), "max_suggestions", c.integer, minimum=1)
    rules = c.field(top, (), "rules", lambda k, v: _read_rules(c, k, v)) if "rules" in top else {}
    districts = c.field(top, (), "districts", lambda k, v: _read_districts(c, k, v))
    if c.error_count > start or weights is None or other_language is None or area_only is None:
        return None
    if open_statuses is None or exclude_full is None or response is None or tie_breakers is None:
        return None
    if max_suggestions is None or rules is None or districts is None:
        return None
    best_hours, worst_hours, missing = response
    return Routing(
        weights=weights,
        other_language_factor=other_language,
        area_only_factor=area_only,
        open_statuses=frozenset(open_statuses),
        exclude_full=exclude_full,
        best_hours=best_hours,
        worst_hours=worst_hours,
        missing_response_score=missing,
        tie_breakers=tie_breakers,
        max_suggestions=max_suggestions,
        rules=rules,
        districts=districts,
    )


def _factor(c: Checker, key: Key, section: dict[str, Any] | None, name: str) -> float | None:
    if section is None or name not in section:
        return None
    return c.number((*key, name), section[name], minimum=0, maximum=1)


def _read_weights(c: Checker, key: Key, value: object, *, partial: bool) -> dict[str, int] | None:
    required = () if partial else ("category", *FACTORS)
    optional = FACTORS if partial else ()
    weights = c.mapping(key, value, required=required, optional=optional)
    if weights is None:
        return None
    start = c.error_count
    if not partial and "category" in weights and weights["category"] != "required":
        c.fail((*key, "category"), "`category` is always `required`: it filters services, it is not a score")
    result = {}
    for factor in FACTORS:
        if factor in weights:
            weight = c.integer((*key, factor), weights[factor], minimum=0)
            if weight is not None:
                result[factor] = weight
    return result if c.error_count == start else None


def _read_response_time(c: Checker, key: Key, value: object) -> tuple[int, int, float] | None:
    section = c.mapping(key, value, required=("best_hours", "worst_hours", "missing"))
    if section is None:
        return None
    best = c.field(section, key, "best_hours", c.integer, minimum=0)
    worst = c.field(section, key, "worst_hours", c.integer, minimum=1)
    missing = _factor(c, key, section, "missing")
    if best is not None and worst is not None and worst <= best:
        c.fail((*key, "worst_hours"), f"`worst_hours` ({worst}) must be greater than `best_hours` ({best})")
        return None
    if best is None or worst is None or missing is None:
        return None
    return best, worst, missing


def _read_rules(c: Checker, key: Key, value: object) -> dict[str, RoutingRule] | None:
    entries = c.sequence(key, value)
    if entries is None:
        return None
    start = c.error_count
    rules: dict[str, RoutingRule] = {}
    first_lines: dict[str, int] = {}
    for index, entry in enumerate(entries):
        item_key = (*key, index)
        item = c.mapping(item_key, entry, required=("category",), optional=("weights", "language_required"))
        if item is None:
            continue
        category = c.field(item, item_key, "category", c.choice, CATEGORY_IDS)
        weights = c.field(item, item_key, "weights", lambda k, v: _read_weights(c, k, v, partial=True))
        if "weights" not in item:
            weights = {}
        required = False
        if "language_required" in item:
            required = c.boolean((*item_key, "language_required"), item["language_required"])
        if category is None or weights is None or required is None:
            continue
        if category in rules:
            c.fail(
                (*item_key, "category"),
                f"a second rule for {category!r} (first on line {first_lines[category]})",
            )
            continue
        first_lines[category] = c.doc.line(*item_key, "category")
        rules[category] = RoutingRule(category=category, weights=weights, language_required=required)
    return rules if c.error_count == start else None


def _read_districts(c: Checker, key: Key, value: object) -> tuple[District, ...] | None:
    entries = c.sequence(key, value, min_items=1)
    if entries is None:
        return None
    start = c.error_count
    by_number: dict[int, District] = {}
    names: set[str] = set()
    for index, entry in enumerate(entries):
        item_key = (*key, index)
        item = c.mapping(item_key, entry, required=("number", "name"))
        if item is None:
            continue
        number = c.field(item, item_key, "number", c.integer, minimum=1, maximum=DISTRICT_COUNT)
        name = c.field(item, item_key, "name", c.text)
        if number is not None and number in by_number:
            c.fail((*item_key, "number"), f"district number {number} is used twice")
        if name is not None and name in names:
            c.fail((*item_key, "name"), f"district {name!r} is listed twice")
        if number is None or name is None or number in by_number or name in names:
            continue
        by_number[number] = District(number=number, name=name)
        names.add(name)
    missing = [str(number) for number in range(1, DISTRICT_COUNT + 1) if number not in by_number]
    if c.error_count == start and missing:
        c.fail(
            key,
            f"`districts` must list all {DISTRICT_COUNT} districts numbered 1-{DISTRICT_COUNT}; "
            f"missing: {one_of(missing)}",
        )
    if c.error_count > start:
        return None
    return tuple(by_number[number] for number in sorted(by_number))
