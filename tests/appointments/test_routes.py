"""Booking a visit on the web, in the newcomer's language, without JavaScript: choose, book, see,
add to a calendar, move and cancel; a form sent twice books once; wrong input keeps the answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import icalendar
import pytest
from sqlalchemy import func, select

from app.appointments.models import Appointment
from tests.conftest import csrf_from

NOW = datetime(2027, 3, 8, 8, 0, tzinfo=UTC)  # a Monday morning


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def links(html: str, prefix: str) -> list[str]:
    return [unescape(h) for h in re.findall(rf'href="({re.escape(prefix)}[^"]*)"', html)]


def hidden(html: str) -> dict[str, str]:
    return {k: unescape(v) for k, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html)}


def open_form(client, query="service=library-card&evening=1&language=uk"):
    page = client.get(f"/uk/visits?{query}")
    assert page.status_code == 200
    slot = links(page.text, "/uk/visits/book")[0]
    form = client.get(slot)
    assert form.status_code == 200
    return form


def book(client, **answers):
    form = open_form(client)
    data = hidden(form.text) | {"name": "Олена Коваленко", "email": "olena@example.org", "phone": "", "interpreter_language": "uk"} | answers
    return client.post("/uk/visits/book", data=data, follow_redirects=False), data


def test_choose_a_service_and_an_evening_time_in_ukrainian(client, clock):
    page = client.get("/uk/visits?service=library-card&evening=1&language=uk")
    assert page.status_code == 200 and 'lang="uk"' in page.text
    # Only places whose desk speaks Ukrainian; every first time is in the evening (17:00 or later).
    assert "Bonarka City Center" in page.text and "filia Krowodrza" not in page.text
    times = re.findall(r'class="slot" href="[^"]+">[^<]*?(\d{2}):(\d{2})<', page.text)
    assert times and all(int(h) >= 17 for h, _ in times)
    week = client.get(links(page.text, "/uk/visits/place/")[0])
    assert week.status_code == 200 and "/uk/visits/book?" in week.text


def test_book_see_the_visit_and_its_calendar_file(client, db, clock):
    answer, data = book(client)
    assert answer.status_code == 303
    page = client.get(answer.headers["location"])
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    visit = db.scalar(select(Appointment))
    assert visit.reference in page.text and visit.language == "uk" and visit.interpreter_language == "uk"
    assert "Паспорт" in page.text or "паспорт" in page.text  # what to bring, in Ukrainian
    assert "openstreetmap.org" in page.text
    assert "Нагадування не буде надіслано" in page.text  # no SMTP here: the page says no reminder comes
    ics = client.get(answer.headers["location"].split("?")[0] + "/calendar.ics")
    assert ics.headers["content-type"].startswith("text/calendar")
    event = next(iter(icalendar.Calendar.from_ical(ics.content).walk("VEVENT")))
    assert event.decoded("dtstart") == visit.starts_at and event.decoded("dtend") == visit.ends_at
    assert "Kamieńskiego 11" in str(event["location"])
    # The same form sent again (a double click, a retry) finds the same visit.
    again = client.post("/uk/visits/book", data=data, follow_redirects=False)
    assert again.headers["location"] == answer.headers["location"]
    assert db.scalar(select(func.count()).select_from(Appointment)) == 1


def test_wrong_input_keeps_the_answers_and_says_why_in_ukrainian(client, db, clock):
    answer, _ = book(client, name="", email="not-an-address")
    assert answer.status_code == 422
    assert 'value="not-an-address"' in answer.text and 'aria-invalid="true"' in answer.text
    assert "name@example.com" in answer.text  # the e-mail message, with its example
    assert db.scalar(select(func.count()).select_from(Appointment)) == 0


def test_a_time_taken_meanwhile_is_said_and_nothing_is_lost(client, db, clock):
    form = open_form(client)
    data = hidden(form.text) | {"name": "A", "email": "a@example.org"}
    first = client.post("/uk/visits/book", data=data, follow_redirects=False)
    assert first.status_code == 303
    second = hidden(open_form(client).text)  # another person, the same time (the kiosk has one desk)
    second |= {"at": data["at"], "place": data["place"], "name": "B", "email": "b@example.org"}
    taken = client.post("/uk/visits/book", data=second, follow_redirects=False)
    assert taken.status_code == 409 and 'value="b@example.org"' in taken.text and 'role="alert"' in taken.text


def test_move_then_cancel_through_the_visit_page(client, db, clock):
    answer, _ = book(client)
    visit_url = answer.headers["location"].split("?")[0]
    page = client.get(visit_url)
    move = client.get(visit_url + "/move")
    assert move.status_code == 200
    times = re.findall(r'name="at" value="([^"]+)"', move.text)
    before = db.scalar(select(Appointment)).starts_at
    moved = client.post(visit_url + "/move", data={"csrf_token": csrf_from(page.text), "at": times[-1], "place": hidden(move.text)["place"]}, follow_redirects=False)
    assert moved.status_code == 303
    visit = db.scalar(select(Appointment))
    db.refresh(visit)
    assert visit.starts_at != before and visit.starts_at == datetime.fromisoformat(times[-1])
    # Without the CSRF token nothing changes.
    refused = client.post(visit_url + "/cancel", data={}, follow_redirects=False)
    assert refused.status_code == 403
    cancelled = client.post(visit_url + "/cancel", data={"csrf_token": csrf_from(page.text)}, follow_redirects=True)
    assert cancelled.status_code == 200
    db.refresh(visit)
    assert visit.status == "cancelled"
    assert "/move" not in cancelled.text  # a cancelled visit cannot be moved


def test_a_wrong_link_is_not_found(client, clock):
    assert client.get("/uk/visits/v/thisisnotatokenatall").status_code == 404
    assert client.get("/uk/visits/book?service=library-card&place=gup-sliska&at=2027-03-09T10:00:00Z").status_code == 404
