"""Demo content: the city office, the demo partners from partners/, demo staff users, cases and visits."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.appointments import service as visit_service
from app.appointments.models import Appointment
from app.auth import service as auth_service
from app.auth.enums import OrgKind, Role
from app.auth.models import Organisation, User
from app.cases import flows as case_flows
from app.cases.enums import Source
from app.cases.events import CLIENT, Actor
from app.cases.models import CaseFile
from app.cases.schemas import CaseIn, ClientIn, TransitionIn
from app.config import Settings
from app.db import utcnow
from app.partners import service as partner_service
from app.reports import facts as report_facts

DEMO_DOMAIN = "witaj.example"


def load_demo(*, db: Session, settings: Settings) -> list[str]:
    """Create what is missing of the demo content; return lines to print (new passwords once). The
    organisations and users are flushed; the demo cases are opened through the case flows, which commit."""
    report: list[str] = []
    office = auth_service.ensure_organisation(
        db=db, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office
    )
    report.append(f"organisation: {office.name} ({office.slug})")
    partners = []
    for partner in partner_service.directory(settings).organisations.values():
        org = auth_service.ensure_organisation(
            db=db, slug=partner.slug, name=partner.name, kind=OrgKind.partner, is_demo=partner.is_demo
        )
        partners.append(org)
        report.append(f"organisation: {org.name} ({org.slug})")

    wanted: list[tuple[str, str, Role, object]] = [
        (f"admin@{DEMO_DOMAIN}", "Anna Administratorka", Role.admin, office),
        (f"supervisor@{DEMO_DOMAIN}", "Stefan Kierownik", Role.supervisor, office),
        (f"caseworker@{DEMO_DOMAIN}", "Kasia Doradczyni", Role.caseworker, office),
        (f"editor@{DEMO_DOMAIN}", "Ewa Redaktorka", Role.content_editor, office),
    ]
    # Staff for the partners that take referrals most often in the demo cases.
    preferred = ["fundacja-przystan", "stowarzyszenie-cieply-kat"]
    demo_partners = sorted([p for p in partners if p.is_demo], key=lambda o: (o.slug not in preferred, o.slug))
    for org in demo_partners[:2]:
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
        required = ", ".join(sorted(settings.two_factor_roles))
        if required:
            report.append(f"users with the role(s) {required} set up two-factor sign-in at their first sign-in")
    db.flush()
    report.extend(_demo_cases(db=db, settings=settings))
    report.extend(_demo_visits(db=db, settings=settings))
    # The dashboard shows the demo cases at once, not after the jobs runner's next round.
    folded = report_facts.refresh(db=db, settings=settings)
    report.append(f"statistics: {folded['cases']} cases folded")
    return report


#: (name, language, interpreter, service, place, evening): visits booked in the coming days.
DEMO_VISITS = [
    ("Olena K.", "uk", "uk", "labour-registration", "gup-sliska", False),
    ("Ivan P.", "ru", None, "career-adviser", "gup-sliska", True),
    ("Nino B.", "ka", "ka", "work-permit", "kiosk-galeria-krakowska", True),
    ("Hanna S.", "be", None, "library-card", "kiosk-serenada", False),
    ("Ahmed A.", "ar", "ar", "polish-course", "alfabet-sasiedzki-desk", True),
    ("Oksana T.", "uk", None, "labour-registration", "kiosk-bonarka", True),
]


def _demo_visits(*, db: Session, settings: Settings) -> list[str]:
    """Book a few demo visits in the coming days (evenings among them), once (skipped when any exists)."""
    if db.scalar(select(Appointment.id).limit(1)) is not None:
        return ["visits: some exist, no demo visits added"]
    now = utcnow()
    today = now.astimezone(settings.zone).date()
    booked = 0
    for name, language, interpreter, service_id, place_id, evening in DEMO_VISITS:
        found = visit_service.search(
            db=db, settings=settings, service_id=service_id, first_day=today + timedelta(days=1),
            last_day=today + timedelta(days=14), now=now, place_ids={place_id}, evening=evening,
        ).get(place_id, [])
        if not found:
            continue
        slot = found[(booked * 3) % len(found)]
        person = visit_service.Person(name, f"{name.split()[0].lower()}@{DEMO_DOMAIN}", None)
        visit_service.book(
            db=db, settings=settings, service_id=service_id, place_id=place_id, starts_at=slot.starts_at,
            person=person, language=language, interpreter_language=interpreter, source="web", now=now,
        )
        booked += 1
    db.flush()
    return [f"visits: {booked} demo visits booked"]


#: (name, language, district, category, subject, what happens)
DEMO_CASES = [
    ("Olena K.", "uk", "Nowa Huta", "labour_registration", "Rejestracja jako bezrobotna", "new"),
    ("Ivan P.", "ru", "Podgórze", "job_search", "Praca jako elektryk", "triaged"),
    ("Hanna S.", "be", "Krowodrza", "polish_course", "Kurs polskiego wieczorem", "new"),
    ("Maria L.", "uk", "Stare Miasto", "legal_aid", "Karta pobytu – odmowa", "referred"),
    ("John M.", "en", "Dębniki", "work_permit", "Zmiana pracodawcy a zezwolenie", "in_progress"),
    ("Oksana T.", "uk", "Czyżyny", "housing", "Pilnie szukam pokoju", "accepted"),
    ("Dmitri V.", "ru", "Bieńczyce", "psychological_support", "Wsparcie dla syna", "new"),
    ("Aliaksandr B.", "be", "Prądnik Czerwony", "library", "Karta biblioteczna", "resolved"),
]


def _demo_cases(*, db: Session, settings: Settings) -> list[str]:
    """Open a few demo cases in different states, once (skipped when any case exists)."""
    if db.scalar(select(CaseFile.id).limit(1)) is not None:
        return ["cases: some exist, no demo cases added"]
    caseworker = db.scalar(select(User).where(User.email == f"caseworker@{DEMO_DOMAIN}"))
    if caseworker is None:
        return []
    office_actor = Actor.of(auth_service.principal_of(caseworker))
    partner_slugs = set(db.scalars(select(Organisation.slug).where(Organisation.kind == OrgKind.partner)).all())
    opened = 0
    for name, language, district, category, subject, goal in DEMO_CASES:
        case, _secret = case_flows.open_case(
            db=db,
            settings=settings,
            client=ClientIn(display_name=name, preferred_language=language, district=district),
            case=CaseIn(category=category, subject=subject, description="(demo)", source=Source.chat),
            actor=office_actor,
        )
        opened += 1
        if goal == "new":
            continue
        _move(db, settings, case, office_actor, "triage")
        if goal in ("referred", "accepted"):
            found = partner_service.suggestions_for(db=db, settings=settings, case=case)
            partner = next((s for s in found if not s.full and s.organisation_slug in partner_slugs), None)
            if partner is None:
                continue
            case_flows.record_consent(
                db=db, case=case, organisation_slug=partner.organisation_slug, scope=["case", "contact"],
                language=language, method="chat", actor=CLIENT,
            )
            _move(db, settings, case, office_actor, "refer", organisation=partner.organisation_slug, service=partner.service_id)
            if goal == "accepted":
                staff = db.scalar(select(User).where(User.organisation_id == case.current_referral.organisation_id))
                if staff is not None:
                    _move(db, settings, case, Actor.of(auth_service.principal_of(staff)), "accept")
        elif goal in ("in_progress", "resolved"):
            _move(db, settings, case, office_actor, "start")
            if goal == "resolved":
                _move(db, settings, case, office_actor, "resolve", outcome="helped")
    return [f"cases: {opened} demo cases opened"]


def _move(db: Session, settings: Settings, case: CaseFile, actor: Actor, name: str, **fields: str) -> None:
    case_flows.transition(db=db, settings=settings, case=case, request=TransitionIn(name=name, **fields), actor=actor)
