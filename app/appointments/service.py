"""Visits: free-slot search, booking (the database refuses a desk booked twice), moving, cancelling,
check-in and no-show, blocks, the agenda and the retention of personal data.

Functions flush; the caller (a route or flows.py) commits once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.appointments.content import Catalogue, Place, Service, catalogue
from app.appointments.exceptions import SlotTaken, VisitClosed, VisitNotFound
from app.appointments.models import Appointment, AppointmentBlock, AppointmentEvent, AppointmentHold
from app.appointments.slots import HORIZON, MIN_NOTICE, Busy, Slot, free_slots, is_offered, units
from app.cases import once
from app.config import Settings
from app.crypto import decrypt_json, encrypt_json, hash_secret, new_readable_secret, new_secret
from app.db import utcnow
from app.errors import InvalidInput
from app.i18n import _
from app.languages import LANGUAGES

#: Statuses of a visit; only a booked one can be moved or cancelled.
BOOKED, CHECKED_IN, NO_SHOW, CANCELLED = "booked", "checked_in", "no_show", "cancelled"
STATUSES = (BOOKED, CHECKED_IN, NO_SHOW, CANCELLED)
#: Where the reminder goes: an e-mail, the messenger the person booked from, or nowhere.
EMAIL, MESSENGER, NONE = "email", "messenger", "none"
MESSENGERS = frozenset({"telegram", "whatsapp", "viber"})
#: Reminders go out from this local time on the day before the visit.
REMINDER_TIME = time(10, 0)
MAX_NAME = 120
#: An e-mail address and a phone number as accepted here and in the API description (the same
#: patterns; the space class is spelled out so that Python and JSON Schema read it alike).
_NOT_ADDRESS = r"@\s\x00\x1c-\x1f\x85\ufeff"  # NUL: no text field stores it
EMAIL_PATTERN = rf"^[^{_NOT_ADDRESS}]{{1,64}}@[^{_NOT_ADDRESS}]+\.[^{_NOT_ADDRESS}]{{2,}}$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ()-]{4,18}[0-9)]$"  # ends in a digit: nothing to strip
_EMAIL = re.compile(EMAIL_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)


@dataclass(frozen=True)
class Person:
    """Who comes to the visit and how to reach them (stored only encrypted)."""

    name: str
    email: str | None = None
    phone: str | None = None


def check_person(*, name: object, email: object, phone: object, contact_required: bool = True) -> Person:
    """Return the person read from form or API values; raise InvalidInput with messages per field."""
    errors: dict[str, str] = {}
    name_text = str(name or "").strip()
    email_text = str(email or "").strip() or None
    phone_text = str(phone or "").strip() or None
    if not name_text:
        errors["name"] = _("Please write your name, as you will give it at the desk.")
    elif len(name_text) > MAX_NAME:
        errors["name"] = _("Please write at most %(count)s characters.", count=MAX_NAME)
    if email_text is not None and (len(email_text) > 254 or not _EMAIL.match(email_text)):
        errors["email"] = _("This does not look like an e-mail address (example: name@example.com).")
    if phone_text is not None and not _PHONE.match(phone_text):
        errors["phone"] = _("Please write the phone number with digits only, e.g. +48 600 123 456.")
    if contact_required and email_text is None and phone_text is None and "email" not in errors and "phone" not in errors:
        errors["email"] = _("Please give an e-mail address or a phone number, so that the office can reach you.")
    if errors:
        raise InvalidInput(errors)
    return Person(name_text, email_text, phone_text)


# --- search --------------------------------------------------------------------------------------


def matching_places(
    cat: Catalogue,
    service_id: str,
    *,
    district: str | None = None,
    language: str | None = None,
    step_free: bool = False,
    place_ids: set[str] | None = None,
) -> list[Place]:
    """Return the places offering service_id that match the filters, in the content's order."""
    return [
        place
        for place in cat.places_for(service_id)
        if (not district or place.district == district)
        and (not language or language in place.languages)
        and (not step_free or place.step_free)
        and (place_ids is None or place.id in place_ids)
    ]


def busy_at(*, db: Session, places: list[Place], first: datetime, last: datetime, longest: timedelta) -> dict[str, Busy]:
    """Return the busy time of places between first and last: booked visits and blocks, in two queries."""
    ids = [place.id for place in places]
    if not ids:
        return {}
    visits: dict[str, list[tuple[int, datetime, datetime]]] = {pid: [] for pid in ids}
    rows = db.execute(
        select(Appointment.place_id, Appointment.desk, Appointment.starts_at, Appointment.ends_at).where(
            Appointment.place_id.in_(ids),
            # The index range (place_id, starts_at); a visit starting before first reaches in at most
            # the longest visit's length.
            Appointment.starts_at >= first - longest,
            Appointment.starts_at < last,
            Appointment.status != CANCELLED,
        )
    )
    for place_id, desk, start, end in rows:
        visits[place_id].append((desk, start, end))
    blocks: dict[str, list[tuple[int | None, datetime, datetime]]] = {pid: [] for pid in ids}
    for place_id, desk, start, end in db.execute(
        select(AppointmentBlock.place_id, AppointmentBlock.desk, AppointmentBlock.starts_at, AppointmentBlock.ends_at).where(
            AppointmentBlock.place_id.in_(ids), AppointmentBlock.starts_at < last, AppointmentBlock.ends_at > first
        )
    ):
        blocks[place_id].append((desk, start, end))
    return {pid: Busy.of(visits[pid], blocks[pid]) for pid in ids}


def search(
    *,
    db: Session,
    settings: Settings,
    service_id: str,
    first_day: date,
    last_day: date,
    now: datetime | None = None,
    district: str | None = None,
    language: str | None = None,
    step_free: bool = False,
    evening: bool = False,
    weekend: bool = False,
    place_ids: set[str] | None = None,
) -> dict[str, list[Slot]]:
    """Return the free slots of service_id from first_day to last_day (local days) per matching place
    (content order; places without a free slot included, with an empty list)."""
    cat = catalogue(settings)
    service = cat.services.get(service_id)
    if service is None:
        return {}
    now = now or utcnow()
    zone = settings.zone
    places = matching_places(cat, service_id, district=district, language=language, step_free=step_free, place_ids=place_ids)
    first = datetime.combine(first_day, time(0), tzinfo=zone)
    last = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)
    longest = timedelta(minutes=max(s.minutes for s in cat.services.values()))
    busy = busy_at(db=db, places=places, first=first, last=last, longest=longest)
    return {
        place.id: free_slots(
            place=place, service=service, busy=busy[place.id], first_day=first_day, last_day=last_day,
            zone=zone, now=now, evening=evening, weekend=weekend,
        )
        for place in places
    }


def local_midnight(day: date, settings: Settings) -> datetime:
    """Return the start of a local day, in UTC."""
    return datetime.combine(day, time(0), tzinfo=settings.zone).astimezone(UTC)


# --- booking -------------------------------------------------------------------------------------


def _check_slot(cat: Catalogue, settings: Settings, service_id: str, place_id: str, starts_at: datetime, now: datetime) -> tuple[Service, Place, datetime]:
    service = cat.services.get(service_id)
    if service is None:
        raise InvalidInput({"service": _("Please choose a service from the list.")})
    place = cat.places.get(place_id)
    if place is None or service_id not in place.services:
        raise InvalidInput({"place": _("This place does not offer this service. Please choose another place.")})
    if starts_at.tzinfo is None:
        raise InvalidInput({"starts_at": _("Please choose a time from the list.")})
    end = is_offered(place, service, starts_at, settings.zone)
    if end is None:
        raise InvalidInput({"starts_at": _("The place takes no visit at that time. Please choose a time from the list.")})
    if starts_at < now + MIN_NOTICE or starts_at > now + HORIZON:
        raise InvalidInput({"starts_at": _("This time can no longer be booked. Please choose a later time from the list.")})
    return service, place, end


def _blocked(db: Session, place_id: str, desk: int, start: datetime, end: datetime) -> bool:
    return (
        db.scalar(
            select(AppointmentBlock.id)
            .where(
                AppointmentBlock.place_id == place_id,
                AppointmentBlock.starts_at < end,
                AppointmentBlock.ends_at > start,
                (AppointmentBlock.desk.is_(None)) | (AppointmentBlock.desk == desk),
            )
            .limit(1)
        )
        is not None
    )


def _take_desk(db: Session, appointment: Appointment, place: Place, unit_minutes: int) -> None:
    """Give the appointment the first desk free at its time, holding its units; raise SlotTaken.

    Each try runs in a savepoint: a desk taken by a concurrent booking fails on the holds' primary
    key (PostgreSQL waits for the other transaction, then refuses; SQLite's writers queue) and the
    next desk is tried, so 50 people booking the last free desk at once give exactly one visit.
    """
    moments = units(appointment.starts_at, appointment.ends_at, unit_minutes)
    for desk in range(1, place.desks + 1):
        if _blocked(db, place.id, desk, appointment.starts_at, appointment.ends_at):
            continue
        try:
            with db.begin_nested():
                db.execute(
                    insert(AppointmentHold),
                    [{"place_id": place.id, "desk": desk, "at": moment, "appointment_id": appointment.id} for moment in moments],
                )
        except IntegrityError:
            continue
        appointment.desk = desk
        return
    raise SlotTaken()


def reminder_due(starts_at: datetime, settings: Settings, now: datetime) -> datetime | None:
    """Return when the day-before reminder of a visit at starts_at goes out; None when that moment
    has passed already (the confirmation just given serves)."""
    local_day = starts_at.astimezone(settings.zone).date()
    due = datetime.combine(local_day - timedelta(days=1), REMINDER_TIME, tzinfo=settings.zone)
    return due if due > now else None


def reminder_channel(*, settings: Settings, person: Person, channel: str | None) -> str:
    """Return where the reminder goes: e-mail when given and SMTP is set up, else the messenger the
    person booked from, else nowhere."""
    if person.email and settings.smtp_host:
        return EMAIL
    if channel in MESSENGERS:
        return MESSENGER
    return NONE


def _event(db: Session, appointment: Appointment, kind: str, *, actor_user_id: int | None = None, now: datetime, **data: Any) -> None:
    db.add(AppointmentEvent(appointment_id=appointment.id, kind=kind, actor_user_id=actor_user_id, data=data, at=now))


def book(
    *,
    db: Session,
    settings: Settings,
    service_id: str,
    place_id: str,
    starts_at: datetime,
    person: Person,
    language: str,
    interpreter_language: str | None = None,
    source: str,
    channel: str | None = None,
    conversation_id: int | None = None,
    actor_user_id: int | None = None,
    booked_by_org_id: int | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> tuple[Appointment, str]:
    """Book a visit; return it and the secret of its link (shown once, stored hashed). Raise
    InvalidInput for a time the place does not offer, SlotTaken when every desk is taken."""
    now = now or utcnow()
    cat = catalogue(settings)
    service, place, end = _check_slot(cat, settings, service_id, place_id, starts_at, now)
    if interpreter_language is not None and interpreter_language not in LANGUAGES:
        raise InvalidInput({"interpreter_language": _("Please choose a language from the list.")})
    token = new_secret()
    appointment = Appointment(
        reference=f"{settings.case_reference_prefix}-W-{new_readable_secret(groups=2, group_size=4)}",
        token_hash=hash_secret(token),
        place_id=place.id,
        service_id=service.id,
        desk=0,
        starts_at=starts_at,
        ends_at=end,
        status=BOOKED,
        language=language,
        interpreter_language=interpreter_language,
        # The link's secret rides with the contact, encrypted alike, so that the reminder can carry
        # the link; the retention job erases both.
        person_encrypted=encrypt_json({"name": person.name, "email": person.email, "phone": person.phone, "token": token}, settings),
        reminder_channel=reminder_channel(settings=settings, person=person, channel=channel),
        conversation_id=conversation_id,
        source=source,
        booked_by_org_id=booked_by_org_id,
        idempotency_key_hash=once.key_hash(idempotency_key) if idempotency_key else None,
        token_sealed=once.seal(token, idempotency_key) if idempotency_key else None,
        created_at=now,
        updated_at=now,
    )
    appointment.reminder_due_at = reminder_due(starts_at, settings, now) if appointment.reminder_channel != NONE else None
    db.add(appointment)
    db.flush()
    _take_desk(db, appointment, place, cat.unit_minutes)
    _event(db, appointment, "booked", actor_user_id=actor_user_id, now=now, source=source)
    db.flush()
    return appointment, token


def move(
    *,
    db: Session,
    settings: Settings,
    appointment: Appointment,
    starts_at: datetime,
    place_id: str | None = None,
    actor_user_id: int | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Move a booked visit to another time (and place offering the service); the old time is freed
    only when the new one is held, so a refused move keeps the visit as it was."""
    now = now or utcnow()
    _still_open(appointment, now)
    cat = catalogue(settings)
    _, place, end = _check_slot(cat, settings, appointment.service_id, place_id or appointment.place_id, starts_at, now)
    before = {"place_id": appointment.place_id, "starts_at": appointment.starts_at.isoformat()}
    with db.begin_nested():
        db.execute(delete(AppointmentHold).where(AppointmentHold.appointment_id == appointment.id))
        appointment.place_id, appointment.starts_at, appointment.ends_at = place.id, starts_at, end
        _take_desk(db, appointment, place, cat.unit_minutes)
    appointment.reminder_due_at = reminder_due(starts_at, settings, now) if appointment.reminder_channel != NONE else None
    appointment.reminder_sent_at = None
    appointment.reminder_attempts = 0
    _touch(appointment, now)
    _event(db, appointment, "moved", actor_user_id=actor_user_id, now=now, before=before, after={"place_id": place.id, "starts_at": starts_at.isoformat()})
    db.flush()
    return appointment


def cancel(*, db: Session, appointment: Appointment, actor_user_id: int | None = None, now: datetime | None = None) -> Appointment:
    """Cancel a booked visit and free its desk time; cancelling a cancelled visit changes nothing."""
    now = now or utcnow()
    if appointment.status == CANCELLED:
        return appointment
    _still_open(appointment, now)
    db.execute(delete(AppointmentHold).where(AppointmentHold.appointment_id == appointment.id))
    appointment.status = CANCELLED
    appointment.reminder_due_at = None
    _touch(appointment, now)
    _event(db, appointment, "cancelled", actor_user_id=actor_user_id, now=now)
    db.flush()
    return appointment


def mark(*, db: Session, appointment: Appointment, status: str, actor_user_id: int | None, now: datetime | None = None) -> Appointment:
    """Record that the person came (checked_in) or did not (no_show), or undo it (booked)."""
    now = now or utcnow()
    if status not in (BOOKED, CHECKED_IN, NO_SHOW) or appointment.status == CANCELLED:
        raise VisitClosed()
    if appointment.status != status:
        before = appointment.status
        appointment.status = status
        _touch(appointment, now)
        _event(db, appointment, status if status != BOOKED else "reopened", actor_user_id=actor_user_id, now=now, before=before)
        db.flush()
    return appointment


def link_case(*, db: Session, appointment: Appointment, case_id: int, actor_user_id: int | None, now: datetime | None = None) -> None:
    """Tie the visit to a case (its history tells)."""
    now = now or utcnow()
    appointment.case_id = case_id
    _touch(appointment, now)
    _event(db, appointment, "linked", actor_user_id=actor_user_id, now=now, case_id=case_id)
    db.flush()


def _still_open(appointment: Appointment, now: datetime) -> None:
    if appointment.status != BOOKED or appointment.starts_at <= now:
        raise VisitClosed()


def _touch(appointment: Appointment, now: datetime) -> None:
    appointment.updated_at = now
    appointment.version += 1


# --- reading -------------------------------------------------------------------------------------


def find_by_key(*, db: Session, key: str, now: datetime | None = None) -> tuple[Appointment, str] | None:
    """Return the visit a booking form with key booked and its link's secret, or None (no such
    visit, or the seal is older than a few minutes: the form was sent long ago)."""
    found = db.scalar(select(Appointment).where(Appointment.idempotency_key_hash == once.key_hash(key)))
    token = once.unseal(found.token_sealed, key, now=now) if found is not None else None
    return (found, token) if found is not None and token is not None else None


def get_by_token(*, db: Session, token: str) -> Appointment:
    """Return the visit whose link carries token; raise VisitNotFound."""
    token = (token or "").strip()
    if not token or len(token) > 100:
        raise VisitNotFound()
    found = db.scalar(select(Appointment).where(Appointment.token_hash == hash_secret(token)))
    if found is None:
        raise VisitNotFound()
    return found


def person_of(appointment: Appointment, settings: Settings) -> Person | None:
    """Return the visit's person, decrypted (None once the retention job erased it)."""
    data = decrypt_json(appointment.person_encrypted, settings)
    if not data:
        return None
    return Person(data.get("name") or "", data.get("email"), data.get("phone"))


def link_secret(appointment: Appointment, settings: Settings) -> str | None:
    """Return the secret of the visit's link (None once the retention job erased it)."""
    return decrypt_json(appointment.person_encrypted, settings).get("token")


def history(*, db: Session, appointment: Appointment) -> list[AppointmentEvent]:
    """Return the visit's events, oldest first."""
    return list(db.scalars(select(AppointmentEvent).where(AppointmentEvent.appointment_id == appointment.id).order_by(AppointmentEvent.id)))


def agenda(*, db: Session, place_id: str, first: datetime, last: datetime, cancelled: bool = False) -> list[Appointment]:
    """Return the visits at place_id starting in [first, last), in time and desk order."""
    query = select(Appointment).where(Appointment.place_id == place_id, Appointment.starts_at >= first, Appointment.starts_at < last)
    if not cancelled:
        query = query.where(Appointment.status != CANCELLED)
    return list(db.scalars(query.order_by(Appointment.starts_at, Appointment.desk)))


def blocks(*, db: Session, place_id: str, first: datetime, last: datetime) -> list[AppointmentBlock]:
    """Return the blocks of place_id overlapping [first, last), in time order."""
    return list(
        db.scalars(
            select(AppointmentBlock)
            .where(AppointmentBlock.place_id == place_id, AppointmentBlock.starts_at < last, AppointmentBlock.ends_at > first)
            .order_by(AppointmentBlock.starts_at)
        )
    )


def add_block(
    *, db: Session, settings: Settings, place_id: str, desk: int | None, starts_at: datetime, ends_at: datetime, reason: str, actor_user_id: int | None, now: datetime | None = None
) -> tuple[AppointmentBlock, list[Appointment]]:
    """Close a place's desk (or all desks) from starts_at to ends_at; return the block and the booked
    visits it overlaps (staff move or cancel them; they are never dropped silently)."""
    place = catalogue(settings).places.get(place_id)
    errors = {}
    if place is None:
        errors["place"] = _("Please choose a place from the list.")
    if desk is not None and (place is None or not 1 <= desk <= place.desks):
        errors["desk"] = _("Please choose a desk from the list.")
    if ends_at <= starts_at:
        errors["ends_at"] = _("The end must be later than the start.")
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        errors["reason"] = _("Please write a reason (at most 200 characters).")
    if errors:
        raise InvalidInput(errors)
    block = AppointmentBlock(place_id=place_id, desk=desk, starts_at=starts_at, ends_at=ends_at, reason=reason, created_by_id=actor_user_id, created_at=now or utcnow())
    db.add(block)
    db.flush()
    overlapping = [
        visit
        for visit in agenda(db=db, place_id=place_id, first=starts_at - timedelta(hours=4), last=ends_at)
        if visit.status == BOOKED and visit.ends_at > starts_at and (desk is None or visit.desk == desk)
    ]
    return block, overlapping


def remove_block(*, db: Session, block_id: int, place_ids: set[str] | None) -> None:
    """Delete a block (reopening its time); raise VisitNotFound for one the caller does not see."""
    block = db.get(AppointmentBlock, block_id)
    if block is None or (place_ids is not None and block.place_id not in place_ids):
        raise VisitNotFound()
    db.delete(block)
    db.flush()


def purge_personal(*, db: Session, settings: Settings, now: datetime | None = None) -> int:
    """Erase the name and contact of visits that ended more than the retention period ago; return
    how many were erased."""
    now = now or utcnow()
    cutoff = now - timedelta(days=settings.appointment_retention_days)
    result = db.execute(
        update(Appointment)
        .where(Appointment.ends_at < cutoff, Appointment.person_encrypted.is_not(None))
        .values(person_encrypted=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
