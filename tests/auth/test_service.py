"""Accounts and sessions against a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth import service
from app.auth.enums import OrgKind, Role
from app.auth.exceptions import AccountLocked, LoginFailed
from app.auth.models import User, UserSession
from app.db import utcnow
from app.errors import InvalidInput

HERE = "198.51.100.7"  # the client address of these sign-ins (a documentation range)


def test_passwords_are_hashed_with_argon2(make_user):
    user, password = make_user()
    assert user.password_hash.startswith("$argon2id$")
    assert password not in user.password_hash
    assert service.verify_password(user.password_hash, password)
    assert not service.verify_password(user.password_hash, password + "x")


def test_production_hashes_with_argon2s_default_only_tests_with_its_cheapest(db, settings, make_user):
    """Real passwords get argon2-cffi's default (RFC 9106, low memory); the suite's cheap profile, which
    keeps it fast, is used only where WITAJ_ENVIRONMENT=test, and a stored hash made with other
    parameters is rehashed with the current ones at the next sign-in."""
    from argon2 import PasswordHasher, extract_parameters, profiles

    for environment in ("production", "development"):
        hashed = service.password_hasher(environment).hash("correct horse battery")
        assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), environment
        assert extract_parameters(hashed) == profiles.RFC_9106_LOW_MEMORY
        assert not PasswordHasher().check_needs_rehash(hashed)  # the library's default, exactly
    assert settings.environment == "test"
    assert extract_parameters(service.hash_password("correct horse battery")) == profiles.CHEAPEST

    user, password = make_user()
    user.password_hash = service.password_hasher("production").hash(password)
    db.commit()
    assert service.verify_password(user.password_hash, password)
    service.authenticate(db=db, email=user.email, password=password, address=HERE, settings=settings)
    assert extract_parameters(user.password_hash) == profiles.CHEAPEST
    assert service.verify_password(user.password_hash, password)


def test_create_user_validates_every_field(db, make_org, make_user):
    office = make_org(OrgKind.office)
    existing, _ = make_user(org=office)
    with pytest.raises(InvalidInput) as caught:
        service.create_user(
            db=db, email=existing.email.upper(), display_name=" ", password="short", role=Role.partner_staff, organisation=office
        )
    assert set(caught.value.field_errors) == {"email", "display_name", "password", "role"}
    with pytest.raises(InvalidInput) as caught:
        service.create_user(db=db, email="not-an-email", display_name="X", password="long enough pw", role=Role.caseworker, organisation=office)
    assert set(caught.value.field_errors) == {"email"}


def test_authenticate_normalises_email_and_records_login(db, settings, make_user):
    user, password = make_user()
    found = service.authenticate(db=db, email=f"  {user.email.upper()} ", password=password, address=HERE, settings=settings)
    assert found.id == user.id and found.last_login_at is not None


def test_unknown_email_and_wrong_password_fail_alike(db, settings, make_user):
    user, _ = make_user()
    with pytest.raises(LoginFailed):
        service.authenticate(db=db, email="nobody@example.org", password="whatever", address=HERE, settings=settings)
    with pytest.raises(LoginFailed):
        service.authenticate(db=db, email=user.email, password="wrong password", address=HERE, settings=settings)


def test_pause_after_repeated_failures_then_release(db, settings, make_user):
    user, password = make_user()
    now = utcnow()
    for _attempt in range(settings.login_max_failures - 1):
        with pytest.raises(LoginFailed):
            service.authenticate(db=db, email=user.email, password="nope nope", address=HERE, settings=settings, now=now)
    with pytest.raises(AccountLocked) as locked:
        service.authenticate(db=db, email=user.email, password="nope nope", address=HERE, settings=settings, now=now)
    assert locked.value.minutes == settings.login_lockout_minutes
    # Even the right password is refused from there while paused.
    with pytest.raises(AccountLocked):
        service.authenticate(db=db, email=user.email, password=password, address=HERE, settings=settings, now=now + timedelta(minutes=1))
    later = now + timedelta(minutes=settings.login_lockout_minutes, seconds=1)
    assert service.authenticate(db=db, email=user.email, password=password, address=HERE, settings=settings, now=later).id == user.id


def test_inactive_user_cannot_sign_in(db, settings, make_user):
    user, password = make_user()
    user.is_active = False
    db.commit()
    with pytest.raises(LoginFailed):
        service.authenticate(db=db, email=user.email, password=password, address=HERE, settings=settings)


def test_session_tokens_are_stored_hashed_and_expire(db, settings, make_user):
    user, _ = make_user()
    now = utcnow()
    token = service.start_session(db=db, user=user, settings=settings, now=now)
    stored = db.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert stored.token_hash != token and len(stored.token_hash) == 64
    assert service.session_user(db=db, token=token, settings=settings, now=now + timedelta(minutes=5)).id == user.id
    idle = timedelta(minutes=settings.session_idle_minutes, seconds=1)
    assert service.session_user(db=db, token=token, settings=settings, now=now + timedelta(minutes=5) + idle) is None
    assert service.session_user(db=db, token="forged", settings=settings, now=now) is None


def test_session_has_an_absolute_lifetime(db, settings, make_user):
    user, _ = make_user()
    start = utcnow()
    token = service.start_session(db=db, user=user, settings=settings, now=start)
    moment = start
    # Stay active (every hour) until past the absolute lifetime.
    for _hour in range(settings.session_max_hours - 1):
        moment += timedelta(hours=1)
        assert service.session_user(db=db, token=token, settings=settings, now=moment) is not None
        service.touch_session(db=db, token=token, now=moment)  # what each request's dependency does
    moment = start + timedelta(hours=settings.session_max_hours)
    assert service.session_user(db=db, token=token, settings=settings, now=moment) is None


def test_end_session_revokes(db, settings, make_user):
    user, _ = make_user()
    token = service.start_session(db=db, user=user, settings=settings)
    service.end_session(db=db, token=token)
    assert service.session_user(db=db, token=token, settings=settings) is None


def test_timestamps_are_timezone_aware_after_a_round_trip(db, make_user):
    user, _ = make_user()
    db.expire_all()
    again = db.get(User, user.id)
    assert again.created_at.tzinfo is not None and again.created_at.utcoffset() == timedelta(0)
