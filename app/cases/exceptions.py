"""Errors of the case tracker."""

from __future__ import annotations

from app.errors import Conflict, DomainError
from app.i18n import _


class TransitionNotAllowed(Conflict):
    """The case is not in a status this transition starts from; says which ones are allowed.

    Labels are kept in English (the catalogs' msgids) and translated when the message is shown.
    """

    def __init__(self, name: str, status_label: str, allowed: list[str]) -> None:
        super().__init__(None, {"allowed": allowed})
        self.name = name
        self.status_label = status_label
        self.allowed = allowed

    def public_message(self) -> str:
        status = _(self.status_label)
        if self.allowed:
            return _(
                "This action is not possible while the case is \u201c%(status)s\u201d. Possible now: %(allowed)s.",
                status=status,
                allowed=", ".join(_(label) for label in self.allowed),
            )
        return _("No action is possible while the case is \u201c%(status)s\u201d.", status=status)


class StaleCase(Conflict):
    """Someone changed the case since the form was loaded; changes lists what they did."""

    def __init__(self, changes: list[dict[str, object]]) -> None:
        super().__init__(None, {"changes": changes})
        self.changes = changes

    def public_message(self) -> str:
        return _("This case was changed meanwhile by someone else. Review the changes below and try again.")


class ConsentMissing(DomainError):
    """A referral needs the client's live consent for that partner."""

    status = 422

    def public_message(self) -> str:
        return _("Record the client's consent to share the case with this organisation first.")


class TooManyAttempts(DomainError):
    """A case's secret was given wrong too often lately: its status is refused to everyone for a while."""

    status = 429

    def public_message(self) -> str:
        return _("Too many attempts. Try again in a quarter of an hour, or ask us in the chat.")
