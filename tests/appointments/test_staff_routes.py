"""Staff pages of visits over HTTP, as browsers without JavaScript (and htmx) use them: the agenda
with the interpreter need, check-in and no-show, partner isolation, a case opened from a visit,
blocks and the visits they overlap, and the supervisors' load view."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from app.appointments import service
from app.auth import service as auth_service
from app.auth.enums import OrgKind, Role
from app.cases.models import CaseFile
from tests.conftest import csrf_from

PASSWORD = "long enough password"
NOW = datetime(2027, 3, 8, 7, 0, tzinfo=UTC)  # a Monday
PERSON = service.Person("Olena Kovalenko", "olena@example.org", None)


def local(settings, day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=settings.zone).astimezone(UTC)


@pytest.fixture
def book(db, settings):
    def do(at: datetime, place="kiosk-bonarka", svc="library-card", **kw):
        visit, _ = service.book(db=db, settings=settings, service_id=svc, place_id=place, starts_at=at, person=PERSON, language="uk", source="web", now=NOW, **kw)
        db.commit()
        return visit

    return do


@pytest.fixture
def as_user(client, login):
    def sign_in(user):
        client.cookies.clear()
        response = login(user.email, PASSWORD)
        assert response.status_code == 303, response.text
        return client

    return sign_in


def test_agenda_shows_the_interpreter_need_and_marks_visits_with_csrf(as_user, world, book, settings):
    visit = book(local(settings, date(2027, 3, 9), 19, 30), interpreter_language="uk")
    client = as_user(world.caseworker)
    page = client.get("/en/staff/agenda", params={"place": "kiosk-bonarka", "day": "2027-03-09"})
    assert page.status_code == 200
    row = re.search(rf'<tr id="visit-{visit.reference}">.*?</tr>', page.text, re.S).group(0)
    assert "Olena Kovalenko" in row and "19:30" in row and "Interpreter: Українська" in row
    mark = f"/en/staff/agenda/visits/{visit.reference}/mark"
    # Without the CSRF token nothing changes.
    assert client.post(mark, data={"status": "checked_in"}).status_code == 403
    assert visit.status == service.BOOKED
    token = csrf_from(page.text)
    swapped = client.post(mark, data={"status": "checked_in", "csrf_token": token}, headers={"HX-Request": "true"})
    assert swapped.status_code == 200 and swapped.text.lstrip().startswith("<tr") and ">Undo<" in swapped.text.replace("<span", "<")
    assert visit.status == service.CHECKED_IN
    # Without JavaScript: back to the agenda; undo, then no-show.
    plain = client.post(mark, data={"status": "booked", "csrf_token": token}, follow_redirects=False)
    assert plain.status_code == 303 and "/staff/agenda" in plain.headers["location"]
    client.post(mark, data={"status": "no_show", "csrf_token": token})
    assert visit.status == service.NO_SHOW
    history = client.get(f"/en/staff/agenda/visits/{visit.reference}").text
    assert "Did not come" in history and "Marked as expected again" in history


def test_partner_staff_see_only_their_desk(as_user, db, world, book, settings):
    alfabet = auth_service.ensure_organisation(db=db, slug="fundacja-alfabet-sasiedzki", name="Alfabet", kind=OrgKind.partner)
    staff = auth_service.create_user(db=db, email="desk@alfabet.example.org", display_name="Desk", password=PASSWORD, role=Role.partner_staff, organisation=alfabet)
    db.commit()
    theirs = book(local(settings, date(2027, 3, 10), 16, 0), place="alfabet-sasiedzki-desk", svc="polish-course")
    other = book(local(settings, date(2027, 3, 10), 16, 0))
    client = as_user(staff)
    page = client.get("/en/staff/agenda", params={"day": "2027-03-10"})
    assert theirs.reference in page.text and other.reference not in page.text
    assert 'value="kiosk-bonarka"' not in page.text
    assert client.get("/en/staff/agenda", params={"place": "kiosk-bonarka", "day": "2027-03-10"}).text.count(other.reference) == 0
    assert client.get(f"/en/staff/agenda/visits/{theirs.reference}").status_code == 200
    token = csrf_from(page.text)
    assert client.get(f"/en/staff/agenda/visits/{other.reference}").status_code == 404
    assert client.post(f"/en/staff/agenda/visits/{other.reference}/mark", data={"status": "checked_in", "csrf_token": token}).status_code == 404
    assert client.post(f"/en/staff/agenda/visits/{other.reference}/cancel", data={"csrf_token": token}).status_code == 404
    assert other.status == service.BOOKED
    # The load view is for supervisors and administrators.
    assert client.get("/en/staff/agenda/load").status_code == 403


def test_open_a_case_from_a_visit_and_link_by_reference(as_user, db, world, book, settings):
    visit = book(local(settings, date(2027, 3, 9), 15, 0))
    client = as_user(world.caseworker)
    page = client.get(f"/en/staff/agenda/visits/{visit.reference}")
    token = csrf_from(page.text)
    wrong = client.post(f"/en/staff/agenda/visits/{visit.reference}/link", data={"case_reference": "KRK-2027-999999", "csrf_token": token})
    assert wrong.status_code == 422 and "no case with this reference" in wrong.text
    opened = client.post(f"/en/staff/agenda/visits/{visit.reference}/open-case", data={"csrf_token": token}, follow_redirects=False)
    assert opened.status_code == 303 and "/staff/cases/" in opened.headers["location"]
    case = db.get(CaseFile, visit.case_id)
    assert case is not None and case.category == "library" and opened.headers["location"].endswith(case.reference)
    assert case.reference in client.get(f"/en/staff/agenda/visits/{visit.reference}").text


def test_a_block_hides_free_times_and_lists_the_visits_it_overlaps(as_user, db, world, book, settings):
    day = date(2027, 3, 9)
    visit = book(local(settings, day, 19, 30))
    client = as_user(world.caseworker)
    token = csrf_from(client.get("/en/staff/agenda", params={"place": "kiosk-bonarka", "day": "2027-03-09"}).text)
    response = client.post(
        "/en/staff/agenda/blocks",
        data={"place": "kiosk-bonarka", "desk": "", "starts_at": "2027-03-09T18:00", "ends_at": "2027-03-09T20:00", "reason": "Staff training", "csrf_token": token},
    )
    assert response.status_code == 200 and 'id="overlapping"' in response.text and visit.reference in response.text
    starts = {s.starts_at for s in service.search(db=db, settings=settings, service_id="library-card", first_day=day, last_day=day, now=NOW, place_ids={"kiosk-bonarka"}).get("kiosk-bonarka", [])}
    assert local(settings, day, 17, 45) in starts and local(settings, day, 18, 0) not in starts and local(settings, day, 19, 0) not in starts
    # Staff cancel the overlapping visit from its page.
    cancelled = client.post(f"/en/staff/agenda/visits/{visit.reference}/cancel", data={"csrf_token": token}, follow_redirects=False)
    assert cancelled.status_code == 303 and visit.status == service.CANCELLED
    # A block without a reason is refused with the field's message.
    refused = client.post("/en/staff/agenda/blocks", data={"place": "kiosk-bonarka", "starts_at": "2027-03-09T14:00", "ends_at": "2027-03-09T15:00", "reason": "", "csrf_token": token})
    assert refused.status_code == 422 and "Please write a reason" in refused.text
    block_id = re.search(r"/blocks/(\d+)/remove", response.text).group(1)
    client.post(f"/en/staff/agenda/blocks/{block_id}/remove", data={"csrf_token": token})
    assert service.blocks(db=db, place_id="kiosk-bonarka", first=local(settings, day, 0), last=local(settings, day, 23)) == []


def test_load_counts_visits_and_the_share_of_desk_time(as_user, world, book, settings):
    book(local(settings, date(2027, 3, 9), 14, 0))  # Tuesday afternoon
    book(local(settings, date(2027, 3, 9), 19, 30))  # Tuesday evening
    book(local(settings, date(2027, 3, 9), 19, 45))
    book(local(settings, date(2027, 3, 13), 10, 0), svc="labour-registration")  # Saturday, 30 minutes
    assert as_user(world.caseworker).get("/en/staff/agenda/load").status_code == 403
    page = as_user(world.supervisor).get("/en/staff/agenda/load", params={"day": "2027-03-10"})
    assert page.status_code == 200
    grid = re.search(r'<table class="table load-grid" id="load-kiosk-bonarka">.*?</table>', page.text, re.S).group(0)

    def cell(weekday: int, hour: int) -> str:
        return re.search(rf'data-cell="{weekday}-{hour}">([^<]*)</td>', grid).group(1).strip()

    # One desk: an hour holds 60 desk-minutes; a library card takes 15, a registration 30.
    assert cell(1, 14) == "1 · 25 %" and cell(1, 19) == "2 · 50 %" and cell(5, 10) == "1 · 50 %"
    assert cell(1, 15) == "0 · 0 %" and cell(6, 10) == ""  # open and empty; closed on Sunday
    assert "(visits: 4)" in grid and '<th scope="row">19:00</th>' in grid
