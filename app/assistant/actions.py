"""Custom actions of the assistant (names as in dialogues/domain.yml `actions`) that stay within
the assistant: form validation, language, library branches, events, city-form links, case status.
Those that open or change a case are in app/assistant/flows.py.

Each action gets the turn's Context and may utter responses, set slots, or return more actions
to run. The contracts (which slots each reads and sets) are in dialogues/README.md.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from app.assistant import service as chat_service
from app.assistant.content.lexicon import Lexicon
from app.assistant.knowledge import load_knowledge
from app.assistant.runtime import Action, BotMessage, Context
from app.assistant.when import AUDIENCE_SUITS, find_when
from app.cases.access import audit_client_view, find_by_secret
from app.cases.content import case_content
from app.cases.exceptions import TooManyAttempts
from app.i18n import (
    _,
    format_date,
    format_datetime,
    format_day_groups,
    format_spans,
    format_time,
    pgettext,
    translations,
    use_locale,
)

#: The `contact` of a case form whose newcomer typed an address or number earlier in the chat: the
#: case gets it, encrypted, from the chat's messages (flows._contacts_to_case), not from the slots.
GIVEN_EARLIER = "given earlier in the chat"
CASE_FORM_SLOTS = ("case_topic", "case_description", "contact_preference", "contact", "district", "consent")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,19}$")
_FIND_EMAIL = re.compile(r"[^@\s<>(),;:]{1,64}@[^@\s<>(),;:]+\.[^@\s<>(),;:.]{2,}")
_FIND_PHONE = re.compile(r"\+?\d[\d ()-]{5,19}\d")
_REFERENCE = re.compile(r"\b([A-Z]{2,5})[-\s]?(\d{4})[-\s]?(\d{6,})\b")
MAX_STATUS_ATTEMPTS = 5
STATUS_WINDOW = timedelta(minutes=15)
#: When the evening starts, for events ("this evening").
EVENING = time(17, 0)
#: A place that closes at or after this is open in the evening (for people who work in the day).
LATE_CLOSING = time(18, 0)


def fold(text: str) -> str:
    """Return text lower-cased without diacritics, for forgiving comparisons."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("ł", "l"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


@lru_cache(maxsize=8)
def _no_answers(lexicon: Lexicon) -> frozenset[str]:
    """Return the answers that mean "no" in every language (dialogues/lexicon/), folded."""
    return frozenset(fold(answer) for answer in lexicon.no_answers) | {"-"}


def canonical_district(ctx: Context, value: str | None) -> str | None:
    """Return the official district name for value, or None when it names none."""
    if not value:
        return None
    folded = fold(value)
    for name in case_content(ctx.settings).districts:
        if fold(name) == folded:
            return name
    return None


# --- forms -------------------------------------------------------------------------------------


def validate_case_form(ctx: Context) -> None:
    """Clear old answers when the form starts; check each answer as it comes."""
    tracker = ctx.tracker
    requested = tracker.requested_slot
    if requested is None:  # activation
        keep_topic = ctx.parsed is not None and any(e.get("entity") == "case_topic" for e in ctx.parsed.entities)
        for name in CASE_FORM_SLOTS:
            if name == "case_topic" and keep_topic:
                continue
            if name == "district" and tracker.slots.get("district"):
                continue  # given earlier in the chat: not asked again
            tracker.slots[name] = None
        if not keep_topic:
            # The topic that led here ("help with housing" -> "yes, open a case") is not asked again.
            tracker.slots["case_topic"] = ctx.engine.recent_value(tracker, "case_topic")
        given = _contacts_given(ctx)
        if given:
            # An e-mail address or a phone number typed earlier in the chat is not asked for again.
            tracker.slots["contact_preference"] = "email" if "email" in given else "phone"
            tracker.slots["contact"] = GIVEN_EARLIER
        return
    value = tracker.slots.get(requested)
    if requested == "case_topic":
        if value not in case_content(ctx.settings).categories:
            tracker.slots["case_topic"] = None
    elif requested == "case_description":
        if value is None or len(str(value).strip()) < 10:
            tracker.slots["case_description"] = None
            ctx.utter("utter_invalid_case_description")
    elif requested == "contact_preference":
        choice = fold(str(value or ""))
        typed = ctx.parsed.text if ctx.parsed is not None else ""
        email, phone = _FIND_EMAIL.search(typed), _FIND_PHONE.search(typed)
        if choice not in ("chat", "email", "phone") and (email or phone):
            # An address or a number typed instead of a choice answers both questions.
            choice = "email" if email else "phone"
            tracker.slots["contact_preference"] = choice
            tracker.slots["contact"] = (email or phone).group(0).strip(" .,;")  # type: ignore[union-attr]
        elif choice not in ("chat", "email", "phone"):
            tracker.slots["contact_preference"] = None
        elif choice == "chat":
            tracker.slots["contact"] = "chat"  # nothing to ask: we answer in this chat
    elif requested == "contact":
        # People write "my email is ...": take the address or number out of the sentence.
        raw = str(value or "").strip()
        email, phone = _FIND_EMAIL.search(raw), _FIND_PHONE.search(raw)
        preference = tracker.slots.get("contact_preference")
        text = (email.group(0) if email and preference != "phone" else phone.group(0) if phone else raw).strip(" .,;")
        tracker.slots["contact"] = text
        is_email, is_phone = bool(_EMAIL.match(text)), bool(_PHONE.match(text))
        if preference == "email" and not is_email:
            tracker.slots["contact"] = None
            ctx.utter("utter_invalid_email")
        elif preference == "phone" and not is_phone:
            tracker.slots["contact"] = None
            ctx.utter("utter_invalid_phone")
        elif preference not in ("email", "phone") and not (is_email or is_phone):
            tracker.slots["contact"] = None
            ctx.utter("utter_invalid_email")
    elif requested == "district":
        if value == "not_given" or fold(str(value or "")) in _no_answers(ctx.engine.data.lexicon):
            tracker.slots["district"] = "not_given"
        else:
            tracker.slots["district"] = canonical_district(ctx, str(value)) or "other"
    elif requested == "consent" and value not in (True, False):
        tracker.slots["consent"] = None


def _contacts_given(ctx: Context) -> set[str]:
    """Return the kinds of contact (email, phone) the newcomer typed in this chat so far: their
    messages are stored with the details masked (and kept encrypted beside them)."""
    if ctx.db is None or getattr(ctx.conversation, "id", None) is None:
        return set()
    kinds = set()
    for message in chat_service.messages(db=ctx.db, conversation=ctx.conversation, authors=("user",)):
        if chat_service.MASKED_EMAIL in message.text:
            kinds.add("email")
        if chat_service.MASKED_PHONE in message.text:
            kinds.add("phone")
    return kinds


def validate_case_status_form(ctx: Context) -> None:
    """Check the case reference's shape; the secret is checked by action_case_status."""
    tracker = ctx.tracker
    requested = tracker.requested_slot
    if requested is None:
        tracker.slots["case_secret"] = None
        if not tracker.slots.get("case_reference"):
            tracker.slots["case_reference"] = None
        return
    if requested == "case_reference":
        match = _REFERENCE.search(str(tracker.slots.get("case_reference") or "").upper())
        if match is None:
            tracker.slots["case_reference"] = None
            ctx.utter("utter_invalid_case_reference")
        else:
            tracker.slots["case_reference"] = f"{match.group(1)}-{match.group(2)}-{match.group(3)}"
    elif requested == "case_secret" and not str(tracker.slots.get("case_secret") or "").strip():
        tracker.slots["case_secret"] = None


# --- language ----------------------------------------------------------------------------------


def action_set_language(ctx: Context) -> None:
    """Switch the conversation's language to the `language` slot, or ask which one."""
    code = ctx.slot("language")
    if code in ctx.settings.locales:
        ctx.tracker.language = code
        if ctx.conversation is not None:
            ctx.conversation.language = code
        ctx.utter("utter_language_changed")
    else:
        ctx.utter("utter_ask_language")
        ctx.messages[-1].buttons = ctx.engine.language_buttons()


def action_erase_conversation(ctx: Context) -> None:
    """Say the conversation is deleted, and ask the turn to delete it (flows.take_turn erases the
    conversation, its messages and what waits to be sent to the person after this turn; a case
    opened from it stays with the office)."""
    ctx.utter("utter_conversation_erased")
    ctx.tracker.erase_requested = True


# --- library and events --------------------------------------------------------------------------


def _day_hours(schedule: dict[int, list[tuple[object, object]]], day: date, *, evening: bool = False) -> str:
    """Return the hours of day ("10:00–19:00", "closed"); with evening, whether it is open then."""
    spans = schedule.get(day.weekday(), [])
    if not spans:
        return pgettext("opening hours", "closed")
    if evening:
        late = [(a, b) for a, b in spans if b >= LATE_CLOSING]  # type: ignore[operator]
        return _("open until {time}").format(time=format_time(late[-1][1])) if late else _("closed in the evening")  # type: ignore[arg-type]
    return format_spans(spans)


def _week(schedule: dict[int, list[tuple[object, object]]]) -> str:
    """Return the week's hours in one line ("Mon–Fri 10:00–19:00 · Sat 9:00–14:00 · Sun closed")."""
    return " · ".join(format_day_groups({d: format_spans(schedule[d]) if schedule.get(d) else pgettext("opening hours", "closed") for d in range(7)}))


def _highlights(schedule: dict[int, list[tuple[object, object]]]) -> str:
    """Return what people who work in the day look for: the evenings and the weekend it is open."""
    late = {d: _("until {time}").format(time=format_time(spans[-1][1])) for d, spans in schedule.items() if spans and spans[-1][1] >= LATE_CLOSING}  # type: ignore[arg-type,operator]
    weekend = {d: format_spans(schedule[d]) for d in (5, 6) if schedule.get(d)}
    parts = [_("Evenings: {days}").format(days=", ".join(format_day_groups(late)))] if late else []
    parts.append(_("Weekend: {days}").format(days=", ".join(format_day_groups(weekend))) if weekend else _("Closed at the weekend"))
    return ". ".join(parts) + "."


def action_find_library_branch(ctx: Context) -> None:
    """List the library branches of the `district` slot with the hours of the day asked about (the
    `date` slot, else today), the week's hours and its evenings and weekend; or ask for the district."""
    district = canonical_district(ctx, ctx.slot("district"))
    if district is None:
        if ctx.slot("district"):
            ctx.utter("utter_library_branches_not_found")
            ctx.set_slot("district", None)
        else:
            ctx.utter("utter_library_branches_ask_district")
        return
    ctx.set_slot("district", district)
    branches = [b for b in load_knowledge(ctx.settings).branches if b.district == district]
    if not branches:
        ctx.utter("utter_library_branches_not_found")
        return
    today = ctx.now.astimezone(ctx.settings.zone).date()
    asked = find_when(str(ctx.slot("date") or ""), today, ctx.engine.data.lexicon)
    days = [today] if asked is None else [asked.first + timedelta(days=n) for n in range(min((asked.last - asked.first).days + 1, 7))]
    lines = []
    with use_locale(ctx.tracker.language):
        for branch in branches:
            lines.append(f"• {branch.name}, {branch.address}")
            for day in days:
                label = _("today") if day == today else format_date(day, "EEEE d MMMM")
                hours = _day_hours(branch.schedule, day, evening=asked is not None and asked.evening)
                lines.append(f"{label}: {hours}")
            lines.append(_week(branch.schedule))
            lines.append(_highlights(branch.schedule))
    ctx.utter("utter_library_branches_found", branches="\n".join(lines))


def _date_range(ctx: Context) -> tuple[date, date, bool]:
    """Return the days the `date` slot asks about (default: the next 7 days) and whether it asks
    about the evening."""
    today = ctx.now.astimezone(ctx.settings.zone).date()
    asked = find_when(str(ctx.slot("date") or ""), today, ctx.engine.data.lexicon)
    if asked is None:
        return today, today + timedelta(days=6), False
    return asked.first, asked.last, asked.evening


def _event_language(ctx: Context) -> str | None:
    """Return the language of the events asked about ("in Ukrainian"), named in this message."""
    if ctx.parsed is None or ctx.parsed.intent == "change_language":
        return None
    return next((str(e["value"]) for e in ctx.parsed.entities if e.get("entity") == "language"), None)


def action_find_events(ctx: Context) -> None:
    """List events in the asked days (the `date` slot), for whom (`audience`), in which language and
    district, if given. The slots stay for follow-ups ("and for adults?") until the topic changes."""
    first, last, evening = _date_range(ctx)
    district = canonical_district(ctx, ctx.slot("district"))
    suits = AUDIENCE_SUITS.get(str(ctx.slot("audience") or ""))
    language = _event_language(ctx)
    found = []
    for event in load_knowledge(ctx.settings).events:
        if district and event.district != district:
            continue
        if suits and event.audience not in suits:
            continue
        if language and event.languages and language not in event.languages:
            continue
        for start in event.occurrences(first, last, ctx.settings.zone):
            if evening and start.hour < EVENING.hour:
                continue
            found.append((start, event))
    found.sort(key=lambda pair: pair[0])
    if not found:
        ctx.utter("utter_events_none")
        return
    catalog = translations(ctx.tracker.language)
    with use_locale(ctx.tracker.language):
        free = catalog.ugettext("free")
        lines = [
            f"• {format_datetime(start, 'EEEE d MMMM, HH:mm')} — {catalog.ugettext(event.title)}, {event.place}" + (f" ({free})" if event.free else "")
            for start, event in found[:8]
        ]
    ctx.utter("utter_events_found", events="\n".join(lines))
    offer_city_form(ctx, "cultural_events")


# --- city forms --------------------------------------------------------------------------------


def action_offer_city_form(ctx: Context) -> None:
    """Put a link to the city form for the topic just asked about (dialogues/knowledge/city_forms.yml)
    under the answer; the form opens in the conversation's language beside the Polish wording."""
    offer_city_form(ctx, ctx.parsed.intent if ctx.parsed is not None else "")


def offer_city_form(ctx: Context, intent: str) -> None:
    """Add the link to the city form of intent (if any) to the turn's last message."""
    form_id = load_knowledge(ctx.settings).city_forms.get(intent)
    if form_id is None:
        return
    with use_locale(ctx.tracker.language):
        button = {"title": _("Fill in the form online"), "form": form_id}
        if ctx.messages:  # one bubble: the answer, its quick replies and the form link
            ctx.messages[-1].buttons.append(button)
        else:
            text = _("You can fill in the city's form online, in your language.")
            ctx.messages.append(BotMessage(text=text, buttons=[button]))


# --- cases -----------------------------------------------------------------------------------


def clear_case_form(ctx: Context) -> None:
    """Forget the case form's answers (after the case was opened or refused)."""
    for name in CASE_FORM_SLOTS:
        ctx.tracker.slots[name] = None


def action_case_status(ctx: Context) -> None:
    """Tell the status of the case whose reference and secret were given; rate-limited; clears the secret."""
    tracker = ctx.tracker
    reference, secret = tracker.slots.get("case_reference"), tracker.slots.get("case_secret")
    tracker.slots["case_secret"] = None
    recent = [t for t in tracker.status_attempts if datetime.fromisoformat(t) > ctx.now - STATUS_WINDOW]
    if len(recent) >= MAX_STATUS_ATTEMPTS:
        tracker.status_attempts = recent
        ctx.utter("utter_case_status_locked")
        return
    try:
        case = find_by_secret(db=ctx.db, reference=str(reference or ""), secret=str(secret or ""), now=ctx.now)
    except TooManyAttempts:  # this case's secret was guessed at too often, from whichever chat
        tracker.slots["case_reference"] = None
        ctx.utter("utter_case_status_locked")
        return
    if case is None:
        tracker.status_attempts = [*recent, ctx.now.isoformat()]
        tracker.slots["case_reference"] = None
        ctx.utter("utter_case_not_found")
        return
    tracker.status_attempts = []
    audit_client_view(db=ctx.db, case=case, now=ctx.now)  # the client read their case
    cc = case_content(ctx.settings)
    catalog = translations(tracker.language)
    with use_locale(tracker.language):
        updated = format_date(case.updated_at, "long")
    ctx.utter(
        "utter_case_status",
        case_reference=case.reference,
        case_status=catalog.ugettext(cc.workflow.statuses[case.status].label),
        case_updated_at=updated,
    )
    if ctx.conversation is not None and ctx.conversation.case_id is None:
        ctx.conversation.case_id = case.id


#: The assistant's own actions by name (app/assistant/flows.py adds those that reach into cases).
REGISTRY: dict[str, Action] = {
    "validate_case_form": validate_case_form,
    "validate_case_status_form": validate_case_status_form,
    "action_set_language": action_set_language,
    "action_erase_conversation": action_erase_conversation,
    "action_find_library_branch": action_find_library_branch,
    "action_find_events": action_find_events,
    "action_offer_city_form": action_offer_city_form,
    "action_case_status": action_case_status,
}
