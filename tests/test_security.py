"""Protections every route gets from one place: CSRF for whatever a cookie signs in (a Bearer header
exempts only the token API), Cache-Control: no-store wherever personal data is shown, and logs that
carry neither SQL parameters nor the text of errors (issue 11, items 6 and 9)."""

from __future__ import annotations

import logging

import httpx
import pytest
from alembic import command
from fastapi import Request
from sqlalchemy import func, select, text

from app.auth import service as auth_service
from app.auth.deps import SESSION_COOKIE
from app.cases.models import CaseNote
from app.config import get_settings
from app.db import build_engine, utcnow
from app.main import create_app
from app.migrations import alembic_config
from app.web import is_private
from tests.browser import live_server
from tests.cases.fixtures import refer_to_a
from tests.conftest import csrf_from, empty_database

PASSWORD = "long enough password"


@pytest.fixture
def staff(client, login, world):
    assert login(world.caseworker.email, PASSWORD, locale="pl").status_code == 303
    return client


@pytest.fixture
def token_a(db, world):
    _, value = auth_service.create_api_token(db=db, organisation=world.partner_a, name="CRM A")
    return {"Authorization": f"Bearer {value}"}


# --- CSRF: a Bearer header exempts only the token API, never a cookie-signed page ------------------


def notes_of(db, case) -> int:
    return db.scalar(select(func.count()).select_from(CaseNote).where(CaseNote.case_id == case.id))


def test_a_bearer_header_does_not_exempt_a_staff_page_from_csrf(staff, open_case, db):
    case, _ = open_case()
    notes_before = notes_of(db, case)
    for bearer in ("Bearer anything", "bearer witaj_forged"):
        response = staff.post(
            f"/pl/staff/cases/{case.reference}/notes",
            data={"body": "Forged across sites", "visibility": "internal"},
            headers={"Authorization": bearer},
            follow_redirects=False,
        )
        assert response.status_code == 403
    assert notes_of(db, case) == notes_before


def test_the_api_with_a_session_cookie_is_checked_too(staff, db, settings, world, open_case, token_a):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    assert staff.cookies.get(SESSION_COOKIE)
    response = staff.post(f"/api/v1/cases/{case.reference}/notes", json={"body": "Hello"}, headers=token_a)
    assert response.status_code == 403


def test_the_token_api_needs_no_csrf_token(client, db, settings, world, open_case, token_a):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    client.get("/pl/")  # a partner's HTTP client may keep the CSRF and locale cookies it was given
    response = client.post(f"/api/v1/cases/{case.reference}/notes", json={"body": "Hello"}, headers=token_a)
    assert response.status_code == 201


# --- Cache-Control: no-store where personal data is shown --------------------------------------------


def test_staff_pages_api_chat_and_forms_are_never_stored(staff, client, token_a, open_case):
    case, _ = open_case()
    private = [
        staff.get("/pl/staff/"),
        staff.get("/pl/staff/cases/"),
        staff.get(f"/pl/staff/cases/{case.reference}"),
        staff.get("/pl/staff/login", follow_redirects=False),
        staff.get("/pl/staff/nothing-here"),
        client.get("/api/v1/cases", headers=token_a),
        client.get("/api/v1/cases"),
        client.get("/uk/chat"),
        client.get("/uk/chat/messages"),
        client.get("/pl/forms/pismo-ogolne"),
        client.get("/pl/forms/receipt/unknown.pdf"),
        client.get("/pl/forms/pismo-ogolne/draft/unknown"),
        client.post("/webhooks/rest/webhook", json={"sender": "s", "message": "hello"}),
    ]
    for response in private:
        assert response.headers.get("cache-control") == "no-store", (response.url, response.status_code)


def test_a_city_form_sent_back_with_its_answers_is_not_stored(client):
    page = client.get("/en/forms/pismo-ogolne")
    refused = client.post(
        "/en/forms/pismo-ogolne",
        data={"csrf_token": csrf_from(page.text), "tresc": "My address is ul. Długa 1", "_action": "submit"},
    )
    assert refused.status_code == 422 and "Długa 1" in refused.text
    assert refused.headers["cache-control"] == "no-store"


def test_public_pages_without_personal_data_may_be_cached(client):
    for path in ("/pl/", "/pl/partners"):
        assert client.get(path).headers.get("cache-control") != "no-store", path
    assert is_private("/staff/") and is_private("/staff") and is_private("/forms/x/draft/y")
    assert not is_private("/staffroom") and not is_private("/partners")


# --- logs: no SQL parameters, no error text ---------------------------------------------------------

SECRET = "olena.secret-value-4711@example.org"


def test_engines_never_put_sql_parameters_in_errors_or_logs(tmp_path):
    engine = build_engine(f"sqlite:///{tmp_path / 'hidden.db'}")
    with pytest.raises(Exception) as caught, engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table WHERE x = :value"), {"value": SECRET})
    assert SECRET not in str(caught.value)
    assert engine.hide_parameters is True
    engine.dispose()


def test_a_database_error_leaves_no_personal_data_in_any_log(backend, caplog, monkeypatch):
    """A request that makes the database fail with a recognisable value, served by uvicorn: neither
    the server's "Exception in ASGI application", nor the app's own line, nor SQLAlchemy's statement
    log (at DEBUG) carries the value; the traceback is still there, without the text."""
    with empty_database(backend) as engine:
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        app = create_app(get_settings(), engine, check_db=False)

        @app.get("/test-only/duplicate")
        def duplicate(request: Request) -> None:
            insert = text(
                "INSERT INTO organisation (slug, name, kind, is_demo, created_at)"
                " VALUES (:slug, :name, 'office', false, :at)"
            )
            with engine.begin() as conn:
                for _ in range(
                    2
                ):  # the second one breaks the unique slug, with the value in PostgreSQL's DETAIL
                    conn.execute(insert, {"slug": SECRET, "name": SECRET, "at": utcnow()})

        caplog.set_level(logging.DEBUG)
        with live_server(app) as site:
            # Let caplog see the server's lines (uvicorn's own configuration keeps them to itself),
            # until the server has stopped: it logs the exception after the 500 has been sent.
            monkeypatch.setattr(logging.getLogger("uvicorn"), "propagate", True)
            response = httpx.get(site + "/pl/test-only/duplicate")
    assert response.status_code == 500
    server = [
        r
        for r in caplog.records
        if r.name.startswith("uvicorn") and "Exception in ASGI application" in r.getMessage()
    ]
    assert server, "uvicorn logged the failure"
    assert "IntegrityError" in caplog.text  # the traceback is kept, without any exception's text
    assert "olena.secret" not in caplog.text
    for record in caplog.records:
        assert "olena.secret" not in record.getMessage()
        assert "olena.secret" not in (record.exc_text or "")
        assert record.exc_info is None or "olena.secret" not in str(record.exc_info[1])



def test_a_server_error_page_keeps_the_protective_headers(settings, engine):
    """Starlette answers an unexpected error from outside every middleware: the 500 page still
    carries the CSP, no-sniff and no-store headers."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    application = create_app(settings, engine, check_db=False)

    @application.get("/staff/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(application, raise_server_exceptions=False) as client:
        response = client.get("/en/staff/boom")
    assert response.status_code == 500
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["cache-control"] == "no-store"
