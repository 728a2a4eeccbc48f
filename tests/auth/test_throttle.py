"""Sign-in throttling (issue 11, item 9): the answers never tell which accounts exist, and failures
pause sign-in only for the e-mail address from the address that failed (and an address that tries
many accounts), so nobody can lock a staff member out by typing wrong passwords from elsewhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.auth import service
from app.auth.exceptions import AccountLocked, LoginFailed
from app.auth.models import LoginThrottle
from app.db import utcnow
from tests.conftest import csrf_from

ATTACKER = "203.0.113.66"
OFFICE = "198.51.100.10"


def attempt(db, settings, email, password, address, now):
    """Return the outcome of one sign-in: "ok", "failed" or the paused minutes."""
    try:
        service.authenticate(
            db=db, email=email, password=password, address=address, settings=settings, now=now
        )
    except AccountLocked as exc:
        return exc.minutes
    except LoginFailed:
        return "failed"
    return "ok"


def test_unknown_and_known_email_addresses_get_the_same_answers(db, settings, make_user):
    user, _ = make_user()
    now = utcnow()
    tries = settings.login_max_failures + 2
    known = [attempt(db, settings, user.email, "wrong password", ATTACKER, now) for _ in range(tries)]
    unknown = [
        attempt(db, settings, "nobody@example.org", "wrong password", ATTACKER, now) for _ in range(tries)
    ]
    assert known == unknown
    assert known[-1] == settings.login_lockout_minutes  # the unknown one is paused too


def test_failures_from_one_address_never_lock_the_user_out_elsewhere(db, settings, make_user):
    user, password = make_user()
    now = utcnow()
    for _ in range(settings.login_max_failures * 3):
        attempt(db, settings, user.email, "wrong password", ATTACKER, now)
    assert attempt(db, settings, user.email, password, ATTACKER, now) == settings.login_lockout_minutes
    assert attempt(db, settings, user.email, password, OFFICE, now) == "ok"


def test_each_further_pause_is_twice_as_long_and_sign_in_starts_afresh(db, settings, make_user):
    user, password = make_user()
    now = utcnow()
    pauses = []
    for _ in range(3):
        outcomes = [
            attempt(db, settings, user.email, "wrong password", ATTACKER, now)
            for _ in range(settings.login_max_failures)
        ]
        assert outcomes[:-1] == ["failed"] * (settings.login_max_failures - 1)
        pauses.append(outcomes[-1])
        assert (
            attempt(db, settings, user.email, password, ATTACKER, now) == outcomes[-1]
        )  # even the right password
        now += timedelta(minutes=outcomes[-1], seconds=1)
    minutes = settings.login_lockout_minutes
    assert pauses == [minutes, 2 * minutes, 4 * minutes]
    assert attempt(db, settings, user.email, password, ATTACKER, now) == "ok"
    # A success from there starts this e-mail's count again, pauses included.
    outcomes = [
        attempt(db, settings, user.email, "wrong password", ATTACKER, now)
        for _ in range(settings.login_max_failures)
    ]
    assert outcomes[-1] == minutes


def test_one_address_trying_many_accounts_is_paused(db, settings, make_user):
    user, password = make_user()
    now = utcnow()
    limit = settings.login_max_failures * service.ADDRESS_FAILURE_FACTOR
    outcomes = [
        attempt(db, settings, f"guess{n}@example.org", "password1", ATTACKER, now) for n in range(limit)
    ]
    assert outcomes[:-1] == ["failed"] * (limit - 1) and outcomes[-1] == settings.login_lockout_minutes
    assert attempt(db, settings, user.email, password, ATTACKER, now) == settings.login_lockout_minutes
    assert attempt(db, settings, user.email, password, OFFICE, now) == "ok"


def test_an_addresss_failures_fade_after_a_quiet_spell(db, settings, make_user):
    """An office behind one address makes typing mistakes all day long without ever being paused."""
    user, password = make_user()
    now = utcnow()
    limit = settings.login_max_failures * service.ADDRESS_FAILURE_FACTOR
    for n in range(limit * 2):
        assert attempt(db, settings, f"typo{n}@example.org", "password1", OFFICE, now) == "failed"
        if n % (limit // 2) == 0:
            now += timedelta(minutes=settings.login_lockout_minutes, seconds=1)
    assert attempt(db, settings, user.email, password, OFFICE, now) == "ok"


def test_throttles_are_forgotten_a_day_after_their_last_failure(db, settings, make_user):
    now = utcnow()
    attempt(db, settings, "someone@example.org", "password1", ATTACKER, now)
    assert db.scalar(select(func.count()).select_from(LoginThrottle)) == 2  # the e-mail from there, and there
    attempt(
        db,
        settings,
        "other@example.org",
        "password1",
        OFFICE,
        now + service.FORGET_AFTER + timedelta(minutes=1),
    )
    assert db.scalar(select(func.count()).select_from(LoginThrottle)) == 2  # only the new ones


def test_nothing_of_the_email_or_address_is_stored(db, settings):
    attempt(db, settings, "someone@example.org", "password1", ATTACKER, utcnow())
    for key in db.scalars(select(LoginThrottle.key)):
        assert "someone" not in key and ATTACKER not in key and len(key) == 64


# --- through the sign-in form -------------------------------------------------------------------------


def _sign_in(client, email, password, locale="en"):
    page = client.get(f"/{locale}/staff/login")
    return client.post(
        f"/{locale}/staff/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )


def test_the_form_pauses_an_unknown_email_like_a_known_one(client, make_user, settings):
    user, _ = make_user()
    for email in (user.email, "nobody@example.org"):
        statuses = [
            _sign_in(client, email, "wrong password").status_code for _ in range(settings.login_max_failures)
        ]
        assert statuses == [400] * (settings.login_max_failures - 1) + [429]
    known, unknown = (
        _sign_in(client, email, "wrong password", locale="pl") for email in (user.email, "nobody@example.org")
    )
    assert known.status_code == unknown.status_code == 429
    assert known.text.replace(user.email, "EMAIL") == unknown.text.replace("nobody@example.org", "EMAIL")


def test_the_form_pause_holds_only_where_the_failures_came_from(app, make_user, settings):
    user, password = make_user()
    with TestClient(app, client=(ATTACKER, 40000)) as attacker:
        for _ in range(settings.login_max_failures):
            _sign_in(attacker, user.email, "wrong password")
        assert _sign_in(attacker, user.email, password).status_code == 429
    with TestClient(app, client=(OFFICE, 40000)) as office:
        signed_in = _sign_in(office, user.email, password)
    assert signed_in.status_code == 303 and "witaj_session=" in signed_in.headers["set-cookie"]


def test_the_form_commits_each_failed_attempt(client, db, make_user):
    user, _ = make_user()
    assert _sign_in(client, user.email, "wrong password").status_code == 400
    db.rollback()  # whatever the request left uncommitted is gone now
    assert db.scalar(select(func.count()).select_from(LoginThrottle)) == 2


@pytest.mark.parametrize("email", ["nobody@example.org", "user-known"])
def test_the_form_never_says_locked_before_the_limit(client, make_user, settings, email):
    user, _ = make_user()
    email = user.email if email == "user-known" else email
    response = _sign_in(client, email, "wrong password")
    assert response.status_code == 400 and "not correct" in response.text
