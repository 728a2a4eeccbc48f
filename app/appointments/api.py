"""Visits in the API for partners' systems (/api/v1, the same tokens as cases): the services and
places, free times, and the visits an organisation may see (the office: all; a partner: those at
its desks and those it booked), which it may book, move and cancel."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Security

from app.appointments import access, service
from app.appointments.content import Place, catalogue
from app.appointments.exceptions import NoSuchChoice
from app.appointments.models import Appointment
from app.appointments.schemas import (
    AppointmentList,
    AppointmentOut,
    BookingIn,
    MoveIn,
    PlaceOut,
    Places,
    ServiceOut,
    SlotList,
    SlotOut,
)
from app.auth.deps import ApiPrincipal
from app.auth.permissions import Action, Principal, can
from app.cases.api import BODY, FORBIDDEN, RESPONSES, bearer
from app.config import Settings
from app.content import DAYS
from app.db import utcnow
from app.deps import AppSettings, DbSession, WriteDbSession
from app.errors import Conflict, ConflictBody, ErrorBody, InvalidInput, PermissionDenied
from app.i18n import _

router = APIRouter(prefix="/api/v1", tags=["appointments"], dependencies=[Security(bearer)], responses=RESPONSES)

#: A day as the API takes it (a string, so that a number is not read as a timestamp).
DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
AS_DATE = {"format": "date"}
EARLIEST, LATEST = date(1970, 1, 2), date(9000, 1, 1)
#: The longest range of days one search covers.
MAX_DAYS = 31
Reference = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$", examples=["KRK-W-7K3M-Q9XD"])]
NOT_FOUND = {404: {"model": ErrorBody, "description": "No such visit, or not one your organisation may see"}}
NO_SERVICE = {404: {"model": ErrorBody, "description": "No such service"}}
TAKEN = {409: {"model": ConflictBody, "description": "The time was taken meanwhile, or the visit can no longer be changed"}}


def _place(place: Place) -> PlaceOut:
    hours = {DAYS[day]: [f"{a:%H:%M}-{b:%H:%M}" for a, b in spans] for day, spans in sorted(place.hours.items())}
    return PlaceOut(
        id=place.id, name=place.name, kind=place.kind, address=place.address, district=place.district,
        lat=place.lat, lon=place.lon, map_url=place.map_url, step_free=place.step_free,
        languages=list(place.languages), desks=place.desks, services=list(place.services), hours=hours,
        evenings=place.has_evenings, weekends=place.has_weekends,
    )


def _out(appointment: Appointment, settings: Settings) -> AppointmentOut:
    person = service.person_of(appointment, settings)
    return AppointmentOut(
        reference=appointment.reference, status=appointment.status, service=appointment.service_id,
        place=appointment.place_id, desk=appointment.desk, starts_at=appointment.starts_at.astimezone(UTC),
        ends_at=appointment.ends_at.astimezone(UTC), language=appointment.language,
        interpreter_language=appointment.interpreter_language, name=person.name if person else None,
        source=appointment.source, version=appointment.version,
    )


@contextmanager
def _as_api_errors() -> Iterator[None]:
    """Answer a service or place that does not exist with 404 and a time the place does not offer
    (closed, past, not on its grid) with 409, like a time taken: the input has the right shape, the
    city's calendar says no. Other refusals stay 422."""
    try:
        yield
    except InvalidInput as exc:
        errors = exc.field_errors
        if "service" in errors or "place" in errors:
            raise NoSuchChoice(errors.get("service") or errors["place"]) from None
        if set(errors) == {"starts_at"}:
            raise Conflict(errors["starts_at"]) from None
        raise


def _day(text: str | None, name: str) -> date | None:
    """Return the day of a YYYY-MM-DD parameter (None when not given); 422 for a day not in the calendar."""
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput({name: _("This is not a day of the calendar; write it as YYYY-MM-DD.")}) from None
    # Days far in the past or future find nothing; kept where time-zone arithmetic works.
    return min(max(day, EARLIEST), LATEST)


def _may_change(principal: Principal) -> None:
    if not can(principal, Action.edit_cases, principal.organisation_id):
        raise PermissionDenied("appointments")


@router.get("/appointment-places", response_model=Places, summary="Services that can be booked, and places")
def list_places(settings: AppSettings, principal: ApiPrincipal) -> Places:
    """Return every service (texts in the language of Accept-Language) and every place taking visits."""
    cat = catalogue(settings)
    services = [
        ServiceOut(id=s.id, name=_(s.name), description=_(s.description), minutes=s.minutes, bring=[_(line) for line in s.bring])
        for s in cat.services.values()
    ]
    return Places(services=services, places=[_place(p) for p in cat.places.values()])


@router.get("/appointment-slots", response_model=SlotList, responses=NO_SERVICE, summary="Free times of a service")
def list_slots(
    db: DbSession,
    settings: AppSettings,
    principal: ApiPrincipal,
    service_id: Annotated[str, Query(alias="service", max_length=40, pattern=r"^[a-z0-9-]+$")],
    first_text: Annotated[str | None, Query(alias="from", pattern=DAY, json_schema_extra=AS_DATE, description="First day (local); default today")] = None,
    last_text: Annotated[str | None, Query(alias="to", pattern=DAY, json_schema_extra=AS_DATE, description=f"Last day (local), at most {MAX_DAYS} days after from")] = None,
    place: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z0-9-]+$")] = None,
    district: Annotated[str | None, Query(max_length=80, pattern=r"^[^\x00]*$")] = None,
    language: Annotated[str | None, Query(max_length=3, pattern=r"^[a-z]{2,3}$", description="A desk that speaks it")] = None,
    evening: Annotated[bool, Query(description="Only times from 17:00 (with weekend: either)")] = False,
    weekend: Annotated[bool, Query(description="Only Saturdays and Sundays (with evening: either)")] = False,
    step_free: Annotated[bool, Query()] = False,
) -> SlotList:
    """Return the free times of the service from `from` to `to` (local days; at most 31 days, a
    longer range is cut) at the places that match, in time order; 404 for a service that does not exist."""
    cat = catalogue(settings)
    if service_id not in cat.services:
        raise NoSuchChoice(_("Please choose a service from the list."))
    first, last = _day(first_text, "from"), _day(last_text, "to")
    today = utcnow().astimezone(settings.zone).date()
    first = first or today
    # A longer range is cut to MAX_DAYS days (ask again from the last day for more).
    last = min(last or first + timedelta(days=6), first + timedelta(days=MAX_DAYS - 1))
    found = service.search(
        db=db, settings=settings, service_id=service_id, first_day=first, last_day=last, district=district,
        language=language, step_free=step_free, evening=evening, weekend=weekend,
        place_ids={place} if place else None,
    )
    slots = sorted((slot for slots in found.values() for slot in slots), key=lambda s: (s.starts_at, s.place_id))
    return SlotList(
        service=service_id,
        items=[SlotOut(place=s.place_id, starts_at=s.starts_at, ends_at=s.ends_at, free_desks=s.free_desks) for s in slots],
    )


@router.get("/appointments", response_model=AppointmentList, summary="Visits your organisation may see")
def list_appointments(
    db: DbSession,
    settings: AppSettings,
    principal: ApiPrincipal,
    place: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z0-9-]+$")] = None,
    first_text: Annotated[str | None, Query(alias="from", pattern=DAY, json_schema_extra=AS_DATE, description="First day (local); default today")] = None,
    last_text: Annotated[str | None, Query(alias="to", pattern=DAY, json_schema_extra=AS_DATE, description="Last day (local); default from + 6 days")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 50,
) -> AppointmentList:
    """Return the visits (cancelled ones too) starting in the days asked, in time order."""
    first, last = _day(first_text, "from"), _day(last_text, "to")
    today = utcnow().astimezone(settings.zone).date()
    first = first or today
    last = last or first + timedelta(days=6)
    start = service.local_midnight(first, settings)
    end = service.local_midnight(last + timedelta(days=1), settings)
    query = access.visible(db=db, settings=settings, principal=principal).where(Appointment.starts_at >= start, Appointment.starts_at < end)
    if place:
        query = query.where(Appointment.place_id == place)
    rows = list(db.scalars(query.order_by(Appointment.starts_at, Appointment.id).offset((page - 1) * per_page).limit(per_page + 1)))
    return AppointmentList(items=[_out(a, settings) for a in rows[:per_page]], page=page, has_next=len(rows) > per_page)


@router.get("/appointments/{reference}", response_model=AppointmentOut, responses=NOT_FOUND, summary="One visit")
def read_appointment(reference: Reference, db: DbSession, settings: AppSettings, principal: ApiPrincipal) -> AppointmentOut:
    """Return a visit your organisation may see; 404 otherwise."""
    return _out(access.get_visible(db=db, settings=settings, principal=principal, reference=reference), settings)


@router.post(
    "/appointment-bookings",
    response_model=AppointmentOut,
    status_code=201,
    responses={
        **BODY, 403: {"model": ErrorBody, "description": FORBIDDEN},
        404: {"model": ErrorBody, "description": "No such service or place, or the place does not offer the service"},
        409: {"model": ConflictBody, "description": "The time was taken meanwhile, or the place takes no visit then (closed, past, not one of its times)"},
    },
    summary="Book a visit for a client",
)
def book_appointment(body: BookingIn, db: WriteDbSession, settings: AppSettings, principal: ApiPrincipal) -> AppointmentOut:
    """Book the visit at a free time; 409 when it was taken meanwhile, 422 when the place does not
    offer it then. The client gets no link: your organisation moves and cancels it here."""
    _may_change(principal)
    person = service.check_person(name=body.name, email=body.email, phone=body.phone, contact_required=False)
    with _as_api_errors():
        appointment, _token = service.book(
            db=db, settings=settings, service_id=body.service, place_id=body.place, starts_at=body.starts_at,
            person=person, language=body.language, interpreter_language=body.interpreter_language, source="api",
            booked_by_org_id=principal.organisation_id,
        )
    db.commit()
    return _out(appointment, settings)


@router.post(
    "/appointments/{reference}/move",
    response_model=AppointmentOut,
    responses={
        404: {"model": ErrorBody, "description": "No such visit (or not one your organisation may see), or no such place"},
        **BODY, **TAKEN, 403: {"model": ErrorBody, "description": FORBIDDEN},
    },
    summary="Move a visit",
)
def move_appointment(reference: Reference, body: MoveIn, db: WriteDbSession, settings: AppSettings, principal: ApiPrincipal) -> AppointmentOut:
    """Move a booked visit to a free time; the old time is freed only when the new one is held."""
    appointment = access.get_visible(db=db, settings=settings, principal=principal, reference=reference)
    _may_change(principal)
    with _as_api_errors():
        service.move(db=db, settings=settings, appointment=appointment, starts_at=body.starts_at, place_id=body.place, actor_user_id=principal.user_id)
    db.commit()
    return _out(appointment, settings)


@router.post(
    "/appointments/{reference}/cancel",
    response_model=AppointmentOut,
    responses={**NOT_FOUND, **TAKEN, 403: {"model": ErrorBody, "description": FORBIDDEN}},
    summary="Cancel a visit",
)
def cancel_appointment(reference: Reference, db: WriteDbSession, settings: AppSettings, principal: ApiPrincipal) -> AppointmentOut:
    """Cancel a booked visit (its time is free again at once); cancelling it again changes nothing."""
    appointment = access.get_visible(db=db, settings=settings, principal=principal, reference=reference)
    _may_change(principal)
    service.cancel(db=db, appointment=appointment, actor_user_id=principal.user_id)
    db.commit()
    return _out(appointment, settings)

