"""Encryption of personal data at rest (Fernet: AES-128-CBC with HMAC-SHA256, from `cryptography`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
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


def new_secret(nbytes: int = 18) -> str:
    """Return a random URL-safe secret."""
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """Return the SHA-256 hex digest of a high-entropy secret (tokens, case secrets)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secrets_match(secret: str, digest: str) -> bool:
    """Return whether secret hashes to digest, in constant time."""
    return hmac.compare_digest(hash_secret(secret), digest)
