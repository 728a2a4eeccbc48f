"""The second factor of staff sign-in: TOTP (RFC 6238: 30-second steps, 6 digits, as authenticator apps
use it) with the secret encrypted at rest, single-use recovery codes stored hashed, and the pending
sign-in between a right password and the second factor. Services only flush; routes commit."""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime, timedelta

import pyotp
import segno
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.enums import PendingStep
from app.auth.exceptions import AlreadyEnrolled, SecondFactorRequired, WrongCode
from app.auth.models import PendingSignIn, RecoveryCode, TwoFactor, User, UserSession
from app.config import Settings
from app.crypto import decrypt_json, encrypt_json, hash_secret
from app.db import utcnow

#: Codes of the step before and after the current one are accepted too (a phone's clock a little off,
#: a code typed as it changed): three codes in a million at any time, each accepted once.
VALID_WINDOW = 1
#: How many recovery codes a user gets; each signs in once.
RECOVERY_CODE_COUNT = 10
#: Recovery codes are 16 characters (about 79 bits: SHA-256 suffices, as for API tokens), in groups
#: of four, from an alphabet without look-alikes (no 0/o, 1/l/i).
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_GROUPS = 4
#: How long a pending sign-in (password right, second factor to come) lasts.
PENDING_FOR = timedelta(minutes=10)
#: A code longer than this is wrong without looking further (a form field may hold a megabyte).
_MAX_CODE_LENGTH = 64
_TOTP_CODE = re.compile(r"[0-9]{6}")


def required(*, user: User, settings: Settings) -> bool:
    """Return whether user's role must sign in with a second factor (WITAJ_TWO_FACTOR_ROLES)."""
    return user.role.value in settings.two_factor_roles


def get(*, db: Session, user: User) -> TwoFactor | None:
    """Return user's second factor, confirmed or still being set up, or None."""
    return db.get(TwoFactor, user.id)


def enabled(*, db: Session, user: User) -> bool:
    """Return whether user has a confirmed second factor."""
    found = get(db=db, user=user)
    return found is not None and found.confirmed_at is not None


def step_after_password(*, db: Session, user: User, settings: Settings) -> PendingStep | None:
    """Return what user must still do after a right password: give a code, set up the second factor
    their role requires, or nothing (None: the session starts)."""
    if enabled(db=db, user=user):
        return PendingStep.code
    if required(user=user, settings=settings):
        return PendingStep.enrol
    return None


# --- enrolment -----------------------------------------------------------------------------------


def begin_enrolment(*, db: Session, user: User, settings: Settings, now: datetime | None = None) -> TwoFactor:
    """Return user's second factor being set up: the one begun before (a reload shows the same secret),
    or a new random secret. Raise AlreadyEnrolled when one is confirmed. Flushes."""
    found = get(db=db, user=user)
    if found is not None and found.confirmed_at is not None:
        raise AlreadyEnrolled()
    if found is None:
        found = TwoFactor(
            user_id=user.id,
            secret_encrypted=encrypt_json({"totp": pyotp.random_base32(32)}, settings),  # 160 bits
            created_at=now or utcnow(),
        )
        db.add(found)
        db.flush()
    return found


def secret_of(two_factor: TwoFactor, settings: Settings) -> str:
    """Return the base32 TOTP secret of two_factor (decrypted)."""
    return str(decrypt_json(two_factor.secret_encrypted, settings)["totp"])


def grouped(secret: str) -> str:
    """Return secret in groups of four, as people type it into an app."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(*, user: User, secret: str, settings: Settings) -> str:
    """Return the otpauth:// URI authenticator apps read from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=f"Witaj {settings.city_name}")


def qr_svg(uri: str) -> str:
    """Return uri as a QR code in inline SVG (no style attribute, no script: the CSP holds)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff", svgclass="qr")


def confirm_enrolment(
    *, db: Session, user: User, code: str, address: str, settings: Settings, now: datetime | None = None
) -> list[str]:
    """Confirm user's second factor with a first code from the app; return new recovery codes (shown
    once). Raise WrongCode or AccountLocked (throttled as sign-in is; the caller commits the count even
    then), AlreadyEnrolled when confirmed before. Flushes."""
    now = now or utcnow()
    two_factor = get(db=db, user=user)
    if two_factor is not None and two_factor.confirmed_at is not None:
        raise AlreadyEnrolled()
    limits = _limits(user=user, address=address, settings=settings)
    auth_service.refuse_if_paused(db=db, limits=limits, now=now)
    if two_factor is None or not _accept_totp(db, two_factor, _normalised(code), settings, now):
        auth_service.record_failure(db=db, limits=limits, settings=settings, now=now)
        raise WrongCode()
    auth_service.record_success(db=db, limits=limits)
    two_factor.confirmed_at = now
    # Other browsers half way through setting it up (the same password elsewhere) must start again:
    # they would be shown the confirmed secret.
    db.execute(
        delete(PendingSignIn).where(PendingSignIn.user_id == user.id, PendingSignIn.step == PendingStep.enrol)
    )
    db.flush()
    return regenerate_recovery_codes(db=db, user=user, now=now)


# --- verifying a code ------------------------------------------------------------------------------


def _limits(*, user: User, address: str, settings: Settings) -> auth_service.ThrottleLimits:
    # A user's own key: a right password must not clear the count of wrong codes.
    return auth_service.throttle_limits(
        settings=settings, address=address, subject=("second-factor", str(user.id))
    )


def _normalised(code: str) -> str:
    return re.sub(r"[\s\-]", "", code[: _MAX_CODE_LENGTH * 2]).lower()


def _accept_totp(db: Session, two_factor: TwoFactor, code: str, settings: Settings, now: datetime) -> bool:
    """Return whether code is the TOTP code of a step in the window not used yet, and mark that step
    used (one conditional UPDATE: two requests with one code cannot both pass)."""
    if not _TOTP_CODE.fullmatch(code):
        return False
    totp = pyotp.TOTP(secret_of(two_factor, settings))
    current = totp.timecode(now)
    last = two_factor.last_used_step
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last is not None and step <= last:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            claimed = db.execute(
                update(TwoFactor)
                .where(
                    TwoFactor.user_id == two_factor.user_id,
                    or_(TwoFactor.last_used_step.is_(None), TwoFactor.last_used_step < step),
                )
                .values(last_used_step=step)
                .execution_options(synchronize_session=False)
            )
            db.refresh(two_factor)
            return claimed.rowcount == 1
    return False


def _accept_recovery_code(db: Session, user: User, code: str, now: datetime) -> bool:
    """Return whether code is one of user's unused recovery codes, and mark it used (once)."""
    if len(code) != 4 * _RECOVERY_GROUPS or not set(code) <= set(_RECOVERY_ALPHABET):
        return False
    found = db.scalar(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == hash_secret(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if found is None:
        return False
    claimed = db.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == found, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


def verify(
    *, db: Session, user: User, code: str, address: str, settings: Settings, now: datetime | None = None
) -> str:
    """Accept a code of user's confirmed second factor, sent from client address: a TOTP code (its
    time step once) or an unused recovery code (then used up). Return "totp" or "recovery". Raise
    WrongCode, or AccountLocked after too many wrong codes for user from that address (or from that
    address at all); the caller commits the count even when this raises. Flushes."""
    now = now or utcnow()
    limits = _limits(user=user, address=address, settings=settings)
    auth_service.refuse_if_paused(db=db, limits=limits, now=now)
    two_factor = get(db=db, user=user)
    normalised = _normalised(code)
    kind = None
    if two_factor is not None and two_factor.confirmed_at is not None:
        if _accept_totp(db, two_factor, normalised, settings, now):
            kind = "totp"
        elif _accept_recovery_code(db, user, normalised, now):
            kind = "recovery"
    if kind is None:
        auth_service.record_failure(db=db, limits=limits, settings=settings, now=now)
        raise WrongCode()
    auth_service.record_success(db=db, limits=limits)
    return kind


# --- recovery codes, turning off, resetting --------------------------------------------------------


def _new_recovery_code() -> str:
    return "-".join(
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4)) for _ in range(_RECOVERY_GROUPS)
    )


def regenerate_recovery_codes(*, db: Session, user: User, now: datetime | None = None) -> list[str]:
    """Return RECOVERY_CODE_COUNT new recovery codes of user (only their hashes are kept); the old ones
    stop working. Flushes."""
    now = now or utcnow()
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.add_all(
        RecoveryCode(user_id=user.id, code_hash=hash_secret(_normalised(code)), created_at=now)
        for code in codes
    )
    db.flush()
    return codes


def recovery_codes_left(*, db: Session, user: User) -> int:
    """Return how many of user's recovery codes are unused."""
    return (
        db.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def _remove(db: Session, user: User) -> bool:
    removed = db.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id)).rowcount
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    return bool(removed)


def turn_off(*, db: Session, user: User, settings: Settings) -> None:
    """Remove user's second factor and recovery codes; raise SecondFactorRequired when their role
    requires one. Flushes."""
    if required(user=user, settings=settings):
        raise SecondFactorRequired()
    _remove(db, user)
    db.flush()


def cancel_enrolment(*, db: Session, user: User) -> None:
    """Forget a second factor user began to set up and did not confirm. Flushes."""
    db.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id, TwoFactor.confirmed_at.is_(None)))
    db.flush()


def reset(*, db: Session, user: User, now: datetime | None = None) -> bool:
    """Remove user's second factor and recovery codes (a lost phone), end their sessions and pending
    sign-ins; return whether they had a second factor. They set one up again at their next sign-in
    when their role requires it. Flushes."""
    now = now or utcnow()
    had = _remove(db, user)
    db.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    db.execute(delete(PendingSignIn).where(PendingSignIn.user_id == user.id))
    db.flush()
    return had


# --- pending sign-ins --------------------------------------------------------------------------------


def start_pending(*, db: Session, user: User, step: PendingStep, now: datetime | None = None) -> str:
    """Return the token of a new pending sign-in of user (only its hash is stored); expired ones of
    anybody are removed. Flushes."""
    now = now or utcnow()
    db.execute(delete(PendingSignIn).where(PendingSignIn.expires_at <= now))
    token = secrets.token_urlsafe(32)
    db.add(
        PendingSignIn(
            token_hash=hash_secret(token),
            user_id=user.id,
            step=step,
            created_at=now,
            expires_at=now + PENDING_FOR,
        )
    )
    db.flush()
    return token


def pending(*, db: Session, token: str, now: datetime | None = None) -> PendingSignIn | None:
    """Return the live pending sign-in of token, or None (unknown, expired, user deactivated)."""
    if not token or len(token) > 100:
        return None
    found = db.scalar(select(PendingSignIn).where(PendingSignIn.token_hash == hash_secret(token)))
    if found is None or found.expires_at <= (now or utcnow()) or not found.user.is_active:
        return None
    return found


def end_pending(*, db: Session, token: str) -> None:
    """Remove the pending sign-in of token, if any. Flushes."""
    if token:
        db.execute(delete(PendingSignIn).where(PendingSignIn.token_hash == hash_secret(token)))
        db.flush()
