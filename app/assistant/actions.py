"""Custom actions of the assistant (names as in dialogues/domain.yml `actions`) that stay within
the assistant: form validation, language, library branches, events, city-form links, case status.
Those that open or change a case are in app/assistant/flows.py.

Each action gets the turn's Context and may utter responses, set slots, or return more actions
to run. The contracts (which slots each reads and sets) are in dialogues/README.md.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta

from app.assistant.knowledge import load_knowledge
from app.assistant.runtime import Action, BotMessage, Context
from app.cases.access import audit_client_view, find_by_secret
from app.cases.content import case_content
from app.cases.exceptions import TooManyAttempts
from app.i18n import _, format_date, format_datetime, format_time, translations, use_locale

CASE_FORM_SLOTS = ("case_topic", "case_description", "contact_preference", "contact", "district", "consent")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,19}$")
_FIND_EMAIL = re.compile(r"[^@\s<>(),;:]{1,64}@[^@\s<>(),;:]+\.[^@\s<>(),;:.]{2,}")
_FIND_PHONE = re.compile(r"\+?\d[\d ()-]{5,19}\d")
_REFERENCE = re.compile(r"\b([A-Z]{2,5})[-\s]?(\d{4})[-\s]?(\d{6,})\b")
MAX_STATUS_ATTEMPTS = 5
STATUS_WINDOW = timedelta(minutes=15)


def _fold(text: str) -> str:
    """Return text lower-cased without diacritics, for forgiving comparisons."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("ł", "l"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def canonical_district(ctx: Context, value: str | None) -> str | None:
    """Return the official district name for value, or None when it names none."""
    if not value:
        return None
    folded = _fold(value)
    for name in case_content(ctx.settings).districts:
        if _fold(name) == folded:
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
        choice = _fold(str(value or ""))
        if choice not in ("chat", "email", "phone"):
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
        if value == "not_given" or _fold(str(value or "")) in ("nie", "no", "ні", "нет", "не", "-"):
            tracker.slots["district"] = "not_given"
        else:
            tracker.slots["district"] = canonical_district(ctx, str(value)) or "other"
    elif requested == "consent" and value not in (True, False):
        tracker.slots["consent"] = None


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


# --- library and events --------------------------------------------------------------------------


def _hours_today(schedule: dict[int, list[tuple[object, object]]], today: date) -> str:
    spans = schedule.get(today.weekday(), [])
    if not spans:
        return _("closed today")
    return ", ".join(f"{format_time(a)}–{format_time(b)}" for a, b in spans)  # type: ignore[arg-type]


def action_find_library_branch(ctx: Context) -> None:
    """List the library branches of the `district` slot with today's hours, or ask for the district."""
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
    with use_locale(ctx.tracker.language):
        today_label = _("today")  # outside the f-string, where Babel's extractor finds it
        lines = [f"• {b.name}, {b.address} — {today_label}: {_hours_today(b.schedule, today)}" for b in branches]
    ctx.utter("utter_library_branches_found", branches="\n".join(lines))


_WEEKEND_WORDS = ("weekend", "weekendzie", "weekend", "выходн", "выхадн", "вихідн", "vyhodn")


def _date_range(ctx: Context) -> tuple[date, date]:
    """Return the days the `date` slot asks about (default: the next 7 days)."""
    today = ctx.now.astimezone(ctx.settings.zone).date()
    raw = str(ctx.slot("date") or "").strip()
    folded = _fold(raw)
    iso = re.search(r"(\d{4})-(\d{2})-(\d{2})", raw)
    dotted = re.search(r"(\d{1,2})\.(\d{1,2})(?:\.(\d{4}))?", raw)
    try:
        if iso:
            day = date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
            return day, day
        if dotted:
            day = date(int(dotted.group(3) or today.year), int(dotted.group(2)), int(dotted.group(1)))
            return day, day
    except ValueError:
        pass
    if any(word in folded for word in _WEEKEND_WORDS):
        saturday = today + timedelta(days=(5 - today.weekday()) % 7)
        return saturday, saturday + timedelta(days=1)
    return today, today + timedelta(days=6)


def action_find_events(ctx: Context) -> None:
    """List events in the asked days (and district, if given); clears `date` afterwards."""
    first, last = _date_range(ctx)
    district = canonical_district(ctx, ctx.slot("district"))
    found = []
    for event in load_knowledge(ctx.settings).events:
        if district and event.district != district:
            continue
        for start in event.occurrences(first, last, ctx.settings.zone):
            found.append((start, event))
    found.sort(key=lambda pair: pair[0])
    ctx.set_slot("date", None)
    if not found:
        ctx.utter("utter_events_none")
        return
    catalog = translations(ctx.tracker.language)
    with use_locale(ctx.tracker.language):
        free = catalog.ugettext("free")
        lines = [
            f"• {format_datetime(start, 'short')} — {catalog.ugettext(event.title)}, {event.place}" + (f" ({free})" if event.free else "")
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
    "action_find_library_branch": action_find_library_branch,
    "action_find_events": action_find_events,
    "action_offer_city_form": action_offer_city_form,
    "action_case_status": action_case_status,
}
