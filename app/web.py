"""The Jinja environment and render(): a full page, or only a block for htmx requests."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Undefined, select_autoescape
from jinja2_fragments import render_block

from app import i18n
from app.config import get_settings
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


@lru_cache
def environment(template_dir: str) -> Environment:
    """Return the Jinja environment for a template folder, with gettext bound to the request locale."""
    env = Environment(
        loader=FileSystemLoader(template_dir),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=SoftUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda s: i18n.translations(i18n.get_locale()).ugettext(s),
        lambda s, p, n: i18n.translations(i18n.get_locale()).ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: i18n.translations(i18n.get_locale()).upgettext(c, s),
        npgettext=lambda c, s, p, n: i18n.translations(i18n.get_locale()).unpgettext(c, s, p, n),
    )
    env.filters.update(
        date=i18n.format_date,
        datetime=i18n.format_datetime,
        time=i18n.format_time,
        number=i18n.format_number,
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


def context_for(request: Request) -> dict[str, Any]:
    """Return the variables every template can use."""
    locale = i18n.get_locale()
    settings = get_settings()
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
    env = environment(str(get_settings().template_path))
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
    """Return a 303 to url, or for htmx an HX-Redirect so the whole page changes, not a fragment."""
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
