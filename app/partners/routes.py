"""The public partner directory: organisations and services, filtered by category, language, district."""

from __future__ import annotations

from typing import Any

from babel.dates import get_day_names
from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.cases.content import case_content
from app.deps import AppSettings
from app.i18n import _, babel_locale, format_spans
from app.languages import LANGUAGES
from app.partners import service as partner_service
from app.partners.content import Location
from app.web import render

router = APIRouter()

#: Languages the filter offers, each in its own name (never translated).
LANGUAGE_NAMES = {code: language.native_name for code, language in LANGUAGES.items()}


def opening_hours(location: Location) -> list[tuple[str, str]]:
    """Return (localized day name, 'HH:MM–HH:MM, ...') rows of a location's weekly schedule."""
    days = get_day_names("wide", locale=babel_locale())
    rows = []
    for weekday in range(7):
        spans = location.schedule.get(weekday, [])
        if spans:
            rows.append((days[weekday], format_spans(spans)))
    return rows


@router.get("/partners", name="partner_directory")
def directory_page(
    request: Request,
    settings: AppSettings,
    category: str | None = None,
    language: str | None = None,
    district: str | None = None,
) -> Response:
    """Show partner organisations whose services match the filters (unknown filter values are ignored)."""
    cc = case_content(settings)
    directory = partner_service.directory(settings)
    chosen_category = category if category in cc.categories else None
    chosen_language = language if language in LANGUAGE_NAMES else None
    chosen_district = district if district in cc.districts else None
    services = directory.filter(category=chosen_category, language=chosen_language, district=chosen_district)
    by_org: dict[str, list[Any]] = {}
    for svc in services:
        by_org.setdefault(svc.organisation_slug, []).append(svc)
    organisations = [
        {
            "org": directory.organisations[org_id],
            "services": found,
            "locations": [
                {"location": loc, "hours": opening_hours(loc)}
                for loc in directory.organisations[org_id].locations.values()
            ],
        }
        for org_id, found in sorted(by_org.items(), key=lambda item: directory.organisations[item[0]].name)
    ]
    context = {
        "organisations": organisations,
        "categories": [(c.id, _(c.label)) for c in cc.categories.values()],
        "languages": sorted(LANGUAGE_NAMES.items(), key=lambda item: item[1]),
        "language_names": LANGUAGE_NAMES,
        "districts": list(cc.districts),
        "chosen": {"category": chosen_category, "language": chosen_language, "district": chosen_district},
        "category_labels": {c.id: _(c.label) for c in cc.categories.values()},
    }
    return render(request, "partners/directory.html", context, block="results" if request.headers.get("HX-Target") == "results" else "content")
