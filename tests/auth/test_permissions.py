"""The permission module: which role may do what to whose data."""

from __future__ import annotations

import pytest

from app.auth.enums import OrgKind, Role
from app.auth.permissions import Action, Principal, allowed_actions, can, require
from app.errors import PermissionDenied

OFFICE, PARTNER_A, PARTNER_B = 1, 2, 3


def principal(role: Role, org: int, active: bool = True) -> Principal:
    kind = OrgKind.partner if role in (Role.partner_staff, Role.partner_admin) else OrgKind.office
    return Principal(user_id=9, role=role, organisation_id=org, organisation_kind=kind, is_active=active)


@pytest.mark.parametrize(
    ("role", "org", "action", "target", "allowed"),
    [
        (Role.caseworker, OFFICE, Action.refer_cases, OFFICE, True),
        (Role.caseworker, OFFICE, Action.assign_cases, OFFICE, False),
        (Role.caseworker, OFFICE, Action.manage_users, OFFICE, False),
        (Role.caseworker, OFFICE, Action.view_cases, PARTNER_A, False),
        (Role.supervisor, OFFICE, Action.assign_cases, OFFICE, True),
        (Role.supervisor, OFFICE, Action.view_audit, OFFICE, True),
        (Role.supervisor, OFFICE, Action.manage_partners, OFFICE, False),
        (Role.partner_staff, PARTNER_A, Action.answer_referrals, PARTNER_A, True),
        (Role.partner_staff, PARTNER_A, Action.view_cases, PARTNER_B, False),
        (Role.partner_staff, PARTNER_A, Action.view_cases, OFFICE, False),
        (Role.partner_staff, PARTNER_A, Action.refer_cases, PARTNER_A, False),
        (Role.partner_staff, PARTNER_A, Action.manage_users, PARTNER_A, False),
        (Role.partner_admin, PARTNER_A, Action.manage_users, PARTNER_A, True),
        (Role.partner_admin, PARTNER_A, Action.manage_users, PARTNER_B, False),
        (Role.admin, OFFICE, Action.manage_partners, PARTNER_B, True),
        (Role.admin, OFFICE, Action.manage_users, PARTNER_A, True),
        (Role.admin, OFFICE, Action.view_cases, PARTNER_A, False),
        (Role.admin, OFFICE, Action.manage_content, OFFICE, True),
    ],
)
def test_can(role, org, action, target, allowed):
    assert can(principal(role, org), action, target) is allowed


def test_nobody_and_inactive_users_may_do_nothing():
    assert not can(None, Action.view_cases, OFFICE)
    assert allowed_actions(principal(Role.admin, OFFICE, active=False), OFFICE) == frozenset()


def test_require_raises_permission_denied():
    require(principal(Role.caseworker, OFFICE), Action.view_cases, OFFICE)
    with pytest.raises(PermissionDenied):
        require(principal(Role.caseworker, OFFICE), Action.view_cases, PARTNER_A)


def test_every_role_has_rules():
    for role in Role:
        assert allowed_actions(principal(role, OFFICE), OFFICE), role
