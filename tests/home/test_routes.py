"""The landing page, health check, security headers and error responses."""

from __future__ import annotations

from fastapi import Body
from pydantic import BaseModel, Field

from app.i18n import gettext, use_locale


def test_healthz_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_landing_page_names_the_three_services_and_partners(client):
    page = client.get("/en/").text
    for text in ("Labour office", "City library", "Culture and Polish courses", "Help from partner organisations"):
        assert text in page


def test_security_headers_and_strict_csp(client):
    response = client.get("/pl/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text and " style=" not in response.text and "onclick" not in response.text


def test_pages_vary_on_htmx_requests(client):
    assert "HX-Request" in client.get("/en/staff/login").headers["vary"]


def test_csrf_token_is_on_body_for_htmx(client):
    page = client.get("/en/").text
    token = client.cookies.get("witaj_csrf")
    assert token and f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in page


def test_not_found_page_is_localized(client):
    response = client.get("/uk/no-such-page")
    assert response.status_code == 404
    with use_locale("uk"):
        assert gettext("We could not find that page.") in response.text


class Payload(BaseModel):
    name: str = Field(min_length=3)
    age: int


def test_api_errors_are_json_with_localized_field_messages(app, client):
    @app.post("/api/v1/echo")
    def echo(payload: Payload = Body(...)) -> dict:  # noqa: B008
        return payload.model_dump()

    response = client.post(
        "/pl/api/v1/echo", json={"name": "a", "age": "many"}, headers={"Authorization": "Bearer test"}
    )
    assert response.status_code == 422
    body = response.json()
    with use_locale("pl"):
        assert body["detail"] == gettext("Please correct the marked fields.")
        by_field = {e["field"]: e["message"] for e in body["errors"]}
        assert by_field["name"] == gettext("Enter at least %(min)s characters.", min=3)
        assert by_field["age"] == gettext("Enter a whole number.")
    assert client.get("/api/v1/nothing-here").json()["detail"]


def test_api_requests_without_bearer_still_need_csrf(app, client):
    @app.post("/api/v1/change")
    def change() -> dict:
        return {"changed": True}

    assert client.post("/api/v1/change", json={}).status_code == 403
