"""Staff pages of the case tracker over HTTP, as browsers without JavaScript use them."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import select

from app.cases.content import case_content
from app.cases.models import AuditEntry, CaseFile
from app.i18n import gettext, use_locale
from tests.cases.fixtures import PARTNER_A, refer_to_a
from tests.conftest import csrf_from

PASSWORD = "long enough password"


@pytest.fixture
def as_user(client, login):
    def sign_in(user):
        client.cookies.clear()
        response = login(user.email, PASSWORD, locale="pl")
        assert response.status_code == 303, response.text
        return client

    return sign_in


def version_of(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def test_inbox_lists_cases_and_filters(as_user, world, open_case, db, settings):
    housing, _ = open_case(category="housing", subject="Szukam mieszkania")
    legal, _ = open_case(category="legal_aid", subject="Karta pobytu")
    client = as_user(world.caseworker)
    page = client.get("/pl/staff/cases/")
    assert page.status_code == 200
    assert housing.reference in page.text and legal.reference in page.text
    filtered = client.get("/pl/staff/cases/", params={"category": "housing"})
    assert housing.reference in filtered.text and legal.reference not in filtered.text
    searched = client.get("/pl/staff/cases/", params={"q": "pobytu"}, headers={"HX-Request": "true", "HX-Target": "inbox-table"})
    assert legal.reference in searched.text and housing.reference not in searched.text
    assert "<html" not in searched.text and 'id="inbox-table"' in searched.text


def test_overdue_cases_stand_out(as_user, world, open_case, db, settings):
    from datetime import UTC, datetime

    old, _ = open_case(now=datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    client = as_user(world.caseworker)
    page = client.get("/pl/staff/cases/", params={"overdue": "true"})
    row = re.search(rf'<tr class="overdue">\s*<td><a href="[^"]+">{old.reference}', page.text)
    assert row, page.text[:2000]


def test_open_a_case_and_validation_in_users_language(as_user, world, db):
    client = as_user(world.caseworker)
    form = client.get("/pl/staff/cases/new")
    bad = client.post(
        "/pl/staff/cases/new",
        data={"csrf_token": csrf_from(form.text), "display_name": "", "preferred_language": "uk", "category": "", "subject": "Temat"},
    )
    assert bad.status_code == 422
    from app.i18n import gettext, use_locale

    with use_locale("pl"):
        assert gettext("Choose one of the offered options.") in bad.text
    assert 'value="Temat"' in bad.text  # nothing typed is lost
    good = client.post(
        "/pl/staff/cases/new",
        data={
            "csrf_token": csrf_from(form.text),
            "display_name": "Oksana",
            "preferred_language": "uk",
            "category": "job_search",
            "subject": "Szukam pracy",
            "email": "oksana@example.org",
        },
    )
    assert good.status_code == 201
    reference = re.search(r"<code>(KRK-\d{4}-\d{6})</code>", good.text).group(1)
    case = db.scalar(select(CaseFile).where(CaseFile.reference == reference))
    assert case.source == "staff" and case.client.display_name == "Oksana"


def test_case_page_transition_and_stale_form(as_user, world, open_case, db):
    case, _ = open_case()
    client = as_user(world.caseworker)
    page = client.get(f"/pl/staff/cases/{case.reference}")
    assert page.status_code == 200 and case.subject in page.text
    token, version = csrf_from(page.text), version_of(page.text)
    done = client.post(
        f"/pl/staff/cases/{case.reference}/transition",
        data={"csrf_token": token, "name": "triage", "version": version, "category": "legal_aid"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    db.refresh(case)
    assert case.status == "triaged"
    # The same (now stale) form again: refused, and the page says what changed.
    stale = client.post(
        f"/pl/staff/cases/{case.reference}/update", data={"csrf_token": token, "version": version, "priority": "urgent"}
    )
    assert stale.status_code == 409
    assert "changes-heading" in stale.text
    db.refresh(case)
    assert case.priority == "normal"


def test_illegal_transition_over_http_names_allowed_ones(as_user, world, open_case):
    case, _ = open_case()
    client = as_user(world.caseworker)
    page = client.get(f"/en/staff/cases/{case.reference}")
    response = client.post(
        f"/en/staff/cases/{case.reference}/transition",
        data={"csrf_token": csrf_from(page.text), "name": "close", "version": version_of(page.text)},
    )
    assert response.status_code == 409
    assert "Possible now" in response.text and "Triage" in response.text


def test_refer_with_recorded_consent_through_the_pages(as_user, world, open_case, db):
    case, _ = open_case()
    client = as_user(world.caseworker)
    page = client.get(f"/pl/staff/cases/{case.reference}")
    client.post(
        f"/pl/staff/cases/{case.reference}/transition",
        data={"csrf_token": csrf_from(page.text), "name": "triage", "version": version_of(page.text), "category": "legal_aid"},
    )
    page = client.get(f"/pl/staff/cases/{case.reference}")
    assert "legal-aid-residence" in page.text  # the suggestions
    without = client.post(
        f"/pl/staff/cases/{case.reference}/transition",
        data={"csrf_token": csrf_from(page.text), "name": "refer", "version": version_of(page.text), "service": f"{PARTNER_A}/legal-aid-residence"},
    )
    assert without.status_code == 422
    unconfirmed = client.post(
        f"/pl/staff/cases/{case.reference}/consents", data={"csrf_token": csrf_from(page.text), "organisation": PARTNER_A}
    )
    assert unconfirmed.status_code == 422
    client.post(
        f"/pl/staff/cases/{case.reference}/consents",
        data={"csrf_token": csrf_from(page.text), "organisation": PARTNER_A, "confirmed": "true", "contact": "true"},
    )
    page = client.get(f"/pl/staff/cases/{case.reference}")
    referred = client.post(
        f"/pl/staff/cases/{case.reference}/transition",
        data={"csrf_token": csrf_from(page.text), "name": "refer", "version": version_of(page.text), "service": f"{PARTNER_A}/legal-aid-residence"},
        follow_redirects=False,
    )
    assert referred.status_code == 303
    db.refresh(case)
    assert case.status == "referred"


def test_partner_pages_are_isolated(as_user, world, open_case, db, settings):
    referred, _ = open_case(subject="Dla partnera A")
    hidden, _ = open_case(subject="Tylko urząd")
    refer_to_a(db, settings, world, referred)
    staff_b = as_user(world.staff_b)
    for reference in (referred.reference, hidden.reference):
        assert staff_b.get(f"/pl/staff/cases/{reference}").status_code == 404
    page_b = staff_b.get("/pl/staff/").text
    token_b = csrf_from(page_b)
    for path, data in [
        ("transition", {"name": "accept", "version": "1"}),
        ("notes", {"body": "Próba"}),
        ("update", {"version": "1", "priority": "urgent"}),
        ("consents", {"organisation": PARTNER_A, "confirmed": "true"}),
    ]:
        response = staff_b.post(f"/pl/staff/cases/{referred.reference}/{path}", data={"csrf_token": token_b, **data})
        assert response.status_code == 404, path
    inbox_b = staff_b.get("/pl/staff/cases/")
    assert referred.reference not in inbox_b.text and hidden.reference not in inbox_b.text

    staff_a = as_user(world.staff_a)
    inbox_a = staff_a.get("/pl/staff/cases/")
    assert referred.reference in inbox_a.text and hidden.reference not in inbox_a.text
    assert staff_a.get(f"/pl/staff/cases/{hidden.reference}").status_code == 404
    page = staff_a.get(f"/pl/staff/cases/{referred.reference}")
    assert page.status_code == 200
    accepted = staff_a.post(
        f"/pl/staff/cases/{referred.reference}/transition",
        data={"csrf_token": csrf_from(page.text), "name": "accept", "version": version_of(page.text)},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    db.refresh(referred)
    assert referred.status == "accepted" and referred.holder_org_id == world.partner_a.id


def test_case_views_and_contact_reveals_are_audited(as_user, world, open_case, db):
    case, _ = open_case(email="audit.me@example.org")
    client = as_user(world.caseworker)
    page = client.get(f"/pl/staff/cases/{case.reference}")
    assert "audit.me@example.org" not in page.text
    revealed = client.get(f"/pl/staff/cases/{case.reference}", params={"show_contact": "true"})
    assert "audit.me@example.org" in revealed.text
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case.id).order_by(AuditEntry.id)).all()
    assert actions == ["view_case", "view_case", "view_contact"]


def test_notes_keep_text_on_error_and_show_in_history(as_user, world, open_case):
    case, _ = open_case()
    client = as_user(world.caseworker)
    page = client.get(f"/pl/staff/cases/{case.reference}")
    empty = client.post(f"/pl/staff/cases/{case.reference}/notes", data={"csrf_token": csrf_from(page.text), "body": "   "})
    assert empty.status_code == 422
    client.post(
        f"/pl/staff/cases/{case.reference}/notes",
        data={"csrf_token": csrf_from(page.text), "body": "Zadzwonić jutro", "visibility": "internal"},
    )
    assert "Zadzwonić jutro" in client.get(f"/pl/staff/cases/{case.reference}").text


def test_state_changes_need_csrf(as_user, world, open_case):
    case, _ = open_case()
    client = as_user(world.caseworker)
    response = client.post(f"/pl/staff/cases/{case.reference}/notes", data={"body": "bez tokenu"})
    assert response.status_code == 403


def test_inbox_needs_sign_in(client):
    assert client.get("/pl/staff/cases/", follow_redirects=False).status_code == 303


def test_service_content_is_loaded_once(settings):
    assert case_content(settings) is case_content(settings)


def test_supervisor_exports_csv_and_the_export_is_audited(as_user, world, open_case, db):
    case, _ = open_case(email="never.in.export@example.org")
    caseworker = as_user(world.caseworker)
    assert caseworker.get("/pl/staff/cases/export.csv").status_code == 403
    supervisor = as_user(world.supervisor)
    response = supervisor.get("/pl/staff/cases/export.csv", params={"category": case.category})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert case.reference in response.text and "never.in.export" not in response.text
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "export_cases")).one()
    assert entry.actor_user_id == world.supervisor.id and entry.detail["count"] >= 1


@pytest.mark.parametrize("subject", ['=HYPERLINK("http://evil.example","Klik")', "+48 600 100 200", "-2+3", "@SUM(A1)"])
def test_the_csv_export_never_hands_a_spreadsheet_a_formula(as_user, world, open_case, subject):
    """A newcomer writes the case's subject (chat, forms): opening the export must run nothing of it."""
    import csv
    import io

    case, _ = open_case(subject=subject)
    response = as_user(world.supervisor).get("/pl/staff/cases/export.csv", params={"category": case.category})
    rows = list(csv.DictReader(io.StringIO(response.text)))
    row = next(r for r in rows if r["reference"] == case.reference)
    assert row["subject"] == "'" + subject  # shown as text, the whole of it


def test_dashboard_counts_link_to_the_inbox(as_user, world, open_case):
    open_case()
    page = as_user(world.caseworker).get("/pl/staff/")
    assert 'href="/pl/staff/cases/?overdue=true&amp;sort=due"' in page.text
    assert re.search(r'<strong class="tile-number">\d+</strong>', page.text)


HUGE = ["9223372036854775808", "2147483648", "1e30", "²", "٣", "-1", "0x10"]


@pytest.mark.parametrize("value", HUGE)
def test_numbers_no_database_can_hold_are_refused_not_a_server_error(as_user, world, open_case, value):
    """Ids and versions come from forms and URLs: any text, any size, other scripts' digits. Each is
    refused with a 422 (or a 404 for a path that names nothing), never sent to the database."""
    case, _ = open_case()
    client = as_user(world.caseworker)
    page = client.get(f"/pl/staff/cases/{case.reference}")
    token = csrf_from(page.text)
    base = f"/pl/staff/cases/{case.reference}"
    answers = [
        client.post(f"{base}/transition", data={"csrf_token": token, "name": "triage", "version": value}),
        client.post(f"{base}/update", data={"csrf_token": token, "version": value, "priority": "high"}),
        client.post(f"{base}/update", data={"csrf_token": token, "version": version_of(page.text), "assignee": value}),
        client.post(f"{base}/consents/{value}/withdraw", data={"csrf_token": token}),
        client.get("/pl/chat/messages", params={"after": value}),
        client.get(f"/pl/staff/forms/cases/{case.reference}/{value}.pdf"),
    ]
    assert [a.status_code for a in answers if a.status_code >= 500] == []
    assert all(a.status_code in (404, 422) for a in answers[:2] + answers[3:4] + answers[5:]), [a.status_code for a in answers]
    with use_locale("pl"):
        refused = str(escape(gettext("Choose a colleague from your organisation.")))
    assert answers[2].status_code == 422 and refused in answers[2].text
