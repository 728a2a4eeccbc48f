"""Domain exceptions, and their mapping to pages, htmx fragments or JSON.

Services raise these and never see HTTP; `install(app)` turns them into responses in the user's
language: JSON under /api/, a fragment for htmx, a full page otherwise.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.config import get_settings
from app.i18n import _, get_locale, use_locale
from app.web import protective_headers, redirect, render, url_for

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of the errors a service may raise; status is the HTTP status it maps to."""

    status = 400

    def public_message(self) -> str:
        """Return a message for the user, in the current locale."""
        return _("The request could not be completed.")

    def public_title(self) -> str:
        """Return the error page's title, in the current locale."""
        return status_title(self.status)


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it exists."""

    status = 404

    def public_message(self) -> str:
        return _("We could not find that page.")


class PermissionDenied(DomainError):
    """The caller may not do this."""

    status = 403

    def public_message(self) -> str:
        return _("You do not have permission to do this.")


class LoginRequired(DomainError):
    """The page needs a signed-in staff user (pages redirect to the sign-in form; the API says 401)."""

    status = 401

    def public_message(self) -> str:
        return _("Please sign in to continue.")


class CsrfError(DomainError):
    """A state-changing request came without a valid CSRF token."""

    status = 403

    def public_message(self) -> str:
        return _(
            "Your form has expired or was sent from another site. Go back, reload the page and send it again."
        )

    def public_title(self) -> str:
        return _("Form expired")


class Conflict(DomainError):
    """The record changed meanwhile; details says what changed."""

    status = 409

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def public_message(self) -> str:
        return self.message or _("This record was changed meanwhile by someone else.")


class InvalidInput(DomainError):
    """Input that breaks a rule; field_errors maps field names to messages in the user's language."""

    status = 422

    def __init__(self, field_errors: dict[str, str]) -> None:
        super().__init__(", ".join(field_errors))
        self.field_errors = field_errors

    def public_message(self) -> str:
        return _("Please correct the marked fields.")


# --- JSON error bodies -----------------------------------------------------------------------------
# Every JSON error is built from one of these models, and the API description documents the same
# models (app/cases/api.py): what the description promises is what is sent.


class ErrorBody(BaseModel):
    """A JSON error: one sentence for people, in the caller's language."""

    detail: str


class FieldError(BaseModel):
    """One refused input."""

    field: str | None = Field(description="The field (a dotted path into the body), or null for the request")
    message: str = Field(description="What to correct, in the caller's language")
    type: str | None = Field(
        description="The kind of check that failed (e.g. string_too_long), or null for a rule of the service"
    )


class ValidationErrorBody(ErrorBody):
    """A request whose input was refused (422), with one entry per refused field."""

    errors: list[FieldError]


class Change(BaseModel):
    """One change made to the record since the version the caller expected."""

    version: int
    kind: str
    name: str | None
    at: datetime
    before: dict[str, Any]
    after: dict[str, Any]


class ConflictBody(ErrorBody):
    """The record is not in a state that allows this (409): changes says what others did since
    expected_version, allowed which transitions are possible now."""

    changes: list[Change] = Field(default_factory=list)
    allowed: list[str] = Field(default_factory=list)


def json_error(status: int, message: str, extra: dict[str, Any] | None = None) -> BaseModel:
    """Return the body of a JSON error of status (extra: the errors of a 422, the details of a 409)."""
    extra = extra or {}
    if status == 409:
        changes, allowed = extra.get("changes", []), extra.get("allowed", [])
        return ConflictBody(detail=message, changes=changes, allowed=allowed)
    if status == 422:
        return ValidationErrorBody(detail=message, errors=extra.get("errors", []))
    return ErrorBody(detail=message)


def pydantic_message(error: dict[str, Any]) -> str:
    """Return a pydantic validation error as a sentence in the current locale."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _("This field is required.")
    if kind == "string_too_short":
        return _("Enter at least %(min)s characters.", min=ctx.get("min_length", ""))
    if kind == "string_too_long":
        return _("Enter at most %(max)s characters.", max=ctx.get("max_length", ""))
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return _("Enter a whole number.")
    if kind in {"float_parsing", "float_type", "decimal_parsing"}:
        return _("Enter a number.")
    if kind in {"greater_than_equal", "greater_than"}:
        return _("Enter a number of at least %(min)s.", min=ctx.get("ge", ctx.get("gt", "")))
    if kind in {"less_than_equal", "less_than"}:
        return _("Enter a number of at most %(max)s.", max=ctx.get("le", ctx.get("lt", "")))
    if kind in {"date_parsing", "date_from_datetime_parsing", "date_type"}:
        return _("Enter a date as YYYY-MM-DD.")
    if kind in {"enum", "literal_error"}:
        return _("Choose one of the offered options.")
    if kind == "string_pattern_mismatch":
        return _("This value does not have the expected format.")
    if kind in {"json_invalid", "model_attributes_type", "dict_type"}:
        return _("The request body is not valid JSON of the expected shape.")
    return _("This value is not valid.")


def field_errors_of(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return validation errors as {field, message, type} with messages in the current locale."""
    out = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path", "form")]
        out.append({"field": ".".join(loc) or None, "message": pydantic_message(err), "type": err.get("type")})
    return out


def wants_json(request: Request) -> bool:
    """Return True for API and webhook requests (and JSON bodies), which get JSON errors."""
    route_path = request.scope.get("witaj_route_path", request.url.path)
    return (
        route_path.startswith(("/api/", "/webhooks/"))
        or request.headers.get("accept", "").startswith("application/json")
        or request.headers.get("content-type", "").startswith("application/json")
    )


def status_title(status: int) -> str:
    """Return a short title for an error page of status, in the current locale."""
    titles = {
        401: _("Sign-in needed"),
        403: _("Not allowed"),
        404: _("Page not found"),
        409: _("Not possible now"),
        413: _("Too large"),
        422: _("Please check what you sent"),
        429: _("Too many attempts"),
        500: _("Something went wrong"),
    }
    return titles.get(status, _("Not completed"))


def request_locale(request: Request) -> str:
    """Return the locale of request's page: the one LocaleMiddleware chose (kept in the scope), else
    the URL's language prefix. An error answered from outside the middleware (a 500: Starlette sends
    it from outside every middleware) is no longer in that middleware's locale, but in the scope's."""
    chosen = request.scope.get("witaj_locale")
    if chosen:
        return str(chosen)
    path = request.scope.get("path", "")
    root = request.scope.get("root_path", "")
    relative = path[len(root) :] if root and path.startswith(root) else path
    first = relative.split("/", 2)[1] if relative.startswith("/") else ""
    app = request.scope.get("app")  # none when a middleware answers on its own (tests drive one so)
    settings = getattr(getattr(app, "state", None), "settings", None) or get_settings()
    return first if first in settings.locales else get_locale()


def error_response(
    request: Request,
    status: int,
    message: str,
    extra: dict[str, Any] | None = None,
    *,
    title: str | None = None,
) -> Response:
    """Return the error page of status (JSON under /api/), in the language of the request's page.

    message (and title) must be in that language already: callers outside the locale middleware
    make them inside `use_locale(request_locale(request))`."""
    locale = request_locale(request)
    with use_locale(locale):
        response = _error_response(request, status, message, extra, title or status_title(status))
    response.headers["Content-Language"] = locale
    return response


def _error_response(
    request: Request, status: int, message: str, extra: dict[str, Any] | None, title: str
) -> Response:
    if wants_json(request):
        return JSONResponse(json_error(status, message, extra).model_dump(mode="json"), status_code=status)
    try:
        return render(
            request,
            "errors/error.html",
            {"status": status, "message": message, "title": title, "errors": [], **(extra or {})},
            status_code=status,
            block="content",
        )
    except Exception:  # noqa: BLE001 - a broken template must not hide the original error
        log.error("error page could not be rendered for status %s", status)
        return PlainTextResponse(message, status_code=status)


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into responses."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, LoginRequired) and not wants_json(request):
            return redirect(request, url_for(request, "login_form", query={"next": request.url.path}))
        extra: dict[str, Any] = {}
        if isinstance(exc, InvalidInput):
            extra["errors"] = [{"field": k, "message": v, "type": None} for k, v in exc.field_errors.items()]
        if isinstance(exc, Conflict) and exc.details:
            extra.update(exc.details)
        response = error_response(request, exc.status, exc.public_message(), extra, title=exc.public_title())
        if isinstance(exc, LoginRequired):
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = field_errors_of(list(exc.errors()))
        return error_response(request, 422, _("Please correct the marked fields."), {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {
            404: _("We could not find that page."),
            405: _("This address does not accept that kind of request."),
            403: _("You do not have permission to do this."),
        }
        response = error_response(
            request, exc.status_code, messages.get(exc.status_code, _("The request could not be completed."))
        )
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # The route's template, not the path (which can hold a case reference), and the traceback
        # without any exception's text, which may carry personal data from user input.
        route = getattr(request.scope.get("route"), "path", "(no route)")
        traceback_text = withheld_traceback(exc)
        log.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, route, traceback_text)
        with use_locale(request_locale(request)):  # outside the locale middleware: its locale is gone
            message = _("Something went wrong on our side. Please try again in a moment.")
        response = error_response(request, 500, message)
        # Starlette sends this from outside every middleware: the protective headers are set here.
        response.headers.update(protective_headers(request.app.state.settings))
        response.headers["Cache-Control"] = "no-store"
        return response

    withhold_exception_text()


# --- logs without personal data --------------------------------------------------------------------


def withheld_traceback(exc: BaseException) -> str:
    """Return exc's traceback (and its causes') with every exception's text left out: a database
    error's text holds the failing row's values (PostgreSQL's DETAIL), others hold user input."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts = [
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_list(traceback.extract_tb(item.__traceback__)))
        + f"{type(item).__module__}.{type(item).__qualname__} (its text withheld: it may hold personal data)"
        for item in reversed(chain)
    ]
    return "\n\nwhich led to:\n\n".join(parts)


class WithholdExceptionText(logging.Filter):
    """Log a record's exception as its traceback without text (see withheld_traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = withheld_traceback(record.exc_info[1])
            record.exc_info = None
        return True


_WITHHOLD = WithholdExceptionText()
#: The server's loggers: Starlette re-raises an unhandled exception after the 500 page is sent, and
#: uvicorn logs it ("Exception in ASGI application") with its text, SQL parameters and all.
SERVER_LOGGERS = ("uvicorn.error", "uvicorn.asgi")


def withhold_exception_text() -> None:
    """Make the server's loggers log exceptions without their text (idempotent)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if _WITHHOLD not in logger.filters:
            logger.addFilter(_WITHHOLD)
