"""The contract of cases/README.md (the ids, clocks, roles and limits the app relies on) and the
helpers the readers of cases/*.yml share to hold a list to exactly the ids the contract names."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol, TypeVar

from app.auth.enums import ROLES_FOR_KIND, OrgKind
from app.content import Checker, Key, one_of

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


# A protocol, not the shapes themselves: Category, Status and Outcome live in the readers that import
# this module.
class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_Entry = TypeVar("_Entry", bound=_HasId)


def read_contract_entries(
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
