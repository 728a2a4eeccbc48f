"""Sign-in failures."""

from __future__ import annotations

from datetime import datetime

from app.errors import DomainError
from app.i18n import _, ngettext


class LoginFailed(DomainError):
    """Wrong e-mail or password (never says which)."""

    status = 400

    def public_message(self) -> str:
        return _("The e-mail address or the password is not correct.")


class AccountLocked(DomainError):
    """Too many failed attempts; sign-in is refused until `until`."""

    status = 429

    def __init__(self, until: datetime, now: datetime) -> None:
        super().__init__("locked")
        self.until = until
        self.minutes = max(1, int((until - now).total_seconds() + 59) // 60)

    def public_message(self) -> str:
        return ngettext(
            "Too many failed attempts. Sign-in is locked for %(num)d minute.",
            "Too many failed attempts. Sign-in is locked for %(num)d minutes.",
            self.minutes,
        )

