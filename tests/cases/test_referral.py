"""A referral is one step that asks for the consent it needs: the consent for the partner chosen is
shown when it is on file, asked for (with the text to read to the client) when it is not, and recorded
together with the referral in one transaction, or not at all."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from app.cases import flows
from app.cases.exceptions import ConsentMissing, StaleCase
from app.cases.models import AuditEntry, CaseEvent, Consent
from app.cases.schemas import TransitionIn
from app.errors import InvalidInput
from app.i18n import gettext, use_locale
from tests.cases.fixtures import PARTNER_A, PARTNER_B
from tests.conftest import csrf_from

PASSWORD = "long enough password"
SERVICE_A = f"{PARTNER_A}/legal-aid-residence"
SERVICE_B = f"{PARTNER_B}/migration-law"
CONTACT_QUESTION = (
    "May we also give them your name and contact details, so that they can get in touch with you?"
)


@pytest.fixture
def triaged(db, settings, world, open_case):
    """Return a legal-aid case of a Ukrainian-speaking client, triaged, with no consent yet."""
    case, _ = open_case()
    flows.transition(
        db=db,
        settings=settings,
        case=case,
        request=TransitionIn(name="triage"),
        actor=world.actor(world.caseworker),
    )
    return case


@pytest.fixture
def caseworker(client, login, world):
    response = login(world.caseworker.email, PASSWORD, locale="pl")
    assert response.status_code == 303
    return client


def consents(db, case) -> list[Consent]:
    return list(db.scalars(select(Consent).where(Consent.case_id == case.id)).all())


def refer(case, organisation=PARTNER_A, service="legal-aid-residence") -> TransitionIn:
    return TransitionIn(
        name="refer", expected_version=case.version, organisation=organisation, service=service
    )


def in_pl(message: str, **variables) -> str:
    with use_locale("pl"):
        return str(escape(gettext(message, **variables)))


# --- the flow ------------------------------------------------------------------------------------


def test_refer_with_consent_records_the_consent_and_refers_in_one_step(db, settings, world, triaged):
    given = flows.ConsentGiven(scope=("case", "contact"), language="uk")
    flows.refer_with_consent(
        db=db,
        settings=settings,
        case=triaged,
        request=refer(triaged),
        consent=given,
        actor=world.actor(world.caseworker),
    )
    db.refresh(triaged)
    [consent] = consents(db, triaged)
    assert triaged.status == "referred" and triaged.current_referral.consent_id == consent.id
    assert consent.organisation_id == world.partner_a.id
    assert (consent.scope, consent.language, consent.method) == (["case", "contact"], "uk", "staff")
    kinds = db.scalars(
        select(CaseEvent.kind).where(CaseEvent.case_id == triaged.id).order_by(CaseEvent.id)
    ).all()
    assert kinds[-2:] == ["consent_given", "transition"]


def test_refer_with_consent_rests_on_the_consent_on_file(db, settings, world, triaged):
    actor = world.actor(world.caseworker)
    on_file = flows.record_consent(
        db=db,
        case=triaged,
        organisation_slug=PARTNER_A,
        scope=["case"],
        language="uk",
        method="chat",
        actor=actor,
    )
    flows.refer_with_consent(
        db=db, settings=settings, case=triaged, request=refer(triaged), consent=None, actor=actor
    )
    db.refresh(triaged)
    assert triaged.status == "referred" and triaged.current_referral.consent_id == on_file.id
    assert len(consents(db, triaged)) == 1


@pytest.mark.parametrize(
    "problem, expected",
    [
        ("stale", StaleCase),  # someone changed the case since the form was loaded
        ("service", InvalidInput),  # a service that does not take this kind of case
        ("no consent", ConsentMissing),
    ],
)
def test_a_refused_referral_records_no_consent(db, settings, world, triaged, problem, expected):
    request = refer(triaged)
    if problem == "stale":
        request = request.model_copy(update={"expected_version": triaged.version - 1})
    if problem == "service":
        request = request.model_copy(update={"service": "no-such-service"})
    given = None if problem == "no consent" else flows.ConsentGiven(scope=("case",), language="uk")
    with pytest.raises(expected):
        flows.refer_with_consent(
            db=db,
            settings=settings,
            case=triaged,
            request=request,
            consent=given,
            actor=world.actor(world.caseworker),
        )
    db.expire_all()
    assert consents(db, triaged) == []
    assert triaged.status == "triaged"
    assert (
        db.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "consent_given")) == 0
    )


# --- the case page -------------------------------------------------------------------------------


def test_the_refer_form_asks_for_the_consent_of_the_chosen_partner_in_the_clients_language(
    caseworker, triaged
):
    page = caseworker.get(f"/pl/staff/cases/{triaged.reference}")
    form = page.text[page.text.index('value="refer"') :]
    assert f'value="{SERVICE_A}" checked' in re.sub(r"\s+", " ", form)  # the best match is chosen
    consent_part = form[form.index('id="refer-consent"') :]
    with use_locale("uk"):  # the text to read, in the client's language
        wording = str(escape(gettext(CONTACT_QUESTION)))
    assert '<div class="consent-text" lang="uk" dir="ltr">' in consent_part and wording in consent_part
    assert (
        'name="consent_confirmed"' in consent_part
        and f'name="consent_for" value="{PARTNER_A}"' in consent_part
    )


def test_the_refer_form_shows_the_consent_on_file_instead_of_the_question(caseworker, db, world, triaged):
    flows.record_consent(
        db=db,
        case=triaged,
        organisation_slug=PARTNER_A,
        scope=["case", "contact"],
        language="uk",
        method="chat",
        actor=world.actor(world.caseworker),
    )
    page = caseworker.get(f"/pl/staff/cases/{triaged.reference}")
    consent_part = page.text[page.text.index('id="refer-consent"') :]
    consent_part = consent_part[: consent_part.index("</div>")]
    assert in_pl("Consent on file for %(org)s", org="Fundacja Przystań") in consent_part
    assert in_pl("contact details") in consent_part and in_pl("in the chat") in consent_part
    assert "consent_confirmed" not in consent_part


def test_one_post_records_the_consent_and_refers(caseworker, db, world, triaged):
    page = caseworker.get(f"/pl/staff/cases/{triaged.reference}")
    response = caseworker.post(
        f"/pl/staff/cases/{triaged.reference}/transition",
        data={
            "csrf_token": csrf_from(page.text),
            "name": "refer",
            "version": str(triaged.version),
            "service": SERVICE_A,
            "consent_for": PARTNER_A,
            "consent_contact": "true",
            "consent_language": "uk",
            "consent_confirmed": "true",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    db.refresh(triaged)
    [consent] = consents(db, triaged)
    assert triaged.status == "referred" and triaged.current_referral.consent_id == consent.id
    assert consent.organisation_id == world.partner_a.id and consent.scope == ["case", "contact"]


@pytest.mark.parametrize("consent_for", ["", PARTNER_B], ids=["unconfirmed", "read-for-another-organisation"])
def test_a_referral_without_the_consent_it_needs_asks_for_it_and_writes_nothing(
    caseworker, db, triaged, consent_for
):
    """Without JavaScript the consent part shown may be another partner's than the one chosen: the
    confirmation of a text read for partner B never becomes a consent for partner A."""
    page = caseworker.get(f"/pl/staff/cases/{triaged.reference}")
    data = {
        "csrf_token": csrf_from(page.text),
        "name": "refer",
        "version": str(triaged.version),
        "service": SERVICE_A,
    }
    if consent_for:
        data |= {"consent_for": consent_for, "consent_confirmed": "true"}
    response = caseworker.post(f"/pl/staff/cases/{triaged.reference}/transition", data=data)
    assert response.status_code == 422
    assert (
        in_pl("Read the client the consent text for this organisation, and confirm that they agreed.")
        in response.text
    )
    assert f'name="consent_for" value="{PARTNER_A}"' in response.text  # now asked for the one chosen
    assert '<details class="action" open>' in response.text
    db.refresh(triaged)
    assert triaged.status == "triaged" and consents(db, triaged) == []


def test_choosing_another_partner_with_htmx_brings_its_consent_part(caseworker, db, world, triaged):
    flows.record_consent(
        db=db,
        case=triaged,
        organisation_slug=PARTNER_B,
        scope=["case"],
        language="uk",
        method="staff",
        actor=world.actor(world.caseworker),
    )
    views = db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.case_id == triaged.id))
    fragment = caseworker.get(
        f"/pl/staff/cases/{triaged.reference}",
        params={"service": SERVICE_B},
        headers={"HX-Request": "true", "HX-Target": "refer-consent"},
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="refer-consent"')
    assert in_pl("Consent on file for %(org)s", org="Prawo na Start") in fragment.text
    other = caseworker.get(
        f"/pl/staff/cases/{triaged.reference}",
        params={"service": SERVICE_A},
        headers={"HX-Request": "true", "HX-Target": "refer-consent"},
    )
    assert f'name="consent_for" value="{PARTNER_A}"' in other.text
    # Only whether the client agreed: no personal data shown, no case view to audit.
    assert (
        db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.case_id == triaged.id))
        == views
    )


def test_the_consent_panel_never_chooses_an_organisation_for_the_caseworker(caseworker, db, triaged):
    page = caseworker.get(f"/pl/staff/cases/{triaged.reference}")
    select_html = page.text[page.text.index('<select id="c-org"') :]
    select_html = select_html[: select_html.index("</select>")]
    first = re.search(r"<option[^>]*>", select_html).group(0)
    assert first == '<option value="">' and " selected" not in select_html
    response = caseworker.post(
        f"/pl/staff/cases/{triaged.reference}/consents",
        data={"csrf_token": csrf_from(page.text), "confirmed": "true"},
    )
    assert response.status_code == 422 and consents(db, triaged) == []


def test_a_confirmation_for_another_partner_leaves_the_referral_on_the_consent_on_file(
    caseworker, db, world, triaged
):
    on_file = flows.record_consent(
        db=db,
        case=triaged,
        organisation_slug=PARTNER_B,
        scope=["case"],
        language="uk",
        method="chat",
        actor=world.actor(world.caseworker),
    )
    page = caseworker.get(f"/pl/staff/cases/{triaged.reference}")
    data = {
        "csrf_token": csrf_from(page.text),
        "name": "refer",
        "version": str(triaged.version),
        "service": SERVICE_B,
    }
    data |= {"consent_for": PARTNER_A, "consent_confirmed": "true"}  # the text shown was partner A's
    response = caseworker.post(
        f"/pl/staff/cases/{triaged.reference}/transition", data=data, follow_redirects=False
    )
    assert response.status_code == 303
    db.refresh(triaged)
    assert triaged.current_referral.consent_id == on_file.id
    assert [c.organisation_id for c in consents(db, triaged)] == [world.partner_b.id]  # none for A
