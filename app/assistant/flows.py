"""A chat turn, and what it does in other domains: one newcomer's message runs through the dialogue
engine in one write transaction, which also opens a case from the case form, hands the chat over to
a caseworker (a case with the transcript), or tells the case's workflow that the client wrote.

The turn commits once at its end; a failure anywhere in it leaves nothing half-written: neither the
messages nor a case opened on the way.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.appointments import service as appointment_service
from app.appointments.content import catalogue
from app.appointments.exceptions import SlotTaken
from app.appointments.models import Appointment
from app.assistant import actions, nlu_edit, review, runtime
from app.assistant import service as chat_service
from app.assistant.data import folder_stamp
from app.assistant.models import Conversation, ConversationMessage, ReviewItem
from app.assistant.runtime import BotMessage, Context, DialogueEngine, Parsed, Tracker
from app.assistant.service import HUMAN, QUEUED
from app.assistant.when import find_when
from app.cases import notes
from app.cases import service as case_service
from app.cases.content import case_content
from app.cases.enums import Source, Visibility
from app.cases.events import CLIENT
from app.cases.models import CaseFile
from app.cases.schemas import CaseIn, ClientIn
from app.config import Settings
from app.crypto import decrypt_json, encrypt_json
from app.db import READ_FIRST, utcnow
from app.errors import InvalidInput
from app.i18n import _, format_date, format_time, gettext, translations, use_locale
from app.languages import LANGUAGES, foreign_language, is_value, language_words, native_name

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,19}$")
#: How often a turn is tried when another request changed the same conversation meanwhile.
TURN_ATTEMPTS = 4
#: An answer of at most this many words, typed while a form asks, keeps the conversation's language.
ANSWER_WORDS = 3
#: A first message starts its conversation in the language detected with at least this confidence
#: ("namaste", "gamarjoba", "pryvit": 0.5; keys struck at random: 0.2-0.35), when at least this share
#: of its words are words of the examples.
FIRST_LANGUAGE_CONFIDENCE = 0.45
FIRST_KNOWN_SHARE = 0.5


# --- actions that open or update a case -------------------------------------------------------------


def action_create_case(ctx: Context) -> None:
    """Open a case from the case form (only with consent); give the reference and the secret once."""
    slots = ctx.tracker.slots
    if slots.get("consent") is not True:
        ctx.utter("utter_case_not_created_no_consent")
        actions.clear_case_form(ctx)
        return
    contact = str(slots.get("contact") or "")
    district = slots.get("district") if slots.get("district") not in (None, "not_given", "other") else None
    description = str(slots.get("case_description") or "").strip()
    category = slots.get("case_topic") or "other"
    with use_locale(ctx.tracker.language):
        label = gettext(case_content(ctx.settings).categories[category].label)
    subject = (description.splitlines()[0] if description else label)[:120]
    try:
        # Inside a savepoint: a case that cannot be opened takes nothing else of the turn with it.
        with ctx.db.begin_nested():
            case, secret = case_service.create(
                db=ctx.db,
                settings=ctx.settings,
                client=ClientIn(
                    display_name=_display_name(ctx),
                    preferred_language=ctx.tracker.language,
                    district=district,
                    email=contact if _EMAIL.match(contact) else None,
                    phone=contact if _PHONE.match(contact) and not _EMAIL.match(contact) else None,
                    preferred_contact=slots.get("contact_preference"),
                ),
                case=CaseIn(category=category, subject=subject, description=description, source=Source.chat),
                actor=CLIENT,
                now=ctx.now,
            )
    except InvalidInput:
        ctx.utter("utter_case_not_created_error")
        return
    if ctx.conversation is not None:
        ctx.conversation.case_id = case.id
        _contacts_to_case(ctx.db, ctx.settings, ctx.conversation, case)
    ctx.utter("utter_case_created", private=True, case_reference=case.reference, case_secret=secret)
    actions.clear_case_form(ctx)


def _display_name(ctx: Context) -> str:
    number = getattr(ctx.conversation, "id", None)
    with use_locale(ctx.tracker.language):
        base = _("Chat visitor")
    return f"{base} {number}" if number else base


def action_handoff(ctx: Context) -> None:
    """Open (or reopen) a case with the transcript and queue the chat for caseworkers."""
    hand_over(ctx)
    ctx.utter("utter_handoff_connecting")


def hand_over(ctx: Context) -> None:
    """Open a case for the chat (or keep its open one) with the transcript, and queue it for caseworkers."""
    conversation: Conversation = ctx.conversation
    db: Session = ctx.db
    ctx.tracker.deactivate()
    case = db.get(CaseFile, conversation.case_id) if conversation.case_id else None
    if case is None or case.status in ("resolved", "closed"):
        with use_locale(ctx.settings.default_locale):
            subject = _("Chat: the client asked for a person")
            name = _("Chat visitor")
        topic = ctx.tracker.slots.get("case_topic")
        category = topic if topic in case_content(ctx.settings).categories else "other"
        case, _secret = case_service.create(
            db=db,
            settings=ctx.settings,
            client=ClientIn(
                display_name=f"{name} {conversation.id}", preferred_language=ctx.tracker.language
            ),
            case=CaseIn(category=category, subject=subject, source=Source.chat),
            actor=CLIENT,
            now=ctx.now,
        )
        conversation.case_id = case.id
        _contacts_to_case(db, ctx.settings, conversation, case)
    db.flush()
    case_service.record_handover(db=db, case=case, channel=conversation.channel, now=ctx.now)
    text = chat_service.transcript(db=db, conversation=conversation)
    if text:
        notes.add_note(
            db=db,
            case=case,
            body=text,
            visibility=Visibility.internal,
            actor=CLIENT,
            language=ctx.tracker.language,
            now=ctx.now,
        )
    conversation.mode = QUEUED


# --- booking, moving and cancelling a visit (appointments) -----------------------------------------

#: The slots of the booking form (validate_appointment_form clears them when it starts).
VISIT_SLOTS = ("visit_service", "visit_place", "visit_time", "visit_name", "visit_contact", "visit_interpreter", "visit_filter")
#: How many free times are offered at once ("Later dates" shows the next ones).
TIMES_SHOWN = 6
#: How far ahead the chat looks for free times.
TIMES_AHEAD = timedelta(days=42)
LATER = "later"
MESSENGER_CONTACT = "messenger"
NO_INTERPRETER = "no"
NO_VISIT = "none"


def _visit_filter(ctx: Context) -> dict[str, Any]:
    value = ctx.tracker.slots.get("visit_filter")
    return dict(value) if isinstance(value, dict) else {}


def _button(title: str, slot: str, value: str) -> dict[str, str]:
    return {"title": title, "payload": "/inform" + json.dumps({slot: value}, ensure_ascii=False)}


def _service_name(ctx: Context, service: Any) -> str:
    return translations(ctx.tracker.language).ugettext(service.name)


def _places(ctx: Context) -> list[Any]:
    """Return the places offering the chosen service that match the filter, those whose desk speaks the
    conversation's language first."""
    cat = catalogue(ctx.settings)
    wanted = _visit_filter(ctx)
    places = appointment_service.matching_places(cat, str(ctx.tracker.slots.get("visit_service") or ""), district=wanted.get("district"))
    if wanted.get("evening"):
        places = [p for p in places if p.has_evenings]
    if wanted.get("weekend"):
        places = [p for p in places if p.has_weekends]
    return sorted(places, key=lambda p: ctx.tracker.language not in p.languages)


def _free_times(ctx: Context) -> list[datetime]:
    """Return the free start times at the chosen place (evenings or weekends only when asked)."""
    wanted = _visit_filter(ctx)
    today = ctx.now.astimezone(ctx.settings.zone).date()
    found = appointment_service.search(
        db=ctx.db, settings=ctx.settings, service_id=str(ctx.tracker.slots.get("visit_service") or ""),
        first_day=today, last_day=today + TIMES_AHEAD, now=ctx.now,
        evening=bool(wanted.get("evening")), weekend=bool(wanted.get("weekend")),
        place_ids={str(ctx.tracker.slots.get("visit_place") or "")},
    )
    return sorted({slot.starts_at for slots in found.values() for slot in slots})


def _when(ctx: Context, starts_at: datetime) -> str:
    """Return a visit's time as people read it in the conversation's language ("wt., 9 mar, 18:30")."""
    with use_locale(ctx.tracker.language):
        return f"{format_date(starts_at, 'EEE d MMM')}, {format_time(starts_at)}"


def _when_long(ctx: Context, starts_at: datetime) -> str:
    with use_locale(ctx.tracker.language):
        return f"{format_date(starts_at, 'full')}, {format_time(starts_at)}"


def action_ask_visit_service(ctx: Context) -> None:
    """Ask what the visit is for; a button for each service of appointments/services.yml."""
    ctx.utter("utter_ask_visit_service")
    ctx.messages[-1].buttons = [
        _button(_service_name(ctx, s), "visit_service", s.id) for s in catalogue(ctx.settings).services.values()
    ]


def action_ask_visit_place(ctx: Context) -> None:
    """Ask where; a button for each place offering the service (name and district)."""
    places = _places(ctx)
    if not places:
        ctx.tracker.slots["visit_filter"] = {}
        ctx.utter("utter_visit_no_places")
        places = _places(ctx)
    ctx.utter("utter_ask_visit_place")
    ctx.messages[-1].buttons = [_button(f"{p.name} ({p.district})", "visit_place", p.id) for p in places]


def action_ask_visit_time(ctx: Context) -> None:
    """Offer the next free times at the chosen place as buttons, and "Later dates"."""
    wanted = _visit_filter(ctx)
    page = int(wanted.get("page") or 0)
    times = _free_times(ctx)
    if times and page * TIMES_SHOWN >= len(times):
        page = 0
    shown = times[page * TIMES_SHOWN : (page + 1) * TIMES_SHOWN]
    if not shown:
        ctx.tracker.deactivate()
        ctx.utter("utter_visit_no_times")
        return
    wanted.update(page=page, offered=[t.isoformat() for t in shown])
    ctx.tracker.slots["visit_filter"] = wanted
    ctx.utter("utter_ask_visit_time")
    buttons = [_button(_when(ctx, t), "visit_time", t.isoformat()) for t in shown]
    if len(times) > (page + 1) * TIMES_SHOWN:
        with use_locale(ctx.tracker.language):
            buttons.append(_button(_("Later dates"), "visit_time", LATER))
    ctx.messages[-1].buttons = buttons


def action_ask_visit_contact(ctx: Context) -> None:
    """Ask for an e-mail or phone; on a messenger the messenger may be the contact (a button)."""
    ctx.utter("utter_ask_visit_contact")
    if getattr(ctx.conversation, "channel", None) in appointment_service.MESSENGERS:
        with use_locale(ctx.tracker.language):
            title = _("Skip: remind me in this chat")
        ctx.messages[-1].buttons = [_button(title, "visit_contact", MESSENGER_CONTACT)]


def action_ask_visit_interpreter(ctx: Context) -> None:
    """Ask whether an interpreter is needed: "No, thank you", the conversation's language, English, ..."""
    ctx.utter("utter_ask_visit_interpreter")
    with use_locale(ctx.tracker.language):
        buttons = [_button(_("No, thank you"), "visit_interpreter", NO_INTERPRETER)]
    codes = [ctx.tracker.language, *ctx.settings.locales]
    for code in dict.fromkeys(c for c in codes if c != "pl" and c in LANGUAGES):
        buttons.append(_button(native_name(code), "visit_interpreter", code))
    ctx.messages[-1].buttons = buttons[:8]


def _read_time(ctx: Context, value: str) -> datetime | None:
    """Return the time an answer chose: a button's value, the number of a button, or its title."""
    offered = [datetime.fromisoformat(t) for t in _visit_filter(ctx).get("offered") or []]
    try:
        chosen = datetime.fromisoformat(value)
    except ValueError:
        chosen = None
    if chosen is not None and chosen.tzinfo is not None:
        return chosen
    text = value.strip().rstrip(".)")
    if text.isdigit() and 1 <= int(text) <= len(offered):
        return offered[int(text) - 1]
    folded = actions.fold(value)
    return next((t for t in offered if actions.fold(_when(ctx, t)) == folded), None)


def _validate_time(ctx: Context) -> None:
    tracker = ctx.tracker
    value = str(tracker.slots.get("visit_time") or "")
    wanted = _visit_filter(ctx)
    if value == LATER or (ctx.parsed is not None and actions.fold(ctx.parsed.text) in {actions.fold(_("Later dates")), "later", "more"}):
        wanted["page"] = int(wanted.get("page") or 0) + 1
        tracker.slots["visit_filter"] = wanted
        tracker.slots["visit_time"] = None
        tracker.asked["visit_time"] = 0  # not an unusable answer: the next times are shown
        return
    chosen = _read_time(ctx, value) if value else None
    tracker.slots["visit_time"] = chosen.isoformat() if chosen is not None else None
    if chosen is None and value:
        ctx.utter("utter_visit_choose_from_list")


def validate_appointment_form(ctx: Context) -> None:
    """Clear old answers when the form starts; read each answer (buttons, or typed: a service's name,
    a district, "evening"/"weekend", a time's number, a name, an address, an interpreter)."""
    tracker = ctx.tracker
    requested = tracker.requested_slot
    cat = catalogue(ctx.settings)
    if requested is None:  # activation: a payload's service is kept
        given = {e.get("entity") for e in (ctx.parsed.entities if ctx.parsed is not None else [])}
        for name in VISIT_SLOTS:
            if name not in given:
                tracker.slots[name] = None
        if tracker.slots.get("visit_service") not in cat.services:
            tracker.slots["visit_service"] = None
        tracker.slots["visit_filter"] = _filter_from(ctx, {})
        return
    value = tracker.slots.get(requested)
    text = str(value or "").strip()
    if requested == "visit_service":
        if text in cat.services:
            return
        folded = actions.fold(text)
        found = [s.id for s in cat.services.values() if folded and (folded in actions.fold(_service_name(ctx, s)) or folded in actions.fold(s.name))]
        tracker.slots["visit_service"] = found[0] if len(found) == 1 else None
    elif requested == "visit_place":
        place = cat.places.get(text)
        if place is not None and tracker.slots.get("visit_service") in place.services:
            return
        tracker.slots["visit_place"] = None
        before = _visit_filter(ctx)
        after = _filter_from(ctx, before)
        if after != before:
            tracker.slots["visit_filter"] = after
            tracker.asked["visit_place"] = 0  # understood: the narrowed list is asked again
            places = _places(ctx)
            if len(places) == 1:
                tracker.slots["visit_place"] = places[0].id
        else:
            folded = actions.fold(text)
            found = [p.id for p in _places(ctx) if folded and folded in actions.fold(p.name)]
            tracker.slots["visit_place"] = found[0] if len(found) == 1 else None
    elif requested == "visit_time":
        _validate_time(ctx)
    elif requested == "visit_name":
        if not text or len(text) > appointment_service.MAX_NAME or "@" in text:
            tracker.slots["visit_name"] = None
    elif requested == "visit_contact":
        messenger = getattr(ctx.conversation, "channel", None) in appointment_service.MESSENGERS
        email, phone = actions._FIND_EMAIL.search(text), actions._FIND_PHONE.search(text)
        if messenger and (text == MESSENGER_CONTACT or actions.fold(text) in actions._no_answers(ctx.engine.data.lexicon)):
            tracker.slots["visit_contact"] = MESSENGER_CONTACT
        elif email or phone:
            tracker.slots["visit_contact"] = (email or phone).group(0).strip(" .,;")  # type: ignore[union-attr]
        else:
            tracker.slots["visit_contact"] = None
            ctx.utter("utter_invalid_visit_contact")
    elif requested == "visit_interpreter":
        if text == NO_INTERPRETER or actions.fold(text) in actions._no_answers(ctx.engine.data.lexicon):
            tracker.slots["visit_interpreter"] = NO_INTERPRETER
        elif text in LANGUAGES:
            return
        else:
            named = [e.get("value") for e in (ctx.parsed.entities if ctx.parsed else []) if e.get("entity") == "language"]
            tracker.slots["visit_interpreter"] = named[0] if named and named[0] in LANGUAGES else None


def _filter_from(ctx: Context, wanted: dict[str, Any]) -> dict[str, Any]:
    """Return the filter with what the latest message adds: a district, evenings, weekends."""
    wanted = dict(wanted)
    parsed = ctx.parsed
    if parsed is None or is_payload_text(parsed.text):
        return wanted
    district = next((e.get("value") for e in parsed.entities if e.get("entity") == "district"), None)
    district = actions.canonical_district(ctx, str(district or parsed.text))
    if district:
        wanted["district"] = district
    when = find_when(parsed.text, ctx.now.astimezone(ctx.settings.zone).date(), ctx.engine.data.lexicon)
    if when is not None:
        if when.evening:
            wanted["evening"] = True
        if when.first.weekday() >= 5 and when.last.weekday() >= 5:
            wanted["weekend"] = True
    return wanted


def is_payload_text(text: str) -> bool:
    return runtime.is_payload(text)


def validate_appointment_move_form(ctx: Context) -> None:
    """Read the new time of the visit being moved (as the booking form reads it)."""
    if ctx.tracker.requested_slot == "visit_time":
        _validate_time(ctx)


def _visit_url(ctx: Context, token: str) -> str:
    """Return the address of the visit's own page (absolute with WITAJ_PUBLIC_URL)."""
    origin = (ctx.settings.public_url or "").rstrip("/")
    return f"{origin}/{ctx.tracker.language}/visits/v/{token}"


def _visit_buttons(ctx: Context, appointment: Appointment, token: str | None) -> list[dict[str, str]]:
    place = catalogue(ctx.settings).places[appointment.place_id]
    with use_locale(ctx.tracker.language):
        buttons = []
        if token:
            buttons.append({"title": _("Your visit's page"), "url": _visit_url(ctx, token)})
        buttons += [
            {"title": _("Map"), "url": place.map_url},
            {"title": _("Move the visit"), "payload": "/appointment_move"},
            {"title": _("Cancel the visit"), "payload": "/appointment_cancel"},
        ]
    return buttons


def _where(ctx: Context, appointment: Appointment) -> str:
    place = catalogue(ctx.settings).places[appointment.place_id]
    return f"{place.name}, {place.address}"


def _retry(ctx: Context, form: str, slot: str) -> None:
    """Ask slot of form again (after the booking refused it)."""
    ctx.tracker.slots[slot] = None
    if slot == "visit_time":
        wanted = _visit_filter(ctx)
        wanted["page"] = 0
        ctx.tracker.slots["visit_filter"] = wanted
    ctx.tracker.active_loop = form
    ctx.tracker.asked = {}
    ctx.engine.run_form(ctx, form)


_FIELD_SLOTS = {"name": "visit_name", "email": "visit_contact", "phone": "visit_contact", "starts_at": "visit_time",
                "service": "visit_service", "place": "visit_place", "interpreter_language": "visit_interpreter"}


def action_book_appointment(ctx: Context) -> None:
    """Book the visit of the booking form; answer with the reference, time, place, what to bring, the
    map and the visit's page; a time taken meanwhile is offered again."""
    slots = ctx.tracker.slots
    conversation = ctx.conversation
    channel = getattr(conversation, "channel", None)
    contact = str(slots.get("visit_contact") or "")
    interpreter = slots.get("visit_interpreter")
    with use_locale(ctx.tracker.language):
        try:
            with ctx.db.begin_nested():
                person = appointment_service.check_person(
                    name=slots.get("visit_name"),
                    email=contact if _EMAIL.match(contact) else None,
                    phone=contact if _PHONE.match(contact) and not _EMAIL.match(contact) else None,
                    contact_required=channel not in appointment_service.MESSENGERS,
                )
                appointment, token = appointment_service.book(
                    db=ctx.db, settings=ctx.settings, service_id=str(slots.get("visit_service")),
                    place_id=str(slots.get("visit_place")), starts_at=datetime.fromisoformat(str(slots.get("visit_time"))),
                    person=person, language=ctx.tracker.language,
                    interpreter_language=interpreter if interpreter not in (None, NO_INTERPRETER) else None,
                    source="chat", channel=channel, conversation_id=getattr(conversation, "id", None), now=ctx.now,
                )
        except SlotTaken:
            ctx.utter("utter_visit_slot_taken")
            _retry(ctx, "appointment_form", "visit_time")
            return
        except InvalidInput as exc:
            field_name, message = next(iter(exc.errors.items())) if exc.errors else ("starts_at", "")
            if message:
                ctx.messages.append(BotMessage(text=str(message)))
            _retry(ctx, "appointment_form", _FIELD_SLOTS.get(field_name, "visit_time"))
            return
        service = catalogue(ctx.settings).services[appointment.service_id]
        bring = "\n".join(f"• {_(line)}" for line in service.bring)
    ctx.utter(
        "utter_visit_booked", visit_reference=appointment.reference,
        visit_when=_when_long(ctx, appointment.starts_at), visit_where=_where(ctx, appointment), visit_bring=bring,
    )
    ctx.messages[-1].buttons = _visit_buttons(ctx, appointment, token)
    for name in VISIT_SLOTS:
        slots[name] = None


def _chat_visit(ctx: Context) -> Appointment | None:
    """Return the conversation's latest booked visit still to come, or None."""
    conversation_id = getattr(ctx.conversation, "id", None)
    if conversation_id is None:
        return None
    return ctx.db.scalar(
        select(Appointment)
        .where(Appointment.conversation_id == conversation_id, Appointment.status == appointment_service.BOOKED,
               Appointment.starts_at > ctx.now)
        .order_by(Appointment.id.desc())
        .limit(1)
    )


def action_start_move_appointment(ctx: Context) -> None:
    """Start moving the chat's visit: the times at the same place are offered (appointment_move_form)."""
    visit = _chat_visit(ctx)
    if visit is None:  # nothing to ask: the form ends at once and action_move_appointment says so
        ctx.tracker.slots.update(visit_time=NO_VISIT)
        return
    ctx.tracker.slots.update(visit_service=visit.service_id, visit_place=visit.place_id, visit_time=None, visit_filter={})


def action_move_appointment(ctx: Context) -> None:
    """Move the chat's visit to the time chosen; a time taken meanwhile is offered again."""
    visit = _chat_visit(ctx)
    if visit is None or ctx.tracker.slots.get("visit_time") in (None, NO_VISIT):
        ctx.tracker.slots["visit_time"] = None
        ctx.utter("utter_no_visit_in_chat")
        return
    starts_at = datetime.fromisoformat(str(ctx.tracker.slots.get("visit_time")))
    with use_locale(ctx.tracker.language):
        try:
            with ctx.db.begin_nested():
                appointment_service.move(db=ctx.db, settings=ctx.settings, appointment=visit, starts_at=starts_at, now=ctx.now)
        except (SlotTaken, InvalidInput):
            ctx.utter("utter_visit_slot_taken")
            _retry(ctx, "appointment_move_form", "visit_time")
            return
    ctx.utter("utter_visit_moved", visit_reference=visit.reference, visit_when=_when_long(ctx, visit.starts_at), visit_where=_where(ctx, visit))
    ctx.messages[-1].buttons = _visit_buttons(ctx, visit, appointment_service.link_secret(visit, ctx.settings))
    for name in VISIT_SLOTS:
        ctx.tracker.slots[name] = None


def action_ask_cancel_appointment(ctx: Context) -> None:
    """Ask whether to cancel the chat's visit (or say how to find the visit's link)."""
    visit = _chat_visit(ctx)
    if visit is None:
        ctx.utter("utter_no_visit_in_chat")
        return
    ctx.utter("utter_ask_cancel_visit", visit_when=_when_long(ctx, visit.starts_at))


def action_cancel_appointment(ctx: Context) -> None:
    """Cancel the chat's visit (asked first)."""
    visit = _chat_visit(ctx)
    if visit is None:
        ctx.utter("utter_no_visit_in_chat")
        return
    appointment_service.cancel(db=ctx.db, appointment=visit, now=ctx.now)
    ctx.utter("utter_visit_cancelled")


#: Every action the dialogues may name: the assistant's own, and those that reach into cases.
ACTIONS: dict[str, runtime.Action] = {
    **actions.REGISTRY,
    "action_create_case": action_create_case,
    "action_handoff": action_handoff,
    "validate_appointment_form": validate_appointment_form,
    "validate_appointment_move_form": validate_appointment_move_form,
    "action_ask_visit_service": action_ask_visit_service,
    "action_ask_visit_place": action_ask_visit_place,
    "action_ask_visit_time": action_ask_visit_time,
    "action_ask_visit_contact": action_ask_visit_contact,
    "action_ask_visit_interpreter": action_ask_visit_interpreter,
    "action_book_appointment": action_book_appointment,
    "action_start_move_appointment": action_start_move_appointment,
    "action_move_appointment": action_move_appointment,
    "action_ask_cancel_appointment": action_ask_cancel_appointment,
    "action_cancel_appointment": action_cancel_appointment,
}


# --- the engine -----------------------------------------------------------------------------------

_engines: dict[str, DialogueEngine] = {}
_engines_lock = threading.Lock()


#: How often a process looks whether the dialogues changed on disk (an example saved from the review
#: queue by another worker process, a hand edit): a changed folder is learned again in the background.
WATCH_SECONDS = 30.0
#: Per folder: when it was last looked at, and what it looked like (data.folder_stamp).
_watched: dict[str, tuple[float, tuple[tuple[str, int, int, int], ...]]] = {}


def dialogue_engine(settings: Settings) -> DialogueEngine:
    """Return the engine for the configured dialogues with every action, training or loading the NLU
    model once per process; when the folder changed on disk (looked at every WATCH_SECONDS), it is
    learned again in the background (`relearn`) while this engine answers."""
    folder = str(settings.content_dir / "dialogues")
    engine = _engines.get(folder)
    if engine is None:
        with _engines_lock:
            engine = _engines.get(folder)
            if engine is None:
                _watched[folder] = (time.monotonic(), folder_stamp(Path(folder)))  # before reading it
                data, nlu = runtime.trained(settings)
                engine = _engines[folder] = DialogueEngine(data, nlu, settings, actions=ACTIONS)
        return engine
    looked, stamp = _watched.get(folder, (0.0, ()))
    now = time.monotonic()
    if now - looked >= WATCH_SECONDS:
        fresh = folder_stamp(Path(folder))
        _watched[folder] = (now, fresh)
        if fresh != stamp:
            relearn(settings)
    return engine


_relearning: dict[str, threading.Thread] = {}
#: Folders edited since their relearning thread last read them: it reads them again.
_again: set[str] = set()


def relearn(settings: Settings, *, wait: bool = False) -> threading.Thread:
    """Train the NLU model again from the dialogues as they are now (cached by their hash, like any
    model) on a thread of its own; the engine in use answers until the new one replaces it. An edit
    that makes the dialogues invalid leaves the engine in use (the error is logged). Return the thread
    (wait: return once it is done)."""
    folder = str(settings.content_dir / "dialogues")

    def work() -> None:
        while True:
            with _engines_lock:
                _again.discard(folder)
                _watched[folder] = (time.monotonic(), folder_stamp(Path(folder)))  # what this run reads
            try:
                data, nlu = runtime.trained(settings)
            except Exception:  # noqa: BLE001 - the running engine stays; the cause is in the log
                log.exception("the dialogues could not be learned again; the assistant keeps the previous model")
                data = None
            with _engines_lock:
                if data is not None:
                    _engines[folder] = DialogueEngine(data, nlu, settings, actions=ACTIONS)
                if folder not in _again:  # no edit came while it learned: the next edit starts a thread
                    _relearning.pop(folder, None)
                    return

    with _engines_lock:
        _again.add(folder)
        running = _relearning.get(folder)
        if running is None:
            running = _relearning[folder] = threading.Thread(target=work, name="witaj-relearn", daemon=True)
            running.start()
    if wait:
        running.join()
    return running


# --- one turn -------------------------------------------------------------------------------------


@dataclass
class Understood:
    """A message parsed before its conversation was read: what the NLU made of text, read with
    `language` as the conversation's language. `receive` uses it when the conversation's language
    is indeed that one, and parses again otherwise."""

    text: str
    language: str
    parsed: Parsed


@dataclass
class Turn:
    """What one message from the newcomer did: the bot's answer and every message stored (the
    newcomer's first), flushed, so they have their ids."""

    answer: list[BotMessage] = field(default_factory=list)
    stored: list[ConversationMessage] = field(default_factory=list)
    #: The message was had before (a webhook delivery the provider repeated): nothing was done.
    repeated: bool = False
    #: The conversation's language after the turn.
    language: str | None = None
    #: The newcomer confirmed they want the conversation erased: take_turn deletes it (the answer,
    #: the goodbye, is still given).
    erased: bool = False


def understand(*, settings: Settings, text: str, language: str) -> Understood:
    """Parse a (checked) message as written in a conversation held in `language`; no database."""
    parsed = dialogue_engine(settings).parse(text, Tracker(language=language))
    return Understood(text=text, language=language, parsed=parsed)


def understand_first(*, settings: Settings, text: str, default: str) -> Understood:
    """Parse the first message of a conversation that has no language yet (a messenger, Rasa's REST
    channel): its words choose the language ("merhaba" starts a Turkish conversation); default (the
    channel's hint, else the city's first language) only when they carry none (a reference, "ok")."""
    parsed = dialogue_engine(settings).parse(text, Tracker(language=None))  # type: ignore[arg-type]
    # Its words must be words the examples know (keys struck at random look like some language).
    chosen = parsed.language_confidence >= FIRST_LANGUAGE_CONFIDENCE and parsed.known_share >= FIRST_KNOWN_SHARE
    if chosen and parsed.language in settings.locales:
        return Understood(text=text, language=parsed.language, parsed=parsed)
    # Not sure: read as in a conversation held in default, which still leaves it when the words
    # cannot be in it ("хочу оставить заявку" is no Polish).
    again = understand(settings=settings, text=text, language=default)
    return Understood(text=text, language=again.parsed.language, parsed=again.parsed)


def take_turn(
    *,
    db: Session,
    settings: Settings,
    channel: str,
    sender_id: str,
    language: str,
    text: str,
    understood: Understood | None = None,
    then: Callable[[Conversation, Turn], Any] | None = None,
    external_id: str | None = None,
    first: Callable[[], Understood] | None = None,
    chosen: str | None = None,
) -> tuple[Conversation, Turn, Any]:
    """Run one newcomer's message through their conversation (started if new) and commit.

    The conversation is read outside the write transaction, and the turn's writes (the conversation's
    new state and the messages, a case it opens) come at its end, so a writer holds SQLite's lock only
    while it writes. The conversation row carries a version: if another request changed it in between
    (the same newcomer twice at once, a caseworker joining), the update finds no row, and the turn is
    run again on the fresh state. `then(conversation, turn)` adds the caller's own work to the same
    transaction; what it returns is returned third. Anything raised rolls the whole turn back.

    external_id: the channel's id of the message; a message had before is a repeated delivery (the
    provider did not get the first answer in time): it returns an empty, `repeated` turn and writes
    nothing (two deliveries at once: the unique index refuses the second, which then finds the first).

    first: for a conversation that does not exist yet, the message read as a first one (see
    understand_first): its language is the one the conversation starts in, instead of `language`.

    chosen: a language the newcomer chose outside the words (a poster's deep link): the conversation
    continues in it."""
    for attempt in range(1, TURN_ATTEMPTS + 1):
        conversation = read_conversation(db=db, channel=channel, sender_id=sender_id)
        # A repeated delivery is found by the unique index on (conversation, external_id): its flush
        # fails, and the attempt after it sees the message had. A first attempt reads nothing more.
        if attempt > 1 and conversation is not None and external_id is not None and _read(
            db, lambda: chat_service.has_message(db=db, conversation=conversation, external_id=external_id)
        ):
            return conversation, Turn(repeated=True), None
        try:
            if conversation is None:
                if first is not None:
                    understood, first = first(), None  # read once, not again when the turn is retried
                    language = understood.language
                conversation = chat_service.get_or_start(
                    db=db, channel=channel, sender_id=sender_id, language=language
                )
            turn = receive(
                db=db, settings=settings, conversation=conversation, text=text, understood=understood,
                external_id=external_id, chosen=chosen,
            )
            extra = then(conversation, turn) if then is not None else None
            if turn.erased:
                chat_service.erase(db=db, conversation=conversation)
            db.commit()
            return conversation, turn, extra
        except (StaleDataError, IntegrityError):
            db.rollback()
            if attempt == TURN_ATTEMPTS:
                raise
            log.info("conversation changed during a turn; trying again (attempt %s)", attempt + 1)
        except BaseException:
            db.rollback()
            raise
    raise AssertionError("unreachable")


def _read(db: Session, read: Callable[[], Any]) -> Any:
    """Return what read() finds, read without the write lock; the read ends here, so the turn's
    first write starts the write transaction."""
    if not db.in_transaction():
        db.connection(execution_options=READ_FIRST)
    found = read()
    db.commit()
    return found


def read_conversation(*, db: Session, channel: str, sender_id: str) -> Conversation | None:
    """Return the conversation of (channel, sender_id) as it is now, read without the write lock."""
    return _read(db, lambda: chat_service.find(db=db, channel=channel, sender_id=sender_id))


def receive(
    *,
    db: Session,
    settings: Settings,
    conversation: Conversation,
    text: str,
    now: datetime | None = None,
    understood: Understood | None = None,
    external_id: str | None = None,
    chosen: str | None = None,
) -> Turn:
    """Store the newcomer's message and return the bot's answer (none while a person handles the chat).

    Flushes: the caller (take_turn) adds its own changes and commits once, one write transaction per
    turn. `understood` is the message parsed beforehand (see `understand`), used when it was read in
    the conversation's language."""
    now = now or utcnow()
    text = chat_service.check_message(text)
    tracker = Tracker.from_state(conversation.state, conversation.language)
    if chosen in settings.locales and chosen != tracker.language:
        tracker.language = conversation.language = chosen  # type: ignore[assignment]
    conversation.updated_at = now
    command = review.control(text)
    if command is not None:
        # A rating or a consent answer (a quick reply): recorded and acknowledged; the dialogue stays
        # where it was.
        return _control_turn(
            db=db, settings=settings, conversation=conversation, tracker=tracker, command=command, text=text, now=now,
            external_id=external_id,
        )
    if conversation.mode in (QUEUED, HUMAN):
        # Written in a language the city does not speak, it is marked so: the translation tries it.
        written = foreign_language(text, enabled=list(settings.locales)) or conversation.language
        message = _store_newcomers(db, settings, conversation, text, language=written, now=now, external_id=external_id)
        # Translated before anything is written: the wait for the machine translation (up to
        # WITAJ_TRANSLATION_WAIT_SECONDS) must not hold the database's write lock.
        chat_service.translate_into(settings=settings, message=message, target=settings.default_locale)
        _client_wrote(db=db, settings=settings, conversation=conversation, now=now)
        db.flush()
        return Turn(stored=[message], language=conversation.language)
    engine = dialogue_engine(settings)
    if understood is not None and understood.text == text and understood.language == tracker.language:
        parsed = understood.parsed
    else:
        parsed = engine.parse(text, tracker)
    if tracker.active_loop is not None and tracker.requested_slot is not None and (
        is_value(text) or len(language_words(text).split()) <= ANSWER_WORDS
    ):
        # A value or a short answer typed while a form asks for one (a contact, a reference, a secret,
        # a district, a name) answers the question and chooses no language, even when it looks like
        # words of another; a sentence still does.
        parsed = replace(parsed, language=tracker.language)
    # A secret typed into the status form is never stored in the transcript.
    secret_answer = tracker.active_loop == "case_status_form" and tracker.requested_slot == "case_secret"
    # What a form asks for (a name, a contact, a reference) is an answer, never a question to review.
    in_form = tracker.active_loop is not None
    comment_for, tracker.comment_for = tracker.comment_for, None
    turn = Turn()
    turn.stored.append(
        _store_newcomers(
            db,
            settings,
            conversation,
            "••••••" if secret_answer else text,
            language=parsed.foreign or parsed.language,
            data={"intent": parsed.intent, "confidence": round(parsed.confidence, 3)},
            now=now,
            external_id=external_id,
        )
    )
    if parsed.language != tracker.language and parsed.language in settings.locales:
        tracker.language = parsed.language
        conversation.language = parsed.language
    with use_locale(tracker.language):
        turn.answer = engine.handle(
            tracker=tracker, parsed=parsed, settings=settings, db=db, conversation=conversation, now=now
        )
    conversation.language = tracker.language
    with use_locale(tracker.language):
        rated = _learn_from(
            db=db, settings=settings, conversation=conversation, tracker=tracker, parsed=parsed, turn=turn,
            text=text, skip=in_form or secret_answer, comment_for=comment_for,
        )
    conversation.state = tracker.to_state()
    turn.language = tracker.language
    turn.erased = tracker.erase_requested  # set by action_erase_conversation
    for number, message in enumerate(turn.answer):
        turn.stored.append(
            chat_service.store(
                db,
                conversation,
                "bot",
                message.stored_text if message.private else message.text,
                language=tracker.language,
                buttons=message.buttons,
                private=message.private,
                created_at=now,
                data={"rate": rated} if rated is not None and number == rated["index"] else {},
            )
        )
    db.flush()
    return turn


def _learn_from(
    *, db: Session, settings: Settings, conversation: Conversation, tracker: Tracker, parsed: Parsed, turn: Turn,
    text: str, skip: bool, comment_for: int | None,
) -> dict[str, Any] | None:
    """Feed the review queue from one answered message and say which answer may be rated.

    The newcomer's words after an answer they rated unhelpful are also their comment on it. A message
    read outside a form that the assistant could not answer, or answered unsure, goes to the queue if
    the newcomer agreed; the first time, the answer ends with the question whether they agree. Return
    what the rateable answer carries (its index in turn.answer, the intent, confidence and dialogues'
    version), or None. On a messenger or Rasa's REST channel the rateable answer is followed (the first
    time, then every review.ASK_EVERY answers) by the question whether it helped, with the two answers
    as quick replies (the web chat shows its own control under every answer)."""
    engine = dialogue_engine(settings)
    payload = runtime.is_payload(text)
    question = turn.stored[0]
    if comment_for is not None and not payload and not skip:
        review.add_comment(db=db, settings=settings, tracker=tracker, answer_id=comment_for, text=text, data=engine.data)
    reason = None
    if not (skip or payload or parsed.foreign is not None or tracker.erase_requested):
        reason = review.reason_for(intent=parsed.intent, confidence=parsed.confidence, threshold=settings.review_confidence)
        if reason == review.UNANSWERED and chat_service.mask_contacts(text)[1] and not review.has_words(text):
            reason = None  # a number or an address on its own was kept for a case, not a riddle
    rated = None
    # A topic's button (/work_permit) is a question like a typed one; an answer's (/affirm) is not.
    if tracker.active_loop is None and review.rateable(parsed.intent, turn.answer):
        index = len(turn.answer) - 1
        rated = {
            "index": index, "intent": parsed.intent, "confidence": round(parsed.confidence, 3),
            "version": review.content_version(engine.data),
        }
        if conversation.channel != "web" and review.ask_rating(tracker):
            # A question of its own after the answer: the answer's own quick replies stay as they are.
            turn.answer.append(review.feedback_question())
    if reason is not None:
        db.flush()  # the newcomer's message gets its id
        if review.note(db=db, tracker=tracker, message=question, reason=reason, data=engine.data):
            turn.answer.append(review.consent_question(settings))
    return rated


def _control_turn(
    *, db: Session, settings: Settings, conversation: Conversation, tracker: Tracker, command: review.Control,
    text: str, now: datetime, external_id: str | None,
) -> Turn:
    """Record a rating or a consent answer sent as a quick reply, and acknowledge it. Flushes."""
    engine = dialogue_engine(settings)
    turn = Turn(language=tracker.language)
    turn.stored.append(
        chat_service.store(
            db, conversation, "user", text, language=tracker.language, data={"control": command.kind},
            created_at=now, external_id=external_id,
        )
    )
    db.flush()
    with use_locale(tracker.language):
        if command.kind == "review_consent":
            review.answer_consent(db=db, tracker=tracker, conversation=conversation, agree=bool(command.agree), data=engine.data)
            turn.answer.append(BotMessage(text=review.consent_thanks(bool(command.agree))))
        else:
            answer = review.rateable_answer(db=db, conversation=conversation, message_id=command.message_id)
            if answer is None:
                turn.answer.append(BotMessage(text=_("There is no answer to rate yet. Ask me something first.")))
            else:
                rated = review.rate(
                    db=db, settings=settings, conversation=conversation, tracker=tracker, answer=answer,
                    helpful=bool(command.helpful), comment=command.comment, data=engine.data, now=now,
                )
                turn.answer.append(BotMessage(text=review.rating_thanks(bool(command.helpful), asked_more=not command.comment)))
                if not command.helpful and not command.comment:
                    tracker.comment_for = answer.id
                if rated.ask_consent:
                    turn.answer.append(review.consent_question(settings))
    conversation.state = tracker.to_state()
    for message in turn.answer:
        turn.stored.append(
            chat_service.store(
                db, conversation, "bot", message.text, language=tracker.language, buttons=message.buttons, created_at=now
            )
        )
    db.flush()
    return turn


def decide_review(
    *, db: Session, items: Sequence[ReviewItem], status: str, actor_id: int | None, intent: str | None = None
) -> int:
    """Record a content editor's decision on a group of the review queue and commit; return how many
    items were still open (see review.resolve)."""
    done = review.resolve(db=db, items=items, status=status, actor_id=actor_id, intent=intent)
    db.commit()
    return done


def label_example(
    *, db: Session, settings: Settings, edit: nlu_edit.Edit, items: Sequence[ReviewItem], actor_id: int | None, intent: str
) -> None:
    """Write the labelled example into its NLU file (nlu_edit.apply: Conflict when the file changed
    since it was read), mark the group labelled, commit, and let the assistant learn it (relearn)."""
    nlu_edit.apply(edit)
    review.resolve(db=db, items=items, status=review.LABELLED, actor_id=actor_id, intent=intent)
    db.commit()
    relearn(settings)


def rate_on_web(
    *, db: Session, settings: Settings, conversation: Conversation, message_id: int, helpful: bool,
    comment: str = "", consent: bool | None = None,
) -> review.Rated | None:
    """Store the web chat's rating of one answer (and the newcomer's comment, and their answer to the
    consent question when the form asked it); commit. Return None when message_id is no rateable answer
    of this conversation. A turn that changed the conversation meanwhile (its version) makes it try
    again on the fresh state, as a turn does."""
    engine = dialogue_engine(settings)
    for attempt in range(1, TURN_ATTEMPTS + 1):
        try:
            answer = review.rateable_answer(db=db, conversation=conversation, message_id=message_id)
            if answer is None:
                return None
            tracker = Tracker.from_state(conversation.state, conversation.language)
            rated = review.rate(
                db=db, settings=settings, conversation=conversation, tracker=tracker, answer=answer, helpful=helpful,
                comment=comment or None, data=engine.data,
            )
            if consent is not None and tracker.review_consent is None:
                review.answer_consent(db=db, tracker=tracker, conversation=conversation, agree=consent, data=engine.data)
                rated.ask_consent = False
            conversation.state = tracker.to_state()
            db.commit()
            return rated
        except (StaleDataError, IntegrityError):
            db.rollback()
            if attempt == TURN_ATTEMPTS:
                raise
            db.refresh(conversation)
    raise AssertionError("unreachable")


def _store_newcomers(
    db: Session,
    settings: Settings,
    conversation: Conversation,
    text: str,
    *,
    language: str,
    now: datetime,
    data: dict[str, Any] | None = None,
    external_id: str | None = None,
) -> ConversationMessage:
    """Store a newcomer's message with its e-mail addresses and phone numbers masked; what they were
    is kept encrypted on the message and goes to the case's contact details (read only through the
    audited "show contact" step), now if the chat has a case, else when one is opened for it."""
    masked, found = chat_service.mask_contacts(text)
    fields = dict(data or {})
    if found:
        fields["contact_encrypted"] = encrypt_json(found, settings)
    message = chat_service.store(
        db, conversation, "user", masked, language=language, data=fields, created_at=now, external_id=external_id
    )
    if found and conversation.case_id is not None:
        case = db.get(CaseFile, conversation.case_id)
        if case is not None:
            case_service.add_client_contact(db=db, settings=settings, case=case, found=found)
    return message


def _contacts_to_case(db: Session, settings: Settings, conversation: Conversation, case: CaseFile) -> None:
    """Give the case the contact details the newcomer typed in the chat before it existed."""
    found: dict[str, list[str]] = {}
    for message in chat_service.messages(db=db, conversation=conversation, authors=("user",)):
        token = (message.data or {}).get("contact_encrypted")
        for kind, values in (decrypt_json(token, settings) if token else {}).items():
            found.setdefault(kind, []).extend(values)
    if found:
        case_service.add_client_contact(db=db, settings=settings, case=case, found=found)


def _client_wrote(*, db: Session, settings: Settings, conversation: Conversation, now: datetime) -> None:
    """Fire the case's client-message trigger (e.g. waiting on the client -> in progress)."""
    if conversation.case_id is None:
        return
    case = db.get(CaseFile, conversation.case_id)
    if case is not None:
        case_service.on_client_message(db=db, settings=settings, case=case, now=now)
