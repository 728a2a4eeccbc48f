"""Fixed vocabularies of the case tracker (the workflow's statuses come from cases/workflow.yml)."""

from __future__ import annotations

from enum import StrEnum


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
