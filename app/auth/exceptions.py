"""Sign-in failures, and refusals of the second factor."""

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


class WrongCode(DomainError):
    """A second-factor code that is not right, or was used before."""

    status = 400

    def public_message(self) -> str:
        return _("This code is not correct, or it was used already. Enter the code your app shows now.")


class AlreadyEnrolled(DomainError):
    """The second factor was set up already (another tab, a form sent twice)."""

    status = 409

    def public_message(self) -> str:
        return _("Two-factor sign-in is already on for your account.")


class SecondFactorRequired(DomainError):
    """The user's role must sign in with a second factor: it cannot be turned off."""

    status = 409

    def public_message(self) -> str:
        return _("Your role requires two-factor sign-in, so it cannot be turned off.")
