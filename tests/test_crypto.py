"""Secrets people copy by hand (no look-alike characters, typed back however they like, old ones still
working) and sealed short-lived tokens (app/crypto.py). Issue 12, item 2."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from app.cases import access
from app.crypto import (
    READABLE_ALPHABET,
    hash_readable_secret,
    hash_secret,
    new_readable_secret,
    normalise_readable_secret,
    seal,
    secrets_match,
    unseal,
)

#: Characters that look like others in many fonts: I l 1 | O 0 (and U, which Crockford leaves out).
LOOK_ALIKES = set("IiLlOoUu")


def test_a_case_secret_has_no_look_alike_characters_and_is_grouped_for_reading(open_case):
    secrets_given = [open_case()[1] for _ in range(3)]
    for secret in secrets_given:
        assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", secret), secret
        assert not LOOK_ALIKES & set(secret), secret
    assert len(set(secrets_given)) == 3


def test_the_secret_has_at_least_the_entropy_of_before():
    # Before: secrets.token_urlsafe(9), 72 bits. Now 16 characters of a 32-letter alphabet: 80 bits.
    assert len(READABLE_ALPHABET) == 32 and not LOOK_ALIKES & set(READABLE_ALPHABET)
    characters = new_readable_secret().replace("-", "")
    assert len(characters) * 5 >= 72 and set(characters) <= set(READABLE_ALPHABET)


@pytest.mark.parametrize(
    "typed",
    [
        "{s}",
        "{lower}",
        "{plain}",
        "{lower_plain}",
        "  {spaced}  ",
        "{dashes}",
    ],
)
def test_a_case_secret_is_accepted_however_it_is_typed(db, open_case, typed):
    case, secret = open_case()
    plain = secret.replace("-", "")
    text = typed.format(
        s=secret,
        lower=secret.lower(),
        plain=plain,
        lower_plain=plain.lower(),
        spaced=" ".join(secret.split("-")),
        dashes=secret.replace("-", "\u2013"),  # an en dash, as phones and word processors make it
    )
    assert access.find_by_secret(db=db, reference=case.reference, secret=text) == case


def test_look_alikes_are_read_as_what_they_look_like():
    secret = "0O1I-L0o1-iL00-1234"  # noqa: S105 - a made-up code
    assert normalise_readable_secret(secret) == "0011100111001234"
    canonical = "0011-1001-1100-1234"
    assert secrets_match("oOil lO0I iLoO 1234", hash_readable_secret(canonical))
    assert not secrets_match("0011-1001-1100-1235", hash_readable_secret(canonical))


def test_secrets_made_before_keep_working_as_they_were_given():
    """Case secrets made before (secrets.token_urlsafe, stored as the hash of the raw text) are
    case-sensitive and may hold "-" and "_": they match as given, and only as given."""
    old = "aB-3_xYz9Q-k"
    digest = hash_secret(old)
    assert secrets_match(old, digest)
    assert secrets_match(f"  {old} ", digest)
    assert not secrets_match(old.upper(), digest)
    assert not secrets_match(old.replace("-", ""), digest)
    for _ in range(50):  # any old secret, whatever characters it drew
        made = secrets.token_urlsafe(9)
        assert secrets_match(made, hash_secret(made))


def test_an_old_secret_still_opens_its_case(db, open_case):
    case, _ = open_case()
    case.secret_hash = hash_secret("Old_secret-9")  # made the way secrets were made before
    db.flush()
    old = "Old_secret-9"  # noqa: S105 - a made-up code
    assert access.find_by_secret(db=db, reference=case.reference, secret=old) == case
    assert access.find_by_secret(db=db, reference=case.reference, secret=old.upper()) is None


def test_sealed_values_come_back_only_for_their_purpose_and_while_fresh():
    now = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    token = seal({"case": 7}, purpose="follow_case", now=now)
    assert b"case" not in base64.urlsafe_b64decode(token)  # encrypted, not only signed
    fresh = now + timedelta(minutes=29)
    assert unseal(token, purpose="follow_case", max_age=timedelta(minutes=30), now=fresh) == {"case": 7}
    assert unseal(token, purpose="other", max_age=timedelta(minutes=30), now=fresh) is None
    late = now + timedelta(minutes=31)
    assert unseal(token, purpose="follow_case", max_age=timedelta(minutes=30), now=late) is None
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    assert unseal(tampered, purpose="follow_case", max_age=timedelta(minutes=30), now=fresh) is None
    assert unseal("not a token", purpose="follow_case", max_age=timedelta(minutes=30), now=fresh) is None
    assert unseal(None, purpose="follow_case", max_age=timedelta(minutes=30), now=fresh) is None
