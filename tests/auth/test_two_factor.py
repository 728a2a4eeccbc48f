"""The second factor's service (issue 11): TOTP with the secret encrypted at rest, each time step
accepted once, single-use recovery codes stored hashed, throttled wrong codes, the roles that
require it, and pending sign-ins that are never sessions. Time is passed as `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from app.auth import service
from app.auth import two_factor as second_factor
from app.auth.enums import PendingStep, Role
from app.auth.exceptions import AccountLocked, AlreadyEnrolled, SecondFactorRequired, WrongCode
from app.auth.models import RecoveryCode, TwoFactor
from app.config import STAFF_ROLES

NOW = datetime(2026, 12, 2, 10, 0, 15, tzinfo=UTC)  # 15 s into a 30-second step
OFFICE = "198.51.100.10"
ELSEWHERE = "203.0.113.7"


@pytest.fixture
def settings(settings):
    """The suite's settings with the default roles that require a second factor, whatever the
    environment says."""
    return settings.model_copy(update={"two_factor_roles": ("admin", "supervisor")})


def enrolled(db, settings, user, now=NOW):
    """Set up and confirm user's second factor; return (secret, recovery codes)."""
    two_factor = second_factor.begin_enrolment(
        db=db, user=user, settings=settings, now=now - timedelta(minutes=1)
    )
    secret = second_factor.secret_of(two_factor, settings)
    code = pyotp.TOTP(secret).at(now - timedelta(minutes=1))
    codes = second_factor.confirm_enrolment(
        db=db, user=user, code=code, address=OFFICE, settings=settings, now=now - timedelta(minutes=1)
    )
    return secret, codes


def verify(db, settings, user, code, now=NOW, address=OFFICE):
    """Return the kind of code accepted, "wrong", or the minutes of a pause."""
    try:
        return second_factor.verify(db=db, user=user, code=code, address=address, settings=settings, now=now)
    except WrongCode:
        return "wrong"
    except AccountLocked as exc:
        return exc.minutes


def test_the_secret_is_random_encrypted_at_rest_and_kept_until_confirmed(db, settings, make_user):
    user, _ = make_user()
    other, _ = make_user()
    two_factor = second_factor.begin_enrolment(db=db, user=user, settings=settings, now=NOW)
    secret = second_factor.secret_of(two_factor, settings)
    assert len(secret) == 32 and secret.isalnum()  # base32, 160 bits
    assert secret not in two_factor.secret_encrypted
    assert two_factor.confirmed_at is None and not second_factor.enabled(db=db, user=user)
    # A reload of the page shows the same secret; another user gets another one.
    again = second_factor.begin_enrolment(db=db, user=user, settings=settings, now=NOW)
    assert second_factor.secret_of(again, settings) == secret
    theirs = second_factor.begin_enrolment(db=db, user=other, settings=settings, now=NOW)
    assert second_factor.secret_of(theirs, settings) != secret
    uri = second_factor.provisioning_uri(user=user, secret=secret, settings=settings)
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri and "issuer=Witaj" in uri
    svg = second_factor.qr_svg(uri)
    assert svg.startswith("<svg") and "<script" not in svg and "style=" not in svg


def test_a_first_code_confirms_the_second_factor_and_gives_ten_recovery_codes(db, settings, make_user):
    user, _ = make_user()
    two_factor = second_factor.begin_enrolment(db=db, user=user, settings=settings, now=NOW)
    totp = pyotp.TOTP(second_factor.secret_of(two_factor, settings))
    with pytest.raises(WrongCode):
        second_factor.confirm_enrolment(
            db=db,
            user=user,
            code=totp.at(NOW - timedelta(minutes=5)),
            address=OFFICE,
            settings=settings,
            now=NOW,
        )
    assert not second_factor.enabled(db=db, user=user)
    codes = second_factor.confirm_enrolment(
        db=db, user=user, code=totp.at(NOW), address=OFFICE, settings=settings, now=NOW
    )
    assert second_factor.enabled(db=db, user=user) and two_factor.confirmed_at == NOW
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert len(stored) == 10 and not set(codes) & set(stored)  # only hashes are kept
    assert second_factor.recovery_codes_left(db=db, user=user) == 10
    with pytest.raises(AlreadyEnrolled):
        second_factor.begin_enrolment(db=db, user=user, settings=settings, now=NOW)
    # The code that confirmed it cannot sign in too.
    assert verify(db, settings, user, totp.at(NOW)) == "wrong"


def test_codes_of_the_neighbouring_steps_count_and_older_or_later_ones_do_not(db, settings, make_user):
    user, _ = make_user()
    secret, _codes = enrolled(db, settings, user)
    totp = pyotp.TOTP(secret)
    assert verify(db, settings, user, totp.at(NOW, counter_offset=-2)) == "wrong"
    assert verify(db, settings, user, totp.at(NOW, counter_offset=2)) == "wrong"
    assert verify(db, settings, user, totp.at(NOW, counter_offset=-1)) == "totp"  # the phone is a little slow
    later = NOW + timedelta(minutes=2)
    assert verify(db, settings, user, totp.at(later, counter_offset=1), now=later) == "totp"  # a little fast
    minute_on = later + timedelta(seconds=60)
    typed = totp.at(minute_on)
    assert verify(db, settings, user, f" {typed[:3]} {typed[3:]} ", now=minute_on) == "totp"  # with spaces


def test_a_code_is_accepted_once_and_never_after_a_later_one(db, settings, make_user):
    user, _ = make_user()
    secret, _codes = enrolled(db, settings, user)
    totp = pyotp.TOTP(secret)
    code = totp.at(NOW)
    assert verify(db, settings, user, code) == "totp"
    assert verify(db, settings, user, code) == "wrong"  # replayed at once
    assert verify(db, settings, user, code, now=NOW + timedelta(seconds=20)) == "wrong"  # still in its window
    assert db.get(TwoFactor, user.id).last_used_step == totp.timecode(NOW)
    # A later step's code is accepted; then an earlier step's, still in the window, is not.
    assert (
        verify(db, settings, user, totp.at(NOW, counter_offset=1), now=NOW + timedelta(seconds=5)) == "totp"
    )
    assert (
        verify(db, settings, user, totp.at(NOW, counter_offset=-1), now=NOW + timedelta(seconds=5)) == "wrong"
    )


def test_recovery_codes_work_once_each_and_new_ones_replace_the_old(db, settings, make_user):
    user, _ = make_user()
    _secret, codes = enrolled(db, settings, user)
    assert verify(db, settings, user, codes[0]) == "recovery"
    assert verify(db, settings, user, codes[0]) == "wrong"
    assert (
        verify(db, settings, user, "  " + codes[1].upper().replace("-", " ") + " ") == "recovery"
    )  # as typed
    assert second_factor.recovery_codes_left(db=db, user=user) == 8
    other, _ = make_user()
    _other_secret, other_codes = enrolled(db, settings, other)
    assert verify(db, settings, user, other_codes[0]) == "wrong"  # another user's code
    fresh = second_factor.regenerate_recovery_codes(db=db, user=user, now=NOW)
    assert second_factor.recovery_codes_left(db=db, user=user) == 10
    assert verify(db, settings, user, codes[2]) == "wrong"  # the old ones stopped working
    assert verify(db, settings, user, fresh[0]) == "recovery"


def test_wrong_codes_pause_the_user_at_that_address_and_a_right_password_does_not_reset_them(
    db, settings, make_user
):
    user, password = make_user()
    secret, _codes = enrolled(db, settings, user)
    totp = pyotp.TOTP(secret)
    answers = [verify(db, settings, user, "000000") for _ in range(settings.login_max_failures)]
    assert answers[:-1] == ["wrong"] * (settings.login_max_failures - 1)
    assert answers[-1] == settings.login_lockout_minutes
    # The right password again (the pending sign-in starts over) does not start the count again...
    service.authenticate(
        db=db, email=user.email, password=password, address=OFFICE, settings=settings, now=NOW
    )
    assert verify(db, settings, user, totp.at(NOW)) == settings.login_lockout_minutes  # even a right code
    # ...and the user is not locked out from elsewhere.
    assert verify(db, settings, user, totp.at(NOW), address=ELSEWHERE) == "totp"
    after = NOW + timedelta(minutes=settings.login_lockout_minutes, seconds=1)
    assert verify(db, settings, user, totp.at(after), now=after) == "totp"


def test_the_roles_that_require_a_second_factor(db, settings, make_user):
    caseworker, _ = make_user(Role.caseworker)
    supervisor, _ = make_user(Role.supervisor)
    admin, _ = make_user(Role.admin)
    partner, _ = make_user(Role.partner_admin)
    assert second_factor.step_after_password(db=db, user=caseworker, settings=settings) is None
    assert second_factor.step_after_password(db=db, user=partner, settings=settings) is None
    assert second_factor.step_after_password(db=db, user=supervisor, settings=settings) is PendingStep.enrol
    assert second_factor.step_after_password(db=db, user=admin, settings=settings) is PendingStep.enrol
    enrolled(db, settings, caseworker)
    assert second_factor.step_after_password(db=db, user=caseworker, settings=settings) is PendingStep.code
    nobody = settings.model_copy(update={"two_factor_roles": ()})
    assert second_factor.step_after_password(db=db, user=admin, settings=nobody) is None
    partners = settings.model_copy(update={"two_factor_roles": ("partner_admin",)})
    assert second_factor.step_after_password(db=db, user=partner, settings=partners) is PendingStep.enrol
    assert set(STAFF_ROLES) == {role.value for role in Role}  # the settings know every role


def test_turning_off_is_refused_when_the_role_requires_it(db, settings, make_user):
    supervisor, _ = make_user(Role.supervisor)
    enrolled(db, settings, supervisor)
    with pytest.raises(SecondFactorRequired):
        second_factor.turn_off(db=db, user=supervisor, settings=settings)
    assert second_factor.enabled(db=db, user=supervisor)
    caseworker, _ = make_user(Role.caseworker)
    enrolled(db, settings, caseworker)
    second_factor.turn_off(db=db, user=caseworker, settings=settings)
    assert not second_factor.enabled(db=db, user=caseworker)
    assert second_factor.recovery_codes_left(db=db, user=caseworker) == 0
    assert second_factor.step_after_password(db=db, user=caseworker, settings=settings) is None


def test_a_pending_sign_in_is_no_session_and_expires(db, settings, make_user):
    user, _ = make_user()
    token = second_factor.start_pending(db=db, user=user, step=PendingStep.code, now=NOW)
    assert second_factor.pending(db=db, token=token, now=NOW + timedelta(minutes=9)).user_id == user.id
    assert second_factor.pending(db=db, token=token, now=NOW + timedelta(minutes=10)) is None
    assert service.session_user(db=db, token=token, settings=settings, now=NOW) is None
    assert second_factor.pending(db=db, token="not-a-token", now=NOW) is None  # noqa: S106
    second_factor.end_pending(db=db, token=token)
    assert second_factor.pending(db=db, token=token, now=NOW) is None


def test_reset_removes_the_second_factor_and_ends_the_users_sessions(db, settings, make_user):
    user, _ = make_user(Role.supervisor)
    enrolled(db, settings, user)
    session_token = service.start_session(db=db, user=user, settings=settings, now=NOW)
    pending_token = second_factor.start_pending(db=db, user=user, step=PendingStep.code, now=NOW)
    assert second_factor.reset(db=db, user=user, now=NOW) is True
    assert not second_factor.enabled(db=db, user=user)
    assert second_factor.recovery_codes_left(db=db, user=user) == 0
    assert service.session_user(db=db, token=session_token, settings=settings, now=NOW) is None
    assert second_factor.pending(db=db, token=pending_token, now=NOW) is None
    assert second_factor.step_after_password(db=db, user=user, settings=settings) is PendingStep.enrol
    assert second_factor.reset(db=db, user=user, now=NOW) is False
