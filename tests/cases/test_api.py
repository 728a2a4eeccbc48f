"""The JSON API for partners' systems: tokens, isolation, transitions, notes, OpenAPI."""

from __future__ import annotations

import re
import sys

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from app.auth import service as auth_service
from app.cases.models import AuditEntry
from app.cases.schemas import SPACE, NoteIn
from app.errors import ConflictBody, ValidationErrorBody
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


# --- the API description (issue 11, item 10) and what it promises --------------------------------


def test_openapi_describes_only_the_api(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["paths"] and all(path.startswith("/api/v1/") for path in spec["paths"])
    assert not {"/staff/login", "/chat", "/forms/{form_id}", "/webhooks/rest/webhook"} & set(spec["paths"])


def test_openapi_declares_the_bearer_token_on_every_operation(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["components"]["securitySchemes"]["token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["token"]["description"],
    }
    operations = [op for item in spec["paths"].values() for op in item.values()]
    assert operations and all(op["security"] == [{"token": []}] for op in operations)


def test_openapi_documents_the_errors_as_the_models_that_send_them(client):
    spec = client.get("/api/v1/openapi.json").json()

    def schema_of(path: str, method: str, status: int) -> str:
        response = spec["paths"][path][method]["responses"][str(status)]
        return response["content"]["application/json"]["schema"]["$ref"]

    ops = [(path, method) for path, item in spec["paths"].items() for method in item]
    for path, method in ops:
        assert schema_of(path, method, 401).endswith("/ErrorBody")
        assert schema_of(path, method, 422).endswith("/ValidationErrorBody")
        if "{reference}" in path:
            assert schema_of(path, method, 404).endswith("/ErrorBody")
    assert schema_of("/api/v1/cases/{reference}/transitions", "post", 409).endswith("/ConflictBody")
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's default 422, which is not what is sent
    assert set(schemas["ValidationErrorBody"]["required"]) == {"detail", "errors"}
    assert set(schemas["FieldError"]["required"]) == {"field", "message", "type"}
    assert set(schemas["ConflictBody"]["properties"]) == {"detail", "changes", "allowed"}


def test_openapi_names_the_workflows_transitions_and_what_each_requires(client):
    body = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["TransitionRequest"]
    names = body["properties"]["name"]["enum"]
    assert {"accept", "decline", "start", "resolve"} <= set(names)
    assert "escalate" not in names  # made by the app itself, never through the API
    rules = {rule["if"]["properties"]["name"]["const"]: rule["then"] for rule in body["allOf"]}
    decline = rules["decline"]
    assert decline["required"] == ["reason"]
    assert body["additionalProperties"] is False


def test_error_bodies_have_the_documented_shape(client, db, settings, world, open_case, tokens):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    url = f"/api/v1/cases/{case.reference}/transitions"
    version = case.version
    refused = client.post(url, json={"name": "decline", "expected_version": version}, headers=tokens["a"])
    assert refused.status_code == 422
    assert ValidationErrorBody.model_validate(refused.json()).errors[0].field == "reason"
    assert refused.json()["errors"][0].keys() == {"field", "message", "type"}  # type: null for a service rule
    stale = client.post(url, json={"name": "accept", "expected_version": version - 1}, headers=tokens["a"])
    assert stale.status_code == 409 and ConflictBody.model_validate(stale.json()).changes
    not_now = client.post(url, json={"name": "start", "expected_version": version}, headers=tokens["a"])
    assert not_now.status_code == 409 and ConflictBody.model_validate(not_now.json()).allowed
    missing = client.get("/api/v1/cases/KRK-0000-000000", headers=tokens["a"])
    assert missing.status_code == 404 and missing.json().keys() == {"detail"}


@pytest.mark.parametrize("value", [2**31, 2**63, 10**30])
def test_integers_past_what_the_databases_store_are_refused(
    client, db, settings, world, open_case, tokens, value
):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    url = f"/api/v1/cases/{case.reference}/transitions"
    for body, field in [
        ({"name": "accept", "expected_version": value}, "expected_version"),
        ({"name": "accept", "expected_version": case.version, "consent_id": value}, "consent_id"),
    ]:
        response = client.post(url, json=body, headers=tokens["a"])
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]


def test_text_the_databases_cannot_store_is_refused(client, db, settings, world, open_case, tokens):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    note = client.post(f"/api/v1/cases/{case.reference}/notes", json={"body": "a\x00b"}, headers=tokens["a"])
    assert note.status_code == 422 and note.json()["errors"][0]["field"] == "body"
    listed = client.get("/api/v1/cases", params={"status": "new\x00"}, headers=tokens["a"])
    assert listed.status_code == 422 and listed.json()["errors"][0]["field"] == "status"


def test_fields_the_api_does_not_know_are_refused(client, db, settings, world, open_case, tokens):
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    response = client.post(
        f"/api/v1/cases/{case.reference}/transitions",
        json={"name": "decline", "expected_version": case.version, "reason": "x", "expectedVersion": 1},
        headers=tokens["a"],
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "expectedVersion" and error["type"] == "extra_forbidden"


def test_blank_text_as_described_is_blank_text_as_refused():
    # The description's pattern and the services' str.strip() must agree on every character.
    blank = re.compile(f"[{SPACE}]")
    assert [c for c in map(chr, range(sys.maxunicode + 1)) if bool(blank.fullmatch(c)) != c.isspace()] == []
    assert NoteIn(body="\u3000x\x1c").body
    for body in [" ", "\x1c\x1f", "\u2028\u3000", "\x00"]:
        with pytest.raises(ValidationError):
            NoteIn(body=body)
