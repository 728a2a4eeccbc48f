"""The JSON API for partners' systems: tokens, isolation, transitions, notes, OpenAPI."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth import service as auth_service
from app.cases.models import AuditEntry
from tests.cases.fixtures import refer_to_a


@pytest.fixture
def tokens(db, world):
    _, a = auth_service.create_api_token(db=db, organisation=world.partner_a, name="CRM A")
    _, b = auth_service.create_api_token(db=db, organisation=world.partner_b, name="CRM B")
    return {"a": {"Authorization": f"Bearer {a}"}, "b": {"Authorization": f"Bearer {b}"}}


def test_requests_without_a_valid_token_get_401(client, tokens):
    assert client.get("/api/v1/cases").status_code == 401
    response = client.get("/api/v1/cases", headers={"Authorization": "Bearer witaj_forged"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_token_sees_only_its_referrals(client, db, settings, world, open_case, tokens):
    referred, _ = open_case(subject="Dla A")
    hidden, _ = open_case(subject="Nie dla partnerów")
    refer_to_a(db, settings, world, referred)
    listed = client.get("/api/v1/cases", headers=tokens["a"]).json()
    assert [c["reference"] for c in listed["items"]] == [referred.reference]
    assert client.get("/api/v1/cases", headers=tokens["b"]).json()["items"] == []
    for token, reference in [("a", hidden.reference), ("b", referred.reference), ("b", hidden.reference)]:
        assert client.get(f"/api/v1/cases/{reference}", headers=tokens[token]).status_code == 404
        changed = client.post(
            f"/api/v1/cases/{reference}/transitions", json={"name": "accept", "expected_version": 1}, headers=tokens[token]
        )
        assert changed.status_code == 404
        noted = client.post(f"/api/v1/cases/{reference}/notes", json={"body": "x"}, headers=tokens[token])
        assert noted.status_code == 404


def test_read_is_audited_and_respects_consent(client, db, settings, world, open_case, tokens):
    case, _ = open_case(email="only.with.consent@example.org")
    refer_to_a(db, settings, world, case, scope=("case",))
    detail = client.get(f"/api/v1/cases/{case.reference}", headers=tokens["a"]).json()
    assert detail["client"]["contact"] is None and detail["allowed_transitions"] == ["accept", "decline"]
    assert "only.with.consent" not in str(detail)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.case_id == case.id)).one()
    assert entry.action == "view_case" and entry.actor_kind == "token" and entry.detail["channel"] == "api"


def test_accept_with_version_then_stale_version_conflicts(client, db, settings, world, open_case, tokens):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    version = client.get(f"/api/v1/cases/{case.reference}", headers=tokens["a"]).json()["version"]
    ok = client.post(
        f"/api/v1/cases/{case.reference}/transitions", json={"name": "accept", "expected_version": version}, headers=tokens["a"]
    )
    assert ok.status_code == 200 and ok.json()["status"] == "accepted"
    stale = client.post(
        f"/api/v1/cases/{case.reference}/transitions", json={"name": "start", "expected_version": version}, headers=tokens["a"]
    )
    assert stale.status_code == 409
    assert stale.json()["changes"][0]["name"] == "accept"


def test_decline_without_reason_is_422_with_field(client, db, settings, world, open_case, tokens):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    response = client.post(
        f"/api/v1/cases/{case.reference}/transitions", json={"name": "decline", "expected_version": case.version}, headers=tokens["a"]
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "reason"
    bad = client.post(f"/api/v1/cases/{case.reference}/transitions", json={"name": "", "expected_version": 0}, headers=tokens["a"])
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"name", "expected_version"}


def test_partner_writes_a_shared_note(client, db, settings, world, open_case, tokens):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    response = client.post(f"/api/v1/cases/{case.reference}/notes", json={"body": "Dzwoniliśmy, brak odpowiedzi."}, headers=tokens["a"])
    assert response.status_code == 201 and response.json()["author_organisation"] == world.partner_a.slug
    detail = client.get(f"/api/v1/cases/{case.reference}", headers=tokens["a"]).json()
    assert [n["body"] for n in detail["notes"]] == ["Dzwoniliśmy, brak odpowiedzi."]


def test_openapi_documents_the_api(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/cases", "/api/v1/cases/{reference}", "/api/v1/cases/{reference}/transitions"} <= set(spec["paths"])
