"""The Jinja environment and render(): a full page, or only a block for htmx requests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Undefined, pass_context, select_autoescape
from jinja2.runtime import Context
from jinja2_fragments import render_block
from markupsafe import escape

from app import i18n
from app.config import Settings, get_settings
from app.languages import native_name

STATIC_DIR = Path(__file__).resolve().parent / "static"


@lru_cache(maxsize=512)
def _static_version(path: str) -> str:
    file = STATIC_DIR / path
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


class SoftUndefined(StrictUndefined):
    """Missing values test false (`{% if errors.email %}`), but printing one is an error."""

    def __bool__(self) -> bool:
        return False

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(())

    def __len__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Undefined)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return 0

    def __contains__(self, item: object) -> bool:
        return False


def _as_text(context: Context, translated: str, variables: dict[str, Any]) -> str:
    """Return a translation %-formatted with variables, escaped as text where autoescape is on.

    Jinja's own newstyle gettext wraps the translation in Markup, trusting every msgstr, and every
    content string passed to `_()` (a partner's service name, a form label), as HTML. Here the
    translation is escaped like any other text, and `%` escapes each variable unless it is Markup
    itself (a template that needs a link inside a sentence passes the link as a Markup variable).
    """
    if context.eval_ctx.autoescape:
        return escape(translated) % variables
    return translated % variables


def _gettext_callables(locales_dir: Path | None) -> dict[str, Callable[..., str]]:
    """Return the template globals `_`, gettext, ngettext, pgettext and npgettext of a catalog folder,
    in the request's locale, their output escaped (see _as_text)."""

    def catalog() -> Any:
        return i18n.translations(i18n.get_locale(), locales_dir)

    @pass_context
    def gettext(context: Context, message: str, /, **variables: Any) -> str:
        # `{% trans %}` calls this with the block's variables; its `%` are doubled, so always format.
        return _as_text(context, catalog().ugettext(message), variables)

    @pass_context
    def underscore(context: Context, message: str, /, **variables: Any) -> str:
        # `_(text)` mostly translates content (`_(svc.name)`), which may hold a plain `%`: format only
        # with variables, as app.i18n.gettext does in Python.
        translated = catalog().ugettext(message)
        if variables:
            return _as_text(context, translated, variables)
        return escape(translated) if context.eval_ctx.autoescape else translated

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, num: int, /, **variables: Any) -> str:
        variables.setdefault("num", num)
        return _as_text(context, catalog().ungettext(singular, plural, num), variables)

    @pass_context
    def pgettext(context: Context, message_context: str, message: str, /, **variables: Any) -> str:
        variables.setdefault("context", message_context)
        return _as_text(context, catalog().upgettext(message_context, message), variables)

    @pass_context
    def npgettext(
        context: Context, message_context: str, singular: str, plural: str, num: int, /, **variables: Any
    ) -> str:
        variables.setdefault("context", message_context)
        variables.setdefault("num", num)
        translated = catalog().unpgettext(message_context, singular, plural, num)
        return _as_text(context, translated, variables)

    return {
        "_": underscore,
        "gettext": gettext,
        "ngettext": ngettext,
        "pgettext": pgettext,
        "npgettext": npgettext,
    }


@lru_cache
def environment(template_dir: str, locales_dir: str | None = None) -> Environment:
    """Return the Jinja environment for a template folder, with gettext bound to the request locale
    and to the catalogs of locales_dir (the settings' by default)."""
    env = Environment(
        loader=FileSystemLoader(template_dir),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=SoftUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    # `{% trans %}` passes its variables to gettext as keywords (newstyle); the callables are ours,
    # not install_gettext_callables', so that translations are escaped as text (see _as_text).
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    env.globals.update(_gettext_callables(Path(locales_dir) if locales_dir else None))
    env.filters.update(
        date=i18n.format_date,
        datetime=i18n.format_datetime,
        time=i18n.format_time,
        number=i18n.format_number,
        textdir=i18n.text_direction,
    )
    return env


def base_path(request: Request) -> str:
    """Return the mount path of the app, without the locale prefix."""
    return request.scope.get("witaj_base_root", request.scope.get("root_path", ""))


def url_for(request: Request, name: str, /, query: dict[str, Any] | None = None, **params: Any) -> str:
    """Return the path of route name, under the request's locale prefix when it has one."""
    path = request.scope.get("root_path", "") + str(request.app.url_path_for(name, **params))
    if query:
        path += "?" + urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)
    return path


def static_url(request: Request, path: str) -> str:
    """Return the URL of a static file, versioned by its content hash for long caching."""
    return f"{base_path(request)}/static/{path}?v={_static_version(path)}"


def locale_url(request: Request, code: str) -> str:
    """Return the current page's address in locale code (for the language switcher)."""
    route_path = request.scope.get("witaj_route_path", request.url.path) or "/"
    url = f"{base_path(request)}/{code}{route_path}"
    if request.url.query:
        url += "?" + request.url.query
    return url


def settings_of(request: Request) -> Settings:
    """Return the settings of the app serving request (the process's when it has none)."""
    return getattr(request.app.state, "settings", None) or get_settings()


def context_for(request: Request) -> dict[str, Any]:
    """Return the variables every template can use."""
    locale = i18n.get_locale()
    settings = settings_of(request)
    return {
        "request": request,
        "locale": locale,
        "dir": i18n.text_direction(locale),
        "locales": [(code, native_name(code)) for code in settings.locales],
        "csrf_token": request.scope.get("witaj_csrf", ""),
        "principal": getattr(request.state, "principal", None),
        "settings": settings,
        "url_for": lambda name, /, query=None, **p: url_for(request, name, query, **p),
        "static_url": lambda path: static_url(request, path),
        "locale_url": lambda code: locale_url(request, code),
        "is_htmx": request.headers.get("HX-Request") == "true",
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = "content",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Return the template as a full page, or only `block` when htmx asked (HX-Request header).

    Boosted htmx navigations (HX-Boosted) get the full page, since htmx swaps the whole body then.
    """
    settings = settings_of(request)
    env = environment(str(settings.template_path), str(settings.locale_path))
    ctx = {**context_for(request), **(context or {})}
    partial = (
        block is not None
        and request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )
    if partial:
        html = render_block(env, template, block, **ctx)
    else:
        html = env.get_template(template).render(**ctx)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Vary"] = "HX-Request, Accept-Language, Cookie"
    return response


def redirect(request: Request, url: str) -> Response:
    """Return a 303 to url, or for htmx an HX-Redirect so the whole page changes, not a fragment (the
    URL percent-encoded as Location is: a header carries ASCII only)."""
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": quote(url, safe=":/%#?=@[]!$&'()*+,;")})
    return RedirectResponse(url, status_code=303)


# --- headers ---------------------------------------------------------------------------------------


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


#: The first path segments whose pages and answers may carry personal data: staff pages (contact
#: details, notes), the API, the chat (a newcomer's messages, a case's secret code), city forms
#: (drafts, answers sent back with their errors, the sent form's secret, receipts) and the Rasa
#: channel. Browsers and proxies keep none of them (Cache-Control: no-store), whatever the route set.
PRIVATE_SECTIONS = frozenset({"staff", "api", "chat", "forms", "webhooks", "follow"})


def is_private(route_path: str) -> bool:
    """Return whether responses under route_path (without a locale prefix) must not be stored."""
    return route_path.lstrip("/").split("/", 1)[0] in PRIVATE_SECTIONS


def protective_headers(settings: Settings) -> dict[str, str]:
    """Return the headers every response carries: CSP, no sniffing or framing, HSTS behind HTTPS."""
    headers = {
        "Content-Security-Policy": content_security_policy(),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if settings.secure_cookies:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers
