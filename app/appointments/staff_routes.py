"""Staff pages of visits: a place's agenda for a day or a week (check-in, no-show, undo, cancel, a
visit tied to a case or a case opened from it, blocks of desk time), and the supervisors' load view
(visits per weekday and hour against the desks' capacity). Which places a user sees is decided in
app/appointments/access.py; a visit or block outside them is answered like a missing one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.appointments import access, flows, service
from app.appointments.content import Place, catalogue
from app.appointments.exceptions import SlotTaken, VisitClosed, VisitNotFound
from app.appointments.models import Appointment
from app.appointments.slots import is_open_day
from app.auth.deps import StaffPrincipal
from app.auth.models import User
from app.auth.permissions import Action, Principal, require
from app.cases import access as case_access
from app.cases.events import Actor
from app.cases.models import CaseFile
from app.config import Settings
from app.db import committed, utcnow
from app.deps import AppSettings, DbSession
from app.errors import InvalidInput, NotFound
from app.i18n import _
from app.languages import LANGUAGES
from app.web import redirect, render, url_for

router = APIRouter(prefix="/staff/agenda")
#: Hours shown in the load view (local time): every place's hours fall inside.
LOAD_HOURS = range(7, 22)


def _labels() -> dict[str, Any]:
    return {
        "status_labels": {
            service.BOOKED: _("Booked"),
            service.CHECKED_IN: _("Came"),
            service.NO_SHOW: _("Did not come"),
            service.CANCELLED: _("Cancelled"),
        },
        "event_labels": {
            "booked": _("Booked"),
            "moved": _("Moved"),
            "cancelled": _("Cancelled"),
            "checked_in": _("Came"),
            "no_show": _("Did not come"),
            "reopened": _("Marked as expected again"),
            "linked": _("Linked to a case"),
            "reminded": _("Reminder sent"),
            "reminder_failed": _("Reminder failed"),
        },
        "language_names": {code: language.native_name for code, language in LANGUAGES.items()},
        "weekday_names": [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")],
    }


def _places(db: Session, settings: Settings, principal: Principal) -> list[Place]:
    own = access.own_places(db=db, settings=settings, principal=principal)
    return [place for place in catalogue(settings).places.values() if own is None or place.id in own]


def _parse_day(text: str | None, settings: Settings) -> date:
    try:
        return date.fromisoformat(text) if text else utcnow().astimezone(settings.zone).date()
    except ValueError:
        return utcnow().astimezone(settings.zone).date()


def _visible_visit(db: Session, settings: Settings, principal: Principal, reference: str) -> Appointment:
    require(principal, Action.view_cases, principal.organisation_id)
    return access.get_visible(db=db, settings=settings, principal=principal, reference=reference)


def _row(request: Request, settings: Settings, appointment: Appointment, **extra: Any) -> dict[str, Any]:
    cat = catalogue(settings)
    person = service.person_of(appointment, settings)
    chosen = cat.services.get(appointment.service_id)
    return {
        "visit": appointment,
        "name": person.name if person is not None else "",
        "service_name": _(chosen.name) if chosen is not None else appointment.service_id,
        "local_start": appointment.starts_at.astimezone(settings.zone),
        "local_end": appointment.ends_at.astimezone(settings.zone),
        "may_mark": appointment.status != service.CANCELLED,
        **extra,
    }


def _back(request: Request, fallback: str) -> str:
    """Return where a plain form goes back to: the agenda page it was sent from (this site only)."""
    referer = urlparse(request.headers.get("referer", ""))
    if referer.netloc == request.url.netloc and "/staff/agenda" in referer.path:
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return fallback


@router.get("", name="staff_agenda")
def agenda_page(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    place: Annotated[str | None, Query(max_length=40)] = None,
    day: Annotated[str | None, Query(max_length=10)] = None,
    span: Annotated[str, Query(max_length=4)] = "day",
) -> Response:
    """Show a place's visits and blocks for a day or a week."""
    require(principal, Action.view_cases, principal.organisation_id)
    return _agenda(request, db, settings, principal, place, day, span)


def _agenda(
    request: Request, db: Session, settings: Settings, principal: Principal, place_id: str | None, day_text: str | None, span: str,
    *, status_code: int = 200, **extra: Any,
) -> Response:
    places = _places(db, settings, principal)
    chosen = next((p for p in places if p.id == place_id), places[0] if places else None)
    day = _parse_day(day_text, settings)
    span = "week" if span == "week" else "day"
    first_day = day - timedelta(days=day.weekday()) if span == "week" else day
    length = timedelta(days=7 if span == "week" else 1)
    first, last = service.local_midnight(first_day, settings), service.local_midnight(first_day + length, settings)
    visits = service.agenda(db=db, place_id=chosen.id, first=first, last=last, cancelled=True) if chosen else []
    blocks = service.blocks(db=db, place_id=chosen.id, first=first, last=last) if chosen else []
    context = {
        "places": places,
        "place": chosen,
        "day": day,
        "span": span,
        "first_day": first_day,
        "last_day": first_day + length - timedelta(days=1),
        "previous": (first_day - length).isoformat(),
        "next": (first_day + length).isoformat(),
        "rows": [_row(request, settings, visit) for visit in visits],
        "blocks": [(block, block.starts_at.astimezone(settings.zone), block.ends_at.astimezone(settings.zone)) for block in blocks],
        "errors": {},
        "form": {},
        "overlapping": [],
        **_labels(),
        **extra,
    }
    return render(request, "appointments/staff_agenda.html", context, status_code=status_code)


def _agenda_of(request: Request, appointment: Appointment, settings: Settings) -> str:
    day = appointment.starts_at.astimezone(settings.zone).date().isoformat()
    return url_for(request, "staff_agenda", query={"place": appointment.place_id, "day": day})


@router.post("/visits/{reference}/mark", name="staff_visit_mark")
def visit_mark(
    request: Request,
    reference: str,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    status: Annotated[str, Form(max_length=12)],
) -> Response:
    """Record that the person came or did not, or undo it; htmx gets the row again."""
    appointment = _visible_visit(db, settings, principal, reference)
    require(principal, Action.edit_cases, principal.organisation_id)
    message = None
    try:
        with committed(db):
            service.mark(db=db, appointment=appointment, status=status, actor_user_id=principal.user_id)
    except VisitClosed as exc:
        message = exc.public_message()
    if request.headers.get("HX-Request") == "true":
        context = {**_labels(), **_row(request, settings, appointment, message=message)}
        return render(request, "appointments/_staff_row.html", context, block=None, status_code=409 if message else 200)
    return redirect(request, _back(request, _agenda_of(request, appointment, settings)))


@router.get("/visits/{reference}", name="staff_visit")
def visit_page(request: Request, reference: str, db: DbSession, settings: AppSettings, principal: StaffPrincipal) -> Response:
    """Show one visit: who, when, its case and its history; cancel, move, link or open a case."""
    appointment = _visible_visit(db, settings, principal, reference)
    return _visit(request, db, settings, principal, appointment)


def _visit(request: Request, db: Session, settings: Settings, principal: Principal, appointment: Appointment, *, status_code: int = 200, **extra: Any) -> Response:
    person = service.person_of(appointment, settings)
    # The case is shown only to those who see it (a partner sees a case referred to it).
    case = db.scalar(case_access.visible_cases(principal).where(CaseFile.id == appointment.case_id)) if appointment.case_id else None
    names: dict[int, str] = {}
    history = []
    for event in service.history(db=db, appointment=appointment):
        who = ""
        if event.actor_user_id is not None:
            if event.actor_user_id not in names:
                user = db.get(User, event.actor_user_id)
                names[event.actor_user_id] = user.display_name if user else "–"
            who = names[event.actor_user_id]
        history.append((event, event.at.astimezone(settings.zone), who))
    context = {
        **_labels(),
        **_row(request, settings, appointment),
        "person": person,
        "case": case,
        "history": history,
        "agenda_url": _agenda_of(request, appointment, settings),
        "errors": {},
        "form": {},
        **extra,
    }
    return render(request, "appointments/staff_visit.html", context, status_code=status_code)


@router.post("/visits/{reference}/cancel", name="staff_visit_cancel")
def visit_cancel(request: Request, reference: str, db: DbSession, settings: AppSettings, principal: StaffPrincipal) -> Response:
    """Cancel a booked visit (freeing its desk time)."""
    appointment = _visible_visit(db, settings, principal, reference)
    require(principal, Action.edit_cases, principal.organisation_id)
    try:
        with committed(db):
            service.cancel(db=db, appointment=appointment, actor_user_id=principal.user_id)
    except VisitClosed as exc:
        return _visit(request, db, settings, principal, appointment, status_code=409, message=exc.public_message())
    return redirect(request, url_for(request, "staff_visit", reference=appointment.reference))


@router.post("/visits/{reference}/move", name="staff_visit_move")
def visit_move(
    request: Request,
    reference: str,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    starts_at: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Move a booked visit to another free time at its place (local date and time)."""
    appointment = _visible_visit(db, settings, principal, reference)
    require(principal, Action.edit_cases, principal.organisation_id)
    try:
        moment = datetime.fromisoformat(starts_at).replace(tzinfo=settings.zone)
    except ValueError:
        errors = {"starts_at": _("Please give a date and time.")}
        return _visit(request, db, settings, principal, appointment, status_code=422, errors=errors, form={"starts_at": starts_at})
    try:
        with committed(db):
            service.move(db=db, settings=settings, appointment=appointment, starts_at=moment, actor_user_id=principal.user_id)
    except InvalidInput as exc:
        errors = {"starts_at": " ".join(exc.field_errors.values()) or _("This time is not offered.")}
        return _visit(request, db, settings, principal, appointment, status_code=422, errors=errors, form={"starts_at": starts_at})
    except (SlotTaken, VisitClosed) as exc:
        return _visit(request, db, settings, principal, appointment, status_code=409, message=exc.public_message(), form={"starts_at": starts_at})
    return redirect(request, url_for(request, "staff_visit", reference=appointment.reference))


@router.post("/visits/{reference}/link", name="staff_visit_link")
def visit_link(
    request: Request,
    reference: str,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    case_reference: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Tie the visit to a case the user sees (by its reference)."""
    appointment = _visible_visit(db, settings, principal, reference)
    require(principal, Action.edit_cases, principal.organisation_id)
    try:
        case = case_access.get_visible(db=db, principal=principal, reference=case_reference.strip().upper())
    except NotFound:
        errors = {"case_reference": _("There is no case with this reference that you can see.")}
        return _visit(request, db, settings, principal, appointment, status_code=422, errors=errors, form={"case_reference": case_reference})
    with committed(db):
        service.link_case(db=db, appointment=appointment, case_id=case.id, actor_user_id=principal.user_id)
    return redirect(request, url_for(request, "staff_visit", reference=appointment.reference))


@router.post("/visits/{reference}/open-case", name="staff_visit_open_case")
def visit_open_case(request: Request, reference: str, db: DbSession, settings: AppSettings, principal: StaffPrincipal) -> Response:
    """Open a new case for the visit's person in the service's category, linked to the visit."""
    appointment = _visible_visit(db, settings, principal, reference)
    require(principal, Action.edit_cases, principal.organisation_id)
    if not principal.is_office:
        raise NotFound()  # partners receive cases by referral; they do not open them
    try:
        case = flows.open_case_from_visit(db=db, settings=settings, appointment=appointment, actor=Actor.of(principal))
    except InvalidInput as exc:
        return _visit(request, db, settings, principal, appointment, status_code=422, message=" ".join(exc.field_errors.values()))
    return redirect(request, url_for(request, "case_page", reference=case.reference))


@router.post("/blocks", name="staff_block_add")
def block_add(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    place: Annotated[str, Form(max_length=40)],
    starts_at: Annotated[str, Form(max_length=20)] = "",
    ends_at: Annotated[str, Form(max_length=20)] = "",
    desk: Annotated[str, Form(max_length=4)] = "",
    reason: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Close a desk (or every desk) of a place for a while; show the booked visits it overlaps."""
    require(principal, Action.edit_cases, principal.organisation_id)
    if place not in {p.id for p in _places(db, settings, principal)}:
        raise VisitNotFound()
    form = {"starts_at": starts_at, "ends_at": ends_at, "desk": desk, "reason": reason}
    errors: dict[str, str] = {}
    moments: dict[str, datetime] = {}
    for field, text in (("starts_at", starts_at), ("ends_at", ends_at)):
        try:
            moments[field] = datetime.fromisoformat(text).replace(tzinfo=settings.zone)
        except ValueError:
            errors[field] = _("Please give a date and time.")
    day = starts_at[:10] or None
    if not errors:
        try:
            with committed(db):
                _block, overlapping = service.add_block(
                    db=db, settings=settings, place_id=place, desk=int(desk) if desk.isdigit() else None,
                    starts_at=moments["starts_at"], ends_at=moments["ends_at"], reason=reason, actor_user_id=principal.user_id,
                )
        except InvalidInput as exc:
            errors = exc.field_errors
        else:
            if not overlapping:
                return redirect(request, url_for(request, "staff_agenda", query={"place": place, "day": day}))
            rows = [_row(request, settings, visit) for visit in overlapping]
            return _agenda(request, db, settings, principal, place, day, "day", overlapping=rows, block=None)
    return _agenda(request, db, settings, principal, place, day, "day", status_code=422, errors=errors, form=form, block=None)


@router.post("/blocks/{block_id}/remove", name="staff_block_remove")
def block_remove(request: Request, block_id: int, db: DbSession, settings: AppSettings, principal: StaffPrincipal) -> Response:
    """Delete a block, reopening its time."""
    require(principal, Action.edit_cases, principal.organisation_id)
    own = access.own_places(db=db, settings=settings, principal=principal)
    with committed(db):
        service.remove_block(db=db, block_id=block_id, place_ids=own)
    return redirect(request, _back(request, url_for(request, "staff_agenda")))


@router.get("/load", name="staff_agenda_load")
def load_page(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    day: Annotated[str | None, Query(max_length=10)] = None,
    span: Annotated[str, Query(max_length=5)] = "week",
) -> Response:
    """Per place, visits booked per weekday and hour and the share of the desks' capacity they use."""
    require(principal, Action.view_reports, principal.organisation_id)
    span = "month" if span == "month" else "week"
    chosen = _parse_day(day, settings)
    if span == "month":
        first_day = chosen.replace(day=1)
        next_first = (first_day + timedelta(days=32)).replace(day=1)
        previous, following = (first_day - timedelta(days=1)).replace(day=1), next_first
    else:
        first_day = chosen - timedelta(days=chosen.weekday())
        next_first = first_day + timedelta(days=7)
        previous, following = first_day - timedelta(days=7), next_first
    places = _places(db, settings, principal)
    first, last = service.local_midnight(first_day, settings), service.local_midnight(next_first, settings)
    grids = []
    for place in places:
        capacity = _capacity(place, first_day, next_first)
        # One read of the place's visits gives both figures: how many start in each hour, and the
        # minutes they take of it.
        counts: dict[tuple[int, int], int] = {}
        used: dict[tuple[int, int], int] = {}
        for visit in service.agenda(db=db, place_id=place.id, first=first, last=last):
            start = visit.starts_at.astimezone(settings.zone)
            counts[(start.weekday(), start.hour)] = counts.get((start.weekday(), start.hour), 0) + 1
            for key, minutes in _hour_parts(start, visit.ends_at.astimezone(settings.zone)):
                used[key] = used.get(key, 0) + minutes
        cells = {}
        for weekday in range(7):
            for hour in LOAD_HOURS:
                minutes = capacity.get((weekday, hour), 0)
                share = min(100, round(100 * used.get((weekday, hour), 0) / minutes)) if minutes else None
                cells[(weekday, hour)] = (counts.get((weekday, hour), 0), share)
        grids.append({"place": place, "cells": cells, "total": sum(counts.values())})
    context = {
        **_labels(),
        "grids": grids,
        "hours": list(LOAD_HOURS),
        "span": span,
        "first_day": first_day,
        "last_day": next_first - timedelta(days=1),
        "previous": previous.isoformat(),
        "next": following.isoformat(),
    }
    return render(request, "appointments/staff_load.html", context)


def _hour_parts(start: datetime, end: datetime) -> Iterator[tuple[tuple[int, int], int]]:
    """Yield ((weekday, hour), minutes) for each clock hour that [start, end) covers."""
    moment = start
    while moment < end:
        step = min(moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1), end) - moment
        yield (moment.weekday(), moment.hour), int(step.total_seconds() // 60)
        moment += step


def _capacity(place: Place, first: date, end: date) -> dict[tuple[int, int], int]:
    """Return, per (weekday, hour), the desk-minutes the place's hours offer in the days [first, end)
    (closed days and public holidays not counted)."""
    result: dict[tuple[int, int], int] = {}
    day = first
    while day < end:
        if is_open_day(place, day):
            for opens, closes in place.hours.get(day.weekday(), ()):
                for key, minutes in _hour_parts(datetime.combine(day, opens), datetime.combine(day, closes)):
                    result[key] = result.get(key, 0) + place.desks * minutes
        day += timedelta(days=1)
    return result
