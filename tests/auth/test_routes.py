"""Sign-in, sign-out, lockout and CSRF through HTTP, as a browser without JavaScript does it."""

from __future__ import annotations

from app.auth.enums import Role
from app.i18n import gettext, use_locale
from tests.conftest import csrf_from


def test_sign_in_and_reach_the_dashboard(client, make_user, login):
    # A caseworker: no second factor by default (for supervisors, see test_two_factor_routes.py).
    user, password = make_user(Role.caseworker)
    response = login(user.email, password)
    assert response.status_code == 303 and response.headers["location"] == "/en/staff/"
    cookie = response.headers["set-cookie"]
    assert "witaj_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    page = client.get("/en/staff/")
    assert page.status_code == 200
    assert user.display_name in page.text and "Caseworker" in page.text


def test_dashboard_needs_sign_in_and_comes_back_after(client, make_user, login):
    response = client.get("/pl/staff/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/pl/staff/login?next=%2Fpl%2Fstaff%2F"
    user, password = make_user()
    page = client.get(response.headers["location"])
    signed = client.post(
        "/pl/staff/login",
        data={"email": user.email, "password": password, "csrf_token": csrf_from(page.text), "next": "/pl/staff/"},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/pl/staff/"


def test_next_cannot_send_people_to_another_site(client, make_user):
    user, password = make_user()
    page = client.get("/en/staff/login")
    response = client.post(
        "/en/staff/login",
        data={"email": user.email, "password": password, "csrf_token": csrf_from(page.text), "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/en/staff/"


def test_wrong_password_re_renders_form_in_users_language(client, make_user, login):
    user, _ = make_user()
    response = login(user.email, "wrong password", locale="uk")
    assert response.status_code == 400
    with use_locale("uk"):
        expected = gettext("The e-mail address or the password is not correct.")
    assert expected in response.text
    assert f'value="{user.email}"' in response.text  # what was typed is kept (but never the password)
    assert "wrong password" not in response.text


def test_empty_fields_get_field_messages(client):
    page = client.get("/be/staff/login")
    response = client.post("/be/staff/login", data={"email": "", "password": "", "csrf_token": csrf_from(page.text)})
    assert response.status_code == 422
    with use_locale("be"):
        assert gettext("Enter your e-mail address.") in response.text
        assert gettext("Enter your password.") in response.text
    assert 'aria-invalid="true"' in response.text


def test_lockout_through_the_form(client, make_user, login, settings):
    user, password = make_user()
    for _ in range(settings.login_max_failures - 1):
        assert login(user.email, "bad password").status_code == 400
    locked = login(user.email, "bad password", locale="pl")
    assert locked.status_code == 429
    assert str(settings.login_lockout_minutes) in locked.text
    assert login(user.email, password).status_code == 429


def test_post_without_csrf_token_is_refused_in_users_language(client, make_user):
    user, password = make_user()
    client.get("/ru/")  # gets the CSRF cookie, but the form token is left out
    response = client.post("/ru/staff/login", data={"email": user.email, "password": password}, follow_redirects=False)
    assert response.status_code == 403
    with use_locale("ru"):
        assert gettext("Your form has expired or was sent from another site. Go back, reload the page and send it again.") in response.text
    assert "witaj_session" not in response.headers.get("set-cookie", "")


def test_post_with_wrong_or_foreign_token_is_refused(client, make_user):
    user, password = make_user()
    client.get("/en/staff/login")
    wrong = client.post(
        "/en/staff/login", data={"email": user.email, "password": password, "csrf_token": "x" * 43}, follow_redirects=False
    )
    assert wrong.status_code == 403
    # A token with no cookie at all (a forged cross-site post) is refused too.
    client.cookies.clear()
    forged = client.post(
        "/en/staff/login", data={"email": user.email, "password": password, "csrf_token": "y" * 43}, follow_redirects=False
    )
    assert forged.status_code == 403


def test_htmx_header_token_is_accepted(client, make_user):
    user, password = make_user()
    page = client.get("/en/staff/login")
    response = client.post(
        "/en/staff/login",
        data={"email": user.email, "password": "wrong password"},
        headers={"X-CSRF-Token": csrf_from(page.text), "HX-Request": "true"},
    )
    assert response.status_code == 400
    assert "<html" not in response.text  # only the content block comes back for htmx
    assert "not correct" in response.text


def test_logout_needs_csrf_and_ends_the_session(client, make_user, login):
    user, password = make_user()
    login(user.email, password)
    dashboard = client.get("/en/staff/")
    assert client.post("/en/staff/logout", follow_redirects=False).status_code == 403
    assert client.get("/en/staff/", follow_redirects=False).status_code == 200
    out = client.post("/en/staff/logout", data={"csrf_token": csrf_from(dashboard.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/en/staff/", follow_redirects=False).status_code == 303


def test_stolen_cookie_stops_working_after_logout(client, make_user, login):
    user, password = make_user()
    login(user.email, password)
    stolen = client.cookies.get("witaj_session")
    page = client.get("/en/staff/")
    client.post("/en/staff/logout", data={"csrf_token": csrf_from(page.text)})
    client.cookies.set("witaj_session", stolen)
    assert client.get("/en/staff/", follow_redirects=False).status_code == 303
