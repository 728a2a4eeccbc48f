"""ASGI middleware: locale from the URL prefix, checked input (bounded bodies, text a database can
store), CSRF checks, and security headers."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import MutableHeaders, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app import i18n
from app.auth.deps import SESSION_COOKIE
from app.config import Settings
from app.errors import CsrfError, error_response
from app.i18n import _
from app.web import is_private, protective_headers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOCALE_COOKIE = "witaj_locale"
CSRF_COOKIE = "witaj_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
#: Where scope keeps the (name, text) pairs of the form InputMiddleware parsed (None: no form).
FORM_KEY = "witaj_form"
#: Characters no text column stores: PostgreSQL refuses NUL in text (and the driver fails with a
#: 500), and a lone surrogate (which JSON's "\ud800" makes) cannot be encoded as UTF-8.
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _cookies(scope: Scope) -> dict[str, str]:
    jar: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            parsed: SimpleCookie = SimpleCookie()
            try:
                parsed.load(value.decode("latin-1"))
            except Exception:  # noqa: S112 - a malformed cookie header is ignored, not fatal
                continue
            jar.update({key: morsel.value for key, morsel in parsed.items()})
    return jar


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _cookie_header(name: str, value: str, *, max_age: int, secure: bool, http_only: bool = True) -> str:
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "SameSite=Lax"]
    if http_only:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


class LocaleMiddleware:
    """Pick the request's locale: URL prefix (/uk/...), then cookie, then Accept-Language.

    A prefix is moved into root_path, so routes are declared once and `url_for` keeps the prefix.
    Choosing a language by prefix remembers it in a cookie.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root = scope.get("root_path", "")
        path = scope["path"]
        rel = path[len(root) :] if root and path.startswith(root) else path
        first = rel.split("/", 2)[1] if rel.startswith("/") else ""
        path_locale = first if first in self.settings.locales else None
        scope["witaj_base_root"] = root
        if path_locale:
            if rel == f"/{path_locale}":
                query = scope.get("query_string", b"").decode("latin-1")
                target = f"{root}/{path_locale}/" + (f"?{query}" if query else "")
                await RedirectResponse(target, status_code=308)(scope, receive, send)
                return
            scope["root_path"] = f"{root}/{path_locale}"
            if not path.startswith(scope["root_path"]):
                scope["path"] = scope["root_path"] + rel[len(path_locale) + 1 :]
            scope["witaj_route_path"] = rel[len(path_locale) + 1 :]
        else:
            scope["witaj_route_path"] = rel
        cookies = _cookies(scope)
        locale = i18n.negotiate(
            path_locale=path_locale,
            cookie_locale=cookies.get(LOCALE_COOKIE),
            accept_language=_header(scope, b"accept-language"),
            enabled=list(self.settings.locales),
            default=self.settings.default_locale,
        )
        scope["witaj_locale"] = locale
        remember = path_locale is not None and cookies.get(LOCALE_COOKIE) != path_locale

        async def send_with_locale(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Language", locale)
                if remember:
                    headers.append(
                        "Set-Cookie",
                        _cookie_header(
                            LOCALE_COOKIE,
                            locale,
                            max_age=365 * 24 * 3600,
                            secure=self.settings.secure_cookies,
                            http_only=False,
                        ),
                    )
            await send(message)

        token = i18n.set_locale(locale)
        try:
            await self.app(scope, receive, send_with_locale)
        finally:
            i18n.reset_locale(token)


class CsrfMiddleware:
    """Refuse state-changing requests whose token does not match the CSRF cookie.

    The token comes in the X-CSRF-Token header (htmx sends it from hx-headers on <body>) or in
    a `csrf_token` form field (plain forms without JavaScript), read from the form InputMiddleware
    parsed. CSRF forges what a browser sends by itself, cookies, so what decides is whether a
    cookie signs the request in, never another header: a staff page is checked even when an
    `Authorization: Bearer` header comes along. Exempt are the paths given (channels that read no
    cookie and have their own authentication) and calls of the token API: under /api/, with an
    `Authorization: Bearer` header and without a session cookie (an API call that carries one is
    checked too, and so is one without a token, whatever the exempt paths say).
    """

    def __init__(self, app: ASGIApp, settings: Settings, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.settings = settings
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        cookie_token = cookies.get(CSRF_COOKIE, "")
        fresh = not (20 <= len(cookie_token) <= 100 and cookie_token.replace("-", "").replace("_", "").isalnum())
        token = secrets.token_urlsafe(32) if fresh else cookie_token
        scope["witaj_csrf"] = token

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and fresh:
                MutableHeaders(scope=message).append(
                    "Set-Cookie",
                    _cookie_header(CSRF_COOKIE, token, max_age=30 * 24 * 3600, secure=self.settings.secure_cookies),
                )
            await send(message)

        method = scope["method"]
        route_path = scope.get("witaj_route_path", scope["path"])
        if route_path.startswith("/api/"):
            # Whatever exempt_prefixes say: the API skips the check only for token calls.
            bearer = (_header(scope, b"authorization") or "").lower().startswith("bearer ")
            exempt = bearer and SESSION_COOKIE not in cookies
        else:
            exempt = any(route_path.startswith(p) for p in self.exempt_prefixes)
        if method in SAFE_METHODS or exempt:
            await self.app(scope, receive, send_with_cookie)
            return

        sent = _header(scope, CSRF_HEADER.encode())
        if sent is None:
            if FORM_KEY not in scope:
                raise RuntimeError("CsrfMiddleware needs InputMiddleware to run first (it reads the form)")
            values = [value for name, value in scope[FORM_KEY] or () if name == CSRF_FIELD]
            sent = values[-1] if values else None

        if fresh or not sent or not secrets.compare_digest(sent.encode(), token.encode()):
            refusal = CsrfError()
            title = refusal.public_title()
            response = error_response(Request(scope), 403, refusal.public_message(), title=title)
            await response(scope, receive, send_with_cookie)
            return
        await self.app(scope, receive, send_with_cookie)


def _content_type(scope: Scope) -> str:
    return (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()


def _json_texts(document: Any) -> Iterator[tuple[str, str]]:
    """Yield (dotted path, text) for every key and string of a parsed JSON document (no recursion:
    a deeply nested body cannot exhaust the stack)."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            yield path, item
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                yield child_path, str(key)
                stack.append((child_path, child))
        elif isinstance(item, list):
            for index, child in enumerate(item):
                stack.append((f"{path}.{index}" if path else str(index), child))


async def _parse_form(scope: Scope, body: bytes, **limits: Any) -> list[tuple[str, str]]:
    """Return the (name, text) pairs of a form body, parsed as the routes parse it; raise
    MultiPartException or HTTPException when it cannot be."""
    sent = False

    async def receive_body() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(scope, receive_body).form(**limits)
    try:
        pairs = []
        for name, value in form.multi_items():
            pairs.append((name, value.filename or "" if isinstance(value, UploadFile) else value))
        return pairs
    finally:
        await form.close()


class InputMiddleware:
    """Refuse, before any route runs, input no route could accept.

    - a body larger than the limit (`max_json_bytes` for JSON and every body that is not a form,
      `max_body_bytes` for forms): 413 without reading it (Content-Length), or as soon as a body
      without one grows past it; and a form the routes' parser would refuse for its size;
    - text a database cannot store (NUL, lone surrogates) in the query string, a form field or a
      JSON body: 422 naming each field; in the path: 404.

    Answers are in the user's language, JSON under /api/ and /webhooks/ (app.errors.error_response).
    The body is read once, here, and handed on to the routes whole; CsrfMiddleware reads the form
    parsed here from the scope (FORM_KEY).
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if UNSTORABLE.search(scope["path"]):
            await error_response(Request(scope), 404, _("We could not find that page."))(scope, receive, send)
            return
        content_type = _content_type(scope)
        is_form = content_type in FORM_TYPES
        limit = self.settings.max_body_bytes if is_form else self.settings.max_json_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its request was complete
            body += message.get("body", b"")
            if len(body) > limit:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        content = bytes(body)

        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        problems = [name for name, value in query if UNSTORABLE.search(name) or UNSTORABLE.search(value)]
        scope[FORM_KEY] = None
        if is_form:
            try:
                scope[FORM_KEY] = await _parse_form(scope, content)
            except (MultiPartException, HTTPException):
                if await self._form_too_large(scope, content):
                    await self._too_large(scope, receive, send)
                    return
        if scope[FORM_KEY]:
            problems += [
                name for name, value in scope[FORM_KEY] if UNSTORABLE.search(name) or UNSTORABLE.search(value)
            ]
        elif content and not is_form:
            try:
                document = json.loads(content)
            except (ValueError, RecursionError):
                pass  # not JSON: the route refuses it, or never reads it
            else:
                problems += [path for path, text in _json_texts(document) if UNSTORABLE.search(text)]
        if problems:
            await self._unstorable(problems, scope, receive, send)
            return

        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": content, "more_body": False}
            return await receive()  # after the body: wait for the client to go away

        await self.app(scope, replay, send)

    @staticmethod
    async def _form_too_large(scope: Scope, content: bytes) -> bool:
        # The routes' parser refused the form; it is too large when it parses without the limits.
        unlimited = float("inf")
        try:
            await _parse_form(
                scope, content, max_files=unlimited, max_fields=unlimited, max_part_size=len(content) + 1
            )
        except (MultiPartException, HTTPException):
            return False
        return True

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
        message = _("What you sent is too large. Please shorten it and send it again.")
        await error_response(Request(scope), 413, message)(scope, receive, send)

    @staticmethod
    async def _unstorable(fields: list[str], scope: Scope, receive: Receive, send: Send) -> None:
        message = _(
            "This text contains a character that cannot be saved (such as a NUL byte). Please remove it."
        )
        kind = "unstorable_character"
        errors = [
            {"field": UNSTORABLE.sub("\ufffd", name) or None, "message": message, "type": kind}
            for name in dict.fromkeys(fields)  # each field once, in the order met
        ]
        summary = _("Please correct the marked fields.")
        response = error_response(Request(scope), 422, summary, {"errors": errors})
        await response(scope, receive, send)


class SecurityHeadersMiddleware:
    """Add CSP and the other protective headers to every response, and Cache-Control: no-store to
    every response of the sections that carry personal data."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = protective_headers(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in self.headers.items():
                    headers.setdefault(key, value)
                # The locale middleware, inside this one, has stripped the prefix by now.
                if is_private(scope.get("witaj_route_path", scope["path"])):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
