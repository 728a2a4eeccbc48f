"""Accounts and sessions: password hashing, sign-in with lockout, session tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.enums import ROLES_FOR_KIND, OrgKind, Role
from app.auth.exceptions import AccountLocked, LoginFailed
from app.auth.models import ApiToken, Organisation, User, UserSession
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


def ensure_organisation(*, db: Session, slug: str, name: str, kind: OrgKind, is_demo: bool = False) -> Organisation:
    """Return the organisation with slug, creating it (or updating its name) as needed; flushes."""
    org = get_organisation(db=db, slug=slug)
    if org is None:
        org = Organisation(slug=slug, name=name, kind=kind, is_demo=is_demo)
        db.add(org)
    else:
        org.name = name
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


def authenticate(*, db: Session, email: str, password: str, settings: Settings, now: datetime | None = None) -> User:
    """Return the user for these credentials; raise LoginFailed or AccountLocked. The failure counters
    and the lock change on the session either way: the caller commits them even when this raises."""
    now = now or utcnow()
    user = db.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_active:
        verify_password(_dummy_hash(get_settings().environment), password)
        raise LoginFailed()
    if user.locked_until is not None and user.locked_until > now:
        raise AccountLocked(user.locked_until, now)
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
            db.flush()
            raise AccountLocked(user.locked_until, now)
        db.flush()
        raise LoginFailed()
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.flush()
    return user


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


def session_user(*, db: Session, token: str, settings: Settings, now: datetime | None = None) -> User | None:
    """Return the user of a live session token, or None when unknown, revoked, idle or expired. A live
    session's last_seen_at moves on at most once a minute (left for the caller to commit)."""
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
    if now - found.last_seen_at >= _TOUCH_EVERY:
        found.last_seen_at = now
    return found.user


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


def token_principal(*, db: Session, value: str, now: datetime | None = None) -> Principal | None:
    """Return the principal of a live API token value, or None. The token's last_used_at moves on at
    most once a minute (left for the caller to commit)."""
    if not value.startswith(TOKEN_PREFIX):
        return None
    token = db.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(value)))
    if token is None or token.revoked_at is not None:
        return None
    now = now or utcnow()
    if token.last_used_at is None or now - token.last_used_at >= _TOUCH_EVERY:
        token.last_used_at = now
    return Principal(
        user_id=None,
        role=token.role,
        organisation_id=token.organisation_id,
        organisation_kind=token.organisation.kind,
        display_name=token.name,
        token_id=token.id,
    )


def revoke_api_token(*, db: Session, token: ApiToken, now: datetime | None = None) -> None:
    """Revoke token. Flushes."""
    token.revoked_at = now or utcnow()
    db.flush()
