"""The one answer to "may this principal do X to this organisation's data".

Every later domain asks here instead of checking roles itself. Which *records* of an organisation
a principal sees (for example: only cases referred to a partner) is decided in each domain's
query layer; this module decides which organisations' data a role may act on, and how.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.auth.enums import OrgKind, Role
from app.errors import PermissionDenied


class Action(StrEnum):
    """Things a staff user can do to an organisation's data."""

    view_cases = "view_cases"
    edit_cases = "edit_cases"
    triage_cases = "triage_cases"
    assign_cases = "assign_cases"
    refer_cases = "refer_cases"
    answer_referrals = "answer_referrals"
    message_clients = "message_clients"
    export_personal_data = "export_personal_data"
    view_reports = "view_reports"
    view_audit = "view_audit"
    manage_users = "manage_users"
    manage_partners = "manage_partners"
    manage_content = "manage_content"
    #: the assistant's review queue (what it failed to answer) and its scores
    review_assistant = "review_assistant"


_CASEWORKER = frozenset(
    {
        Action.view_cases,
        Action.edit_cases,
        Action.triage_cases,
        Action.refer_cases,
        Action.message_clients,
    }
)
_SUPERVISOR = _CASEWORKER | {
    Action.assign_cases,
    Action.export_personal_data,
    Action.view_reports,
    Action.view_audit,
    Action.review_assistant,
}
_PARTNER_STAFF = frozenset(
    {Action.view_cases, Action.edit_cases, Action.answer_referrals, Action.message_clients}
)
_PARTNER_ADMIN = _PARTNER_STAFF | {Action.manage_users, Action.view_reports, Action.export_personal_data}
_ADMIN = frozenset(Action)
#: A content editor sees no case, person or other staff page: only what the assistant failed to
#: answer (masked, from conversations whose newcomer agreed) and its scores.
_CONTENT_EDITOR = frozenset({Action.review_assistant})

#: What each role may do to the data of its *own* organisation.
OWN_ORGANISATION: dict[Role, frozenset[Action]] = {
    Role.caseworker: _CASEWORKER,
    Role.supervisor: _SUPERVISOR,
    Role.partner_staff: _PARTNER_STAFF,
    Role.partner_admin: _PARTNER_ADMIN,
    Role.admin: _ADMIN,
    Role.content_editor: _CONTENT_EDITOR,
}

#: What each role may do to the data of *other* organisations (a city administrator manages
#: partners and their users; nobody else reaches across).
OTHER_ORGANISATIONS: dict[Role, frozenset[Action]] = {
    Role.admin: frozenset({Action.manage_users, Action.manage_partners, Action.view_reports, Action.view_audit}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a signed-in staff user, reduced to what permission checks need."""

    user_id: int | None
    role: Role
    organisation_id: int
    organisation_kind: OrgKind
    display_name: str = ""
    is_active: bool = True
    token_id: int | None = None  # set when acting through an organisation's API token

    @property
    def is_office(self) -> bool:
        """True for staff of the city office."""
        return self.organisation_kind is OrgKind.office

    @property
    def is_partner(self) -> bool:
        """True for staff of a partner organisation."""
        return self.organisation_kind is OrgKind.partner


def can(principal: Principal | None, action: Action, organisation_id: int) -> bool:
    """Return whether principal may do action to the data of organisation organisation_id."""
    if principal is None or not principal.is_active:
        return False
    if organisation_id == principal.organisation_id:
        return action in OWN_ORGANISATION.get(principal.role, frozenset())
    return action in OTHER_ORGANISATIONS.get(principal.role, frozenset())


def require(principal: Principal | None, action: Action, organisation_id: int) -> None:
    """Return None when allowed; raise PermissionDenied otherwise."""
    if not can(principal, action, organisation_id):
        raise PermissionDenied(action.value)


def allowed_actions(principal: Principal | None, organisation_id: int) -> frozenset[Action]:
    """Return every action principal may do to organisation_id's data (for menus)."""
    return frozenset(a for a in Action if can(principal, a, organisation_id))
