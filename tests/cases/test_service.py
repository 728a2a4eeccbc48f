"""The case tracker's services on a real database: lifecycle, access, consent, deadlines, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.auth.permissions import Principal
from app.cases import access, events, flows, inbox
from app.cases import service as case_service
from app.cases.content import case_content
from app.cases.deadlines import is_overdue
from app.cases.enums import Visibility
from app.cases.exceptions import ConsentMissing, StaleCase, TransitionNotAllowed
from app.cases.models import AuditEntry, CaseEvent, CaseFile, Referral
from app.cases.schemas import CaseIn, ClientIn, InboxFilter, TransitionIn
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.partners import service as partner_service
from tests.cases.fixtures import PARTNER_A, PARTNER_B, refer_to_a

# Monday 2 March 2026, 09:00 in Kraków (CET, UTC+1).
MONDAY_9 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def move(db, settings, case, actor, name, now=None, **fields):
    return flows.transition(
        db=db, settings=settings, case=case, request=TransitionIn(name=name, **fields), actor=actor, now=now
    )


def test_reference_format_and_sequence(db, settings, world, open_case):
    first, secret = open_case()
    second, _ = open_case()
    year = datetime.now(UTC).astimezone(settings.zone).year
    assert first.reference.startswith(f"KRK-{year}-") and len(first.reference) == len(f"KRK-{year}-000001")
    assert int(second.reference[-6:]) == int(first.reference[-6:]) + 1
    assert len(secret) >= 12 and secret not in first.secret_hash
    assert access.find_by_secret(db=db, reference=first.reference, secret=secret).id == first.id
    assert access.find_by_secret(db=db, reference=first.reference, secret="guess") is None


def test_contact_details_are_encrypted_at_rest(db, world, open_case):
    case, _ = open_case(email="olena.secret@example.org")
    raw = db.execute(text("SELECT contact_encrypted FROM client WHERE id = :id"), {"id": case.client_id}).scalar()
    assert raw and "olena.secret" not in raw and "600 100 200" not in raw


def test_new_case_validation_names_each_field(db, settings, world):
    with pytest.raises(InvalidInput) as caught:
        flows.open_case(
            db=db,
            settings=settings,
            client=ClientIn(display_name="", preferred_language="ukrainian", district="Atlantis", email="nope"),
            case=CaseIn(category="astrology", subject=""),
            actor=world.actor(world.caseworker),
        )
    assert set(caught.value.field_errors) == {"display_name", "preferred_language", "district", "email", "category", "subject"}


def test_whole_lifecycle_with_a_partner(db, settings, world, open_case):
    case, _ = open_case()
    office_actor, partner_actor = world.actor(world.caseworker), world.actor(world.staff_a)
    assert case.status == "new" and case.holder_org_id == world.office.id
    refer_to_a(db, settings, world, case)
    assert case.status == "referred" and case.holder_org_id == world.office.id
    assert case.current_referral.state == "pending"

    move(db, settings, case, partner_actor, "accept", expected_version=case.version)
    assert case.status == "accepted" and case.holder_org_id == world.partner_a.id
    move(db, settings, case, partner_actor, "start")
    move(db, settings, case, partner_actor, "wait_for_client", reason="Czekamy na skan paszportu.")
    assert case.due_at is None  # no clock runs while waiting for the client
    case_service.on_client_message(db=db, settings=settings, case=case)
    assert case.status == "in_progress"
    move(db, settings, case, partner_actor, "resolve", outcome="helped")
    move(db, settings, case, partner_actor, "close")
    assert case.status == "closed" and case.outcome == "helped"
    move(db, settings, case, office_actor, "reopen_for_triage", reason="Klientka wróciła z nowym pytaniem.")
    assert case.status == "triaged" and case.holder_org_id == world.office.id and case.outcome is None
    assert case.current_referral_id is None
    assert db.get(Referral, db.scalar(select(Referral.id).where(Referral.case_id == case.id))).state == "completed"

    names = db.scalars(select(CaseEvent.name).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    assert names == [
        None, "triage", None, "refer", "accept", "start", "wait_for_client", "client_replied", "resolve", "close", "reopen_for_triage",
    ]
    # The current state is a projection of the events.
    projected = events.project(db=db, case_id=case.id)
    for key, value in events.snapshot(case).items():
        assert projected.get(key) == value, key


def test_illegal_transition_says_what_is_allowed(db, settings, world, open_case):
    case, _ = open_case()
    with pytest.raises(TransitionNotAllowed) as caught:
        move(db, settings, case, world.actor(world.caseworker), "resolve", outcome="helped")
    from app.i18n import use_locale

    with use_locale("en"):
        message = caught.value.public_message()
    assert "Triage" in message and "Close without action" in message
    assert caught.value.status == 409


def test_roles_and_scope_are_enforced(db, settings, world, open_case):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    with pytest.raises(PermissionDenied):  # the office cannot accept on the partner's behalf
        move(db, settings, case, world.actor(world.caseworker), "accept")
    with pytest.raises(PermissionDenied):  # another partner cannot either
        move(db, settings, case, world.actor(world.staff_b), "accept")
    with pytest.raises(InvalidInput):  # system transitions are not for people
        move(db, settings, case, world.actor(world.supervisor), "escalate")


def test_referral_needs_consent_for_that_partner(db, settings, world, open_case):
    case, _ = open_case()
    actor = world.actor(world.caseworker)
    move(db, settings, case, actor, "triage")
    refer = {"organisation": PARTNER_A, "service": "legal-aid-residence"}
    with pytest.raises(ConsentMissing):
        move(db, settings, case, actor, "refer", **refer)
    flows.record_consent(db=db, case=case, organisation_slug=PARTNER_B, scope=["case"], language="uk", method="staff", actor=actor)
    with pytest.raises(ConsentMissing):
        move(db, settings, case, actor, "refer", **refer)
    with pytest.raises(InvalidInput) as caught:  # a service that does not serve the category
        move(db, settings, case, actor, "refer", organisation="fundacja-zielony-most", service="individual-counselling")
    assert "service" in caught.value.field_errors
    assert case.status == "triaged"


def test_decline_needs_a_reason_and_ends_partner_access(db, settings, world, open_case):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    partner = world.actor(world.staff_a)
    with pytest.raises(InvalidInput) as caught:
        move(db, settings, case, partner, "decline", reason="  ")
    assert "reason" in caught.value.field_errors
    move(db, settings, case, partner, "decline", reason="Brak miejsc do końca miesiąca.")
    assert case.status == "declined" and case.holder_org_id == world.office.id
    with pytest.raises(NotFound):
        access.get_visible(db=db, principal=world.principal(world.staff_a), reference=case.reference)


def test_partner_sees_only_its_live_referrals(db, settings, world, open_case):
    referred, _ = open_case(subject="Referred one")
    other, _ = open_case(subject="Not referred")
    refer_to_a(db, settings, world, referred)
    staff_a, staff_b = world.principal(world.staff_a), world.principal(world.staff_b)
    seen_a, _ = inbox.list_for(db=db, principal=staff_a, filters=InboxFilter())
    assert [c.reference for c in seen_a] == [referred.reference]
    assert inbox.list_for(db=db, principal=staff_b, filters=InboxFilter())[0] == []
    for principal, reference in [(staff_a, other.reference), (staff_b, referred.reference)]:
        with pytest.raises(NotFound):
            access.get_visible(db=db, principal=principal, reference=reference)
    office_seen, _ = inbox.list_for(db=db, principal=world.principal(world.caseworker), filters=InboxFilter())
    assert {referred.reference, other.reference} <= {c.reference for c in office_seen}


def test_internal_notes_stay_in_the_office(db, settings, world, open_case):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    office_actor = world.actor(world.caseworker)
    flows.add_note(db=db, settings=settings, case=case, body="Klientka jest w trudnej sytuacji.", visibility=Visibility.internal, actor=office_actor)
    flows.add_note(db=db, settings=settings, case=case, body="Prosimy o kontakt do piątku.", visibility=Visibility.shared, actor=office_actor)
    # A partner cannot write an internal note, even if it asks to.
    partner_note = flows.add_note(db=db, settings=settings, case=case, body="Przyjmiemy sprawę.", visibility=Visibility.internal, actor=world.actor(world.staff_a)
    )
    assert partner_note.visibility == "shared"
    partner_view = access.timeline(db=db, case=case, principal=world.principal(world.staff_a))
    bodies = [i["note"].body for i in partner_view if i["note"]]
    assert bodies == ["Prosimy o kontakt do piątku.", "Przyjmiemy sprawę."]
    office_view = access.timeline(db=db, case=case, principal=world.principal(world.caseworker))
    assert len([i for i in office_view if i["note"]]) == 3


def test_contact_details_only_with_consent_and_audited(db, settings, world, open_case):
    case, _ = open_case(email="olena@example.org")
    refer_to_a(db, settings, world, case, scope=("case",))
    staff_a = world.principal(world.staff_a)
    assert access.client_contact(db=db, settings=settings, case=case, principal=staff_a) is None
    office = world.principal(world.caseworker)
    contact = access.client_contact(db=db, settings=settings, case=case, principal=office)
    assert contact["email"] == "olena@example.org"
    audited = db.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case.id)).all()
    assert audited == ["view_contact"]


def test_consent_withdrawal_ends_partner_access(db, settings, world, open_case):
    case, _ = open_case()
    consent = refer_to_a(db, settings, world, case)
    move(db, settings, case, world.actor(world.staff_a), "accept")
    staff_a = world.principal(world.staff_a)
    assert access.get_visible(db=db, principal=staff_a, reference=case.reference)
    flows.withdraw_consent(db=db, settings=settings, case=case, consent=consent, actor=world.actor(world.caseworker))
    with pytest.raises(NotFound):
        access.get_visible(db=db, principal=staff_a, reference=case.reference)
    assert case.status == "triaged" and case.holder_org_id == world.office.id and case.current_referral_id is None
    kinds = db.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    assert kinds[-1] == "consent_withdrawn"
    # Referring again needs a new consent.
    with pytest.raises(ConsentMissing):
        move(db, settings, case, world.actor(world.caseworker), "refer", organisation=PARTNER_A, service="legal-aid-residence")


def test_deadlines_count_office_hours(db, settings, world, open_case):
    # Friday 6 March 2026, 15:00 in Kraków; labour registration must be answered within 8 office hours.
    friday_15 = datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
    case, _ = open_case(category="labour_registration", now=friday_15)
    hours = case_content(settings).categories["labour_registration"].deadlines["first_response"]
    expected = case_content(settings).workflow.calendar.add_business_hours(friday_15, hours)
    assert case.due_at == expected
    assert expected.weekday() in (0, 1, 2)  # counted past the weekend, not 8 wall-clock hours
    assert not is_overdue(case, friday_15 + timedelta(hours=9))


def test_unanswered_referral_escalates_with_a_frozen_clock(db, settings, world, open_case):
    case, _ = open_case(now=MONDAY_9)
    refer_to_a(db, settings, world, case, now=MONDAY_9)
    due = case.due_at
    limit = case_content(settings).categories["legal_aid"].deadlines["referral_answer"]
    assert due == case_content(settings).workflow.calendar.add_business_hours(MONDAY_9, limit)
    assert flows.run_timers(db=db, settings=settings, now=due - timedelta(minutes=1)) == []
    fired = flows.run_timers(db=db, settings=settings, now=due + timedelta(minutes=1))
    assert (case.reference, "escalate") in fired
    db.refresh(case)
    assert case.status == "triaged" and case.holder_org_id == world.office.id
    referral = db.scalar(select(Referral).where(Referral.case_id == case.id))
    assert referral.state == "expired"
    with pytest.raises(NotFound):
        access.get_visible(db=db, principal=world.principal(world.staff_a), reference=case.reference)
    event = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())).first()
    assert event.name == "escalate" and event.actor_kind == "system"


def test_resolved_cases_close_themselves_after_two_weeks(db, settings, world, open_case):
    case, _ = open_case(now=MONDAY_9)
    actor = world.actor(world.caseworker)
    move(db, settings, case, actor, "triage", now=MONDAY_9)
    move(db, settings, case, actor, "resolve", outcome="helped", now=MONDAY_9)
    assert flows.run_timers(db=db, settings=settings, now=MONDAY_9 + timedelta(days=13)) == []
    assert flows.run_timers(db=db, settings=settings, now=MONDAY_9 + timedelta(days=14, minutes=1)) == [(case.reference, "auto_close")]


def test_stale_version_is_refused_with_what_changed(db, settings, world, open_case):
    case, _ = open_case()
    loaded_version = case.version
    move(db, settings, case, world.actor(world.supervisor), "triage")
    with pytest.raises(StaleCase) as caught:
        flows.update_fields(
            db=db, settings=settings, case=case, actor=world.actor(world.caseworker), expected_version=loaded_version, priority="urgent"
        )
    assert [c["name"] for c in caught.value.changes] == ["triage"]
    assert caught.value.changes[0]["after"]["status"] == "triaged"
    assert case.priority == "normal"


def test_history_cannot_be_rewritten(db, world, open_case):
    case, _ = open_case()
    with pytest.raises(DBAPIError):
        with db.begin_nested():
            db.execute(text("UPDATE case_event SET kind = 'forged' WHERE case_id = :id"), {"id": case.id})
    with pytest.raises(DBAPIError):
        with db.begin_nested():
            db.execute(text("DELETE FROM case_event WHERE case_id = :id"), {"id": case.id})
    assert db.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)) == 1


def test_inbox_filters_sort_and_search(db, settings, world, open_case):
    a, _ = open_case(category="housing", language="ru", subject="Mieszkanie w Nowej Hucie")
    b, _ = open_case(category="legal_aid", language="uk", subject="Karta pobytu")
    move(db, settings, b, world.actor(world.caseworker), "triage")
    flows.update_fields(db=db, settings=settings, case=b, actor=world.actor(world.caseworker), expected_version=b.version, assignee_id=world.caseworker.id)
    office = world.principal(world.caseworker)

    def refs(**kw):
        return [c.reference for c in inbox.list_for(db=db, principal=office, filters=InboxFilter(**kw))[0]]

    assert refs(category="housing") == [a.reference]
    assert refs(language="uk") == [b.reference]
    assert refs(status="triaged") == [b.reference]
    assert refs(mine=True) == [b.reference]
    assert refs(query="mieszkanie") == [a.reference]
    assert refs(query=b.reference) == [b.reference]
    assert refs(query="olena")[:2] == [b.reference, a.reference]
    page1 = inbox.list_for(db=db, principal=office, filters=InboxFilter(per_page=1))
    assert len(page1[0]) == 1 and page1[1] is True
    assert refs(overdue=True) == []


def test_supervisor_assigns_others_caseworker_only_self(db, settings, world, open_case):
    case, _ = open_case()
    with pytest.raises(InvalidInput):
        flows.update_fields(
            db=db, settings=settings, case=case, actor=world.actor(world.caseworker), expected_version=case.version, assignee_id=world.supervisor.id
        )
    flows.update_fields(
        db=db, settings=settings, case=case, actor=world.actor(world.supervisor), expected_version=case.version, assignee_id=world.caseworker.id
    )
    assert case.assignee_id == world.caseworker.id


def test_referral_suggestions_follow_routing(db, settings, world, open_case):
    case, _ = open_case(category="legal_aid", language="uk")
    suggestions = partner_service.suggestions_for(db=db, settings=settings, case=case)
    assert suggestions and all("legal_aid" in partner_service.directory(settings).services[(s.organisation_slug, s.service_id)].categories for s in suggestions)
    assert suggestions[0].organisation_slug == PARTNER_A  # speaks Ukrainian, free places, quick answer
    scores = [s.score for s in suggestions]
    assert scores == sorted(scores, reverse=True)


def test_token_principal_acts_for_its_organisation(db, world):
    from app.auth import service as auth_service

    token, value = auth_service.create_api_token(db=db, organisation=world.partner_a, name="CRM")
    principal = auth_service.token_principal(db=db, value=value)
    assert isinstance(principal, Principal) and principal.organisation_id == world.partner_a.id and principal.token_id == token.id
    auth_service.revoke_api_token(db=db, token=token)
    assert auth_service.token_principal(db=db, value=value) is None
    assert value not in token.token_hash


def test_case_file_version_column_counts_changes(db, settings, world, open_case):
    case, _ = open_case()
    first = case.version
    move(db, settings, case, world.actor(world.caseworker), "triage")
    assert case.version == first + 1
    flows.add_note(db=db, settings=settings, case=case, body="Notatka", visibility=Visibility.internal, actor=world.actor(world.caseworker))
    db.refresh(case)
    assert case.version == first + 1  # notes never make someone else's form stale
    assert db.get(CaseFile, case.id).updated_at >= case.created_at
