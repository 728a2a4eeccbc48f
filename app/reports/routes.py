"""Pages of the statistics: the public open-data page (every language) with each month's files, and
the staff dashboard (supervisors and admins: the whole city; a partner's admin: its own figures)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app import charts
from app.auth.deps import StaffPrincipal
from app.auth.enums import OrgKind
from app.auth.permissions import Action, Principal, require
from app.cases.content import case_content
from app.cases.enums import decline_reason_labels
from app.config import Settings
from app.db import utcnow
from app.deps import AppSettings, DbSession
from app.errors import NotFound
from app.i18n import _
from app.languages import LANGUAGES
from app.reports import facts, publish, stats
from app.reports.tables import Kept, is_month
from app.web import render

router = APIRouter()

#: A file of a release: a data set's CSV or JSON, the Data Package or the DCAT-AP catalogue.
FILE = re.compile(r"^[a-z0-9-]{1,60}\.(csv|json|rdf)$")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json", "rdf": "application/rdf+xml"}


def scope_of(principal: Principal) -> stats.Scope:
    """Return whose figures principal may see; raise PermissionDenied without view_reports."""
    require(principal, Action.view_reports, principal.organisation_id)
    return stats.Scope(None if principal.organisation_kind is OrgKind.office else principal.organisation_id)


def _labels(settings: Settings) -> dict[str, Any]:
    cc = case_content(settings)
    return {
        "category_labels": {key: _(c.label) for key, c in cc.categories.items()},
        "outcome_labels": {key: _(o.label) for key, o in cc.workflow.outcomes.items()},
        "language_names": {code: language.native_name for code, language in LANGUAGES.items()},
        "source_labels": {"chat": _("Assistant (chat)"), "form": _("City form"), "staff": _("Caseworker"), "api": _("Partner's system (API)")},
        "step_labels": {
            "referred": _("Referred"), "accepted": _("Accepted"), "declined": _("Declined"), "expired": _("No answer in time"),
            "withdrawn": _("Withdrawn"), "completed": _("Completed"), "returned": _("Handed back"), "recalled": _("Recalled"),
        },
        "band_labels": {"morning": _("Morning (before 12:00)"), "afternoon": _("Afternoon (12:00–16:00)"), "evening": _("Evening (from 16:00)")},
        "day_labels": {"weekday": _("Monday to Friday"), "saturday": _("Saturday"), "sunday": _("Sunday")},
        "decline_reason_labels": {**decline_reason_labels(), "not_given": _("Not given")},
    }


@router.get("/staff/reports", name="staff_reports")
def dashboard_page(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    start: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    language: Annotated[str | None, Query(max_length=10)] = None,
    partner: Annotated[str | None, Query(max_length=80)] = None,
) -> Response:
    """Show the figures of the chosen months as charts with tables beside them."""
    scope = scope_of(principal)
    now = utcnow()
    filters = stats.filters_for(db, settings, scope, start=start, end=end, category=category, language=language, partner=partner, now=now)
    board = stats.dashboard(db=db, settings=settings, scope=scope, filters=filters)
    labels = _labels(settings)
    names = stats.partner_names(db)
    partners = sorted(names.values()) if board.city else []
    cases_title = _("Cases")
    view = {
        "per_month": charts.trend(board.per_month, value_title=cases_title),
        "by_category": charts.bars([(labels["category_labels"].get(k, k), n) for k, n in board.by_category], value_title=cases_title),
        "by_language": charts.bars([(labels["language_names"].get(k, k), n) for k, n in board.by_language], value_title=cases_title),
        "responses": charts.bars(
            [(labels["category_labels"].get(k, k), d.percentile(0.5) or 0) for k, d in board.responses.items()],
            value_title=_("Median office hours to the first answer"),
        ),
        "referrals": charts.grouped(
            [(names.get(org, ("", str(org)))[1], labels["step_labels"].get(step, step), n) for org, step, _r, n in board.referrals],
            value_title=_("Referrals"), series_title=_("Step"),
        ),
        "chat": charts.bars(
            [(labels["language_names"].get(k, k), round(100 * u / n, 1)) for k, n, u in board.chat if n],
            value_title=_("Messages not understood (%)"),
        ),
        "visits": charts.bars(
            [(f"{labels['day_labels'][d]} · {labels['band_labels'][b]}", n) for d, b, n, _c in board.visits],
            value_title=_("Visits"),
        ),
    }
    context = {
        "board": board, "charts": view, "partners": partners, "partner_names": names,
        "refreshed_at": facts.refreshed_at(db), "filters": filters,
        "partner_slug": next((slug for org, (slug, _n) in names.items() if org == filters.partner), ""),
        "categories": labels["category_labels"], **labels,
    }
    return render(request, "reports/dashboard.html", context)


@router.get("/open-data", name="open_data")
def open_data_page(request: Request, db: DbSession, settings: AppSettings) -> Response:
    """List the open data sets, the months published and their files."""
    periods = stats.published_months(db, settings, utcnow())
    return render(
        request,
        "reports/open_data.html",
        {"periods": periods, "catalogue": stats.CATALOGUE, "threshold": settings.open_data_min_count},
    )


#: The files of recent releases, by (period, when the facts were refreshed): a public download must
#: not recompute a month for every request, and a refresh gives a new key.
_RELEASES: Kept[dict[str, bytes]] = Kept(8)


def _release(db: Session, settings: Settings, period: str) -> dict[str, bytes]:
    key = (period, facts.refreshed_at(db), settings.open_data_min_count)
    return _RELEASES.get(
        key, lambda: publish.files(datasets=stats.release(db=db, settings=settings, period=period), period=period, settings=settings)
    )


@router.get("/open-data/{period}/{name}", name="open_data_file")
def open_data_file(
    db: DbSession,
    settings: AppSettings,
    period: Annotated[str, Path(max_length=7)],
    name: Annotated[str, Path(max_length=70)],
) -> Response:
    """Return one file of a month's release (only complete months are published)."""
    if not is_month(period) or not FILE.match(name) or period not in stats.published_months(db, settings, utcnow()):
        raise NotFound(_("There is no such file."))
    content = _release(db, settings, period).get(name)
    if content is None:
        raise NotFound(_("There is no such file."))
    kind = name.rsplit(".", 1)[1]
    media = "application/json" if name == "datapackage.json" else MEDIA_TYPES[kind]
    return Response(
        content, media_type=media,
        headers={"Content-Disposition": f'inline; filename="witaj-{period}-{name}"', "Cache-Control": "public, max-age=3600"},
    )

