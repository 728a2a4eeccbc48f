"""A new case's secret, shown once after the redirect that follows the form that opened it, and the
form's key that makes sending it twice open one case (POST/redirect/GET with an idempotency key).

Every rendered form that opens a case (a city form, the office's "new case") carries a random key.
The case is opened in one transaction with its secret *sealed*: encrypted under a key derived from
the form's key, which the server does not keep. The answer is a redirect, and an HttpOnly,
SameSite=Strict cookie that lives for minutes carries the form's key to the confirmation page, which
opens the seal, shows the secret and empties the seal with an UPDATE only one request can win
(shown once, even to two requests at once). So the secret is never in a URL, never stored readable
(the database and the server's keys alone do not open a seal), and a lost answer (a double click
cancels the first request) loses nothing: the second request, with the same key, finds the case
and its seal.

This module holds the keys, the seals and the cookie; the routes and flows that open cases call it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.cases.models import CaseFile
from app.config import Settings
from app.crypto import new_secret
from app.db import utcnow

#: The cookie that carries the keys of the forms this browser just sent to the confirmation page.
COOKIE = "witaj_once"
#: How long a seal can be opened: the confirmation follows its form's answer at once.
LIFETIME = timedelta(minutes=15)
#: Forms sent at the same time in several tabs: the cookie keeps the newest keys.
MAX_KEYS = 4
_KEY = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def new_key() -> str:
    """Return a new form's key (192 random bits, URL-safe)."""
    return new_secret(24)


def valid_key(value: object) -> str | None:
    """Return value when it has the shape of a form's key, else None (a key is never trusted further)."""
    return value if isinstance(value, str) and _KEY.match(value) else None


def key_hash(key: str) -> str:
    """Return what is stored of a form's key (its SHA-256, as hex)."""
    return hashlib.sha256(b"witaj-form-key:" + key.encode()).hexdigest()


def _fernet(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"witaj-seal:" + key.encode()).digest()))


def seal(secret: str, key: str) -> str:
    """Return secret encrypted under a key derived from the form's key."""
    return _fernet(key).encrypt(secret.encode()).decode()


def unseal(sealed: str | None, key: str, *, now: datetime | None = None) -> str | None:
    """Return the secret in sealed, or None when key does not open it or it is older than LIFETIME."""
    if not sealed:
        return None
    moment = int((now or utcnow()).timestamp())
    try:
        return _fernet(key).decrypt_at_time(sealed.encode(), int(LIFETIME.total_seconds()), moment).decode()
    except (InvalidToken, UnicodeError, ValueError):
        return None


# --- the database ------------------------------------------------------------------------------------


def attach(*, db: Session, case: CaseFile, key: str, secret: str, idempotent: bool = True) -> None:
    """Keep case's secret sealed under key until it is shown, and (idempotent) record key as the form
    that opened case; raise IntegrityError when a case already has that key (a concurrent request).
    A plain UPDATE: the case's version and history stay as opening it left them. Flushes."""
    values: dict[str, str] = {"secret_sealed": seal(secret, key)}
    if idempotent:
        values["idempotency_key_hash"] = key_hash(key)
    db.execute(
        update(CaseFile)
        .where(CaseFile.id == case.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.flush()


def find_by_key(*, db: Session, key: str) -> CaseFile | None:
    """Return the case a form with key opened, or None."""
    return db.scalar(select(CaseFile).where(CaseFile.idempotency_key_hash == key_hash(key)))


def reveal(
    *, db: Session, case: CaseFile, keys: list[str], now: datetime | None = None
) -> tuple[str, str] | None:
    """Return (secret, key) when one of keys opens case's seal, emptying the seal by an UPDATE that
    only one of two requests at once can win (the other shows no secret); else None. A seal older
    than LIFETIME is emptied too. Flushes."""
    now = now or utcnow()
    sealed = db.scalar(select(CaseFile.secret_sealed).where(CaseFile.id == case.id))
    if not sealed:
        return None
    for key in keys:
        secret = unseal(sealed, key, now=now)
        if secret is not None and _empty_seal(db, case, sealed):
            return secret, key
    if case.created_at < now - LIFETIME:
        _empty_seal(db, case, sealed)  # nobody came for it: no longer worth keeping, even sealed
    return None


def _empty_seal(db: Session, case: CaseFile, sealed: str) -> bool:
    result = db.execute(
        update(CaseFile)
        .where(CaseFile.id == case.id, CaseFile.secret_sealed == sealed)
        .values(secret_sealed=None)
        .execution_options(synchronize_session=False)
    )
    db.flush()
    return bool(result.rowcount)


# --- the cookie --------------------------------------------------------------------------------------


def forget_unclaimed(*, db: Session, now: datetime | None = None) -> int:
    """Empty the seals of secrets nobody came back for within LIFETIME (unreadable without the
    browser's key anyway, but nothing is kept longer than it serves); return how many. Flushes."""
    cutoff = (now or utcnow()) - LIFETIME
    result = db.execute(
        update(CaseFile)
        .where(CaseFile.secret_sealed.is_not(None), CaseFile.created_at < cutoff)
        .values(secret_sealed=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def cookie_keys(request: Request) -> list[str]:
    """Return the keys of the forms this browser sent lately (from the cookie), newest first."""
    raw = request.cookies.get(COOKIE, "")
    return [key for key in raw.split(".") if valid_key(key)][:MAX_KEYS]


def remember(request: Request, response: Response, key: str, settings: Settings) -> Response:
    """Return response, which now carries key to the confirmation page (HttpOnly, SameSite=Strict,
    for LIFETIME) beside the keys of other forms sent lately."""
    keys = [key, *[k for k in cookie_keys(request) if k != key]][:MAX_KEYS]
    _set(response, keys, settings)
    return response


def forget(request: Request, response: Response, key: str, settings: Settings) -> Response:
    """Return response, which now drops key from the cookie (its secret has been shown)."""
    keys = [k for k in cookie_keys(request) if k != key]
    if keys:
        _set(response, keys, settings)
    else:
        response.delete_cookie(
            COOKIE, path="/", secure=settings.secure_cookies, httponly=True, samesite="strict"
        )
    return response


def _set(response: Response, keys: list[str], settings: Settings) -> None:
    response.set_cookie(
        COOKIE,
        ".".join(keys),
        max_age=int(LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
    )
