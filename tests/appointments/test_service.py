"""Slots, booking, moving and cancelling visits: hours, holidays, desks and the database's promise
that no desk is booked twice, also under concurrent requests."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import icalendar
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.appointments import service
from app.appointments.cli import appointments
from app.appointments.content import catalogue, load_catalogue
from app.appointments.exceptions import SlotTaken, VisitClosed, VisitNotFound
from app.appointments.ics import calendar_file
from app.appointments.models import Appointment, AppointmentHold
from app.content import ContentErrors
from app.db import session_factory
from app.errors import InvalidInput

#: A Monday in term time: Tuesday 2027-03-09 has the main office's evening hours.
NOW = datetime(2027, 3, 8, 8, 0, tzinfo=UTC)
PERSON = service.Person("Olena Kovalenko", "olena@example.org", None)


def local(settings, day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=settings.zone).astimezone(UTC)


def book(db, settings, place="kiosk-bonarka", svc="library-card", at=None, **kw):
    at = at or local(settings, date(2027, 3, 9), 19, 30)
    return service.book(db=db, settings=settings, service_id=svc, place_id=place, starts_at=at, person=PERSON, language="uk", source="web", now=NOW, **kw)


def test_evening_and_weekend_slots_follow_the_hours(db, settings):
    found = service.search(db=db, settings=settings, service_id="labour-registration", first_day=date(2027, 3, 9), last_day=date(2027, 3, 13), now=NOW, evening=True)
    sliska = [s.starts_at.astimezone(settings.zone) for s in found["gup-sliska"]]
    # Tuesday and Thursday evenings until 19:00: the last 30-minute visit starts at 18:30.
    assert sliska[-1].strftime("%a %H:%M") == "Thu 18:30"
    assert {s.strftime("%a") for s in sliska} == {"Tue", "Thu"} and all(s.hour >= 17 for s in sliska)
    weekend = service.search(db=db, settings=settings, service_id="library-card", first_day=date(2027, 3, 9), last_day=date(2027, 3, 14), now=NOW, weekend=True)
    sunday = [s.starts_at.astimezone(settings.zone) for s in weekend["kiosk-galeria-krakowska"] if s.starts_at.astimezone(settings.zone).weekday() == 6]
    assert sunday[0].strftime("%H:%M") == "11:00" and sunday[-1].strftime("%H:%M") == "16:45"
    assert weekend["gup-krowodrza"] and all(s.starts_at.astimezone(settings.zone).weekday() == 5 for s in weekend["gup-krowodrza"])


def test_polish_holidays_are_closed_days(db, settings):
    # Corpus Christi 2027 is Thursday 27 May (Easter 28 March + 60 days); Christmas Eve is a day off since 2025.
    now = datetime(2027, 5, 20, 8, 0, tzinfo=UTC)
    found = service.search(db=db, settings=settings, service_id="labour-registration", first_day=date(2027, 5, 26), last_day=date(2027, 5, 28), now=now)
    days = {s.starts_at.astimezone(settings.zone).date() for slots in found.values() for s in slots}
    assert date(2027, 5, 26) in days and date(2027, 5, 28) in days and date(2027, 5, 27) not in days
    december = service.search(db=db, settings=settings, service_id="library-card", first_day=date(2026, 12, 23), last_day=date(2026, 12, 28), now=datetime(2026, 12, 20, tzinfo=UTC))
    days = {s.starts_at.astimezone(settings.zone).date() for slots in december.values() for s in slots}
    assert date(2026, 12, 23) in days and days.isdisjoint({date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26)})


def test_filters_by_district_language_and_step_free_access(db, settings):
    found = service.search(db=db, settings=settings, service_id="library-card", first_day=date(2027, 3, 9), last_day=date(2027, 3, 9), now=NOW, language="ka")
    assert list(found) == ["kiosk-galeria-krakowska"]
    assert "gup-krowodrza" not in service.search(db=db, settings=settings, service_id="library-card", first_day=date(2027, 3, 9), last_day=date(2027, 3, 9), now=NOW, step_free=True)
    assert list(service.search(db=db, settings=settings, service_id="labour-registration", first_day=date(2027, 3, 9), last_day=date(2027, 3, 9), now=NOW, district="Nowa Huta")) == ["gup-nowa-huta"]


def test_booking_takes_the_desk_and_a_second_booking_is_refused(db, settings):
    visit, token = book(db, settings)
    assert visit.desk == 1 and visit.reference.startswith("KRK-W-")
    assert service.get_by_token(db=db, token=token).id == visit.id
    assert db.scalar(select(func.count()).select_from(AppointmentHold).where(AppointmentHold.appointment_id == visit.id)) == 1
    assert service.person_of(visit, settings).name == "Olena Kovalenko"
    assert "Olena" not in (visit.person_encrypted or "")
    free = service.search(db=db, settings=settings, service_id="library-card", first_day=date(2027, 3, 9), last_day=date(2027, 3, 9), now=NOW, place_ids={"kiosk-bonarka"})
    assert visit.starts_at not in {s.starts_at for s in free["kiosk-bonarka"]}
    with pytest.raises(SlotTaken):
        book(db, settings)
    # A longer visit of another service that overlaps it is refused too (the desk's units are held).
    with pytest.raises(SlotTaken):
        book(db, settings, svc="polish-course", at=local(settings, date(2027, 3, 9), 19, 30))


def test_move_frees_the_old_time_and_cancel_frees_the_desk(db, settings):
    visit, token = book(db, settings)
    old = visit.starts_at
    service.move(db=db, settings=settings, appointment=visit, starts_at=local(settings, date(2027, 3, 10), 18, 0), now=NOW)
    assert visit.starts_at == local(settings, date(2027, 3, 10), 18, 0)
    other, _ = book(db, settings, at=old)  # the old time is free again
    assert other.desk == 1
    with pytest.raises(SlotTaken):  # moving onto a taken time keeps the visit as it was
        service.move(db=db, settings=settings, appointment=visit, starts_at=old, now=NOW)
    db.refresh(visit)
    assert visit.starts_at == local(settings, date(2027, 3, 10), 18, 0) and visit.status == "booked"
    service.cancel(db=db, appointment=visit, now=NOW)
    assert visit.status == "cancelled"
    assert db.scalar(select(func.count()).select_from(AppointmentHold).where(AppointmentHold.appointment_id == visit.id)) == 0
    with pytest.raises(VisitClosed):
        service.move(db=db, settings=settings, appointment=visit, starts_at=old, now=NOW)
    assert [e.kind for e in service.history(db=db, appointment=visit)] == ["booked", "moved", "cancelled"]


def test_times_the_place_does_not_offer_are_refused(db, settings):
    with pytest.raises(InvalidInput) as caught:
        book(db, settings, at=local(settings, date(2027, 3, 9), 21, 0))
    assert "starts_at" in caught.value.field_errors
    with pytest.raises(InvalidInput):  # a service the place does not offer
        book(db, settings, svc="career-adviser")
    with pytest.raises(InvalidInput):  # in the past
        book(db, settings, at=local(settings, date(2027, 3, 1), 15, 0))
    with pytest.raises(VisitNotFound):
        service.get_by_token(db=db, token="not-a-token")


def test_a_block_closes_the_time(db, settings):
    start = local(settings, date(2027, 3, 9), 14, 0)
    block, overlapping = service.add_block(db=db, settings=settings, place_id="kiosk-bonarka", desk=None, starts_at=start, ends_at=start + timedelta(hours=2), reason="Szkolenie", actor_user_id=None)
    assert overlapping == []
    free = service.search(db=db, settings=settings, service_id="library-card", first_day=date(2027, 3, 9), last_day=date(2027, 3, 9), now=NOW, place_ids={"kiosk-bonarka"})
    assert min(s.starts_at for s in free["kiosk-bonarka"]) == start + timedelta(hours=2)
    with pytest.raises(SlotTaken):
        book(db, settings, at=start)


def test_the_calendar_file_reads_back_with_the_same_start_end_and_place(db, settings):
    visit, _ = book(db, settings)
    place = catalogue(settings).places["kiosk-bonarka"]
    data = calendar_file(appointment=visit, place=place, service_name="Допомога з читацьким квитком", bring=["Паспорт"], link="https://witaj.example/uk/visits/x", host="witaj.example", now=NOW)
    event = next(iter(icalendar.Calendar.from_ical(data).walk("VEVENT")))
    assert event.decoded("dtstart") == visit.starts_at and event.decoded("dtend") == visit.ends_at
    assert str(event["location"]) == f"{place.name}, {place.address}"
    assert "Допомога" in str(event["summary"]) and event["uid"].startswith(visit.reference)


def test_content_errors_name_file_and_line(tmp_path: Path, settings):
    folder = tmp_path / "appointments"
    folder.mkdir()
    (folder / "services.yml").write_text("version: 1\nservices:\n  - id: x\n    name: X\n    description: D\n    minutes: 20\n    category: nope\n    bring: []\n")
    (folder / "places.yml").write_text('version: 1\nunit_minutes: 15\nplaces:\n  - id: p\n    name: P\n    kind: kiosk\n    address: A\n    district: Nowhere\n    location: {lat: 50, lon: 19}\n    step_free: yes\n    languages: [uk]\n    desks: 1\n    hours:\n      - {days: [MO], opens_at: "08:10", closes_at: "09:00"}\n    services: [x]\n')
    with pytest.raises(ContentErrors) as caught:
        load_catalogue(folder, categories=["library"], districts=["Podgórze"], partners=set())
    text = str(caught.value)
    assert "services.yml:6:" in text and "multiple of unit_minutes" in text
    assert "services.yml:7:" in text and "places.yml:8:" in text and "08:10" in text


def test_fifty_people_booking_the_last_free_desk_get_one_visit(fresh_engine, settings):
    factory = session_factory(fresh_engine, write=True)
    at = local(settings, date(2027, 3, 9), 19, 30)
    results: list[str] = []
    barrier = threading.Barrier(50)

    def attempt(n: int) -> None:
        barrier.wait()
        with factory() as db:
            try:
                service.book(db=db, settings=settings, service_id="library-card", place_id="kiosk-bonarka", starts_at=at, person=service.Person(f"P{n}", f"p{n}@example.org"), language="uk", source="api", now=NOW)
                db.commit()
                results.append("booked")
            except SlotTaken:
                db.rollback()
                results.append("taken")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("booked") == 1 and results.count("taken") == 49
    with factory() as db:
        assert db.scalar(select(func.count()).select_from(Appointment).where(Appointment.status == "booked")) == 1


def test_validate_command_on_the_shipped_content_and_on_a_broken_file(tmp_path, settings):
    root = settings.content_dir
    result = CliRunner().invoke(appointments, ["validate"], env={"WITAJ_CONTENT_DIR": str(root)})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 5 services, 7 places")
    for folder in ("cases", "partners", "appointments"):
        shutil.copytree(root / folder, tmp_path / folder)
    places = tmp_path / "appointments" / "places.yml"
    lines = places.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, start=1) if "organisation: fundacja-alfabet-sasiedzki" in text)
    places.write_text(places.read_text().replace("organisation: fundacja-alfabet-sasiedzki", "organisation: nobody"))
    result = CliRunner().invoke(appointments, ["validate"], env={"WITAJ_CONTENT_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert f"places.yml:{line}: `organisation` 'nobody' is no partner" in result.stderr
