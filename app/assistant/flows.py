"""A chat turn, and what it does in other domains: one newcomer's message runs through the dialogue
engine in one write transaction, which also opens a case from the case form, hands the chat over to
a caseworker (a case with the transcript), or tells the case's workflow that the client wrote.

The turn commits once at its end; a failure anywhere in it leaves nothing half-written: neither the
messages nor a case opened on the way.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.assistant import actions, runtime
from app.assistant import service as chat_service
from app.assistant.models import Conversation, ConversationMessage
from app.assistant.runtime import BotMessage, Context, DialogueEngine, Parsed, Tracker
from app.assistant.service import HUMAN, QUEUED
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
from app.i18n import _, gettext, use_locale
from app.languages import foreign_language, is_value, language_words

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


#: Every action the dialogues may name: the assistant's own, and those that reach into cases.
ACTIONS: dict[str, runtime.Action] = {
    **actions.REGISTRY,
    "action_create_case": action_create_case,
    "action_handoff": action_handoff,
}


# --- the engine -----------------------------------------------------------------------------------

_engines: dict[str, DialogueEngine] = {}
_engines_lock = threading.Lock()


def dialogue_engine(settings: Settings) -> DialogueEngine:
    """Return the engine for the configured dialogues with every action, training or loading the NLU
    model once per process."""
    folder = str(settings.content_dir / "dialogues")
    engine = _engines.get(folder)
    if engine is None:
        with _engines_lock:
            engine = _engines.get(folder)
            if engine is None:
                data, nlu = runtime.trained(settings)
                engine = _engines[folder] = DialogueEngine(data, nlu, settings, actions=ACTIONS)
    return engine


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
    conversation.state = tracker.to_state()
    turn.language = tracker.language
    turn.erased = tracker.erase_requested  # set by action_erase_conversation
    for message in turn.answer:
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
            )
        )
    db.flush()
    return turn


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
