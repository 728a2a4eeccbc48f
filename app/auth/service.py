"""Accounts and sessions: password hashing, sign-in with throttling, session tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.auth.enums import ROLES_FOR_KIND, OrgKind, Role
from app.auth.exceptions import AccountLocked, LoginFailed
from app.auth.models import ApiToken, LoginThrottle, Organisation, User, UserSession
from app.auth.permissions import Principal
from app.config import Settings, get_settings
from app.db import utcnow
from app.errors import InvalidInput
from app.i18n import _

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MIN_PASSWORD_LENGTH = 12
#: How often a session's last_seen_at is written (not on every request).
_TOUCH_EVERY = timedelta(minutes=1)


@cache
def password_hasher(environment: str) -> PasswordHasher:
    """Return the argon2id hasher of environment: argon2-cffi's default (RFC 9106, low memory), or its
    cheapest profile in tests, which create users in almost every test (never for real passwords)."""
    if environment == "test":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()


def _hasher() -> PasswordHasher:
    return password_hasher(get_settings().environment)


@cache
def _dummy_hash(environment: str) -> str:
    # Verified against when the e-mail is unknown, so a miss costs as long as a wrong password.
    return password_hasher(environment).hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """Return an argon2id hash of password."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Return whether password matches password_hash."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """Return a random password that people can type (about 120 bits)."""
    return "-".join(secrets.token_urlsafe(6) for _ in range(4))


def normalise_email(email: str) -> str:
    """Return email trimmed and lower-cased, the form stored and looked up."""
    return email.strip().lower()


def principal_of(user: User) -> Principal:
    """Return the Principal of a user."""
    return Principal(
        user_id=user.id,
        role=user.role,
        organisation_id=user.organisation_id,
        organisation_kind=user.organisation.kind,
        display_name=user.display_name,
        is_active=user.is_active,
    )


def get_organisation(*, db: Session, slug: str) -> Organisation | None:
    """Return the organisation with slug, or None."""
    return db.scalar(select(Organisation).where(Organisation.slug == slug))


def organisation(*, db: Session, organisation_id: int) -> Organisation | None:
    """Return the organisation with organisation_id, or None."""
    return db.get(Organisation, organisation_id)


def organisations(*, db: Session, kind: OrgKind) -> list[Organisation]:
    """Return the organisations of a kind (the office, or partners), by name."""
    return list(db.scalars(select(Organisation).where(Organisation.kind == kind).order_by(Organisation.name)).all())


def ensure_organisation(
    *, db: Session, slug: str, name: str, kind: OrgKind, is_demo: bool = False, rename: bool = True
) -> Organisation:
    """Return the organisation with slug, creating it (or, with rename, updating its name) as needed;
    flushes only when something changed."""
    org = get_organisation(db=db, slug=slug)
    if org is None:
        org = Organisation(slug=slug, name=name, kind=kind, is_demo=is_demo)
        db.add(org)
    elif rename and org.name != name:
        org.name = name
    else:
        return org
    db.flush()
    return org


def create_user(
    *,
    db: Session,
    email: str,
    display_name: str,
    password: str,
    role: Role,
    organisation: Organisation,
) -> User:
    """Return a new user; raise InvalidInput with field messages when a value breaks a rule."""
    email = normalise_email(email)
    errors: dict[str, str] = {}
    if not _EMAIL.match(email):
        errors["email"] = _("Enter a valid e-mail address.")
    elif db.scalar(select(User.id).where(User.email == email)) is not None:
        errors["email"] = _("An account with this e-mail address already exists.")
    if not display_name.strip():
        errors["display_name"] = _("This field is required.")
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = _("The password must have at least %(min)s characters.", min=MIN_PASSWORD_LENGTH)
    if role not in ROLES_FOR_KIND[organisation.kind]:
        errors["role"] = _("This role does not fit this kind of organisation.")
    if errors:
        raise InvalidInput(errors)
    user = User(
        email=email,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
        organisation=organisation,
    )
    db.add(user)
    db.flush()
    return user


#: A client address pauses after this many times `login_max_failures` failures, whatever the
#: e-mail addresses, without a quiet spell of `login_lockout_minutes` between them (one address
#: trying passwords across many accounts).
ADDRESS_FAILURE_FACTOR = 10
#: The longest pause; each pause of the same key doubles the one before, up to this.
MAX_PAUSE = timedelta(days=1)
#: A key with no failure for this long (and no pause within it) is forgotten.
FORGET_AFTER = timedelta(days=1)


def _throttle_key(settings: Settings, *parts: str) -> str:
    message = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


#: A throttle's keys, each with its limit and the quiet spell after which its failures start again.
ThrottleLimits = dict[str, tuple[int, timedelta]]


def throttle_limits(*, settings: Settings, address: str, subject: tuple[str, ...]) -> ThrottleLimits:
    """Return the keys that count failures of subject (an e-mail address's password, a user's second
    factor) from client address, and of the address whatever the subject, with their limits. The
    first key is the subject's: only a success by the subject from that address clears it."""
    return {
        _throttle_key(settings, *subject, address): (settings.login_max_failures, FORGET_AFTER),
        _throttle_key(settings, "address", address): (
            settings.login_max_failures * ADDRESS_FAILURE_FACTOR,
            timedelta(minutes=settings.login_lockout_minutes),
        ),
    }


def _locked_throttle(db: Session, key: str, now: datetime) -> LoginThrottle:
    """Return the throttle row of key, created if needed and locked for this transaction (two
    failures at once both count; on SQLite the write lock already orders them)."""
    insert = postgresql_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, pauses=0, last_failure_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    query = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    return db.scalars(query.execution_options(populate_existing=True)).one()


def refuse_if_paused(*, db: Session, limits: ThrottleLimits, now: datetime) -> None:
    """Raise AccountLocked while any key of limits is paused."""
    paused = db.scalars(
        select(LoginThrottle.paused_until).where(
            LoginThrottle.key.in_(limits), LoginThrottle.paused_until > now
        )
    ).all()
    if paused:
        raise AccountLocked(max(paused), now)


def record_failure(*, db: Session, limits: ThrottleLimits, settings: Settings, now: datetime) -> None:
    """Count a failure under every key of limits, and forget keys long quiet; raise AccountLocked when
    a key reached its limit (a pause starts: each one twice as long as the one before, up to a day).
    Flushes; the caller commits even though this raises."""
    first_pause = timedelta(minutes=settings.login_lockout_minutes)
    paused_until = None
    for key, (limit, quiet) in limits.items():
        throttle = _locked_throttle(db, key, now)
        if now - throttle.last_failure_at > quiet:
            throttle.failures = 0
        throttle.failures += 1
        throttle.last_failure_at = now
        if throttle.failures >= limit:
            throttle.pauses += 1
            pause = min(first_pause * 2 ** min(throttle.pauses - 1, 16), MAX_PAUSE)
            throttle.paused_until = now + pause
            throttle.failures = 0
            paused_until = max(paused_until or throttle.paused_until, throttle.paused_until)
    db.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < now - FORGET_AFTER,
            or_(LoginThrottle.paused_until.is_(None), LoginThrottle.paused_until < now - FORGET_AFTER),
        )
    )
    db.flush()
    if paused_until is not None:
        raise AccountLocked(paused_until, now)


def record_success(*, db: Session, limits: ThrottleLimits) -> None:
    """Start the subject's count (the first key of limits) again; the address's only fades with time."""
    db.execute(delete(LoginThrottle).where(LoginThrottle.key == next(iter(limits))))
    db.flush()


def authenticate(
    *, db: Session, email: str, password: str, address: str, settings: Settings, now: datetime | None = None
) -> User:
    """Return the user for these credentials, signing in from client address; raise LoginFailed or
    AccountLocked, alike for unknown and known e-mail addresses. Failures are counted per e-mail from
    that address and per address, and pause sign-in there only (never everywhere, so nobody can lock
    a user out). The counters change on the session either way: the caller commits them even when
    this raises."""
    now = now or utcnow()
    email = normalise_email(email)
    limits = throttle_limits(settings=settings, address=address, subject=("account", email))
    refuse_if_paused(db=db, limits=limits, now=now)
    user = db.scalar(select(User).where(User.email == email))
    if user is None or not user.is_active:
        verify_password(_dummy_hash(get_settings().environment), password)  # as long as a wrong password
    elif verify_password(user.password_hash, password):
        if _hasher().check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = now
        record_success(db=db, limits=limits)
        return user
    record_failure(db=db, limits=limits, settings=settings, now=now)
    raise LoginFailed()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(*, db: Session, user: User, settings: Settings, now: datetime | None = None) -> str:
    """Return the token of a new session for user (only its hash is stored). Flushes."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    db.add(
        UserSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_max_hours),
        )
    )
    db.flush()
    return token


def live_session(*, db: Session, token: str, settings: Settings, now: datetime | None = None) -> UserSession | None:
    """Return the live session of token, or None when unknown, revoked, idle or expired or its user is
    no longer active. Reads only: moving last_seen_at on is touch_session's, in a write of its own."""
    if not token:
        return None
    now = now or utcnow()
    found = db.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    if found is None or found.revoked_at is not None or found.expires_at <= now:
        return None
    if found.last_seen_at + timedelta(minutes=settings.session_idle_minutes) <= now:
        return None
    if not found.user.is_active:
        return None
    return found


def session_user(*, db: Session, token: str, settings: Settings, now: datetime | None = None) -> User | None:
    """Return the user of a live session token, or None (see live_session)."""
    found = live_session(db=db, token=token, settings=settings, now=now)
    return found.user if found is not None else None


def touch_due(last: datetime | None, now: datetime | None = None) -> bool:
    """Return whether a session's or token's last use is old enough to be written again (once a minute)."""
    return last is None or (now or utcnow()) - last >= _TOUCH_EVERY


def touch_session(*, db: Session, token: str, now: datetime | None = None) -> None:
    """Move the session's last_seen_at (idle sign-out counts from it) to now, at most once a minute.
    One statement: the caller runs it as a transaction of its own. Flushes."""
    now = now or utcnow()
    db.execute(
        update(UserSession)
        .where(UserSession.token_hash == _token_hash(token), UserSession.last_seen_at <= now - _TOUCH_EVERY)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def end_session(*, db: Session, token: str, now: datetime | None = None) -> None:
    """Revoke the session of token, if any. Flushes."""
    found = db.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    if found is not None and found.revoked_at is None:
        found.revoked_at = now or utcnow()
        db.flush()


TOKEN_PREFIX = "witaj_"


def create_api_token(
    *, db: Session, organisation: Organisation, name: str, created_by: User | None = None, now: datetime | None = None
) -> tuple[ApiToken, str]:
    """Return a new API token of organisation and its value (shown once). Flushes."""
    if not name.strip():
        raise InvalidInput({"name": _("This field is required.")})
    role = Role.partner_staff if organisation.kind is OrgKind.partner else Role.caseworker
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        organisation_id=organisation.id,
        name=name.strip()[:120],
        prefix=value[: len(TOKEN_PREFIX) + 6],
        token_hash=_token_hash(value),
        role=role,
        created_by_id=created_by.id if created_by else None,
        created_at=now or utcnow(),
    )
    db.add(token)
    db.flush()
    return token, value


def live_token(*, db: Session, value: str) -> ApiToken | None:
    """Return the API token of value if it exists and is not revoked, else None. Reads only."""
    if not value.startswith(TOKEN_PREFIX):
        return None
    token = db.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(value)))
    if token is None or token.revoked_at is not None:
        return None
    return token


def principal_of_token(token: ApiToken) -> Principal:
    """Return the principal an API token acts as (its organisation, with the token's role)."""
    return Principal(
        user_id=None,
        role=token.role,
        organisation_id=token.organisation_id,
        organisation_kind=token.organisation.kind,
        display_name=token.name,
        token_id=token.id,
    )


def token_principal(*, db: Session, value: str) -> Principal | None:
    """Return the principal of a live API token value, or None."""
    token = live_token(db=db, value=value)
    return principal_of_token(token) if token is not None else None


def touch_token(*, db: Session, token_id: int, now: datetime | None = None) -> None:
    """Record the token's last use (at most once a minute), as one statement of its own. Flushes."""
    now = now or utcnow()
    db.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .where((ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at <= now - _TOUCH_EVERY))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke_api_token(*, db: Session, token: ApiToken, now: datetime | None = None) -> None:
    """Revoke token. Flushes."""
    token.revoked_at = now or utcnow()
    db.flush()
