"""Staff sign-in and sign-out pages, the second factor (a code after the password, or setting one up
first), and the account page where staff manage their second factor."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from app.auth import service
from app.auth import two_factor as second_factor
from app.auth.deps import PENDING_COOKIE, SESSION_COOKIE, CurrentPrincipal, StaffPrincipal
from app.auth.enums import PendingStep, role_label
from app.auth.exceptions import AccountLocked, AlreadyEnrolled, LoginFailed, SecondFactorRequired, WrongCode
from app.auth.models import PendingSignIn, User
from app.config import Settings
from app.deps import AppSettings, DbSession
from app.errors import LoginRequired
from app.i18n import _
from app.web import redirect, render, url_for

router = APIRouter(prefix="/staff")


#: What a `next` target may be, character by character: a path of this site made of RFC 3986's
#: unreserved characters, "/" and percent escapes, and an optional query of the same plus "=&+".
#: Anything else (a scheme, a host, a backslash, spaces, control or non-ASCII characters) is refused
#: outright rather than cleaned up: browsers drop tabs and newlines and read a backslash as "/", so
#: a target that is not plainly a local path can turn into another site.
_NEXT = re.compile(r"/(?:[A-Za-z0-9\-._~/]|%[0-9A-Fa-f]{2})*(?:\?(?:[A-Za-z0-9\-._~/=&+]|%[0-9A-Fa-f]{2})*)?")
_NEXT_MAX_LENGTH = 2000


def _local_path(text: str) -> bool:
    return (
        text.startswith("/")
        and "//" not in text
        and "\\" not in text
        and not any(unicodedata.category(char)[0] in "CZ" for char in text)
    )


def is_site_path(target: str) -> bool:
    """Return whether target is a path on this site, also once its percent escapes are decoded."""
    if len(target) > _NEXT_MAX_LENGTH or not _NEXT.fullmatch(target):
        return False
    text = target
    for _decoding in range(3):  # "%2F" or "%252F" must not turn into "//" for whoever decodes it
        if not _local_path(text):
            return False
        decoded = unquote(text)
        if decoded == text:
            return True
        text = decoded
    return False


def safe_next(request: Request, target: str | None) -> str:
    """Return target when it is a path on this site, else the staff dashboard."""
    if target and is_site_path(target):
        return target
    return url_for(request, "staff_dashboard")


def _next_field(target: str | None) -> str:
    """Return target when it may travel on to the next form (a path of this site), else ""."""
    return target if target and is_site_path(target) else ""


def _url_with_next(request: Request, name: str, next_field: str) -> str:
    return url_for(request, name, query={"next": next_field} if next_field else None)


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_max_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def _set_pending_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        PENDING_COOKIE,
        token,
        max_age=int(second_factor.PENDING_FOR.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


@router.get("/login", name="login_form")
def login_form(request: Request, principal: CurrentPrincipal, next: str | None = None) -> Response:  # noqa: A002
    """Show the sign-in form (or go on when already signed in)."""
    if principal is not None:
        return RedirectResponse(safe_next(request, next), status_code=303)
    context = {"next": _next_field(next), "email": "", "errors": {}, "message": None}
    return render(request, "auth/login.html", context)


@router.post("/login", name="login")
def login(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",  # noqa: A002
) -> Response:
    """Check the password; then start the session, or (with a second factor, or a role that requires
    one) a pending sign-in that goes on to the code or to setting one up. Re-render the form with
    messages in the user's language on failure."""
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = _("Enter your e-mail address.")
    if not password:
        errors["password"] = _("Enter your password.")
    message = None
    status = 422
    if not errors:
        try:
            user = service.authenticate(
                db=db, email=email, password=password, address=_address(request), settings=settings
            )
        except (LoginFailed, AccountLocked) as exc:
            db.commit()  # the failed attempt counts towards the pause
            message = exc.public_message()
            status = exc.status
        else:
            step = second_factor.step_after_password(db=db, user=user, settings=settings)
            if step is None:
                token = service.start_session(db=db, user=user, settings=settings)
                db.commit()
                response = redirect(request, safe_next(request, next))
                _set_session_cookie(response, token, settings)
                return response
            if step is PendingStep.enrol:
                second_factor.begin_enrolment(db=db, user=user, settings=settings)
            pending = second_factor.start_pending(db=db, user=user, step=step)
            db.commit()
            page = "two_factor_form" if step is PendingStep.code else "two_factor_enrol_form"
            next_field = _next_field(next)
            response = redirect(request, _url_with_next(request, page, next_field))
            _set_pending_cookie(response, pending, settings)
            return response
    context = {"next": next, "email": email, "errors": errors, "message": message}
    return render(request, "auth/login.html", context, status_code=status)


@router.post("/logout", name="logout")
def logout(request: Request, db: DbSession) -> Response:
    """End the session (or a sign-in waiting for its second factor) and go back to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.end_session(db=db, token=token)
    second_factor.end_pending(db=db, token=request.cookies.get(PENDING_COOKIE, ""))
    db.commit()
    response = redirect(request, url_for(request, "login_form"))
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


# --- the second factor at sign-in ---------------------------------------------------------------------


def _pending(request: Request, db: DbSession, step: PendingStep) -> PendingSignIn | None:
    """Return the request's live pending sign-in at step, or None."""
    found = second_factor.pending(db=db, token=request.cookies.get(PENDING_COOKIE, ""))
    return found if found is not None and found.step is step else None


def _back_to_sign_in(request: Request, next_field: str) -> Response:
    """Return a redirect to the sign-in form (the pending sign-in is gone: expired, or never was)."""
    response = redirect(request, _url_with_next(request, "login_form", next_field))
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


def _signed_in(
    request: Request, db: DbSession, settings: Settings, user: User, response: Response
) -> Response:
    """Turn the pending sign-in into a session (a new token: nothing of the pending one carries over);
    commit, and set the cookies on response."""
    second_factor.end_pending(db=db, token=request.cookies.get(PENDING_COOKIE, ""))
    token = service.start_session(db=db, user=user, settings=settings)
    db.commit()
    _set_session_cookie(response, token, settings)
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


def _code_page(
    request: Request, next_field: str, recovery: bool, error: str | None, status: int = 200
) -> Response:
    context = {"next": next_field, "recovery": recovery, "error": error}
    return render(request, "auth/two_factor_code.html", context, status_code=status)


@router.get("/login/code", name="two_factor_form")
def two_factor_form(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    next: str | None = None,  # noqa: A002
    use: str | None = None,
) -> Response:
    """Ask for the code of the second factor (or, with use=recovery, a recovery code)."""
    if principal is not None:
        return RedirectResponse(safe_next(request, next), status_code=303)
    if _pending(request, db, PendingStep.code) is None:
        return _back_to_sign_in(request, _next_field(next))
    return _code_page(request, _next_field(next), use == "recovery", None)


@router.post("/login/code", name="two_factor_verify")
def two_factor_verify(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    code: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",  # noqa: A002
    use: Annotated[str, Form()] = "",
) -> Response:
    """Check the code; on success start the session and go on to `next`."""
    next_field = _next_field(next)
    found = _pending(request, db, PendingStep.code)
    if found is None:
        return _back_to_sign_in(request, next_field)
    recovery = use == "recovery"
    if not code.strip():
        return _code_page(request, next_field, recovery, _("Enter the code."), 422)
    try:
        second_factor.verify(db=db, user=found.user, code=code, address=_address(request), settings=settings)
    except (WrongCode, AccountLocked) as exc:
        db.commit()  # the wrong code counts towards the pause
        return _code_page(request, next_field, recovery, exc.public_message(), exc.status)
    return _signed_in(request, db, settings, found.user, redirect(request, safe_next(request, next)))


def _being_set_up(db: DbSession, user: User) -> bool:
    """Return whether user has a second factor begun and not confirmed (a confirmed secret is never
    shown again, whatever pending sign-in asks for it)."""
    found = second_factor.get(db=db, user=user)
    return found is not None and found.confirmed_at is None


def _enrol_page(
    request: Request,
    db: DbSession,
    *,
    user: User,
    settings: Settings,
    action: str,
    next_field: str = "",
    at_sign_in: bool,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """Return the page that sets up user's second factor begun before: the secret as text and as a QR
    code, and the field for a first code."""
    two_factor = second_factor.get(db=db, user=user)
    assert two_factor is not None and two_factor.confirmed_at is None  # noqa: S101 - callers check it
    secret = second_factor.secret_of(two_factor, settings)
    uri = second_factor.provisioning_uri(user=user, secret=secret, settings=settings)
    context = {
        "secret": secret,
        "secret_grouped": second_factor.grouped(secret),
        "qr_svg": Markup(second_factor.qr_svg(uri)),  # noqa: S704 - segno's SVG of our own URI
        "action": action,
        "next": next_field,
        "at_sign_in": at_sign_in,
        "required": second_factor.required(user=user, settings=settings),
        "error": error,
    }
    return render(request, "auth/two_factor_enrol.html", context, status_code=status)


def _codes_page(request: Request, codes: list[str], continue_url: str, *, first: bool) -> Response:
    """Return the page that shows new recovery codes, this once."""
    context = {"codes": codes, "continue_url": continue_url, "first": first}
    return render(request, "auth/recovery_codes.html", context)


@router.get("/login/enrol", name="two_factor_enrol_form")
def two_factor_enrol_form(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    next: str | None = None,  # noqa: A002
) -> Response:
    """Set up the second factor the user's role requires, before the session starts."""
    if principal is not None:
        return RedirectResponse(safe_next(request, next), status_code=303)
    found = _pending(request, db, PendingStep.enrol)
    if found is None or not _being_set_up(db, found.user):
        return _back_to_sign_in(request, _next_field(next))
    return _enrol_page(
        request,
        db,
        user=found.user,
        settings=settings,
        action=url_for(request, "two_factor_enrol"),
        next_field=_next_field(next),
        at_sign_in=True,
    )


@router.post("/login/enrol", name="two_factor_enrol")
def two_factor_enrol(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    code: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",  # noqa: A002
) -> Response:
    """Confirm the new second factor with a first code; start the session and show the recovery codes."""
    next_field = _next_field(next)
    found = _pending(request, db, PendingStep.enrol)
    if found is None or not _being_set_up(db, found.user):
        return _back_to_sign_in(request, next_field)
    user = found.user
    page = {"user": user, "settings": settings, "action": url_for(request, "two_factor_enrol")}
    if not code.strip():
        return _enrol_page(
            request,
            db,
            **page,
            next_field=next_field,
            at_sign_in=True,
            error=_("Enter the code."),
            status=422,
        )
    try:
        codes = second_factor.confirm_enrolment(
            db=db, user=user, code=code, address=_address(request), settings=settings
        )
    except AlreadyEnrolled:
        return _back_to_sign_in(request, next_field)  # another tab finished it: sign in with a code
    except (WrongCode, AccountLocked) as exc:
        db.commit()  # the wrong code counts towards the pause
        return _enrol_page(
            request,
            db,
            **page,
            next_field=next_field,
            at_sign_in=True,
            error=exc.public_message(),
            status=exc.status,
        )
    response = _codes_page(request, codes, safe_next(request, next), first=True)
    return _signed_in(request, db, settings, user, response)


# --- the account page ---------------------------------------------------------------------------------


def _account_user(db: DbSession, principal: StaffPrincipal) -> User:
    user = db.get(User, principal.user_id) if principal.user_id is not None else None
    if user is None:
        raise LoginRequired()
    return user


def _account_page(
    request: Request,
    db: DbSession,
    settings: Settings,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Response:
    two_factor = second_factor.get(db=db, user=user)
    enabled = two_factor is not None and two_factor.confirmed_at is not None
    context = {
        "user": user,
        "role_label": role_label(user.role),
        "enabled": enabled,
        "confirmed_at": two_factor.confirmed_at if enabled and two_factor else None,
        "required": second_factor.required(user=user, settings=settings),
        "codes_left": second_factor.recovery_codes_left(db=db, user=user) if enabled else 0,
        "codes_total": second_factor.RECOVERY_CODE_COUNT,
        "errors": errors or {},
        "message": message,
    }
    return render(request, "auth/account.html", context, status_code=status)


@router.get("/account", name="account")
def account(request: Request, db: DbSession, settings: AppSettings, principal: StaffPrincipal) -> Response:
    """Show the signed-in user's account: their second factor and how many recovery codes are left."""
    return _account_page(request, db, settings, _account_user(db, principal))


@router.post("/account/two-factor/start", name="account_two_factor_start")
def account_two_factor_start(
    request: Request, db: DbSession, settings: AppSettings, principal: StaffPrincipal
) -> Response:
    """Begin setting up a second factor, then show it."""
    user = _account_user(db, principal)
    try:
        second_factor.begin_enrolment(db=db, user=user, settings=settings)
    except AlreadyEnrolled:
        return redirect(request, url_for(request, "account"))
    db.commit()
    return redirect(request, url_for(request, "account_two_factor_form"))


@router.get("/account/two-factor", name="account_two_factor_form")
def account_two_factor_form(
    request: Request, db: DbSession, settings: AppSettings, principal: StaffPrincipal
) -> Response:
    """Show the second factor being set up (the secret and its QR code) and ask for a first code."""
    user = _account_user(db, principal)
    found = second_factor.get(db=db, user=user)
    if found is None or found.confirmed_at is not None:
        return RedirectResponse(url_for(request, "account"), status_code=303)
    return _enrol_page(
        request,
        db,
        user=user,
        settings=settings,
        action=url_for(request, "account_two_factor_confirm"),
        at_sign_in=False,
    )


@router.post("/account/two-factor", name="account_two_factor_confirm")
def account_two_factor_confirm(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    code: Annotated[str, Form()] = "",
) -> Response:
    """Confirm the new second factor with a first code and show the recovery codes."""
    user = _account_user(db, principal)
    found = second_factor.get(db=db, user=user)
    if found is None or found.confirmed_at is not None:
        return redirect(request, url_for(request, "account"))
    page = {"user": user, "settings": settings, "action": url_for(request, "account_two_factor_confirm")}
    if not code.strip():
        return _enrol_page(request, db, **page, at_sign_in=False, error=_("Enter the code."), status=422)
    try:
        codes = second_factor.confirm_enrolment(
            db=db, user=user, code=code, address=_address(request), settings=settings
        )
    except (WrongCode, AccountLocked) as exc:
        db.commit()  # the wrong code counts towards the pause
        return _enrol_page(
            request, db, **page, at_sign_in=False, error=exc.public_message(), status=exc.status
        )
    db.commit()
    return _codes_page(request, codes, url_for(request, "account"), first=True)


@router.post("/account/two-factor/cancel", name="account_two_factor_cancel")
def account_two_factor_cancel(request: Request, db: DbSession, principal: StaffPrincipal) -> Response:
    """Give up setting up a second factor (one begun and not confirmed)."""
    second_factor.cancel_enrolment(db=db, user=_account_user(db, principal))
    db.commit()
    return redirect(request, url_for(request, "account"))


def _checked_code(
    request: Request, db: DbSession, settings: Settings, user: User, code: str, form: str
) -> Response | None:
    """Return the account page with form's error when code is missing or wrong (counted towards the
    pause), or None when it is right."""
    if not code.strip():
        return _account_page(request, db, settings, user, errors={form: _("Enter the code.")}, status=422)
    try:
        second_factor.verify(db=db, user=user, code=code, address=_address(request), settings=settings)
    except (WrongCode, AccountLocked) as exc:
        db.commit()
        return _account_page(
            request, db, settings, user, errors={form: exc.public_message()}, status=exc.status
        )
    return None


@router.post("/account/recovery-codes", name="account_recovery_codes")
def account_recovery_codes(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    code: Annotated[str, Form()] = "",
) -> Response:
    """Make new recovery codes (a code of the second factor confirms it is the user); the old ones stop
    working."""
    user = _account_user(db, principal)
    if not second_factor.enabled(db=db, user=user):
        return redirect(request, url_for(request, "account"))
    refused = _checked_code(request, db, settings, user, code, "regenerate")
    if refused is not None:
        return refused
    codes = second_factor.regenerate_recovery_codes(db=db, user=user)
    db.commit()
    return _codes_page(request, codes, url_for(request, "account"), first=False)


@router.post("/account/two-factor/off", name="account_two_factor_off")
def account_two_factor_off(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    code: Annotated[str, Form()] = "",
) -> Response:
    """Turn the second factor off (a code confirms it is the user); refused when the role requires it."""
    user = _account_user(db, principal)
    if not second_factor.enabled(db=db, user=user):
        return redirect(request, url_for(request, "account"))
    if second_factor.required(user=user, settings=settings):
        message = SecondFactorRequired().public_message()
        return _account_page(request, db, settings, user, message=message, status=SecondFactorRequired.status)
    refused = _checked_code(request, db, settings, user, code, "off")
    if refused is not None:
        return refused
    second_factor.turn_off(db=db, user=user, settings=settings)
    db.commit()
    return redirect(request, url_for(request, "account"))
