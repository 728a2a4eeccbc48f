"""Conversations: receive a message, answer with the engine (or let a person answer), hand over."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.assistant.models import Conversation, ConversationMessage
from app.assistant.runtime import BotMessage, Parsed, Tracker, dialogue_engine
from app.config import Settings
from app.db import READ_FIRST, utcnow
from app.errors import InvalidInput
from app.i18n import _, use_locale

if TYPE_CHECKING:
    from app.assistant.runtime import Context

log = logging.getLogger(__name__)
MAX_MESSAGE = 2000

#: Modes of a conversation: the bot answers; waiting for a person; a person answers; over.
BOT, QUEUED, HUMAN, CLOSED = "bot", "queued", "human", "closed"


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


class _LanguageHints:
    """The language each recent conversation was last seen in, per process, so a message can be
    parsed before the conversation is read, outside the database's write transaction (the
    conversation's own language always decides: a wrong hint costs one more parse)."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self.languages: dict[tuple[str, str], str] = {}
        self.lock = threading.Lock()

    def get(self, channel: str, sender_id: str) -> str | None:
        return self.languages.get((channel, sender_id))

    def put(self, channel: str, sender_id: str, language: str) -> None:
        with self.lock:
            self.languages.pop((channel, sender_id), None)
            self.languages[(channel, sender_id)] = language  # newest last
            if len(self.languages) > self.size:
                del self.languages[next(iter(self.languages))]


language_hints = _LanguageHints()


def check_message(text: str | None) -> str:
    """Return the newcomer's message stripped; InvalidInput (in their language) when empty or too long."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput({"message": _("Write a message first.")})
    if len(text) > MAX_MESSAGE:
        raise InvalidInput({"message": _("Enter at most %(max)s characters.", max=MAX_MESSAGE)})
    return text


def understand(*, settings: Settings, text: str, language: str) -> Understood:
    """Parse a (checked) message as written in a conversation held in `language`; no database."""
    return Understood(text=text, language=language, parsed=dialogue_engine(settings).parse(text, Tracker(language=language)))


#: The conversation of a (channel, sender): built once, it is the hottest query of the chat.
_BY_SENDER = select(Conversation).where(
    Conversation.channel == bindparam("channel"), Conversation.sender_id == bindparam("sender_id")
)


def new_sender_id() -> str:
    """Return a random, unguessable id for a web chat (kept in a cookie)."""
    return secrets.token_urlsafe(24)


def get_or_start(*, db: Session, channel: str, sender_id: str, language: str) -> Conversation:
    """Return the conversation of (channel, sender_id), starting it if new. Flushes."""
    conversation = db.scalar(_BY_SENDER, {"channel": channel, "sender_id": sender_id})
    if conversation is None:
        conversation = Conversation(channel=channel, sender_id=sender_id[:120], language=language, mode=BOT, state={})
        db.add(conversation)
        db.flush()
    return conversation


#: How often a turn is tried when another request changed the same conversation meanwhile.
TURN_ATTEMPTS = 4


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
) -> tuple[Conversation, Turn, Any]:
    """Run one newcomer's message through their conversation (started if new) and commit.

    The conversation is read outside the write transaction, and the turn's writes (the conversation's
    new state and the messages) come at its end, so a writer holds SQLite's lock only while it
    writes. The conversation row carries a version: if another request changed it in between (the
    same newcomer twice at once, a caseworker joining), the update finds no row, and the turn is
    run again on the fresh state. `then(conversation, turn)` adds the caller's own work to the same
    transaction; what it returns is returned third."""
    for attempt in range(1, TURN_ATTEMPTS + 1):
        conversation = _read_conversation(db=db, channel=channel, sender_id=sender_id)
        try:
            if conversation is None:
                conversation = get_or_start(db=db, channel=channel, sender_id=sender_id, language=language)
            turn = receive(db=db, settings=settings, conversation=conversation, text=text, understood=understood, commit=False)
            extra = then(conversation, turn) if then is not None else None
            db.commit()
            return conversation, turn, extra
        except (StaleDataError, IntegrityError):
            db.rollback()
            if attempt == TURN_ATTEMPTS:
                raise
            log.info("conversation changed during a turn; trying again (attempt %s)", attempt + 1)
    raise AssertionError("unreachable")


def _read_conversation(*, db: Session, channel: str, sender_id: str) -> Conversation | None:
    """Return the conversation of (channel, sender_id) as it is now, read without the write lock."""
    if not db.in_transaction():
        db.connection(execution_options=READ_FIRST)
    conversation = db.scalar(_BY_SENDER, {"channel": channel, "sender_id": sender_id})
    db.commit()  # the read ends here: the turn's first write starts the write transaction
    return conversation


def messages(
    *, db: Session, conversation: Conversation, after_id: int = 0, authors: tuple[str, ...] | None = None
) -> list[ConversationMessage]:
    """Return the conversation's messages after after_id (only those of authors, if given), oldest first."""
    query = select(ConversationMessage).where(
        ConversationMessage.conversation_id == conversation.id, ConversationMessage.id > after_id
    )
    if authors is not None:
        query = query.where(ConversationMessage.author.in_(authors))
    return list(db.scalars(query.order_by(ConversationMessage.id)).all())


def last_message_id(*, db: Session, conversation: Conversation) -> int:
    """Return the id of the conversation's newest message (0 when it has none)."""
    found = db.scalar(select(func.max(ConversationMessage.id)).where(ConversationMessage.conversation_id == conversation.id))
    return int(found or 0)


def _store(db: Session, conversation: Conversation, author: str, text: str, **fields: Any) -> ConversationMessage:
    message = ConversationMessage(conversation_id=conversation.id, author=author, text=text, **fields)
    db.add(message)
    return message


def receive(
    *,
    db: Session,
    settings: Settings,
    conversation: Conversation,
    text: str,
    now: datetime | None = None,
    commit: bool = True,
    understood: Understood | None = None,
) -> Turn:
    """Store the newcomer's message and return the bot's answer (none while a person handles the chat).

    Commits, unless commit is False: then the stored messages are flushed and the caller adds its
    own changes and commits once (one write transaction per turn). `understood` is the message
    parsed beforehand (see `understand`), used when it was read in the conversation's language."""
    now = now or utcnow()
    text = check_message(text)
    tracker = Tracker.from_state(conversation.state, conversation.language)
    conversation.updated_at = now
    if conversation.mode in (QUEUED, HUMAN):
        message = _store(db, conversation, "user", text, language=conversation.language, created_at=now)
        # Translated before anything is written: the wait for the machine translation (up to
        # WITAJ_TRANSLATION_WAIT_SECONDS) must not hold the database's write lock.
        translate_into(settings=settings, message=message, target=settings.default_locale)
        _client_wrote(db=db, settings=settings, conversation=conversation, now=now)
        if commit:
            db.commit()
        else:
            db.flush()
        return Turn(stored=[message])
    engine = dialogue_engine(settings)
    if understood is not None and understood.text == text and understood.language == tracker.language:
        parsed = understood.parsed
    else:
        parsed = engine.parse(text, tracker)
    # A secret typed into the status form is never stored in the transcript.
    secret_answer = tracker.active_loop == "case_status_form" and tracker.requested_slot == "case_secret"
    stored = "••••••" if secret_answer else text
    turn = Turn()
    turn.stored.append(
        _store(
            db,
            conversation,
            "user",
            stored,
            language=parsed.language,
            data={"intent": parsed.intent, "confidence": round(parsed.confidence, 3)},
            created_at=now,
        )
    )
    if parsed.language != tracker.language and parsed.language in settings.locales:
        tracker.language = parsed.language
        conversation.language = parsed.language
    with use_locale(tracker.language):
        turn.answer = engine.handle(tracker=tracker, parsed=parsed, settings=settings, db=db, conversation=conversation, now=now)
    conversation.language = tracker.language
    conversation.state = tracker.to_state()
    for message in turn.answer:
        turn.stored.append(
            _store(
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
    if commit:
        db.commit()
    else:
        db.flush()
    return turn


def _client_wrote(*, db: Session, settings: Settings, conversation: Conversation, now: datetime) -> None:
    if conversation.case_id is None:
        return
    from app.cases import service as case_service
    from app.cases.models import CaseFile

    case = db.get(CaseFile, conversation.case_id)
    if case is not None:
        case_service.on_client_message(db=db, settings=settings, case=case, now=now)


def transcript(*, db: Session, conversation: Conversation) -> str:
    """Return the chat so far as plain text (private bot messages already masked)."""
    names = {"user": "Client", "bot": "Witaj", "staff": "Staff", "system": "System"}
    return "\n".join(f"{names.get(m.author, m.author)}: {m.text}" for m in messages(db=db, conversation=conversation))


def hand_over(*, ctx: Context) -> None:
    """Open a case for the chat (or keep its open one) with the transcript, and queue it for caseworkers."""
    from app.cases import service as case_service
    from app.cases.enums import Visibility
    from app.cases.models import CaseFile

    conversation: Conversation = ctx.conversation
    db: Session = ctx.db
    ctx.engine.deactivate(ctx.tracker)
    case = db.get(CaseFile, conversation.case_id) if conversation.case_id else None
    if case is None or case.status in ("resolved", "closed"):
        with use_locale(ctx.settings.default_locale):
            subject = _("Chat: the client asked for a person")
            name = _("Chat visitor")
        topic = ctx.tracker.slots.get("case_topic")
        category = topic if topic in case_service.content(ctx.settings).categories else "other"
        case, _secret = case_service.create(
            db=db,
            settings=ctx.settings,
            client=case_service.ClientIn(display_name=f"{name} {conversation.id}", preferred_language=ctx.tracker.language),
            case=case_service.CaseIn(category=category, subject=subject, source=case_service.Source.chat),
            actor=case_service.CLIENT,
            now=ctx.now,
        )
        conversation.case_id = case.id
    db.flush()
    text = transcript(db=db, conversation=conversation)
    if text:
        case_service.add_note(
            db=db, case=case, body=text, visibility=Visibility.internal, actor=case_service.CLIENT,
            language=ctx.tracker.language, now=ctx.now,
        )
    conversation.mode = QUEUED


def staff_reply(
    *,
    db: Session,
    settings: Settings,
    conversation: Conversation,
    user_id: int,
    text: str,
    language: str,
    now: datetime | None = None,
) -> ConversationMessage:
    """Store a caseworker's message; the first one tells the newcomer a person has joined. Commits."""
    now = now or utcnow()
    text = (text or "").strip()
    if not text:
        raise InvalidInput({"reply": _("Write something first.")})
    if len(text) > MAX_MESSAGE:
        raise InvalidInput({"reply": _("Enter at most %(max)s characters.", max=MAX_MESSAGE)})
    if conversation.mode != HUMAN:
        conversation.mode = HUMAN
        conversation.staff_user_id = user_id
        _store(db, conversation, "system", "joined", language=conversation.language, created_at=now, data={"event": "joined"})
    message = _store(db, conversation, "staff", text, author_user_id=user_id, language=language, created_at=now)
    db.flush()
    translate_into(settings=settings, message=message, target=conversation.language)
    conversation.updated_at = now
    db.commit()
    return message


# --- machine translation of what a person and a newcomer write to each other ---------------------


def translate_into(*, settings: Settings, message: ConversationMessage, target: str) -> None:
    """Attach a machine translation of message into target, if one comes within the wait; never raises."""
    from app.translation.service import as_stored, translate_within

    result = translate_within(settings, message.text, message.language, target)
    if result is not None:
        data = dict(message.data or {})
        data["translations"] = {**(data.get("translations") or {}), target: as_stored(result)}
        message.data = data


def shown(*, settings: Settings, message: ConversationMessage, language: str) -> dict[str, Any]:
    """Return how message reads for someone reading `language`: text, the original, machine-translated or not."""
    plain = {"text": display_text(message), "original": None, "machine": False, "untranslated": False}
    if message.author in ("bot", "system") or not message.language or message.language == language:
        return plain
    stored = (message.data or {}).get("translations", {}).get(language)
    if stored is None:
        try:
            from app.translation.service import get_service

            cached = get_service(settings).lookup(message.text, message.language, language)
        except Exception:  # noqa: BLE001 - shown untranslated
            cached = None
        if cached is not None and cached.machine:
            stored = {"text": cached.text}
    if stored is None:
        return {**plain, "untranslated": True}
    return {"text": stored["text"], "original": message.text, "machine": True, "untranslated": False}


def for_case(*, db: Session, case_id: int) -> Conversation | None:
    """Return the newest conversation linked to a case."""
    return db.scalars(select(Conversation).where(Conversation.case_id == case_id).order_by(Conversation.id.desc())).first()


def display_text(message: ConversationMessage) -> str:
    """Return what the newcomer sees for a message (system notices in the conversation's language)."""
    if message.author == "system" and message.data.get("event") == "joined":
        if message.language:
            with use_locale(message.language):
                return _("A person from our team has joined the chat.")
        return _("A person from our team has joined the chat.")
    return message.text
