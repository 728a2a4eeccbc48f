"""Where sign-in goes next: only ever a path of this site, whatever `next` holds, and never a 500."""

from __future__ import annotations

import pytest

from app.auth.routes import is_site_path
from tests.conftest import csrf_from

#: Each was seen sending a signed-in browser to another site, failing with a 500 after the
#: password was accepted, or dropping the connection (issue 11, item 1), plus their relatives.
HOSTILE = [
    "/%09/evil.example/",
    "/\t/evil.example/",
    "/ł",
    "/。",
    "/\u2028x",
    "/\r\nSet-Cookie: witaj_session=x",
    "/%0d%0aSet-Cookie:%20x=1",
    "/\n/evil.example/",
    "//evil.example/x",
    "/\\evil.example/",
    "/%5Cevil.example/",
    "/%2F/evil.example/",
    "/%252F%252Fevil.example/",
    "/\u3000/evil.example/",
    "/\u200b/evil.example/",
    "https://evil.example/",
    "javascript:alert(1)",
    " /pl/staff/",
    "/pl/staff/ ",
    "/pl/staff/?next=%09",
    "/" + "a" * 5000,
]


def _sign_in(client, user, password, target, htmx):
    page = client.get("/pl/staff/login")
    token = csrf_from(page.text)
    headers = {"X-CSRF-Token": token, "HX-Request": "true"} if htmx else {}
    return client.post(
        "/pl/staff/login",
        data={"email": user.email, "password": password, "csrf_token": token, "next": target},
        headers=headers,
        follow_redirects=False,
    )


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("target", HOSTILE)
def test_sign_in_never_leaves_the_site(client, make_user, target, htmx):
    user, password = make_user()
    response = _sign_in(client, user, password, target, htmx)
    assert response.status_code == (204 if htmx else 303)
    where = response.headers["hx-redirect" if htmx else "location"]
    assert where == "/pl/staff/"
    assert "witaj_session=" in response.headers.get("set-cookie", "")


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    "target",
    [
        "/pl/staff/cases/KRK-2026-000123",
        "/pl/staff/cases/?status=new&page=2",
        "/uk/staff/forms/cases/%C5%81%C3%B3d%C5%BA",
    ],
)
def test_sign_in_goes_on_to_a_page_of_the_site(client, make_user, target, htmx):
    user, password = make_user()
    response = _sign_in(client, user, password, target, htmx)
    assert response.headers["hx-redirect" if htmx else "location"] == target


@pytest.mark.parametrize("target", HOSTILE)
def test_signed_in_visit_of_the_form_never_leaves_the_site(client, make_user, login, target):
    user, password = make_user()
    login(user.email, password, locale="pl")
    response = client.get("/pl/staff/login", params={"next": target}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/pl/staff/"


def test_the_form_carries_only_a_site_path_on():
    assert is_site_path("/pl/staff/")
    assert not any(is_site_path(target) for target in HOSTILE)
