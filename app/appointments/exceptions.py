"""Errors of appointments."""

from __future__ import annotations

from app.errors import Conflict, NotFound
from app.i18n import _


class SlotTaken(Conflict):
    """Every desk is taken at that time (someone booked it meanwhile), or staff closed it."""

    def public_message(self) -> str:
        return _("This time is no longer free: someone booked it a moment ago. Please choose another time.")


class VisitNotFound(NotFound):
    """No such visit, or the link's secret is wrong (both answered alike)."""

    def public_message(self) -> str:
        return _("We could not find this visit. Check the link in your confirmation.")


class VisitClosed(Conflict):
    """The visit was cancelled, has passed or was already checked in: it cannot be changed now."""

    def public_message(self) -> str:
        return _("This visit can no longer be changed: it was cancelled or has already taken place.")


class NoSuchChoice(NotFound):
    """An API request names a service or place that does not exist (or does not offer the service)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def public_message(self) -> str:
        return self.message
