"""The partner directory of settings' content folder, and the ranking of partner services for a
referral.

`suggest()` implements the ranking of cases/README.md ("routing.yml") exactly: candidates, factor
scores, weighted score, full services last, tie-breakers, max_suggestions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import Organisation
from app.cases.content import case_content
from app.cases.content.routing import Routing
from app.cases.enums import LIVE_REFERRAL_STATES
from app.cases.models import CaseFile, Referral
from app.config import Settings
from app.partners.content import Directory, Service, load_directory


@lru_cache(maxsize=4)
def _directory(
    folder: str, categories: frozenset[str], districts: frozenset[str], office_slug: str, city: str
) -> Directory:
    return load_directory(
        Path(folder), categories=categories, districts=districts, office_slug=office_slug, city=city
    )


def directory(settings: Settings) -> Directory:
    """Return the validated partner directory (partners/*.yml, checked against cases/), loaded once;
    raise ContentErrors listing every problem."""
    cc = case_content(settings)
    return _directory(
        str(settings.content_dir / "partners"),
        frozenset(cc.categories),
        frozenset(cc.districts),
        settings.office_slug,
        settings.city_name,
    )


def suggestions_for(*, db: Session, settings: Settings, case: CaseFile) -> list[Suggestion]:
    """Return partner services ranked for case by cases/routing.yml, counting each one's open referrals."""
    routing = case_content(settings).routing
    rows = db.execute(
        select(Organisation.slug, Referral.service_id, func.count())
        .join(Organisation, Organisation.id == Referral.organisation_id)
        .join(CaseFile, CaseFile.current_referral_id == Referral.id)
        .where(
            Referral.state.in_([s.value for s in LIVE_REFERRAL_STATES]),
            CaseFile.status.in_(sorted(routing.open_statuses)),
        )
        .group_by(Organisation.slug, Referral.service_id)
    ).all()
    open_referrals = {(slug, service): count for slug, service, count in rows}
    languages = [case.client.preferred_language, *(case.client.other_languages or [])]
    return suggest(
        directory=directory(settings),
        routing=routing,
        category=case.category,
        languages=languages,
        district=case.district,
        open_referrals=open_referrals,
    )


@dataclass(frozen=True)
class Suggestion:
    """A ranked service: score 0..100 (with weights adding up to 100) and why (factor scores 0..1)."""

    organisation_slug: str
    service_id: str
    score: float
    full: bool
    remaining: int
    factors: dict[str, float]
    weights: dict[str, int]


def suggest(
    *,
    directory: Directory,
    routing: Routing,
    category: str,
    languages: Sequence[str],
    district: str | None,
    open_referrals: Mapping[tuple[str, str], int],
) -> list[Suggestion]:
    """Return the services to suggest for a referral, best first (cases/README.md, "routing.yml")."""
    weights = routing.weights_for(category)
    spoken = set(languages)
    ranked: list[tuple[Suggestion, int | None]] = []
    for service in directory.services.values():
        if category not in service.categories or not service.referable:
            continue
        if district is not None and not service.covers(district):
            continue
        if routing.language_required(category) and not spoken & set(service.languages):
            continue
        remaining = service.max_open_referrals - open_referrals.get(service.key, 0)
        full = remaining <= 0
        if full and routing.exclude_full:
            continue
        factors = {
            "language": _language_score(service, languages, routing),
            "district": _district_score(directory, service, district, routing),
            "capacity": min(max(remaining / service.max_open_referrals, 0.0), 1.0),
            "response_time": _response_score(service, routing),
        }
        score = sum(weights[factor] * value for factor, value in factors.items())
        suggestion = Suggestion(
            organisation_slug=service.organisation_slug,
            service_id=service.id,
            score=score,
            full=full,
            remaining=remaining,
            factors=factors,
            weights=weights,
        )
        ranked.append((suggestion, service.referral_response_hours))
    ranked.sort(key=lambda entry: _order(entry[0], entry[1], routing.tie_breakers))
    return [suggestion for suggestion, _ in ranked[: routing.max_suggestions]]


def _language_score(service: Service, languages: Sequence[str], routing: Routing) -> float:
    if languages and languages[0] in service.languages:
        return 1.0
    if any(language in service.languages for language in languages[1:]):
        return routing.other_language_factor
    return 0.0


def _district_score(directory: Directory, service: Service, district: str | None, routing: Routing) -> float:
    if district is None:
        return 0.0
    if any(location.district == district for location in directory.locations_of(service)):
        return 1.0
    return routing.area_only_factor


def _response_score(service: Service, routing: Routing) -> float:
    hours = service.referral_response_hours
    if hours is None:
        return routing.missing_response_score
    if hours <= routing.best_hours:
        return 1.0
    if hours >= routing.worst_hours:
        return 0.0
    return (routing.worst_hours - hours) / (routing.worst_hours - routing.best_hours)


def _order(
    suggestion: Suggestion, response_hours: int | None, tie_breakers: Sequence[str]
) -> tuple[Any, ...]:
    keys: list[Any] = [suggestion.full, -round(suggestion.score, 2)]
    for breaker in tie_breakers:
        if breaker == "capacity_remaining_desc":
            keys.append(-suggestion.remaining)
        elif breaker == "response_hours_asc":
            keys.append((response_hours is None, response_hours or 0))
        elif breaker == "organisation_slug_asc":
            keys.append(suggestion.organisation_slug)
        elif breaker == "service_id_asc":
            keys.append(suggestion.service_id)
    # Services are unique by (organization, service): the order never depends on file reading order.
    keys.extend([suggestion.organisation_slug, suggestion.service_id])
    return tuple(keys)
