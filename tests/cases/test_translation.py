"""Notes between a partner and the office in different languages, machine-translated (real argos)."""

from __future__ import annotations

from sqlalchemy import select

from app.auth import service as auth_service
from app.cases.models import CaseNote
from tests.cases.fixtures import refer_to_a


def test_partner_note_in_english_reaches_the_office_in_polish(both_ways, app, client, db, settings, world, open_case, login):
    app.state.settings = settings.model_copy(update={"translation_wait_seconds": 60})
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    _, token = auth_service.create_api_token(db=db, organisation=world.partner_a, name="CRM")
    response = client.post(
        f"/api/v1/cases/{case.reference}/notes",
        json={"body": "dog eats bread", "language": "en"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201
    stored = response.json()["translations"]["pl"]
    assert stored["text"] == "pies je chleb" and stored["engine"] == "argos"
    note = db.scalar(select(CaseNote).where(CaseNote.case_id == case.id))
    assert note.body == "dog eats bread"  # the original is kept as written
    login(world.caseworker.email, "long enough password", locale="pl")
    page = client.get(f"/pl/staff/cases/{case.reference}").text
    assert "pies je chleb" in page and "dog eats bread" in page
