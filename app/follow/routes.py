"""The public "follow my case" pages: a form for the case number and secret (POST, then a redirect to
the case), the case as its client reads it, and a button that hides it again on a shared computer.

The secret only ever travels in the form's body: never in an address (the case page is shown by a
short-lived sealed cookie), never back in a page, never in a log. Every answer is kept out of
caches (Cache-Control: no-store).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.cases.exceptions import TooManyAttempts
from app.config import Settings
from app.db import READ_FIRST, utcnow
from app.deps import AppSettings, DbSession, WriteDbSession
from app.follow import service
from app.follow.service import CodesNotRecognised, FollowPaused
from app.i18n import _, get_locale
from app.web import redirect, render, url_for

router = APIRouter(prefix="/follow")

#: The cookie that holds the sealed token of a case being shown (service.VIEW_FOR).
VIEW_COOKIE = "witaj_follow"
NO_STORE = {"Cache-Control": "no-store"}
#: Notices the form shows after a redirect (?notice=...).
NOTICES = frozenset({"expired", "ended"})
MAX_REFERENCE = 40
MAX_SECRET = 64


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _example_reference(settings: Settings, now: datetime) -> str:
    return f"{settings.case_reference_prefix}-{now.astimezone(settings.zone).year}-000123"


def _form(
    request: Request,
    settings: Settings,
    *,
    reference: str = "",
    errors: dict[str, str] | None = None,
    message: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "reference": reference,
        "errors": errors or {},
        "message": message,
        "notice": notice if notice in NOTICES else None,
        "example": _example_reference(settings, utcnow()),
    }
    return render(request, "public/follow.html", context, status_code=status_code, headers=NO_STORE)


@router.get("", name="follow_form")
def follow_form(
    request: Request, settings: AppSettings, reference: str | None = None, notice: str | None = None
) -> Response:
    """Show the form for the case number and secret (the number filled in when the link carries it).
    An address that carries anything else (a secret someone put in a link) goes to a clean one, so
    that it stays in no history and no language switcher's links."""
    canonical = service.parse_reference(reference or "")
    kept = {"reference": canonical, "notice": notice if notice in NOTICES else None}
    if set(request.query_params) - {name for name, value in kept.items() if value}:
        response = redirect(request, url_for(request, "follow_form", query=kept))
        response.headers.update(NO_STORE)
        return response
    return _form(request, settings, reference=canonical or "", notice=notice)


@router.post("", name="follow_check")
def follow_check(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    reference: Annotated[str, Form()] = "",
    secret: Annotated[str, Form()] = "",
) -> Response:
    """Check the case number and secret; right: go to the case (a redirect, the secret in no address);
    wrong or paused: the form again with the number kept and the secret not."""
    errors: dict[str, str] = {}
    canonical = service.parse_reference(reference) if len(reference) <= MAX_REFERENCE else None
    if not reference.strip():
        errors["reference"] = _("Enter your case number.")
    elif canonical is None:
        errors["reference"] = _(
            "Enter the case number as you got it, for example %(example)s.",
            example=_example_reference(settings, utcnow()),
        )
    if not secret.strip():
        errors["secret"] = _("Enter your secret code.")
    elif len(secret) > MAX_SECRET:
        errors["secret"] = _("Enter at most %(max)s characters.", max=MAX_SECRET)
    if errors or canonical is None:
        return _form(request, settings, reference=reference[:MAX_REFERENCE], errors=errors, status_code=422)
    try:
        case = service.check(
            db=db, settings=settings, reference=canonical, secret=secret, address=_address(request)
        )
    except (CodesNotRecognised, TooManyAttempts, FollowPaused) as exc:
        db.commit()  # the failure counts towards the pauses
        return _form(
            request, settings, reference=canonical, message=exc.public_message(), status_code=exc.status
        )
    token = service.view_token(settings=settings, case=case)
    db.commit()
    response = redirect(request, url_for(request, "follow_case"))
    response.set_cookie(
        VIEW_COOKIE,
        token,
        max_age=int(service.VIEW_FOR.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",
    )
    return response


@router.get("/case", name="follow_case")
def follow_case(request: Request, db: WriteDbSession, settings: AppSettings) -> Response:
    """Show the case of the view cookie (the read is audited); without a live one, the form."""
    # Read first, without the write lock: a message's machine translation may take a while.
    db.connection(execution_options=READ_FIRST)
    token = request.cookies.get(VIEW_COOKIE)
    case = service.case_of_token(db=db, settings=settings, token=token) if token else None
    if case is None:
        db.rollback()
        response = redirect(
            request, url_for(request, "follow_form", query={"notice": "expired"} if token else None)
        )
        response.delete_cookie(VIEW_COOKIE, path="/")
        response.headers.update(NO_STORE)
        return response
    view = service.client_view(db=db, settings=settings, case=case, language=get_locale())
    db.commit()  # the read ends here; the audit entry is the write
    service.record_view(db=db, case=case)
    db.commit()
    return render(request, "public/follow_case.html", {"view": view}, headers=NO_STORE)


@router.post("/end", name="follow_end")
def follow_end(request: Request) -> Response:
    """Stop showing the case in this browser (a shared computer), and say so."""
    response = redirect(request, url_for(request, "follow_form", query={"notice": "ended"}))
    response.delete_cookie(VIEW_COOKIE, path="/")
    return response
