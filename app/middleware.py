"""ASGI middleware: locale from the URL prefix, CSRF checks, and security headers."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app import i18n
from app.config import Settings
from app.errors import CsrfError, error_response

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
MAX_FORM_BYTES = 20 * 1024 * 1024


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
    a `csrf_token` form field (plain forms without JavaScript). Requests authenticated with an
    `Authorization: Bearer` header are exempt: browsers never attach that on their own, so it
    cannot be forged across sites.
    """

    def __init__(self, app: ASGIApp, settings: Settings, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.settings = settings
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie_token = _cookies(scope).get(CSRF_COOKIE, "")
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
        authorization = _header(scope, b"authorization") or ""
        if (
            method in SAFE_METHODS
            or authorization.lower().startswith("bearer ")
            or any(route_path.startswith(p) for p in self.exempt_prefixes)
        ):
            await self.app(scope, receive, send_with_cookie)
            return

        sent = _header(scope, CSRF_HEADER.encode())
        body_messages: list[Message] = []
        if sent is None:
            content_type = (_header(scope, b"content-type") or "").lower()
            if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
                size = 0
                while True:
                    message = await receive()
                    body_messages.append(message)
                    size += len(message.get("body", b""))
                    if size > MAX_FORM_BYTES or message["type"] != "http.request" or not message.get("more_body"):
                        break
                replay = list(body_messages)

                async def replay_receive() -> Message:
                    return replay.pop(0) if replay else {"type": "http.request", "body": b"", "more_body": False}

                try:
                    form = await Request(scope, replay_receive).form()
                    value = form.get(CSRF_FIELD)
                    sent = value if isinstance(value, str) else None
                    await form.close()
                except Exception:  # noqa: BLE001 - an unparsable body simply carries no token
                    sent = None

        if fresh or not sent or not secrets.compare_digest(sent.encode(), token.encode()):
            response = error_response(Request(scope), 403, CsrfError().public_message())
            await response(scope, receive, send_with_cookie)
            return

        if body_messages:
            pending = list(body_messages)

            async def receive_replayed() -> Message:
                if pending:
                    return pending.pop(0)
                return await receive()

            await self.app(scope, receive_replayed, send_with_cookie)
        else:
            await self.app(scope, receive, send_with_cookie)


def content_security_policy() -> str:
    """Return the CSP: nothing inline, nothing from other origins."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeadersMiddleware:
    """Add CSP and the other protective headers to every response."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = {
            "Content-Security-Policy": content_security_policy(),
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
            "Cross-Origin-Opener-Policy": "same-origin",
        }
        if settings.secure_cookies:
            self.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in self.headers.items():
                    headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
