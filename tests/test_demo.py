"""Demo content loads on every backend and never resets an existing password."""

from __future__ import annotations

from sqlalchemy import func, select

from app.appointments.models import Appointment
from app.auth.enums import OrgKind, Role
from app.auth.models import Organisation, User
from app.demo import load_demo
from app.partners import service as partner_service


def test_load_demo_creates_office_partners_and_staff_once(db, settings):
    report = load_demo(db=db, settings=settings)
    db.commit()
    partner_count = len(partner_service.directory(settings).organisations)
    assert db.scalar(select(func.count()).select_from(Organisation).where(Organisation.kind == OrgKind.partner)) == partner_count
    roles = set(db.scalars(select(User.role)).all())
    assert {Role.admin, Role.supervisor, Role.caseworker} <= roles
    if partner_count:
        assert {Role.partner_staff, Role.partner_admin} <= roles
    printed = [line for line in report if line.startswith("  ")]
    assert printed and all(len(line.split()[-1]) >= 20 for line in printed)  # each new user with its password
    # Demo visits in the coming days, some with an interpreter; loaded once.
    visits = db.scalars(select(Appointment)).all()
    assert len(visits) >= 4 and any(v.interpreter_language for v in visits)
    hashes = dict(db.execute(select(User.email, User.password_hash)).all())
    again = load_demo(db=db, settings=settings)
    db.commit()
    assert not [line for line in again if line.startswith("  ")]
    assert dict(db.execute(select(User.email, User.password_hash)).all()) == hashes
    assert db.scalar(select(func.count()).select_from(Appointment)) == len(visits)
