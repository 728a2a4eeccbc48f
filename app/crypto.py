"""Encryption of personal data at rest (Fernet: AES-128-CBC with HMAC-SHA256, from `cryptography`),
sealed short-lived tokens, and secrets: made at random, stored hashed, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.config import ConfigError, Settings, get_settings


@lru_cache(maxsize=8)
def _fernet(data_key: str | None, secret_key: str) -> MultiFernet:
    if data_key:
        # Several comma-separated keys allow rotation: the first encrypts, all decrypt.
        try:
            keys = [Fernet(k.strip().encode()) for k in data_key.split(",") if k.strip()]
        except ValueError as exc:
            raise ConfigError(f"WITAJ_DATA_KEY is not a valid Fernet key: {exc}") from None
        return MultiFernet(keys)
    derived = hashlib.sha256(b"witaj-data-key:" + secret_key.encode()).digest()
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])


def fernet(settings: Settings | None = None) -> MultiFernet:
    """Return the cipher for personal data."""
    settings = settings or get_settings()
    return _fernet(settings.data_key, settings.secret_key)


def encrypt_json(value: dict[str, Any], settings: Settings | None = None) -> str:
    """Return value encrypted as a text token."""
    return fernet(settings).encrypt(json.dumps(value, ensure_ascii=False).encode()).decode()


def decrypt_json(token: str | None, settings: Settings | None = None) -> dict[str, Any]:
    """Return the value of an encrypted token ({} for none); raise ValueError when it cannot be read."""
    if not token:
        return {}
    try:
        return json.loads(fernet(settings).decrypt(token.encode()))
    except InvalidToken:
        raise ValueError("encrypted data cannot be read with the configured WITAJ_DATA_KEY") from None


def seal(
    value: dict[str, Any], *, purpose: str, settings: Settings | None = None, now: datetime | None = None
) -> str:
    """Return value encrypted and authenticated as a URL-safe text token for purpose, stamped with now
    (for short-lived tokens a browser keeps, such as a cookie: unseal refuses one older than asked)."""
    body = json.dumps({"purpose": purpose, "value": value}, ensure_ascii=False).encode()
    return fernet(settings).encrypt_at_time(body, int((now or datetime.now(UTC)).timestamp())).decode()


def unseal(
    token: str | None,
    *,
    purpose: str,
    max_age: timedelta,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Return the value sealed for purpose in token, or None when token is not one, was sealed for
    another purpose, or is older than max_age."""
    if not token:
        return None
    moment = int((now or datetime.now(UTC)).timestamp())
    try:
        sealed = fernet(settings).decrypt_at_time(token.encode(), int(max_age.total_seconds()), moment)
        body = json.loads(sealed)
    except (InvalidToken, ValueError, UnicodeError):
        return None
    if not isinstance(body, dict) or body.get("purpose") != purpose:
        return None
    if not isinstance(body.get("value"), dict):
        return None
    return body["value"]


def new_secret(nbytes: int = 18) -> str:
    """Return a random URL-safe secret (for machines: tokens in links, signing secrets)."""
    return secrets.token_urlsafe(nbytes)


#: Crockford's base32: digits and capital letters without I, L, O and U, so that no two characters
#: look alike (I/l/1, O/0) when a person copies a code from paper or a screen.
READABLE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: What a person may type for a character of the alphabet: the look-alikes, read as Crockford does.
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
#: Separators a person may type between groups (spaces, hyphens and dashes, dots, underscores).
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212._]+")


def new_readable_secret(groups: int = 4, group_size: int = 4) -> str:
    """Return a random secret for people to copy (80 bits by default), grouped: 7K3M-Q9XD-2WRT-H5NP."""
    chars = "".join(secrets.choice(READABLE_ALPHABET) for _ in range(groups * group_size))
    return "-".join(chars[i : i + group_size] for i in range(0, len(chars), group_size))


def normalise_readable_secret(text: str) -> str:
    """Return a readable secret as typed in its canonical form: capitals, no separators, look-alikes
    read as what they look like (o -> 0, i and l -> 1)."""
    return _SEPARATORS.sub("", text.strip()).upper().translate(_LOOK_ALIKES)


def hash_secret(secret: str) -> str:
    """Return the SHA-256 hex digest of a high-entropy secret (tokens, case secrets)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_readable_secret(secret: str) -> str:
    """Return the digest to store for a readable secret: of its canonical form, so that it matches
    however it is typed back."""
    return hash_secret(normalise_readable_secret(secret))


def secrets_match(secret: str, digest: str) -> bool:
    """Return whether secret hashes to digest, in constant time: as given (a case secret of before
    readable secrets, which is case-sensitive and may hold "-" or "_"), or in its canonical readable
    form (a readable secret typed in small letters, without or with other separators, with O for 0)."""
    given = secret.strip()
    forms = (given, normalise_readable_secret(given))
    # Both are compared, whichever matches: the time taken does not tell which form was right.
    return any([hmac.compare_digest(hash_secret(form), digest) for form in forms])
