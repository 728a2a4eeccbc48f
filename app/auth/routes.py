"""Staff sign-in and sign-out pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.auth import service
from app.auth.deps import SESSION_COOKIE, CurrentPrincipal
from app.auth.exceptions import AccountLocked, LoginFailed
from app.deps import AppSettings, DbSession
from app.i18n import _
from app.web import redirect, render, url_for

router = APIRouter(prefix="/staff")


def safe_next(request: Request, target: str | None) -> str:
    """Return target when it is a path on this site, else the staff dashboard."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for(request, "staff_dashboard")


@router.get("/login", name="login_form")
def login_form(request: Request, principal: CurrentPrincipal, next: str | None = None) -> Response:  # noqa: A002
    """Show the sign-in form (or go on when already signed in)."""
    if principal is not None:
        return RedirectResponse(safe_next(request, next), status_code=303)
    return render(request, "auth/login.html", {"next": next or "", "email": "", "errors": {}, "message": None})


@router.post("/login", name="login")
def login(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",  # noqa: A002
) -> Response:
    """Sign in; re-render the form with messages in the user's language on failure."""
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = _("Enter your e-mail address.")
    if not password:
        errors["password"] = _("Enter your password.")
    message = None
    status = 422
    if not errors:
        try:
            user = service.authenticate(db=db, email=email, password=password, settings=settings)
        except (LoginFailed, AccountLocked) as exc:
            db.commit()  # the failed attempt counts towards the lock
            message = exc.public_message()
            status = exc.status
        else:
            token = service.start_session(db=db, user=user, settings=settings)
            db.commit()
            response = redirect(request, safe_next(request, next))
            response.set_cookie(
                SESSION_COOKIE,
                token,
                max_age=settings.session_max_hours * 3600,
                httponly=True,
                samesite="lax",
                secure=settings.secure_cookies,
                path="/",
            )
            return response
    context = {"next": next, "email": email, "errors": errors, "message": message}
    return render(request, "auth/login.html", context, status_code=status)


@router.post("/logout", name="logout")
def logout(request: Request, db: DbSession) -> Response:
    """End the session and go back to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.end_session(db=db, token=token)
        db.commit()
    response = redirect(request, url_for(request, "login_form"))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
