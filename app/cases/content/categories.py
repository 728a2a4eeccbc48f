"""Reads cases/categories.yml: the case categories (in UI order), who usually handles each and its
deadlines in office opening hours."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.cases.content.contract import CATEGORY_IDS, CLOCKS, OWNERS, read_contract_entries
from app.content import Checker, Key

_HOURS = re.compile(r"^[1-9][0-9]*h$")


@dataclass(frozen=True)
class Category:
    """A case category: who usually handles it and its deadlines in office opening hours per clock."""

    id: str
    label: str
    description: str
    owner: str  # office | partner
    deadlines: dict[str, int]


def read_categories(c: Checker) -> dict[str, Category] | None:
    """Return the categories of categories.yml by id, in file order; None when it has any error."""
    start = c.error_count
    top = c.mapping((), c.doc.data, required=("categories",))
    entries = c.field(top, (), "categories", c.sequence, min_items=1) if top is not None else None
    if entries is None:
        return None
    return read_contract_entries(c, "categories", entries, CATEGORY_IDS, _read_category, start)


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
