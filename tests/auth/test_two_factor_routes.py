"""Two-factor sign-in through the real forms, as a browser without JavaScript uses them (issue 11):
password, then a code, then the page asked for; a pending sign-in opens no staff page; a role that
requires a second factor sets one up first; the account page. The clock stands still (time-machine)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from app.auth import service
from app.auth import two_factor as second_factor
from app.auth.enums import Role
from app.auth.models import PendingSignIn, TwoFactor
from app.i18n import gettext, use_locale
from tests.conftest import csrf_from

NOW = datetime(2026, 12, 2, 10, 0, 15, tzinfo=UTC)
SECRET_ON_PAGE = re.compile(r'<code id="two-factor-secret"[^>]*>([A-Z2-7 ]+)</code>')
RECOVERY_CODES = re.compile(r"<li><code>([a-z2-9-]{19})</code></li>")


@pytest.fixture
def settings(settings):
    """The suite's settings with the default roles that require a second factor, whatever the
    environment says."""
    return settings.model_copy(update={"two_factor_roles": ("admin", "supervisor")})


@pytest.fixture
def clock(time_machine):
    """Stop the clock at NOW; return the traveller (shift() moves it on)."""
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def enrolled_user(db, settings, make_user):
    """Return a factory: a user of role whose second factor is confirmed -> (user, password, TOTP)."""

    def factory(role: Role = Role.caseworker):
        user, password = make_user(role)
        earlier = NOW - timedelta(minutes=5)
        two_factor = second_factor.begin_enrolment(db=db, user=user, settings=settings, now=earlier)
        totp = pyotp.TOTP(second_factor.secret_of(two_factor, settings))
        second_factor.confirm_enrolment(
            db=db, user=user, code=totp.at(earlier), address="testclient", settings=settings, now=earlier
        )
        db.commit()
        return user, password, totp

    return factory


def post_form(client, page_url, action, data, locale="en", **kwargs):
    """Post data to action with the CSRF token of page_url, as the page's form does."""
    page = client.get(page_url)
    return client.post(
        action, data={**data, "csrf_token": csrf_from(page.text)}, follow_redirects=False, **kwargs
    )


def sign_in_with_password(client, user, password, locale="en", next_target=None):
    data = {"email": user.email, "password": password}
    if next_target is not None:
        data["next"] = next_target
    return post_form(client, f"/{locale}/staff/login", f"/{locale}/staff/login", data)


def test_password_then_code_then_the_dashboard(client, clock, enrolled_user):
    user, password, totp = enrolled_user()
    response = sign_in_with_password(client, user, password)
    assert response.status_code == 303 and response.headers["location"] == "/en/staff/login/code"
    assert (
        "witaj_pending=" in response.headers["set-cookie"]
        and "witaj_session=" not in response.headers["set-cookie"]
    )
    page = client.get("/en/staff/login/code")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    field = re.search(r'<input id="f-code"[^>]*>', page.text).group(0)
    assert 'autocomplete="one-time-code"' in field and 'inputmode="numeric"' in field
    assert '<label for="f-code">' in page.text
    done = post_form(client, "/en/staff/login/code", "/en/staff/login/code", {"code": totp.at(NOW)})
    assert done.status_code == 303 and done.headers["location"] == "/en/staff/"
    assert "witaj_session=" in done.headers["set-cookie"]
    dashboard = client.get("/en/staff/")
    assert dashboard.status_code == 200 and user.display_name in dashboard.text


def test_a_wrong_code_is_refused_in_the_users_language_and_pauses_like_a_password(
    client, clock, enrolled_user, settings
):
    user, password, totp = enrolled_user()
    sign_in_with_password(client, user, password, locale="uk")
    wrong = post_form(client, "/uk/staff/login/code", "/uk/staff/login/code", {"code": "000000"})
    assert wrong.status_code == 400
    with use_locale("uk"):
        assert gettext(
            "This code is not correct, or it was used already. Enter the code your app shows now."
        ) in (wrong.text.replace("&#39;", "'"))
    assert 'aria-invalid="true"' in wrong.text
    for _ in range(settings.login_max_failures - 2):
        assert (
            post_form(client, "/uk/staff/login/code", "/uk/staff/login/code", {"code": "000000"}).status_code
            == 400
        )
    paused = post_form(client, "/uk/staff/login/code", "/uk/staff/login/code", {"code": "000000"})
    assert paused.status_code == 429
    right = post_form(client, "/uk/staff/login/code", "/uk/staff/login/code", {"code": totp.at(NOW)})
    assert right.status_code == 429  # paused: even the right code waits
    assert client.get("/uk/staff/", follow_redirects=False).status_code == 303
    clock.shift(timedelta(minutes=settings.login_lockout_minutes, seconds=30))
    sign_in_with_password(client, user, password, locale="uk")
    later = NOW + timedelta(minutes=settings.login_lockout_minutes, seconds=30)
    done = post_form(client, "/uk/staff/login/code", "/uk/staff/login/code", {"code": totp.at(later)})
    assert done.status_code == 303 and done.headers["location"] == "/uk/staff/"


def test_a_code_signs_in_once(client, clock, enrolled_user):
    user, password, totp = enrolled_user()
    sign_in_with_password(client, user, password)
    post_form(client, "/en/staff/login/code", "/en/staff/login/code", {"code": totp.at(NOW)})
    client.cookies.clear()
    sign_in_with_password(client, user, password)
    replayed = post_form(client, "/en/staff/login/code", "/en/staff/login/code", {"code": totp.at(NOW)})
    assert replayed.status_code == 400
    assert client.get("/en/staff/", follow_redirects=False).status_code == 303


def test_a_pending_sign_in_opens_no_staff_page(client, clock, db, enrolled_user, settings, make_user):
    user, password, _totp = enrolled_user()
    response = sign_in_with_password(client, user, password)
    assert response.headers["location"] == "/en/staff/login/code"
    for path in ("/en/staff/", "/en/staff/cases/", "/en/staff/account"):
        refused = client.get(path, follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/en/staff/login?"), path
    # Its token is no session token either, whatever cookie carries it.
    pending = client.cookies.get("witaj_pending")
    client.cookies.set("witaj_session", pending)
    assert client.get("/en/staff/", follow_redirects=False).status_code == 303
    # The sign-in form is shown again, not skipped.
    assert client.get("/en/staff/login").status_code == 200
    # A user whose role requires a second factor and who has none is pending too, until it is set up.
    supervisor, supervisor_password = make_user(Role.supervisor)
    client.cookies.clear()
    assert sign_in_with_password(client, supervisor, supervisor_password).headers["location"] == (
        "/en/staff/login/enrol"
    )
    assert client.get("/en/staff/", follow_redirects=False).status_code == 303
    assert client.get("/en/staff/account", follow_redirects=False).status_code == 303


def test_code_pages_without_a_pending_sign_in_go_back_to_sign_in(client, clock, enrolled_user):
    assert client.get("/en/staff/login/code", follow_redirects=False).headers["location"] == "/en/staff/login"
    assert (
        client.get("/en/staff/login/enrol", follow_redirects=False).headers["location"] == "/en/staff/login"
    )
    page = client.get("/en/staff/login")
    posted = client.post(
        "/en/staff/login/code",
        data={"code": "123456", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert posted.status_code == 303 and posted.headers["location"] == "/en/staff/login"
    # An expired pending sign-in is gone too.
    user, password, totp = enrolled_user()
    sign_in_with_password(client, user, password)
    clock.shift(second_factor.PENDING_FOR + timedelta(seconds=1))
    late = post_form(
        client, "/en/staff/login", "/en/staff/login/code", {"code": totp.at(NOW + timedelta(minutes=11))}
    )
    assert late.status_code == 303 and late.headers["location"] == "/en/staff/login"


def test_next_goes_through_the_code_page_and_stays_on_this_site(client, clock, enrolled_user):
    user, password, totp = enrolled_user()
    response = sign_in_with_password(client, user, password, locale="pl", next_target="/pl/staff/cases/")
    assert response.headers["location"] == "/pl/staff/login/code?next=%2Fpl%2Fstaff%2Fcases%2F"
    page = client.get(response.headers["location"])
    assert 'name="next" value="/pl/staff/cases/"' in page.text
    done = client.post(
        "/pl/staff/login/code",
        data={"code": totp.at(NOW), "next": "/pl/staff/cases/", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/pl/staff/cases/"
    client.cookies.clear()
    hostile = sign_in_with_password(client, user, password, locale="pl", next_target="//evil.example/")
    assert hostile.headers["location"] == "/pl/staff/login/code"
    page = client.get(hostile.headers["location"])
    later = NOW + timedelta(seconds=30)
    clock.shift(timedelta(seconds=30))
    done = client.post(
        "/pl/staff/login/code",
        data={"code": totp.at(later), "next": "/\t/evil.example/", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/pl/staff/"


def test_with_htmx_the_whole_page_moves_on(client, clock, enrolled_user):
    user, password, totp = enrolled_user()
    page = client.get("/en/staff/login")
    token = csrf_from(page.text)
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    response = client.post(
        "/en/staff/login",
        data={"email": user.email, "password": password},
        headers=headers,
        follow_redirects=False,
    )
    assert response.status_code == 204 and response.headers["hx-redirect"] == "/en/staff/login/code"
    wrong = client.post("/en/staff/login/code", data={"code": "111111"}, headers=headers)
    assert wrong.status_code == 400 and "<html" not in wrong.text and 'id="two-factor"' in wrong.text
    done = client.post("/en/staff/login/code", data={"code": totp.at(NOW)}, headers=headers)
    assert done.status_code == 204 and done.headers["hx-redirect"] == "/en/staff/"


def test_every_post_needs_the_csrf_token(client, clock, enrolled_user):
    user, password, totp = enrolled_user()
    sign_in_with_password(client, user, password)
    refused = client.post("/en/staff/login/code", data={"code": totp.at(NOW)}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/en/staff/", follow_redirects=False).status_code == 303


def test_a_recovery_code_signs_in_once(client, clock, db, enrolled_user):
    user, password, _totp = enrolled_user()
    codes = second_factor.regenerate_recovery_codes(db=db, user=user)
    db.commit()
    sign_in_with_password(client, user, password)
    page = client.get("/en/staff/login/code?use=recovery")
    field = re.search(r'<input id="f-code"[^>]*>', page.text).group(0)
    assert 'inputmode="numeric"' not in field  # recovery codes have letters
    done = client.post(
        "/en/staff/login/code",
        data={"code": codes[0], "use": "recovery", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/en/staff/"
    client.cookies.clear()
    sign_in_with_password(client, user, password)
    again = post_form(client, "/en/staff/login/code?use=recovery", "/en/staff/login/code", {"code": codes[0]})
    assert again.status_code == 400


def test_a_role_that_requires_it_sets_it_up_after_the_password(client, clock, db, make_user):
    user, password = make_user(Role.supervisor)
    response = sign_in_with_password(client, user, password, next_target="/en/staff/cases/")
    assert response.status_code == 303
    assert response.headers["location"] == "/en/staff/login/enrol?next=%2Fen%2Fstaff%2Fcases%2F"
    page = client.get(response.headers["location"])
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    secret = SECRET_ON_PAGE.search(page.text).group(1).replace(" ", "")
    assert "<svg" in page.text and 'role="img"' in page.text  # the QR code, inline
    assert "<script" not in page.text.split("</head>", 1)[1]  # no inline script under the CSP
    stored = db.get(TwoFactor, user.id)
    assert secret not in stored.secret_encrypted and stored.confirmed_at is None
    totp = pyotp.TOTP(secret)
    wrong = client.post(
        "/en/staff/login/enrol",
        data={"code": "000000", "next": "/en/staff/cases/", "csrf_token": csrf_from(page.text)},
    )
    assert wrong.status_code == 400 and SECRET_ON_PAGE.search(wrong.text).group(1).replace(" ", "") == secret
    assert client.get("/en/staff/", follow_redirects=False).status_code == 303
    confirmed = client.post(
        "/en/staff/login/enrol",
        data={"code": totp.at(NOW), "next": "/en/staff/cases/", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert confirmed.status_code == 200 and confirmed.headers["cache-control"] == "no-store"
    codes = RECOVERY_CODES.findall(confirmed.text)
    assert len(codes) == 10
    assert 'href="/en/staff/cases/"' in confirmed.text
    assert "witaj_session=" in confirmed.headers["set-cookie"]
    assert client.get("/en/staff/").status_code == 200
    assert db.scalar(select(PendingSignIn.id).where(PendingSignIn.user_id == user.id)) is None
    # Next time: password and a code.
    client.cookies.clear()
    clock.shift(timedelta(minutes=1))
    again = sign_in_with_password(client, user, password)
    assert again.headers["location"] == "/en/staff/login/code"
    later = NOW + timedelta(minutes=1)
    done = post_form(client, "/en/staff/login/code", "/en/staff/login/code", {"code": totp.at(later)})
    assert done.headers["location"] == "/en/staff/"
    client.cookies.clear()
    assert sign_in_with_password(client, user, password).headers["location"] == "/en/staff/login/code"
    done = post_form(client, "/en/staff/login/code", "/en/staff/login/code", {"code": codes[0]})
    assert done.headers["location"] == "/en/staff/"


def test_which_roles_must_use_it_is_configurable(app, client, clock, make_user, settings):
    supervisor, password = make_user(Role.supervisor)
    caseworker, caseworker_password = make_user(Role.caseworker)
    app.state.settings = settings.model_copy(update={"two_factor_roles": ("caseworker",)})
    assert sign_in_with_password(client, supervisor, password).headers["location"] == "/en/staff/"
    client.cookies.clear()
    assert sign_in_with_password(client, caseworker, caseworker_password).headers["location"] == (
        "/en/staff/login/enrol"
    )


def test_cancel_sign_in_ends_the_pending_sign_in(client, clock, db, enrolled_user):
    user, password, totp = enrolled_user()
    sign_in_with_password(client, user, password)
    pending = client.cookies.get("witaj_pending")
    cancelled = post_form(client, "/en/staff/login/code", "/en/staff/logout", {})
    assert cancelled.headers["location"] == "/en/staff/login"
    assert second_factor.pending(db=db, token=pending) is None
    client.cookies.set("witaj_pending", pending)
    late = post_form(client, "/en/staff/login", "/en/staff/login/code", {"code": totp.at(NOW)})
    assert late.headers["location"] == "/en/staff/login"


# --- the account page -------------------------------------------------------------------------------


def signed_in(client, db, settings, user):
    """Sign user in with a session made by the service (for pages behind the sign-in)."""
    token = service.start_session(db=db, user=user, settings=settings)
    db.commit()
    client.cookies.set("witaj_session", token)
    return client


def test_the_dashboard_links_to_the_account_page(client, db, settings, make_user):
    user, _ = make_user(Role.caseworker)
    dashboard = signed_in(client, db, settings, user).get("/en/staff/")
    assert 'href="/en/staff/account"' in dashboard.text


def test_turn_it_on_from_the_account_page_regenerate_codes_and_turn_it_off(
    client, clock, db, settings, make_user
):
    user, _ = make_user(Role.caseworker)
    signed_in(client, db, settings, user)
    page = client.get("/pl/staff/account")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    with use_locale("pl"):
        assert gettext("Off: you sign in with your password only.") in page.text
    started = post_form(client, "/pl/staff/account", "/pl/staff/account/two-factor/start", {})
    assert started.headers["location"] == "/pl/staff/account/two-factor"
    enrol = client.get("/pl/staff/account/two-factor")
    totp = pyotp.TOTP(SECRET_ON_PAGE.search(enrol.text).group(1).replace(" ", ""))
    confirmed = client.post(
        "/pl/staff/account/two-factor", data={"code": totp.at(NOW), "csrf_token": csrf_from(enrol.text)}
    )
    codes = RECOVERY_CODES.findall(confirmed.text)
    assert confirmed.status_code == 200 and len(codes) == 10 and 'href="/pl/staff/account"' in confirmed.text
    assert second_factor.enabled(db=db, user=user)
    # One recovery code used: the page says how many are left.
    second_factor.verify(db=db, user=user, code=codes[0], address="elsewhere", settings=settings)
    db.commit()
    page = client.get("/pl/staff/account")
    with use_locale("pl"):
        assert gettext("Recovery codes left: %(num)s of %(total)s.") % {"num": 9, "total": 10} in page.text
    # New codes need a code of the second factor; the old ones stop working.
    refused = post_form(client, "/pl/staff/account", "/pl/staff/account/recovery-codes", {"code": "000000"})
    assert refused.status_code == 400 and second_factor.recovery_codes_left(db=db, user=user) == 9
    clock.shift(timedelta(seconds=30))
    fresh = post_form(
        client,
        "/pl/staff/account",
        "/pl/staff/account/recovery-codes",
        {"code": totp.at(NOW + timedelta(seconds=30))},
    )
    new_codes = RECOVERY_CODES.findall(fresh.text)
    assert fresh.status_code == 200 and len(new_codes) == 10 and not set(new_codes) & set(codes)
    assert second_factor.recovery_codes_left(db=db, user=user) == 10
    # Turning it off needs a code too.
    clock.shift(timedelta(seconds=30))
    off = post_form(
        client,
        "/pl/staff/account",
        "/pl/staff/account/two-factor/off",
        {"code": totp.at(NOW + timedelta(seconds=60))},
    )
    assert off.status_code == 303 and off.headers["location"] == "/pl/staff/account"
    assert not second_factor.enabled(db=db, user=user)


def test_turning_it_off_is_refused_when_the_role_requires_it(client, clock, db, settings, enrolled_user):
    user, _password, totp = enrolled_user(Role.admin)
    signed_in(client, db, settings, user)
    page = client.get("/en/staff/account")
    assert "/en/staff/account/two-factor/off" not in page.text
    assert "Your role requires two-factor sign-in, so it cannot be turned off." in page.text
    refused = post_form(
        client, "/en/staff/account", "/en/staff/account/two-factor/off", {"code": totp.at(NOW)}
    )
    assert refused.status_code == 409
    assert second_factor.enabled(db=db, user=user)


def test_the_account_page_can_cancel_a_setup_it_began(client, clock, db, settings, make_user):
    user, _ = make_user(Role.caseworker)
    signed_in(client, db, settings, user)
    post_form(client, "/en/staff/account", "/en/staff/account/two-factor/start", {})
    assert db.get(TwoFactor, user.id) is not None
    cancelled = post_form(client, "/en/staff/account/two-factor", "/en/staff/account/two-factor/cancel", {})
    assert cancelled.headers["location"] == "/en/staff/account"
    db.expire_all()
    assert db.get(TwoFactor, user.id) is None


def test_once_set_up_its_secret_is_never_shown_again(app, client, clock, make_user):
    from fastapi.testclient import TestClient

    user, password = make_user(Role.supervisor)
    with TestClient(app, base_url="http://testserver") as elsewhere:
        sign_in_with_password(elsewhere, user, password)  # the same password, in another browser
        assert elsewhere.get("/en/staff/login/enrol").status_code == 200
        sign_in_with_password(client, user, password)
        page = client.get("/en/staff/login/enrol")
        secret = SECRET_ON_PAGE.search(page.text).group(1).replace(" ", "")
        client.post(
            "/en/staff/login/enrol",
            data={"code": pyotp.TOTP(secret).at(NOW), "csrf_token": csrf_from(page.text)},
        )
        assert client.get("/en/staff/").status_code == 200
        late = elsewhere.get("/en/staff/login/enrol", follow_redirects=False)
        assert late.status_code == 303 and late.headers["location"] == "/en/staff/login"
        assert secret not in elsewhere.get("/en/staff/login").text
        # There, the password now leads to the code.
        assert sign_in_with_password(elsewhere, user, password).headers["location"] == "/en/staff/login/code"
