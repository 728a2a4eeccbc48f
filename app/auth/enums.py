"""Roles and organisation kinds."""

from __future__ import annotations

from enum import StrEnum

from app.i18n import _


class OrgKind(StrEnum):
    """What an organisation is to the city."""

    office = "office"
    partner = "partner"


class Role(StrEnum):
    """What a staff user may do; see app.auth.permissions for the rules."""

    caseworker = "caseworker"
    supervisor = "supervisor"
    partner_staff = "partner_staff"
    partner_admin = "partner_admin"
    admin = "admin"
    content_editor = "content_editor"  # teaches the assistant: its review queue and scores, nothing else


class PendingStep(StrEnum):
    """What a signed-in-by-password browser must still do before its session starts."""

    code = "code"  # give a code of its confirmed second factor
    enrol = "enrol"  # set up the second factor its role requires


#: Which roles belong to which kind of organisation.
ROLES_FOR_KIND: dict[OrgKind, frozenset[Role]] = {
    OrgKind.office: frozenset({Role.caseworker, Role.supervisor, Role.admin, Role.content_editor}),
    OrgKind.partner: frozenset({Role.partner_staff, Role.partner_admin}),
}


def role_label(role: Role) -> str:
    """Return the role's name in the current locale."""
    labels = {
        Role.caseworker: _("Caseworker"),
        Role.supervisor: _("Supervisor"),
        Role.partner_staff: _("Partner organisation staff"),
        Role.partner_admin: _("Partner organisation administrator"),
        Role.admin: _("City administrator"),
        Role.content_editor: _("Content editor"),
    }
    return labels[role]
