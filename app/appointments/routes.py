"""Booking a visit, for newcomers, in their language: choose a service and filters (district,
evenings, weekends, a desk that speaks my language, step-free access) -> a place -> a time; give a
name, a contact and the interpreter needed; get the visit's own page with its reference, what to
bring, a map link, a calendar file, and buttons to move or cancel it.

Every step is a plain link or form (no JavaScript needed). Booking is POST/redirect/GET with a
one-time key per rendered form: a double click books one visit. The visit's page is found by the
secret in its address only (shown to nobody else; kept out of caches and referrers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError

from app.appointments import service
from app.appointments.content import Catalogue, Place, Service, catalogue
from app.appointments.exceptions import SlotTaken, VisitClosed, VisitNotFound
from app.appointments.ics import calendar_file
from app.appointments.models import Appointment
from app.appointments.slots import HORIZON, Slot
from app.cases import once
from app.cases.content import case_content
from app.config import Settings
from app.db import utcnow
from app.deps import AppSettings, DbSession, WriteDbSession
from app.errors import InvalidInput
from app.i18n import _, format_day_groups, format_spans, get_locale
from app.languages import LANGUAGES
from app.web import redirect, render, url_for

router = APIRouter(prefix="/visits")

#: The visit's page holds a secret in its address: never cached, never sent on as a referrer.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
#: Days the list of places looks ahead for each place's first free times.
LOOK_AHEAD_DAYS = 14
#: First free times shown per place in the list.
FIRST_TIMES = 4
#: Days one page of a place's times shows.
WEEK = 7
NOTICES = frozenset({"booked", "moved", "cancelled"})
Token = Annotated[str, Path(min_length=10, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


@dataclass(frozen=True)
class Filters:
    """What the person asked for besides the service."""

    district: str | None = None
    language: str | None = None
    evening: bool = False
    weekend: bool = False
    step_free: bool = False

    def query(self) -> dict[str, Any]:
        """Return the filters as query parameters (only those set)."""
        return {
            "district": self.district,
            "language": self.language,
            "evening": "1" if self.evening else None,
            "weekend": "1" if self.weekend else None,
            "step_free": "1" if self.step_free else None,
        }


def _flag(value: str | None) -> bool:
    return value not in (None, "", "0", "false", "off")


def _filters(settings: Settings, district: str | None, language: str | None, evening: str | None, weekend: str | None, step_free: str | None) -> Filters:
    # Unknown values are ignored, not refused: an old or hand-edited link still shows something.
    districts = case_content(settings).districts
    return Filters(
        district=district if district in districts else None,
        language=language if language in LANGUAGES else None,
        evening=_flag(evening),
        weekend=_flag(weekend),
        step_free=_flag(step_free),
    )


def _today(settings: Settings, now: datetime) -> date:
    return now.astimezone(settings.zone).date()


def _day_from(text: str | None, today: date) -> date:
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return today
    last = today + timedelta(days=HORIZON.days)
    return min(max(day, today), last)


def _languages_at_places(cat: Catalogue) -> list[tuple[str, str]]:
    codes = sorted({code for place in cat.places.values() for code in place.languages})
    return [(code, LANGUAGES[code].native_name) for code in codes if code in LANGUAGES]


def _by_day(slots: list[Slot], settings: Settings) -> list[tuple[date, list[Slot]]]:
    days: dict[date, list[Slot]] = {}
    for slot in slots:
        days.setdefault(slot.starts_at.astimezone(settings.zone).date(), []).append(slot)
    return sorted(days.items())


def kind_label(place: Place) -> str:
    """Return what kind of place it is, in the current language."""
    return {
        "office": _("Labour office"),
        "branch": _("District branch"),
        "kiosk": _("City kiosk"),
        "partner": _("Desk of a partner organisation"),
    }[place.kind]


def week_hours(place: Place) -> list[str]:
    """Return the place's open days in lines, days with the same hours together ("Mon–Fri 14:00–20:00")."""
    return format_day_groups({day: format_spans(spans) for day, spans in place.hours.items() if spans})


def _common(**context: Any) -> dict[str, Any]:
    """Return context with what every visit page uses to describe a place."""
    return {
        "kind_label": kind_label,
        "week_hours": week_hours,
        "language_names": {code: lang.native_name for code, lang in LANGUAGES.items()},
        "token": None,
        **context,
    }


def _at(text: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def _at_param(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- choose ------------------------------------------------------------------------------------


@router.get("", name="visits")
def visits_page(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    service_id: Annotated[str | None, Query(alias="service", max_length=40)] = None,
    district: Annotated[str | None, Query(max_length=80)] = None,
    language: Annotated[str | None, Query(max_length=10)] = None,
    evening: Annotated[str | None, Query(max_length=5)] = None,
    weekend: Annotated[str | None, Query(max_length=5)] = None,
    step_free: Annotated[str | None, Query(max_length=5)] = None,
) -> Response:
    """Show the services and filters; with a service chosen, the places that match and their first
    free times in the next two weeks."""
    cat = catalogue(settings)
    filters = _filters(settings, district, language, evening, weekend, step_free)
    chosen = cat.services.get(service_id or "")
    places: list[dict[str, Any]] = []
    if chosen is not None:
        now = utcnow()
        today = _today(settings, now)
        found = service.search(
            db=db, settings=settings, service_id=chosen.id, first_day=today, last_day=today + timedelta(days=LOOK_AHEAD_DAYS - 1),
            now=now, district=filters.district, language=filters.language, step_free=filters.step_free,
            evening=filters.evening, weekend=filters.weekend,
        )
        by_id = cat.places
        places = [{"place": by_id[pid], "first": slots[:FIRST_TIMES], "count": len(slots)} for pid, slots in found.items()]
        # Places with free times first, the soonest first; those without stay listed (with their hours).
        places.sort(key=lambda p: (not p["first"], p["first"][0].starts_at if p["first"] else datetime.max.replace(tzinfo=UTC)))
    context = {
        "services": list(cat.services.values()),
        "chosen": chosen,
        "filters": filters,
        "query": filters.query(),
        "districts": case_content(settings).districts,
        "languages": _languages_at_places(cat),
        "places": places,
        "look_ahead": LOOK_AHEAD_DAYS,
        "at_param": _at_param,
    }
    return render(request, "appointments/visits.html", _common(**context))


@router.get("/place/{place_id}", name="visit_times")
def visit_times(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    place_id: Annotated[str, Path(max_length=40)],
    service_id: Annotated[str | None, Query(alias="service", max_length=40)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    evening: Annotated[str | None, Query(max_length=5)] = None,
    weekend: Annotated[str | None, Query(max_length=5)] = None,
) -> Response:
    """Show a week of a place's free times for the service, with links to earlier and later weeks."""
    cat = catalogue(settings)
    place = cat.places.get(place_id)
    chosen = cat.services.get(service_id or "")
    if place is None or chosen is None or chosen.id not in place.services:
        raise VisitNotFound()
    filters = _filters(settings, None, None, evening, weekend, None)
    context = _week(db, settings, cat, place, chosen, filters, start)
    query = filters.query()

    def week_url(day: str) -> str:
        return url_for(request, "visit_times", place_id=place.id, query={"service": chosen.id, "evening": query["evening"], "weekend": query["weekend"], "from": day})

    return render(request, "appointments/times.html", _common(**context, query=query, week_url=week_url))


def _week(db: Any, settings: Settings, cat: Catalogue, place: Place, chosen: Service, filters: Filters, start: str | None) -> dict[str, Any]:
    now = utcnow()
    today = _today(settings, now)
    first = _day_from(start, today)
    last = first + timedelta(days=WEEK - 1)
    found = service.search(
        db=db, settings=settings, service_id=chosen.id, first_day=first, last_day=last, now=now,
        place_ids={place.id}, evening=filters.evening, weekend=filters.weekend,
    )
    days = _by_day(found.get(place.id, []), settings)
    return {
        "place": place,
        "chosen": chosen,
        "filters": filters,
        "days": days,
        "first": first,
        "last": last,
        "earlier": (first - timedelta(days=WEEK)).isoformat() if first > today else None,
        "later": (last + timedelta(days=1)).isoformat() if last + timedelta(days=1) <= today + timedelta(days=HORIZON.days) else None,
        "at_param": _at_param,
        "units": cat.unit_minutes,
    }


# --- book --------------------------------------------------------------------------------------


def _chosen_slot(settings: Settings, service_id: str | None, place_id: str | None, at: str | None) -> tuple[Service, Place, datetime]:
    cat = catalogue(settings)
    chosen = cat.services.get(service_id or "")
    place = cat.places.get(place_id or "")
    moment = _at(at)
    if chosen is None or place is None or moment is None or chosen.id not in place.services:
        raise VisitNotFound()
    return chosen, place, moment


def _form(
    request: Request,
    settings: Settings,
    *,
    chosen: Service,
    place: Place,
    at: datetime,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    values = {"name": "", "email": "", "phone": "", "interpreter_language": "", "key": ""} | (values or {})
    context = {
        "chosen": chosen,
        "place": place,
        "at": at,
        "ends": at + timedelta(minutes=chosen.minutes),
        "at_param": _at_param(at),
        "values": values,
        "errors": errors or {},
        "message": message,
        "key": values.get("key") or once.new_key(),
        "interpreter_languages": sorted(((code, lang.native_name) for code, lang in LANGUAGES.items() if code != "pl"), key=lambda pair: pair[1]),
        "reminders": bool(settings.smtp_host),
        "retention_days": settings.appointment_retention_days,
    }
    return render(request, "appointments/book.html", _common(**context), status_code=status_code, headers={"Cache-Control": "no-store"})


@router.get("/book", name="visit_form")
def visit_form(
    request: Request,
    settings: AppSettings,
    service_id: Annotated[str | None, Query(alias="service", max_length=40)] = None,
    place_id: Annotated[str | None, Query(alias="place", max_length=40)] = None,
    at: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Show the chosen visit and ask for a name, a contact and the interpreter needed."""
    chosen, place, moment = _chosen_slot(settings, service_id, place_id, at)
    language = get_locale()
    return _form(request, settings, chosen=chosen, place=place, at=moment, values={"interpreter_language": "" if language == "pl" else language})


@router.post("/book", name="visit_book")
def visit_book(
    request: Request,
    db: WriteDbSession,
    settings: AppSettings,
    service_id: Annotated[str, Form(alias="service", max_length=40)] = "",
    place_id: Annotated[str, Form(alias="place", max_length=40)] = "",
    at: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=1000)] = "",
    email: Annotated[str, Form(max_length=1000)] = "",
    phone: Annotated[str, Form(max_length=1000)] = "",
    interpreter_language: Annotated[str, Form(max_length=10)] = "",
    key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Book the visit and go to its page; a form sent twice finds the visit it booked. Wrong input:
    the form again with the answers kept; the time taken meanwhile: the form again, saying so."""
    chosen, place, moment = _chosen_slot(settings, service_id, place_id, at)
    form_key = once.valid_key(key)
    values = {"name": name[:200], "email": email[:254], "phone": phone[:40], "interpreter_language": interpreter_language, "key": form_key or ""}
    if form_key is not None:
        again = service.find_by_key(db=db, key=form_key)
        if again is not None:
            db.rollback()
            return redirect(request, url_for(request, "visit_page", token=again[1], query={"notice": "booked"}))
    try:
        person = service.check_person(name=name, email=email, phone=phone)
        appointment, token = service.book(
            db=db, settings=settings, service_id=chosen.id, place_id=place.id, starts_at=moment, person=person,
            language=get_locale(), interpreter_language=interpreter_language or None, source="web", idempotency_key=form_key,
        )
        db.commit()
    except InvalidInput as exc:
        db.rollback()
        return _form(request, settings, chosen=chosen, place=place, at=moment, values=values, errors=exc.field_errors, status_code=422)
    except SlotTaken as exc:
        db.rollback()
        return _form(request, settings, chosen=chosen, place=place, at=moment, values=values, message=exc.public_message(), status_code=409)
    except IntegrityError:  # the same form, sent twice at once: the other request booked it
        db.rollback()
        again = service.find_by_key(db=db, key=form_key) if form_key else None
        if again is None:
            raise
        appointment, token = again
    return redirect(request, url_for(request, "visit_page", token=token, query={"notice": "booked"}))


# --- the visit's own page ----------------------------------------------------------------------


def _visit_context(settings: Settings, appointment: Appointment) -> dict[str, Any]:
    cat = catalogue(settings)
    return {
        "visit": appointment,
        "chosen": cat.services.get(appointment.service_id),
        "place": cat.places.get(appointment.place_id),
        "person": service.person_of(appointment, settings),
        "interpreter": LANGUAGES[appointment.interpreter_language].native_name if appointment.interpreter_language in LANGUAGES else None,
        "changeable": appointment.status == service.BOOKED and appointment.starts_at > utcnow(),
    }


@router.get("/v/{token}", name="visit_page")
def visit_page(request: Request, db: DbSession, settings: AppSettings, token: Token, notice: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """Show the visit of the link: when and where, what to bring, the calendar file, move and cancel."""
    appointment = service.get_by_token(db=db, token=token)
    context = _visit_context(settings, appointment)
    context.update(token=token, notice=notice if notice in NOTICES else None)
    return render(request, "appointments/visit.html", _common(**context), headers=PRIVATE)


@router.get("/v/{token}/calendar.ics", name="visit_ics")
def visit_ics(request: Request, db: DbSession, settings: AppSettings, token: Token) -> Response:
    """Return the visit as an iCalendar file (RFC 5545), its texts in the page's language."""
    appointment = service.get_by_token(db=db, token=token)
    cat = catalogue(settings)
    chosen, place = cat.services.get(appointment.service_id), cat.places.get(appointment.place_id)
    if chosen is None or place is None:  # content changed since: the visit stays, its file cannot be made
        raise VisitNotFound()
    link = str(request.base_url).rstrip("/") + url_for(request, "visit_page", token=token)
    body = calendar_file(
        appointment=appointment, place=place, service_name=_(chosen.name), bring=[_(line) for line in chosen.bring],
        link=link, host=request.url.hostname or "witaj", now=utcnow(),
    )
    headers = {**PRIVATE, "Content-Disposition": f'attachment; filename="{appointment.reference}.ics"'}
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


@router.post("/v/{token}/cancel", name="visit_cancel")
def visit_cancel(request: Request, db: WriteDbSession, settings: AppSettings, token: Token) -> Response:
    """Cancel the visit (its time is free again at once) and show it as cancelled."""
    appointment = service.get_by_token(db=db, token=token)
    try:
        service.cancel(db=db, appointment=appointment)
        db.commit()
    except VisitClosed as exc:
        db.rollback()
        return _visit_error(request, settings, db, token, exc.public_message())
    return redirect(request, url_for(request, "visit_page", token=token, query={"notice": "cancelled"}))


def _visit_error(request: Request, settings: Settings, db: Any, token: str, message: str) -> Response:
    appointment = service.get_by_token(db=db, token=token)
    context = _visit_context(settings, appointment)
    context.update(token=token, notice=None, message=message)
    return render(request, "appointments/visit.html", _common(**context), status_code=409, headers=PRIVATE)


@router.get("/v/{token}/move", name="visit_move")
def visit_move(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    token: Token,
    place_id: Annotated[str | None, Query(alias="place", max_length=40)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
) -> Response:
    """Show a week of free times for the visit's service (at its place, or another that offers it),
    each a button that moves the visit there."""
    appointment = service.get_by_token(db=db, token=token)
    return _move_page(request, db, settings, appointment, token, place_id, start)


def _move_page(request: Request, db: Any, settings: Settings, appointment: Appointment, token: str, place_id: str | None, start: str | None, *, message: str | None = None, status_code: int = 200) -> Response:
    cat = catalogue(settings)
    chosen = cat.services.get(appointment.service_id)
    place = cat.places.get(place_id or appointment.place_id) or cat.places.get(appointment.place_id)
    if chosen is None or place is None or chosen.id not in place.services:
        raise VisitNotFound()
    context = _week(db, settings, cat, place, chosen, Filters(), start)
    context.update(
        visit=appointment, token=token, message=message, places=cat.places_for(chosen.id),
        changeable=appointment.status == service.BOOKED and appointment.starts_at > utcnow(),
        week_url=lambda day: url_for(request, "visit_move", token=token, query={"place": place.id, "from": day}),
    )
    return render(request, "appointments/move.html", _common(**context), status_code=status_code, headers=PRIVATE)


@router.post("/v/{token}/move", name="visit_move_post")
def visit_move_post(
    request: Request,
    db: WriteDbSession,
    settings: AppSettings,
    token: Token,
    at: Annotated[str, Form(max_length=40)] = "",
    place_id: Annotated[str, Form(alias="place", max_length=40)] = "",
) -> Response:
    """Move the visit to the chosen time; taken meanwhile, or not offered: the times again, saying so."""
    appointment = service.get_by_token(db=db, token=token)
    moment = _at(at)
    try:
        if moment is None:
            raise InvalidInput({"at": _("Please choose a time from the list.")})
        service.move(db=db, settings=settings, appointment=appointment, starts_at=moment, place_id=place_id or None)
        db.commit()
    except (SlotTaken, VisitClosed) as exc:
        db.rollback()
        appointment = service.get_by_token(db=db, token=token)
        return _move_page(request, db, settings, appointment, token, place_id or None, None, message=exc.public_message(), status_code=409)
    except InvalidInput as exc:
        db.rollback()
        appointment = service.get_by_token(db=db, token=token)
        message = next(iter(exc.field_errors.values()), exc.public_message())
        return _move_page(request, db, settings, appointment, token, place_id or None, None, message=message, status_code=422)
    return redirect(request, url_for(request, "visit_page", token=token, query={"notice": "moved"}))
