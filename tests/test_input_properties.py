"""Property-based tests of what people can type or send: every public and staff form and filter
takes any text (NUL and other control characters, any Unicode, very long text), any integer and
values of the wrong type, and never answers with a server error.

Each example runs in a savepoint that is rolled back, so examples neither see each other's writes
nor grow the database. On CI (CI set) the examples are derandomized: the same inputs every run, so
that a red build is never luck; elsewhere every run tries new ones."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.appointments import service as visit_service
from app.cases import flows
from tests.cases.fixtures import PARTNER_A
from tests.conftest import csrf_from
from tests.forms.answers import ANSWERS

PASSWORD = "long enough password"  # noqa: S105 - the world fixture's users
LOCALES = st.sampled_from(["pl", "uk", "ru", "en", "be"])


#: Random examples per test (besides the explicit ones): the file stays within seconds per database.
PROPERTIES = settings(
    max_examples=12,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


# --- what people send --------------------------------------------------------------------------------

#: Any text a browser can send: every code point but lone surrogates (UTF-8 cannot carry them).
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
#: Text made of what breaks naive code: NUL and other controls, bidi and zero-width marks, line and
#: paragraph separators, combining marks, characters outside the BMP, quotes and markup.
NASTY_TEXT = st.text(
    st.one_of(
        st.characters(max_codepoint=0x1F),
        st.sampled_from(
            [
                "\x7f",
                "\x85",
                "\u200b",
                "\u200e",
                "\u202e",
                "\u2028",
                "\u2029",
                "\ufeff",
                "\uffff",
                "\u0301",
                "\U0001f600",
                "\U0010ffff",
                "'",
                '"',
                "<",
                "&",
                "%",
                "\\",
                "=",
                "/",
                ".",
            ]
        ),
    ),
    min_size=1,
    max_size=20,
)
#: Numbers as people and scripts write them: any integer, past every column's range, floats,
#: exponents, other scripts' digits, superscripts, signs and spaces.
NUMBER_TEXT = st.one_of(
    st.integers().map(str),
    st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30]).map(str),
    st.floats().map(str),
    st.sampled_from(
        ["1e30", "-0", "0x10", " 1", "1_000", "²", "٣", "１２", "Ⅻ", "NaN", "inf", "1.5", "+1", "-1", ""]
    ),
)
#: Very long text (to 1.1 MB, past every limit of the app).
HUGE_TEXT = st.builds(
    lambda char, size: char * size,
    st.sampled_from(["a", "ł", "\x00", " ", "😀"]),
    st.sampled_from([2_001, 10_001, 100_001, 1_100_000]),
)
#: A value as a path segment carries it (percent-encoded: a slash stays inside its segment).
SEGMENT = st.one_of(ANY_TEXT, NASTY_TEXT, NUMBER_TEXT).map(lambda text: quote(text, safe=""))
VALUE = st.one_of(ANY_TEXT, NASTY_TEXT, NUMBER_TEXT, HUGE_TEXT)
#: A query-string value: as VALUE, long but within what one URL can carry (about 8 KB in browsers
#: and servers; httpx refuses a query past 64 KiB).
QUERY_VALUE = st.one_of(
    ANY_TEXT,
    NASTY_TEXT,
    NUMBER_TEXT,
    st.builds(lambda char, size: char * size, st.sampled_from(["a", "\x00"]), st.sampled_from([201, 701])),
)
QUERY = st.one_of(QUERY_VALUE, st.lists(QUERY_VALUE, min_size=2, max_size=2))
#: A form field as posted: one value, or the field repeated (a list where one value is expected).
FIELD = st.one_of(VALUE, st.lists(VALUE, min_size=2, max_size=3))
#: Any JSON value: wrong types where strings are expected.
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT | NASTY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=6,
)


def no_server_error(response) -> None:
    """Assert that response is not a server error, naming the request when it is."""
    request = response.request
    assert response.status_code < 500, f"{request.method} {str(request.url)[:300]} -> {response.status_code}"


@pytest.fixture
def rolled_back(db):
    """Return a context manager that rolls back what the app writes inside it."""

    @contextmanager
    def savepoint() -> Iterator[None]:
        db.close()  # the session's own savepoint ends; its next one nests inside this one
        outer = db.get_bind().begin_nested()
        try:
            yield
        finally:
            db.close()
            outer.rollback()

    return savepoint


@pytest.fixture
def visitor_csrf(client) -> str:
    """Return the CSRF token of an anonymous visitor's client (the cookie stays in the client)."""
    return csrf_from(client.get("/en/forms/pismo-ogolne").text)


@pytest.fixture
def caseworker(client, login, world) -> str:
    """Sign the client in as the office's caseworker; return the CSRF token of its pages."""
    assert login(world.caseworker.email, PASSWORD, locale="pl").status_code == 303
    return csrf_from(client.get("/pl/staff/cases/new").text)


@pytest.fixture
def case_reference(db, settings, world, open_case) -> str:
    """Return the reference of an open case, with the client's consent for partner A recorded."""
    case, _ = open_case()
    flows.record_consent(
        db=db,
        case=case,
        organisation_slug=PARTNER_A,
        scope=["case"],
        language="uk",
        method="staff",
        actor=world.actor(world.caseworker),
    )
    return case.reference


# --- the assistant -----------------------------------------------------------------------------------


# The explicit examples are the inputs issue 11 reported (items 6 and 8): every run tries them.


@given(message=FIELD, after=FIELD, locale=LOCALES, htmx=st.booleans())
@example(message="dzień dobry\x00", after="", locale="pl", htmx=False)
@example(message="\x00" * 5, after="1e30", locale="uk", htmx=True)
@PROPERTIES
def test_chat_takes_any_message(client, rolled_back, visitor_csrf, message, after, locale, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    with rolled_back():
        sent = client.post(
            f"/{locale}/chat",
            data={"csrf_token": visitor_csrf, "message": message, "after": after},
            headers=headers,
            follow_redirects=False,
        )
    no_server_error(sent)


@given(after=QUERY, locale=LOCALES)
@example(after="1e30", locale="pl")
@example(after=str(2**31), locale="pl")
@example(after=str(2**63), locale="pl")
@PROPERTIES
def test_chat_polling_takes_any_after(client, rolled_back, visitor_csrf, after, locale):
    with rolled_back():
        client.post(
            f"/{locale}/chat", data={"csrf_token": visitor_csrf, "message": "cześć"}, follow_redirects=False
        )
        no_server_error(client.get(f"/{locale}/chat/messages", params={"after": after}))


@given(body=st.one_of(JSON_VALUE, st.fixed_dictionaries({"sender": JSON_VALUE, "message": JSON_VALUE})))
@example(body={"sender": "a", "message": "\ud800"})  # a lone surrogate, as JSON's \u escape can carry it
@example(body={"sender": "\udfff\x00", "message": "hi"})
@example(body={"sender": "anna\x00", "message": "cześć\x00"})
@PROPERTIES
def test_rest_channel_takes_any_json(client, rolled_back, body):
    # ensure_ascii: lone surrogates travel as \u escapes, which json.loads turns back into them.
    content = json.dumps(body, ensure_ascii=True)
    with rolled_back():
        response = client.post(
            "/webhooks/rest/webhook", content=content, headers={"Content-Type": "application/json"}
        )
    no_server_error(response)


@given(
    raw=st.one_of(
        st.binary(max_size=60),
        st.sampled_from(
            [
                b"",
                b"{",
                b"null",
                b"[]",
                b'{"sender": "a"}',
                b"\xff\xfe",
                b"[" * 100_000 + b"]" * 100_000,
                b'{"sender": "a", "message": "' + b"x" * 2_000_000 + b'"}',
            ]
        ),
    ),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]),
)
@PROPERTIES
def test_rest_channel_takes_any_body(client, rolled_back, raw, content_type):
    with rolled_back():
        response = client.post("/webhooks/rest/webhook", content=raw, headers={"Content-Type": content_type})
    no_server_error(response)


# --- public pages ------------------------------------------------------------------------------------


#: Every field of every city form (fields of one form posted to another are unknown there).
FORM_FIELDS = sorted({field for answers in ANSWERS.values() for field in answers})


@given(
    form_id=st.sampled_from(sorted(ANSWERS)),
    changed=st.dictionaries(st.sampled_from(FORM_FIELDS) | ANY_TEXT, FIELD, max_size=4),
    locale=LOCALES,
    action=st.sampled_from(["submit", "save", "refresh", "check"]),
)
@example(form_id="pismo-ogolne", changed={"imie": "Olena\x00"}, locale="uk", action="submit")
@example(form_id="gup-rejestracja", changed={"staz_lat": "1e30"}, locale="pl", action="save")
@PROPERTIES
def test_city_forms_take_any_answers(
    client, rolled_back, visitor_csrf, world, form_id, changed, locale, action
):
    posted = {**ANSWERS[form_id], **changed, "csrf_token": visitor_csrf}
    with rolled_back():
        if action == "check":
            response = client.post(
                f"/{locale}/forms/{form_id}/check", data=posted, headers={"HX-Request": "true"}
            )
        else:
            response = client.post(f"/{locale}/forms/{form_id}", data={**posted, "_action": action})
    no_server_error(response)


@given(form_id=SEGMENT, token=SEGMENT, locale=LOCALES)
@PROPERTIES
def test_city_form_addresses_take_any_text(client, rolled_back, visitor_csrf, form_id, token, locale):
    with rolled_back():
        for response in (
            client.get(f"/{locale}/forms/{form_id}"),
            client.get(f"/{locale}/forms/pismo-ogolne/draft/{token}"),
            client.post(f"/{locale}/forms/pismo-ogolne/draft/{token}", data={"csrf_token": visitor_csrf}),
            client.get(f"/{locale}/forms/receipt/{token}.pdf"),
        ):
            no_server_error(response)


@given(category=QUERY, language=QUERY, district=QUERY, locale=LOCALES)
@example(category="housing\x00", language="uk\x00", district="\x00", locale="en")
@PROPERTIES
def test_partner_directory_takes_any_filter(client, category, language, district, locale):
    no_server_error(
        client.get(
            f"/{locale}/partners", params={"category": category, "language": language, "district": district}
        )
    )


@given(email=FIELD, password=FIELD, next_=QUERY, htmx=st.booleans())
@example(email="caseworker@cases.example.org\x00", password="x\x00", next_="/\x00", htmx=False)  # noqa: S106
@PROPERTIES
def test_sign_in_takes_any_input(client, rolled_back, world, visitor_csrf, email, password, next_, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    with rolled_back():
        response = client.post(
            "/en/staff/login",
            data={"csrf_token": visitor_csrf, "email": email, "password": password, "next": next_},
            headers=headers,
            follow_redirects=False,
        )
        no_server_error(response)
        no_server_error(client.get("/en/staff/login", params={"next": next_}))


# --- staff pages -------------------------------------------------------------------------------------


@given(
    q=QUERY,
    status=QUERY,
    category=QUERY,
    language=QUERY,
    partner=QUERY,
    page=QUERY,
    sort=QUERY,
    flags=st.fixed_dictionaries({}, optional={"overdue": QUERY, "mine": QUERY}),
)
@example(q="pobyt\x00", status="new", category="", language="", partner="", page="1", sort="", flags={})
@example(
    q="", status="\x00", category="\x00", language="\x00", partner="\x00", page="1e30", sort="\x00", flags={}
)
@PROPERTIES
def test_inbox_takes_any_filter(
    client, caseworker, q, status, category, language, partner, page, sort, flags
):
    params = {
        "q": q,
        "status": status,
        "category": category,
        "language": language,
        "partner": partner,
        "page": page,
        "sort": sort,
        **flags,
    }
    no_server_error(client.get("/pl/staff/cases/", params=params))
    no_server_error(
        client.get(
            "/pl/staff/cases/", params=params, headers={"HX-Request": "true", "HX-Target": "inbox-table"}
        )
    )


@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            name: FIELD
            for name in (
                "display_name",
                "preferred_language",
                "district",
                "email",
                "phone",
                "category",
                "subject",
                "description",
                "priority",
            )
        },
    )
)
@example(fields={"subject": "Praca\x00", "description": "\x00", "display_name": "Oksana\x00"})
@PROPERTIES
def test_new_case_form_takes_any_input(client, rolled_back, caseworker, fields):
    valid = {
        "display_name": "Oksana",
        "preferred_language": "uk",
        "category": "job_search",
        "subject": "Praca",
    }
    with rolled_back():
        response = client.post(
            "/pl/staff/cases/new", data={**valid, **fields, "csrf_token": caseworker}, follow_redirects=False
        )
    no_server_error(response)


@given(
    fields=st.fixed_dictionaries(
        {"name": FIELD | st.sampled_from(["triage", "refer", "dismiss", "decline"])},
        optional={name: FIELD for name in ("version", "reason", "outcome", "category", "service")},
    )
)
@example(fields={"name": "decline", "version": "1", "reason": "\x00"})
@example(fields={"name": "triage", "version": "1e30"})
@example(fields={"name": "triage", "version": str(2**63)})
@PROPERTIES
def test_case_transition_form_takes_any_input(client, rolled_back, caseworker, case_reference, fields):
    fields.setdefault("version", "1")
    with rolled_back():
        response = client.post(
            f"/pl/staff/cases/{case_reference}/transition",
            data={**fields, "csrf_token": caseworker},
            follow_redirects=False,
        )
    no_server_error(response)


@given(body=FIELD, visibility=FIELD)
@example(body="Dzwoniłam\x00", visibility="internal")
@PROPERTIES
def test_case_note_form_takes_any_input(client, rolled_back, caseworker, case_reference, body, visibility):
    with rolled_back():
        response = client.post(
            f"/pl/staff/cases/{case_reference}/notes",
            data={"body": body, "visibility": visibility, "csrf_token": caseworker},
            follow_redirects=False,
        )
    no_server_error(response)


@given(
    fields=st.fixed_dictionaries(
        {"version": FIELD | st.just("1")},
        optional={name: FIELD for name in ("assignee", "priority", "district", "tags")},
    )
)
@example(fields={"version": "1", "assignee": "1e30"})
@example(fields={"version": "1", "assignee": "²"})
@example(fields={"version": "1e30"})
@PROPERTIES
def test_case_update_form_takes_any_input(client, rolled_back, caseworker, case_reference, fields):
    with rolled_back():
        response = client.post(
            f"/pl/staff/cases/{case_reference}/update",
            data={**fields, "csrf_token": caseworker},
            follow_redirects=False,
        )
    no_server_error(response)


@given(
    organisation=FIELD | st.just(PARTNER_A),
    language=FIELD,
    contact=FIELD,
    confirmed=FIELD | st.just("true"),
    consent_id=SEGMENT,
)
@example(organisation=PARTNER_A, language="uk", contact="true", confirmed="true", consent_id="1e30")
@example(organisation=PARTNER_A, language="uk", contact="", confirmed="true", consent_id=str(2**31))
@PROPERTIES
def test_case_consent_forms_take_any_input(
    client, rolled_back, caseworker, case_reference, organisation, language, contact, confirmed, consent_id
):
    with rolled_back():
        recorded = client.post(
            f"/pl/staff/cases/{case_reference}/consents",
            data={
                "organisation": organisation,
                "language": language,
                "contact": contact,
                "confirmed": confirmed,
                "csrf_token": caseworker,
            },
            follow_redirects=False,
        )
        no_server_error(recorded)
        withdrawn = client.post(
            f"/pl/staff/cases/{case_reference}/consents/{consent_id}/withdraw",
            data={"csrf_token": caseworker},
            follow_redirects=False,
        )
        no_server_error(withdrawn)


@given(reference=SEGMENT)
@PROPERTIES
def test_case_addresses_take_any_reference(client, caseworker, reference):
    no_server_error(client.get(f"/pl/staff/cases/{reference}"))


# --- booking a visit ----------------------------------------------------------------------------------

@pytest.fixture
def free_time(db, settings) -> str:
    """Return a free time of the kiosk in Bonarka for a library card, as the booking form sends it."""
    today = date.today()
    found = visit_service.search(db=db, settings=settings, service_id="library-card", first_day=today, last_day=today + timedelta(days=14), place_ids={"kiosk-bonarka"})
    return found["kiosk-bonarka"][0].starts_at.strftime("%Y-%m-%dT%H:%M:%SZ")


VISIT_SERVICES = st.sampled_from(["library-card", "labour-registration", "polish-course"]) | ANY_TEXT


@given(service=st.one_of(VISIT_SERVICES, QUERY), district=QUERY, language=QUERY, flags=QUERY, start=QUERY, locale=LOCALES)
@example(service="library-card", district="Podgórze\x00", language="uk\x00", flags="1\x00", start="2027-02-30", locale="uk")
@PROPERTIES
def test_visit_pages_take_any_filter(client, service, district, language, flags, start, locale):
    no_server_error(
        client.get(
            f"/{locale}/visits",
            params={"service": service, "district": district, "language": language, "evening": flags, "weekend": flags, "step_free": flags},
        )
    )
    no_server_error(client.get(f"/{locale}/visits/place/kiosk-bonarka", params={"service": service, "from": start, "evening": flags}))
    no_server_error(client.get(f"/{locale}/visits/book", params={"service": service, "place": "kiosk-bonarka", "at": start}))


@given(fields=st.dictionaries(st.sampled_from(["name", "email", "phone", "interpreter_language", "key", "at", "service", "place"]), FIELD, max_size=5), locale=LOCALES)
@example(fields={"name": "Olena\x00", "email": "o@example.org\x00", "interpreter_language": "uk\x00"}, locale="uk")
@example(fields={"at": "9999-12-31T23:59:59+14:00", "key": "k" * 40}, locale="pl")
@PROPERTIES
def test_visit_booking_takes_any_input(client, rolled_back, visitor_csrf, free_time, fields, locale):
    posted = {
        "service": "library-card", "place": "kiosk-bonarka", "at": free_time, "name": "Olena",
        "email": "olena@example.org", **fields, "csrf_token": visitor_csrf,
    }
    with rolled_back():
        no_server_error(client.post(f"/{locale}/visits/book", data=posted, follow_redirects=False))


@given(token=SEGMENT, at=FIELD, place=FIELD, shown=QUERY, locale=LOCALES)
@PROPERTIES
def test_visit_addresses_take_any_token(client, rolled_back, visitor_csrf, token, at, place, shown, locale):
    with rolled_back():
        for response in (
            client.get(f"/{locale}/visits/v/{token}"),
            client.get(f"/{locale}/visits/v/{token}/calendar.ics"),
            client.get(f"/{locale}/visits/v/{token}/move", params={"place": shown, "from": shown}),
            client.post(f"/{locale}/visits/v/{token}/move", data={"at": at, "place": place, "csrf_token": visitor_csrf}),
            client.post(f"/{locale}/visits/v/{token}/cancel", data={"csrf_token": visitor_csrf}),
        ):
            no_server_error(response)
