"""Reads cases/routing.yml: how partner services are ranked for a referral, per-category rules and
the city's districts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.cases.content.contract import (
    CATEGORY_IDS,
    DISTRICT_COUNT,
    FACTORS,
    STATUS_IDS,
    TIE_BREAKERS,
)
from app.content import Checker, Key, one_of


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


def read_routing(c: Checker) -> Routing | None:
    """Return the ranking settings, rules and districts of routing.yml; None when it has any error."""
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
