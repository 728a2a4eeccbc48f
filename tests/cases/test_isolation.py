"""A case that moves from one partner to another: what the first partner wrote to the office (its
notes, its decline's reason), its consent and its referral stay between the office and that partner."""

from __future__ import annotations

from app.auth import service as auth_service
from app.cases import access, flows
from app.cases.enums import Visibility
from app.cases.schemas import TransitionIn
from tests.cases.fixtures import PARTNER_B, refer_to_a
from tests.conftest import csrf_from

A_NOTE = "Klientka ma u nas teczkę od 2024 roku."
A_REASON = "Nie mamy wolnego prawnika do marca."
OFFICE_TO_A = "Pani Olena prosi o kontakt po 16:00 (dla Fundacji Przystań)."
OFFICE_TO_ALL = "Sprawa dotyczy odwołania od decyzji wojewody."


def move_on_to_b(db, settings, world, case):
    """The office shares a note, refers to A; A notes and declines; the office refers to B."""
    office = world.actor(world.caseworker)
    flows.add_note(db=db, settings=settings, case=case, body=OFFICE_TO_ALL, visibility=Visibility.shared, actor=office)
    refer_to_a(db, settings, world, case)
    flows.add_note(db=db, settings=settings, case=case, body=OFFICE_TO_A, visibility=Visibility.shared, actor=office)
    staff_a = world.actor(world.staff_a)
    flows.add_note(db=db, settings=settings, case=case, body=A_NOTE, visibility=Visibility.shared, actor=staff_a)
    flows.transition(db=db, settings=settings, case=case, request=TransitionIn(name="decline", reason=A_REASON), actor=staff_a)
    flows.record_consent(
        db=db, case=case, organisation_slug=PARTNER_B, scope=["case"], language="uk", method="staff", actor=office
    )
    refer = TransitionIn(name="refer", organisation=PARTNER_B, service="migration-law")
    flows.transition(db=db, settings=settings, case=case, request=refer, actor=office)
    assert case.status == "referred" and case.current_referral.organisation_id == world.partner_b.id


def shown(items) -> str:
    """Return everything a timeline shows as one text: notes, reasons, event data."""
    return "\n".join(
        f"{i['event'].kind} {i['event'].data} {i['note'].body if i['note'] else ''}" for i in items
    )


def test_a_later_partner_reads_nothing_an_earlier_partner_wrote_to_the_office(db, settings, world, open_case):
    case, _ = open_case()
    move_on_to_b(db, settings, world, case)
    seen_by_b = shown(access.timeline(db=db, case=case, principal=world.principal(world.staff_b)))
    for private in (A_NOTE, A_REASON, OFFICE_TO_A, world.partner_a.slug):
        assert private not in seen_by_b
    assert OFFICE_TO_ALL in seen_by_b  # what the office shared before any referral, B reads
    seen_by_office = shown(access.timeline(db=db, case=case, principal=world.principal(world.caseworker)))
    assert all(text in seen_by_office for text in (A_NOTE, A_REASON, OFFICE_TO_A, OFFICE_TO_ALL))


def test_nor_on_its_case_page_or_through_the_api(db, settings, world, open_case, client, login):
    case, _ = open_case()
    move_on_to_b(db, settings, world, case)
    login(world.staff_b.email, "long enough password", locale="en")
    page = client.get(f"/en/staff/cases/{case.reference}")
    assert page.status_code == 200 and OFFICE_TO_ALL in page.text
    _, token = auth_service.create_api_token(db=db, organisation=world.partner_b, name="CRM B")
    detail = client.get(f"/api/v1/cases/{case.reference}", headers={"Authorization": f"Bearer {token}"})
    assert detail.status_code == 200
    for private in (A_NOTE, A_REASON, OFFICE_TO_A, "Fundacja Przystań", world.partner_a.slug):
        assert private not in page.text
        assert private not in detail.text
    # B writes back: the office reads it, and B still reads its own note.
    client.post(
        f"/en/staff/cases/{case.reference}/notes",
        data={"csrf_token": csrf_from(page.text), "body": "Przyjmujemy sprawę."},
    )
    assert "Przyjmujemy sprawę." in client.get(f"/en/staff/cases/{case.reference}").text
