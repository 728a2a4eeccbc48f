"""Visits in /api/v1: places and free times, booking for a client, moving and cancelling, with the
same tokens as cases: the office sees every visit, a partner those at its desk and those it booked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.appointments import service
from app.auth import service as auth_service
from app.auth.enums import OrgKind

NOW = datetime(2027, 3, 8, 7, 0, tzinfo=UTC)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def tokens(db, world):
    alfabet = auth_service.ensure_organisation(db=db, slug="fundacja-alfabet-sasiedzki", name="Alfabet", kind=OrgKind.partner)
    made = {}
    for name, org in (("office", world.office), ("a", world.partner_a), ("alfabet", alfabet)):
        _, value = auth_service.create_api_token(db=db, organisation=org, name=f"CRM {name}")
        made[name] = {"Authorization": f"Bearer {value}"}
    db.commit()
    return made


def test_places_and_free_times(client, tokens, clock):
    places = client.get("/api/v1/appointment-places", headers=tokens["a"] | {"Accept-Language": "uk"}).json()
    kiosk = next(p for p in places["places"] if p["id"] == "kiosk-bonarka")
    assert kiosk["hours"]["SA"] == ["10:00-16:00"] and kiosk["evenings"] and kiosk["kind"] == "kiosk"
    assert next(s for s in places["services"] if s["id"] == "library-card")["name"] == "Допомога з читацьким квитком"
    slots = client.get(
        "/api/v1/appointment-slots",
        params={"service": "library-card", "from": "2027-03-09", "to": "2027-03-09", "evening": "true", "language": "uk"},
        headers=tokens["a"],
    )
    assert slots.status_code == 200
    items = slots.json()["items"]
    assert items and {i["place"] for i in items} <= {"kiosk-bonarka", "kiosk-galeria-krakowska", "kiosk-serenada"}
    assert all(datetime.fromisoformat(i["starts_at"]).astimezone(UTC).hour >= 16 for i in items)  # 17:00 in Kraków
    # A range longer than 31 days is cut to 31; a service that does not exist is not found.
    long = client.get("/api/v1/appointment-slots", params={"service": "library-card", "from": "2027-03-09", "to": "2027-06-01", "place": "kiosk-bonarka"}, headers=tokens["a"])
    assert max(i["starts_at"] for i in long.json()["items"]) < "2027-04-09"
    assert client.get("/api/v1/appointment-slots", params={"service": "haircut"}, headers=tokens["a"]).status_code == 404
    assert client.get("/api/v1/appointment-slots", params={"service": "library-card"}).status_code == 401


def test_book_move_and_cancel_for_a_client(client, db, tokens, clock):
    body = {"service": "library-card", "place": "kiosk-bonarka", "starts_at": "2027-03-09T19:30:00+01:00", "name": "Olena K.", "language": "uk", "interpreter_language": "uk"}
    booked = client.post("/api/v1/appointment-bookings", json=body, headers=tokens["a"])
    assert booked.status_code == 201, booked.text
    visit = booked.json()
    assert visit["reference"].startswith("KRK-W-") and visit["source"] == "api" and visit["interpreter_language"] == "uk"
    # The kiosk has one desk: the same time again is refused, with the reason.
    again = client.post("/api/v1/appointment-bookings", json=body | {"name": "Ivan"}, headers=tokens["alfabet"])
    assert again.status_code == 409 and again.json()["detail"]
    wrong = client.post("/api/v1/appointment-bookings", json=body | {"starts_at": "2027-03-09T21:00:00+01:00"}, headers=tokens["a"] | {"Accept-Language": "en"})
    assert wrong.status_code == 409 and "no visit at that time" in wrong.json()["detail"]
    bad_email = client.post("/api/v1/appointment-bookings", json=body | {"email": "olena@"}, headers=tokens["a"])
    assert bad_email.status_code == 422 and bad_email.json()["errors"][0]["field"] == "email"
    naive = client.post("/api/v1/appointment-bookings", json=body | {"starts_at": "2027-03-09T19:30:00"}, headers=tokens["a"])
    assert naive.status_code == 422
    moved = client.post(f"/api/v1/appointments/{visit['reference']}/move", json={"starts_at": "2027-03-10T18:00:00+01:00"}, headers=tokens["a"])
    assert moved.status_code == 200 and moved.json()["starts_at"] in ("2027-03-10T17:00:00Z", "2027-03-10T17:00:00+00:00")
    listed = client.get("/api/v1/appointments", params={"from": "2027-03-08", "to": "2027-03-14"}, headers=tokens["a"]).json()
    assert [v["reference"] for v in listed["items"]] == [visit["reference"]]
    cancelled = client.post(f"/api/v1/appointments/{visit['reference']}/cancel", headers=tokens["a"])
    assert cancelled.json()["status"] == "cancelled"
    # Its time is free again.
    assert client.post("/api/v1/appointment-bookings", json=body | {"name": "Ivan"}, headers=tokens["alfabet"]).status_code == 201


def test_a_partner_sees_its_own_desk_and_what_it_booked_only(client, db, settings, tokens, clock):
    at_desk, _ = service.book(
        db=db, settings=settings, service_id="polish-course", place_id="alfabet-sasiedzki-desk",
        starts_at=datetime(2027, 3, 10, 15, 0, tzinfo=UTC), person=service.Person("Ahmed", "a@example.org"),
        language="ar", source="web", now=NOW,
    )
    elsewhere, _ = service.book(
        db=db, settings=settings, service_id="library-card", place_id="kiosk-bonarka",
        starts_at=datetime(2027, 3, 9, 18, 30, tzinfo=UTC), person=service.Person("Olena", "o@example.org"),
        language="uk", source="web", now=NOW,
    )
    db.commit()
    assert client.get(f"/api/v1/appointments/{at_desk.reference}", headers=tokens["alfabet"]).json()["name"] == "Ahmed"
    assert client.get(f"/api/v1/appointments/{elsewhere.reference}", headers=tokens["alfabet"]).status_code == 404
    assert client.get(f"/api/v1/appointments/{at_desk.reference}", headers=tokens["a"]).status_code == 404
    assert client.post(f"/api/v1/appointments/{at_desk.reference}/cancel", headers=tokens["a"]).status_code == 404
    office = client.get("/api/v1/appointments", params={"from": "2027-03-08"}, headers=tokens["office"]).json()
    assert {v["reference"] for v in office["items"]} == {at_desk.reference, elsewhere.reference}


def test_the_api_description_lists_the_visits(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/appointment-slots", "/api/v1/appointments", "/api/v1/appointments/{reference}/move"} <= set(spec["paths"])
    assert "409" in spec["paths"]["/api/v1/appointment-bookings"]["post"]["responses"]
