"""Every error page in the language of its address: the message, the page's title, `lang`, the
language switcher's current language and Content-Language, whatever the browser's cookie,
Accept-Language or the default locale say. Issue 12, item 3 (a 500 on a /pl/ page was English)."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from app.cases.exceptions import TooManyAttempts
from app.config import get_settings
from app.errors import Conflict, PermissionDenied
from app.i18n import gettext, use_locale
from app.main import create_app

CSRF = "Your form has expired or was sent from another site. Go back, reload the page and send it again."


@pytest.fixture(scope="module")
def client(engine):
    """A client of an app whose default locale is English, with a browser that prefers English
    (Accept-Language and the language cookie): only the address can make a page Polish or Ukrainian."""
    settings = get_settings().model_copy(update={"default_locale": "en"})
    app = create_app(settings, engine, check_db=False)

    @app.get("/test-only/forbidden")
    def forbidden() -> None:
        raise PermissionDenied()

    @app.get("/test-only/conflict")
    def conflict() -> None:
        raise Conflict()

    @app.get("/test-only/locked")
    def locked() -> None:
        raise TooManyAttempts()

    @app.get("/test-only/boom")
    def boom() -> None:
        raise RuntimeError("an unexpected failure")

    with TestClient(app, raise_server_exceptions=False, headers={"Accept-Language": "en"}) as test_client:
        test_client.cookies.set("witaj_locale", "en")
        yield test_client


def _too_large(client: TestClient, locale: str):
    size = get_settings().max_body_bytes + 1
    return client.post(
        f"/{locale}/chat",
        content=b"message=" + b"x" * size,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


#: (what is asked, expected status, message, title)
CASES = {
    "not found": (
        lambda c, loc: c.get(f"/{loc}/no-such-page"),
        404,
        "We could not find that page.",
        "Page not found",
    ),
    "forbidden": (
        lambda c, loc: c.get(f"/{loc}/test-only/forbidden"),
        403,
        "You do not have permission to do this.",
        "Not allowed",
    ),
    "csrf expired": (
        lambda c, loc: c.post(f"/{loc}/chat", data={"message": "hello"}),
        403,
        CSRF,
        "Form expired",
    ),
    "conflict": (
        lambda c, loc: c.get(f"/{loc}/test-only/conflict"),
        409,
        "This record was changed meanwhile by someone else.",
        "Not possible now",
    ),
    "too large": (
        _too_large,
        413,
        "What you sent is too large. Please shorten it and send it again.",
        "Too large",
    ),
    "unstorable": (
        lambda c, loc: c.post(f"/{loc}/chat", data={"message": "hello\x00"}),
        422,
        "Please correct the marked fields.",
        "Please check what you sent",
    ),
    "too many attempts": (
        lambda c, loc: c.get(f"/{loc}/test-only/locked"),
        429,
        "Too many attempts. Try again in a quarter of an hour, or ask us in the chat.",
        "Too many attempts",
    ),
    "server error": (
        lambda c, loc: c.get(f"/{loc}/test-only/boom"),
        500,
        "Something went wrong on our side. Please try again in a moment.",
        "Something went wrong",
    ),
}


@pytest.mark.parametrize("locale", ["pl", "uk"])
@pytest.mark.parametrize("case", list(CASES))
def test_an_error_page_speaks_the_language_of_its_address(client, case, locale):
    ask, status, message, title = CASES[case]
    response = ask(client, locale)
    assert response.status_code == status
    with use_locale(locale):
        expected_message, expected_title = gettext(message), gettext(title)
    assert expected_message != message and expected_title != title  # really translated
    page = response.text
    assert re.search(r'<html lang="([a-z]+)"', page).group(1) == locale
    assert re.findall(r'hreflang="([a-z]+)" aria-current="true"', page) == [locale]  # the switcher
    assert response.headers["content-language"] == locale
    assert html.unescape(re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)) == expected_message
    assert html.unescape(re.search(r"<title>(.*?) · ", page, re.S).group(1)) == expected_title
    assert f'href="/{locale}/"' in page  # "Go to the home page" stays in the language


def test_a_server_error_of_the_api_answers_in_the_callers_language(client):
    response = client.get("/uk/test-only/boom", headers={"Accept": "application/json"})
    assert response.status_code == 500
    with use_locale("uk"):
        expected = gettext("Something went wrong on our side. Please try again in a moment.")
    assert response.json() == {"detail": expected}
