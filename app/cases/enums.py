"""Fixed vocabularies of the case tracker (the workflow's statuses come from cases/workflow.yml)."""

from __future__ import annotations

from enum import StrEnum

from app.i18n import _


class Source(StrEnum):
    """Where a case came from."""

    chat = "chat"
    form = "form"
    staff = "staff"


class Priority(StrEnum):
    """How urgent a case is."""

    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class Visibility(StrEnum):
    """Who may read a note."""

    internal = "internal"  # office staff only
    shared = "shared"  # also the partner the case is referred to


class ReferralState(StrEnum):
    """Life of one referral (cases/README.md, "Holder and referral")."""

    pending = "pending"
    accepted = "accepted"
    declined = "declined"
    expired = "expired"
    withdrawn = "withdrawn"
    returned = "returned"
    recalled = "recalled"
    completed = "completed"


class DeclineReason(StrEnum):
    """Why a partner declines a referral, as a category the open statistics count (the free-text
    reason says the rest). The ids are a contract: never rename one."""

    no_capacity = "no_capacity"  # no free places or staff now
    not_our_service = "not_our_service"  # the partner does not offer what the case needs
    not_eligible = "not_eligible"  # the client does not meet the service's conditions
    language = "language"  # nobody speaks the client's language
    no_contact = "no_contact"  # the partner could not reach the client
    other = "other"


def decline_reason_labels() -> dict[str, str]:
    """Return each reason for declining with its label in the current language."""
    return {
        DeclineReason.no_capacity.value: _("No free places or staff now"),
        DeclineReason.not_our_service.value: _("We do not offer what the case needs"),
        DeclineReason.not_eligible.value: _("The client does not meet our conditions"),
        DeclineReason.language.value: _("Nobody here speaks the client's language"),
        DeclineReason.no_contact.value: _("We could not reach the client"),
        DeclineReason.other.value: _("Another reason"),
    }


#: States in which a referral gives its partner access to the case.
LIVE_REFERRAL_STATES = frozenset({ReferralState.pending, ReferralState.accepted})


class ActorKind(StrEnum):
    """Who made a change."""

    user = "user"
    token = "token"
    system = "system"
    client = "client"


class ConsentScope(StrEnum):
    """What a consent lets a partner see."""

    case = "case"  # category, description, shared notes, language, district
    contact = "contact"  # the client's contact details as well
