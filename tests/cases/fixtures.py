"""Fixtures for the case tracker: the office, two partners from partners/, their staff, a case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest

from app.auth import service as auth_service
from app.auth.enums import OrgKind, Role
from app.auth.models import Organisation, User
from app.auth.permissions import Principal
from app.cases import flows
from app.cases.events import Actor
from app.cases.models import CaseFile
from app.cases.schemas import CaseIn, ClientIn, TransitionIn

PARTNER_A = "fundacja-przystan"  # legal aid, speaks uk
PARTNER_B = "stowarzyszenie-prawo-na-start"  # legal aid too


@dataclass
class World:
    office: Organisation
    partner_a: Organisation
    partner_b: Organisation
    caseworker: User
    supervisor: User
    staff_a: User
    staff_b: User

    def principal(self, user: User) -> Principal:
        return auth_service.principal_of(user)

    def actor(self, user: User) -> Actor:
        return Actor.of(self.principal(user))


@pytest.fixture
def world(db, settings) -> World:
    office = auth_service.ensure_organisation(db=db, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office)
    partner_a = auth_service.ensure_organisation(db=db, slug=PARTNER_A, name="Fundacja Przystań", kind=OrgKind.partner)
    partner_b = auth_service.ensure_organisation(db=db, slug=PARTNER_B, name="Prawo na Start", kind=OrgKind.partner)
    users = {}
    for key, role, org in [
        ("caseworker", Role.caseworker, office),
        ("supervisor", Role.supervisor, office),
        ("staff_a", Role.partner_staff, partner_a),
        ("staff_b", Role.partner_staff, partner_b),
    ]:
        users[key] = auth_service.create_user(
            db=db, email=f"{key}@cases.example.org", display_name=key.title(), password="long enough password", role=role, organisation=org
        )
    db.commit()
    return World(office=office, partner_a=partner_a, partner_b=partner_b, **users)


@pytest.fixture
def open_case(db, settings, world):
    """Return a factory of new cases: open_case(category=..., now=...) -> (case, secret)."""

    def factory(
        category: str = "legal_aid",
        language: str = "uk",
        district: str | None = "Nowa Huta",
        now: datetime | None = None,
        email: str | None = "olena@example.org",
        subject: str = "Pytanie o kartę pobytu",
    ) -> tuple[CaseFile, str]:
        return flows.open_case(
            db=db,
            settings=settings,
            client=ClientIn(
                display_name="Olena K.", preferred_language=language, district=district, email=email, phone="+48 600 100 200"
            ),
            case=CaseIn(category=category, subject=subject, description="Mam pytanie o pobyt."),
            actor=world.actor(world.caseworker),
            now=now,
        )

    return factory


def refer_to_a(db, settings, world, case, now=None, scope=("case", "contact")):
    """Triage, record consent for partner A, and refer the case to its legal-aid service."""
    actor = world.actor(world.caseworker)
    flows.transition(
        db=db, settings=settings, case=case, request=TransitionIn(name="triage", category=case.category), actor=actor, now=now
    )
    consent = flows.record_consent(
        db=db, case=case, organisation_slug=PARTNER_A, scope=list(scope), language="uk", method="staff", actor=actor, now=now
    )
    flows.transition(
        db=db,
        settings=settings,
        case=case,
        request=TransitionIn(name="refer", organisation=PARTNER_A, service="legal-aid-residence"),
        actor=actor,
        now=now,
    )
    return consent
