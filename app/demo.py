"""Demo content: the city office, the demo partners from partners/, and demo staff users."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.enums import OrgKind, Role
from app.auth.models import User
from app.config import Settings
from app.partners.content import read_partners

DEMO_DOMAIN = "witaj.example"


def load_demo(*, db: Session, settings: Settings) -> list[str]:
    """Create what is missing of the demo content; return lines to print (new passwords once). Flushes."""
    report: list[str] = []
    office = auth_service.ensure_organisation(
        db=db, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office
    )
    report.append(f"organisation: {office.name} ({office.slug})")
    partners = []
    for partner in read_partners(settings.content_dir / "partners"):
        org = auth_service.ensure_organisation(
            db=db, slug=partner.slug, name=partner.name, kind=OrgKind.partner, is_demo=partner.is_demo
        )
        partners.append(org)
        report.append(f"organisation: {org.name} ({org.slug})")

    wanted: list[tuple[str, str, Role, object]] = [
        (f"admin@{DEMO_DOMAIN}", "Anna Administratorka", Role.admin, office),
        (f"supervisor@{DEMO_DOMAIN}", "Stefan Kierownik", Role.supervisor, office),
        (f"caseworker@{DEMO_DOMAIN}", "Kasia Doradczyni", Role.caseworker, office),
    ]
    for org in [p for p in partners if p.is_demo][:2]:
        wanted.append((f"staff@{org.slug}.{DEMO_DOMAIN}", f"Staff {org.name}", Role.partner_staff, org))
        wanted.append((f"admin@{org.slug}.{DEMO_DOMAIN}", f"Admin {org.name}", Role.partner_admin, org))

    created = []
    for email, name, role, org in wanted:
        if db.scalar(select(User.id).where(User.email == email)) is not None:
            report.append(f"user: {email} exists, password unchanged")
            continue
        password = auth_service.generate_password()
        auth_service.create_user(
            db=db, email=email, display_name=name, password=password, role=role, organisation=org  # type: ignore[arg-type]
        )
        created.append(f"  {email:<48} {role.value:<14} {password}")
    if created:
        report.append("demo staff users created; passwords are shown only this once:")
        report.extend(created)
    return report
