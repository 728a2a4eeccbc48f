"""Reads cases/workflow.yml: the statuses, outcomes and transitions of a case (in file order) and the
office calendar deadlines are counted in, with the checks that tie the transitions together."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.cases.calendar import HOLIDAY_SETS, BusinessCalendar
from app.cases.content.contract import (
    CLOCKS,
    EVENTS,
    FINISHED_STATUSES,
    HOLDERS,
    OFFICE_ROLES,
    OUTCOME_IDS,
    PARTNER_ROLES,
    REFERRED,
    REQUIREMENTS,
    SCOPES,
    STAFF_ROLES,
    STATUS_IDS,
    SYSTEM_ROLE,
    read_contract_entries,
)
from app.content import Checker, Key, one_of

_TRANSITION_NAME = re.compile(r"^[a-z_]+$")
_DAYS_AFTER = re.compile(r"^[1-9][0-9]*d$")


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


def read_workflow(c: Checker) -> Workflow | None:
    """Return the workflow and office calendar of workflow.yml; None when it has any error."""
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
    return read_contract_entries(c, "statuses", entries, STATUS_IDS, _read_status, start)


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
    return read_contract_entries(c, "outcomes", entries, OUTCOME_IDS, _read_outcome, start)


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
