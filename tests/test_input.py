"""Input checked once, at the edge (app/middleware.py InputMiddleware), before any route runs:
text a database cannot store is refused with a 422 naming the field, on SQLite and PostgreSQL alike
(PostgreSQL's driver refuses NUL and used to answer 500), and bodies are bounded (413, never the
CSRF message, never 100 MB parsed). Issue 11, items 6 and 9."""

from __future__ import annotations

import asyncio
import json

import pytest
from markupsafe import escape

from app.auth import service as auth_service
from app.i18n import gettext, use_locale
from app.middleware import InputMiddleware
from tests.cases.fixtures import refer_to_a
from tests.conftest import csrf_from
from tests.forms.answers import post_data

PASSWORD = "long enough password"
UNSTORABLE_MESSAGE = (
    "This text contains a character that cannot be saved (such as a NUL byte). Please remove it."
)
TOO_LARGE_MESSAGE = "What you sent is too large. Please shorten it and send it again."
CSRF_MESSAGE = (
    "Your form has expired or was sent from another site. Go back, reload the page and send it again."
)


def in_locale(locale: str, message: str) -> str:
    with use_locale(locale):
        return gettext(message)


@pytest.fixture
def staff(client, login, world):
    """Return the client signed in as the office's caseworker (through the real form)."""
    assert login(world.caseworker.email, PASSWORD, locale="pl").status_code == 303
    return client


@pytest.fixture
def referred(db, settings, world, open_case):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    return case


@pytest.fixture
def token_a(db, world):
    _, value = auth_service.create_api_token(db=db, organisation=world.partner_a, name="CRM A")
    return {"Authorization": f"Bearer {value}"}


def assert_refused_in_html(response, field: str, locale: str = "pl") -> None:
    assert response.status_code == 422, response.text[:300]
    assert f"<strong>{field}</strong>" in response.text
    assert str(escape(in_locale(locale, UNSTORABLE_MESSAGE))) in response.text


def assert_refused_in_json(response, field: str, locale: str = "pl") -> None:
    """The API has no locale prefix: without Accept-Language it answers in WITAJ_DEFAULT_LOCALE."""
    assert response.status_code == 422, response.text[:300]
    errors = response.json()["errors"]
    message = in_locale(locale, UNSTORABLE_MESSAGE)
    assert {"field": field, "message": message, "type": "unstorable_character"} in errors


# --- NUL and lone surrogates: every place the probing found a 500 -----------------------------------


def test_nul_in_a_chat_message(client):
    page = client.get("/uk/chat")
    response = client.post("/uk/chat", data={"message": "Привіт\x00", "csrf_token": csrf_from(page.text)})
    assert_refused_in_html(response, "message", locale="uk")


def test_nul_in_a_note(staff, open_case):
    case, _ = open_case()
    page = staff.get(f"/pl/staff/cases/{case.reference}")
    response = staff.post(
        f"/pl/staff/cases/{case.reference}/notes",
        data={"body": "Zadzwonić\x00 jutro", "visibility": "internal", "csrf_token": csrf_from(page.text)},
    )
    assert_refused_in_html(response, "body")


def test_nul_in_the_new_case_form(staff):
    page = staff.get("/pl/staff/cases/new")
    response = staff.post(
        "/pl/staff/cases/new",
        data={
            "display_name": "Olena\x00K.",
            "preferred_language": "uk",
            "category": "legal_aid",
            "subject": "Karta pobytu",
            "description": "Pytanie",
            "priority": "normal",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert_refused_in_html(response, "display_name")


@pytest.mark.parametrize("query", ["q=pobyt%00", "q=%00&status=new", "district=%00"])
def test_nul_in_inbox_filters(staff, query):
    response = staff.get(f"/pl/staff/cases/?{query}")
    assert_refused_in_html(response, query.split("=")[0])


def test_nul_in_a_city_form(client):
    page = client.get("/be/forms/pismo-ogolne")
    data = post_data("pismo-ogolne", csrf_from(page.text), tresc="Dzień dobry\x00")
    assert_refused_in_html(client.post("/be/forms/pismo-ogolne", data=data), "tresc", locale="be")


def test_nul_in_an_api_note(client, referred, token_a):
    response = client.post(
        f"/api/v1/cases/{referred.reference}/notes", json={"body": "Call\x00 back"}, headers=token_a
    )
    assert_refused_in_json(response, "body")
    in_ukrainian = client.post(
        f"/api/v1/cases/{referred.reference}/notes",
        json={"body": "Call\x00 back"},
        headers={**token_a, "Accept-Language": "uk"},
    )
    assert_refused_in_json(in_ukrainian, "body", locale="uk")


def test_lone_surrogate_in_an_api_note(client, referred, token_a):
    body = b'{"body": "Call \\ud800 back"}'
    response = client.post(
        f"/api/v1/cases/{referred.reference}/notes",
        content=body,
        headers={**token_a, "Content-Type": "application/json"},
    )
    assert_refused_in_json(response, "body")


def test_nul_in_the_api_list_query(client, token_a):
    assert_refused_in_json(client.get("/api/v1/cases?status=%00", headers=token_a), "status")


def test_nul_in_the_rasa_channel_and_in_nested_json(client):
    response = client.post("/webhooks/rest/webhook", json={"sender": "s1", "message": "hi\x00"})
    assert_refused_in_json(response, "message")
    nested = client.post(
        "/webhooks/rest/webhook", json={"sender": "s1", "message": "hi", "metadata": {"a": ["ok", "x\x00"]}}
    )
    assert_refused_in_json(nested, "metadata.a.1")


def test_nul_in_the_path_is_not_found(client, token_a):
    assert client.get("/api/v1/cases/KRK%00", headers=token_a).status_code == 404
    assert client.get("/pl/staff/cases/KRK%00").status_code == 404


def test_ordinary_text_in_every_script_passes(client, referred, token_a):
    text = "Dzień dobry — Добрий день! Добры дзень. 你好 👋 \t tab and\nnew line"
    response = client.post(f"/api/v1/cases/{referred.reference}/notes", json={"body": text}, headers=token_a)
    assert response.status_code == 201 and response.json()["body"] == text


# --- bounded bodies ---------------------------------------------------------------------------------


def test_a_json_body_over_the_limit_gets_413_in_the_callers_language(client, settings, referred, token_a):
    body = json.dumps({"body": "x" * settings.max_json_bytes})
    response = client.post(
        f"/api/v1/cases/{referred.reference}/notes",
        content=body,
        headers={**token_a, "Content-Type": "application/json", "Accept-Language": "uk"},
    )
    assert response.status_code == 413
    assert response.json() == {"detail": in_locale("uk", TOO_LARGE_MESSAGE)}


def test_the_rasa_channel_is_bounded_too(client, settings):
    body = json.dumps({"sender": "s1", "message": "x" * settings.max_json_bytes})
    response = client.post(
        "/webhooks/rest/webhook", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413 and "detail" in response.json()


@pytest.mark.parametrize("size", [1024 * 1024 + 10, 3 * 1024 * 1024], ids=["over-1MiB-field", "3MiB-field"])
def test_a_large_form_gets_too_large_not_the_csrf_message(staff, open_case, size):
    """Starlette's form parser refuses a field over 1 MiB; the CSRF check used to read that as a
    missing token and say the form had expired."""
    case, _ = open_case()
    page = staff.get(f"/pl/staff/cases/{case.reference}")
    response = staff.post(
        f"/pl/staff/cases/{case.reference}/notes",
        data={"body": "x" * size, "visibility": "internal", "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 413
    assert str(escape(in_locale("pl", TOO_LARGE_MESSAGE))) in response.text
    assert str(escape(in_locale("pl", CSRF_MESSAGE))) not in response.text


def test_a_form_over_the_body_limit_and_one_with_too_many_fields(staff, settings, open_case):
    case, _ = open_case()
    page = staff.get(f"/pl/staff/cases/{case.reference}")
    token = csrf_from(page.text)
    huge = {"body": "x" * (settings.max_body_bytes + 1), "csrf_token": token}
    assert staff.post(f"/pl/staff/cases/{case.reference}/notes", data=huge).status_code == 413
    many = {f"f{n}": "x" for n in range(1500)} | {"body": "Notatka", "csrf_token": token}
    response = staff.post(f"/pl/staff/cases/{case.reference}/notes", data=many)
    assert response.status_code == 413 and str(escape(in_locale("pl", TOO_LARGE_MESSAGE))) in response.text


def test_a_body_without_length_is_read_only_up_to_the_limit(settings):
    """A chunked body is not read past the limit: the request is refused as soon as it grows over."""
    chunk = b"x" * 65536
    reads = {"n": 0}
    called = []
    sent: list[dict] = []

    async def receive():
        reads["n"] += 1
        return {"type": "http.request", "body": chunk, "more_body": True}  # never ends

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        called.append(True)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/cases/KRK-1/notes",
        "raw_path": b"/api/v1/cases/KRK-1/notes",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "witaj_route_path": "/api/v1/cases/KRK-1/notes",
    }
    asyncio.run(InputMiddleware(app, settings)(scope, receive, send))
    assert not called
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert reads["n"] == settings.max_json_bytes // len(chunk) + 1


def test_a_declared_length_over_the_limit_is_refused_unread(settings):
    reads = {"n": 0}
    sent: list[dict] = []

    async def receive():
        reads["n"] += 1
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        raise AssertionError("the route must not run")

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/webhooks/rest/webhook",
        "raw_path": b"/webhooks/rest/webhook",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(100 * 1024 * 1024).encode()),
        ],
        "witaj_route_path": "/webhooks/rest/webhook",
    }
    asyncio.run(InputMiddleware(app, settings)(scope, receive, send))
    assert reads["n"] == 0 and sent[0]["status"] == 413
