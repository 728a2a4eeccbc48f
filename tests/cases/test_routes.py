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
    assert good.status_code == 200 and good.history[0].status_code == 303  # POST/redirect/GET
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


def _section(html: str, start: str, end: str) -> str:
    part = html[html.index(start) :]
    return part[: part.index(end)]


def test_the_case_page_names_every_value_it_shows(as_user, world, open_case, db, settings):
    """Source, languages, changed details and partners are shown as words people read, never as the
    stored codes ("chat", "uk", "priority = high", "assignee_id = 3", a partner's slug)."""
    from app.cases import flows

    case, _ = open_case()
    actor = world.actor(world.caseworker)
    flows.update_fields(
        db=db, settings=settings, case=case, actor=actor, expected_version=case.version,
        priority="high", assignee_id=world.caseworker.id,
    )
    refer_to_a(db, settings, world, case)
    page = as_user(world.caseworker).get(f"/pl/staff/cases/{case.reference}")
    with use_locale("pl"):
        expected = [gettext(m) for m in ("Opened by the office", "Details changed", "Priority", "High", "Assigned to")]
    client = _section(page.text, 'id="client-heading"', "</dl>")
    assert "Українська" in client and "UK" not in client
    assert str(escape(expected[0])) in client and ">staff<" not in client
    history = _section(page.text, 'class="timeline"', "</ol>")
    changed, priority, high, assigned = (str(escape(text)) for text in expected[1:])
    assert f"{changed}: {priority}: {high}; {assigned}: Caseworker" in history  # a name, not an id
    for raw in ("priority", "assignee_id", "= high", PARTNER_A):
        assert raw not in history, raw
    assert "Fundacja Przystań" in history  # the referral and the consent name the partner


def test_what_changed_meanwhile_is_told_in_words(as_user, world, open_case, db, settings):
    from app.cases import flows

    case, _ = open_case()
    client = as_user(world.caseworker)
    page = client.get(f"/pl/staff/cases/{case.reference}")
    flows.update_fields(
        db=db, settings=settings, case=case, actor=world.actor(world.supervisor), expected_version=case.version, priority="urgent"
    )
    stale = client.post(
        f"/pl/staff/cases/{case.reference}/update",
        data={"csrf_token": csrf_from(page.text), "version": version_of(page.text), "priority": "low"},
    )
    assert stale.status_code == 409
    changes = _section(stale.text, 'id="changes-heading"', "</section>")
    with use_locale("pl"):
        assert f"{escape(gettext('Priority'))} → {escape(gettext('Urgent'))}" in changes
    assert "priority" not in changes and "urgent" not in changes


def test_the_inbox_names_languages_in_their_own_words(as_user, world, open_case):
    open_case(language="uk")
    open_case(language="be")
    page = as_user(world.caseworker).get("/pl/staff/cases/")
    table = _section(page.text, '<table class="cases">', "</table>")
    assert '<span lang="uk" dir="ltr">Українська</span>' in table and '<span lang="be" dir="ltr">Беларуская</span>' in table
    assert ">UK<" not in table and ">BE<" not in table
    # On a phone every value keeps its column's name (the header row is hidden there).
    with use_locale("pl"):
        assert f'data-label="{escape(gettext("Language"))}"' in table


# --- a new case: POST/redirect/GET, sent once, its secret shown once (issue 12) ---------------------------


def _new_case(client, key=None, **changes):
    form = client.get("/pl/staff/cases/new")
    key = key or re.search(r'name="_key" value="([^"]+)"', form.text).group(1)
    data = {
        "csrf_token": csrf_from(form.text),
        "_key": key,
        "display_name": "Oksana",
        "preferred_language": "uk",
        "category": "job_search",
        "subject": "Szukam pracy",
        **changes,
    }
    return client.post("/pl/staff/cases/new", data=data, follow_redirects=False), data


def _codes(html):
    return re.findall(r"<dd><code>([^<]+)</code></dd>", html)


def _count(db):
    from sqlalchemy import func

    return db.scalar(select(func.count()).select_from(CaseFile))


def test_opening_a_case_redirects_and_shows_the_secret_once(as_user, world, db):
    client = as_user(world.caseworker)
    before = _count(db)
    answer, _data = _new_case(client)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert re.fullmatch(r"/pl/staff/cases/KRK-\d{4}-\d{6}/opened", location)
    shown = client.get(location)
    reference, secret = _codes(shown.text)
    assert secret not in location and secret not in answer.headers["set-cookie"]
    reloaded = client.get(location)
    assert _codes(reloaded.text) == [reference] and secret not in reloaded.text
    with use_locale("pl"):
        assert gettext("The secret code was shown only once, when the case was opened.") in reloaded.text
    assert _count(db) == before + 1


def test_the_new_case_form_sent_twice_opens_one_case(as_user, world, db):
    """A double click: the first answer is lost, the second request (same key) leads to the same case
    and shows its secret; a third shows the number only."""
    from app.cases import once

    client = as_user(world.caseworker)
    before = _count(db)
    first, data = _new_case(client)
    client.cookies.delete(once.COOKIE)
    second = client.post("/pl/staff/cases/new", data=data, follow_redirects=False)
    assert second.status_code == 303 and second.headers["location"] == first.headers["location"]
    assert len(_codes(client.get(second.headers["location"]).text)) == 2
    third = client.post("/pl/staff/cases/new", data=data)
    assert len(_codes(third.text)) == 1 and _count(db) == before + 1


def test_two_new_case_requests_at_once_with_the_same_key_open_one_case(as_user, world, db, monkeypatch):
    """Both look before either has written (the race): the key is unique in case_file, so the second
    one's case is rolled back and it is led to the first one's."""
    from app.cases import once

    client = as_user(world.caseworker)
    first, data = _new_case(client)
    before = _count(db)
    real, looks = once.find_by_key, []

    def racing(**kwargs):
        looks.append(kwargs)
        return None if len(looks) == 1 else real(**kwargs)

    monkeypatch.setattr(once, "find_by_key", racing)
    second = client.post("/pl/staff/cases/new", data=data, follow_redirects=False)
    assert second.status_code == 303 and second.headers["location"] == first.headers["location"]
    assert _count(db) == before and len(looks) == 2


def test_new_case_errors_are_summed_up_with_links_to_their_inputs(as_user, world):
    client = as_user(world.caseworker)
    bad, _data = _new_case(client, display_name="", category="")
    assert bad.status_code == 422
    summary = _section(bad.text, "data-error-summary", "</div>")
    assert 'href="#f-display_name"' in summary and 'href="#f-category"' in summary
    assert re.search(r'<select id="f-category" name="category" aria-invalid="true" aria-describedby="f-category-error">', bad.text)
    assert 'id="f-category-error"' in bad.text
    assert 'role="alert" tabindex="-1" data-error-summary' in bad.text


def test_case_page_errors_are_tied_to_their_fields(as_user, world, open_case):
    case, _ = open_case()
    client = as_user(world.caseworker)
    page = client.get(f"/pl/staff/cases/{case.reference}")
    note = client.post(f"/pl/staff/cases/{case.reference}/notes", data={"csrf_token": csrf_from(page.text), "body": ""})
    assert note.status_code == 422
    summary = _section(note.text, "data-error-summary", "</div>")
    assert 'href="#n-body"' in summary
    assert re.search(r'<textarea id="n-body" name="body" rows="4" aria-invalid="true" aria-describedby="n-body-error">', note.text)
    assert re.search(r'<p class="error-message" id="n-body-error">', note.text)
    declined = client.post(
        f"/pl/staff/cases/{case.reference}/transition",
        data={"csrf_token": csrf_from(page.text), "name": "dismiss", "version": version_of(page.text), "reason": ""},
    )
    assert declined.status_code == 422
    summary = _section(declined.text, "data-error-summary", "</div>")
    assert 'href="#t-dismiss-reason"' in summary and 'href="#t-dismiss-outcome"' in summary
    assert 'aria-invalid="true" aria-describedby="t-dismiss-reason-error"' in declined.text
    assert 'aria-invalid="true" aria-describedby="t-dismiss-outcome-error"' in declined.text
    consent = client.post(f"/pl/staff/cases/{case.reference}/consents", data={"csrf_token": csrf_from(page.text)})
    assert consent.status_code == 422
    assert 'href="#c-confirmed"' in _section(consent.text, "data-error-summary", "</div>")
    assert re.search(r'id="c-confirmed" name="confirmed" value="true" aria-invalid="true" aria-describedby="c-confirmed-error"', consent.text)
