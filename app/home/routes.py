"""Landing page, staff dashboard and /healthz."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from app.auth import service as auth_service
from app.auth.deps import StaffPrincipal
from app.auth.enums import role_label
from app.auth.permissions import Action, allowed_actions
from app.cases import inbox
from app.db import ping
from app.deps import DbSession
from app.i18n import get_locale
from app.web import base_path, render

router = APIRouter()


@router.get("/", name="landing")
def landing(request: Request) -> Response:
    """Show the newcomers' landing page; the bare address goes to the negotiated language."""
    if request.scope.get("root_path", "") == base_path(request):
        query = f"?{request.url.query}" if request.url.query else ""
        response = RedirectResponse(f"{base_path(request)}/{get_locale()}/{query}", status_code=302)
        response.headers["Vary"] = "Accept-Language, Cookie"
        return response
    return render(request, "public/landing.html")


@router.get("/staff/", name="staff_dashboard")
def staff_dashboard(request: Request, principal: StaffPrincipal, db: DbSession) -> Response:
    """Show the staff dashboard: the principal's organisation, role and inbox counts."""
    organisation = auth_service.organisation(db=db, organisation_id=principal.organisation_id)
    actions = allowed_actions(principal, principal.organisation_id)
    # A content editor sees no cases, not even how many there are.
    counts = inbox.counts_for(db=db, principal=principal) if Action.view_cases in actions else None
    context = {
        "organisation_name": organisation.name if organisation else "",
        "role_label": role_label(principal.role),
        "actions": sorted(a.value for a in actions),
        "counts": counts,
    }
    return render(request, "staff/dashboard.html", context)


@router.get("/healthz", name="healthz", include_in_schema=False)
def healthz(db: DbSession) -> Response:
    """Return 200 when the app and its database answer, 503 otherwise."""
    try:
        ping(db)
    except SQLAlchemyError:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"}, headers={"Cache-Control": "no-store"})
