"""The channel layer's work: one newcomer's message through the turn (`converse`), a messenger's
answers through the outbox (`deliver`), and a caseworker's reply to a chat (`reply_as_staff`),
which reaches a messenger's user through the outbox too.

`converse` runs the turn (app/assistant/flows.py). For the web and REST channels it returns what to
answer; for a messenger it also queues it in the turn's transaction (nothing is lost if the process
stops before sending) and returns the deliveries to send once the turn is committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import urllib3
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.assistant import flows
from app.assistant import service as chat_service
from app.assistant.channels import adapters, outbox
from app.assistant.channels.shapes import Inbound, Outbound, from_bot, from_person
from app.assistant.models import Conversation, ConversationMessage
from app.assistant.runtime import Tracker
from app.config import Settings
from app.db import committed, utcnow
from app.errors import InvalidInput
from app.i18n import _, use_locale

#: WhatsApp's customer service window: a business may write freely this long after the user's
#: last message; after it, only an approved template.
WHATSAPP_WINDOW = timedelta(hours=24)


@dataclass
class Conversed:
    """What one newcomer's message gave: the conversation (None if none was started), the answers,
    and (a messenger) the outbox rows that carry them, to send now."""

    conversation: Conversation | None
    out: list[Outbound] = field(default_factory=list)
    #: The outbox rows of the answers (a messenger), claimed for this process to send: see send_now.
    sendings: list[outbox.Sending] = field(default_factory=list)
    #: What the caller's view gave (see converse), read in the turn's transaction.
    items: Any = None
    #: The newcomer had the conversation erased: it is gone (out holds the goodbye).
    erased: bool = False

    @property
    def deliveries(self) -> list[int]:
        """Return the ids of the answers' outbox rows."""
        return [item.delivery_id for item in self.sendings]


def _attachments_notice(language: str) -> Outbound:
    with use_locale(language):
        return Outbound(
            text=_(
                "I can read only written messages for now: photos, voice messages and files do "
                "not reach me. Please write your question in words."
            ),
            author="system",
        )


def converse(
    *,
    db: Session,
    settings: Settings,
    inbound: Inbound,
    link: Callable[[str, str], str] | None = None,
    address: str | None = None,
    view: Callable[[Conversation, flows.Turn], Any] | None = None,
) -> Conversed:
    """Run one newcomer's message and return what it gave: the team's messages not yet delivered on
    this channel (web and REST: a messenger gets them when they are written), then the bot's answer
    (none while a person answers; nothing for a message the channel delivered before).

    link(language, form_id) gives a city form's address in a language (None: no link buttons).
    address: where a messenger delivers (its chat id): given, the sender is known by a keyed hash
    (service.pseudonym), the address is kept encrypted, and the answers are queued in the turn's
    transaction. A message of attachments only gets the notice that only words are read, and no turn.
    view(conversation, turn): what a page shows after the turn (the web chat's new messages), read
    in the turn's transaction and returned as `items`; the team's messages are the page's to show.
    """
    # A messenger's turn running here: a delivery sent meanwhile waits to be marked with its write.
    with _recorder.running() if address is not None else nullcontext():
        return _converse(db=db, settings=settings, inbound=inbound, link=link, address=address, view=view)


def _converse(
    *,
    db: Session,
    settings: Settings,
    inbound: Inbound,
    link: Callable[[str, str], str] | None = None,
    address: str | None = None,
    view: Callable[[Conversation, flows.Turn], Any] | None = None,
) -> Conversed:
    messenger = address is not None
    sender = chat_service.pseudonym(settings, inbound.channel, inbound.sender) if messenger else inbound.sender
    default = inbound.page_language or inbound.language_hint or settings.default_locale
    hint = chat_service.language_hints.get(inbound.channel, sender) or inbound.page_language
    notice = [_attachments_notice(hint or default)] if inbound.attachments else []
    if notice and not inbound.text.strip():
        # Nothing of the attachment is kept; a messenger's notice waits in the outbox like an answer.
        return _notices_only(db, settings, inbound, sender, address, notice, hint or default)
    try:
        with use_locale(hint or default):
            text = chat_service.check_message(inbound.text)
    except InvalidInput as exc:
        if not messenger:
            raise
        # A messenger takes longer messages than a turn does: say why in the newcomer's language.
        notice.append(Outbound(text=exc.field_errors["message"], author="system"))
        return _notices_only(db, settings, inbound, sender, address, notice, hint or default)
    # Understood before the conversation is read: the parse stays out of the write transaction. A
    # sender this process has not seen is most likely new: read as a first message, whose words choose
    # the language to start in (the turn parses again in the conversation's language if it has one).
    # The turn decides: a conversation that does not exist starts in the language of its first words.
    if inbound.language is not None:
        understood = flows.understand(settings=settings, text=text, language=inbound.language)
    elif hint is None:
        understood = flows.understand_first(settings=settings, text=text, default=default)
    else:
        understood = flows.understand(settings=settings, text=text, language=hint)

    def first() -> flows.Understood:
        if hint is None or inbound.language is not None:
            return understood
        return flows.understand_first(settings=settings, text=text, default=default)

    delivered_key = f"{inbound.channel}_delivered"

    def then(conversation: Conversation, turn: flows.Turn) -> tuple[list[ConversationMessage], list[outbox.Sending], Any]:
        if view is not None:
            return [], [], None if turn.erased else view(conversation, turn)
        if messenger:
            # What this process sent since the last turn is marked delivered with this turn's write.
            recorded[:] = _recorder.pending()
            if recorded:
                outbox.record(db=db, results=recorded, now=utcnow())
            # Written in the turn's transaction: the answer is sent after the commit, or by the jobs
            # runner if this process stops first. An erased conversation's goodbye still goes out.
            if conversation.address_encrypted is None:
                # Each messenger's address is the sender's own id, which found the conversation.
                conversation.address_encrypted = outbox.encrypt_address(settings, address)  # type: ignore[arg-type]
            language = conversation.language
            answers = notice + [from_bot(m, _form_link(link, language)) for m in turn.answer]
            row = outbox.enqueue(
                db=db, conversation=None if turn.erased else conversation, channel=inbound.channel,
                address_encrypted=conversation.address_encrypted, messages=answers, language=language,
                now=utcnow(), claim_for=address,
            )
            return [], outbox.claimed(row, address), None  # type: ignore[arg-type]
        # Only a chat handed over to a case has messages from a person (and the "joined" notice).
        if conversation.case_id is None or turn.erased:
            return [], [], None
        delivered = int((conversation.state or {}).get(delivered_key, 0))
        found = chat_service.messages(db=db, conversation=conversation, after_id=delivered, authors=("staff", "system"))
        if found:
            conversation.state = {**(conversation.state or {}), delivered_key: found[-1].id}
        return found, [], None

    recorded: list[outbox.Result] = []
    conversation, turn, extra = flows.take_turn(
        db=db, settings=settings, channel=inbound.channel, sender_id=sender, language=default, text=text,
        understood=understood, then=then, external_id=inbound.message_id, first=first, chosen=inbound.language,
    )
    if recorded:
        _recorder.written(recorded)
    if turn.repeated:
        return Conversed(conversation, [])
    waiting, sendings, items = extra
    language = turn.language or default
    if turn.erased:
        chat_service.language_hints.forget(inbound.channel, sender)
    else:
        chat_service.language_hints.put(inbound.channel, sender, language)
    out = list(notice)
    out += [
        from_person(chat_service.shown(settings=settings, message=m, language=language), author=m.author, language=language)
        for m in waiting
    ]
    out += [from_bot(m, _form_link(link, language)) for m in turn.answer]
    return Conversed(None if turn.erased else conversation, out, sendings, items, turn.erased)


def _notices_only(
    db: Session, settings: Settings, inbound: Inbound, sender: str, address: str | None, notice: list[Outbound], language: str
) -> Conversed:
    """Return the notices of a message that runs no turn; a messenger's wait in the outbox."""
    conversation = flows.read_conversation(db=db, channel=inbound.channel, sender_id=sender)
    if address is None:
        return Conversed(conversation, notice)
    # A provider repeating the webhook delivery gets no second notice: the message's id, hashed, is
    # the queued notice's unique key (nothing of the message itself is kept).
    key = chat_service.pseudonym(settings, inbound.channel, f"{inbound.sender}\x00{inbound.message_id}") if inbound.message_id else None
    if key is not None and outbox.queued(db=db, source_key=key):
        return Conversed(conversation, [])
    try:
        with committed(db):
            row = outbox.enqueue(
                db=db, conversation=conversation, channel=inbound.channel, address_encrypted=outbox.encrypt_address(settings, address),
                messages=notice, language=language, now=utcnow(), claim_for=address, source_key=key,
            )
    except IntegrityError:
        return Conversed(conversation, [])  # the same delivery, at the same moment, queued it
    return Conversed(conversation, notice, outbox.claimed(row, address))


def welcome(*, settings: Settings, language: str, link: Callable[[str, str], str] | None = None) -> list[Outbound]:
    """Return the greeting and the menu in language, for a messenger that shows them when a chat is
    opened, before its first message (Viber): no conversation, nothing stored."""
    engine = flows.dialogue_engine(settings)
    tracker = Tracker(language=language)
    with use_locale(language):
        return [from_bot(engine.render(name, tracker), _form_link(link, language)) for name in ("utter_greet", "utter_menu")]


def _form_link(link: Callable[[str, str], str] | None, language: str) -> Callable[[str], str] | None:
    return (lambda form_id: link(language, form_id)) if link is not None else None


class _Recorder:
    """What the providers said of the deliveries this process sends right after their turns.

    A refusal is written at once (its back-off starts). A delivery the provider took waits to be
    marked delivered by the next messenger turn of this process, in that turn's own transaction
    (see converse), or, when no turn comes within WAIT, by the sending thread in one transaction
    for all that wait. A second write a turn halved SQLite's turns per second (one writer at a time;
    bench/chat.py), and a lone send (no turn running) is written without waiting. Until it is
    written, a delivery stays claimed (outbox.CLAIM_LEASE): the jobs runner does not send it again
    unless this process stops within that moment, as it could between the provider's answer and
    any write."""

    WAIT = 0.25

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.taken: dict[int, outbox.Result] = {}  # by delivery id: delivered, not yet written
        self.turns = 0  # messenger turns running in this process

    def turn_started(self) -> None:
        with self.changed:
            self.turns += 1

    def turn_ended(self) -> None:
        with self.changed:
            self.turns -= 1
            self.changed.notify_all()

    @contextmanager
    def running(self) -> Iterator[None]:
        """A messenger turn runs for the block (see turn_started)."""
        self.turn_started()
        try:
            yield
        finally:
            self.turn_ended()

    def pending(self) -> list[outbox.Result]:
        """Return the deliveries taken and not yet written (a turn writes them; see written)."""
        with self.changed:
            return list(self.taken.values())

    def written(self, results: Sequence[outbox.Result]) -> None:
        """Forget results a committed transaction wrote."""
        with self.changed:
            for result in results:
                self.taken.pop(result.delivery_id, None)
            self.changed.notify_all()

    def record(self, db: Session, results: Sequence[outbox.Result], settings: Settings | None = None) -> dict[str, int]:
        refused = [result for result in results if not result.delivered]
        mine = [result.delivery_id for result in results if result.delivered]
        batch: list[outbox.Result] = []
        if mine:
            with self.changed:
                self.taken.update((result.delivery_id, result) for result in results if result.delivered)
                self.changed.notify_all()

                def taken_by_a_turn() -> bool:
                    return not any(key in self.taken for key in mine)

                if self.turns > 0:
                    self.changed.wait_for(lambda: taken_by_a_turn() or self.turns <= 0, timeout=self.WAIT)
                if not taken_by_a_turn():
                    batch = list(self.taken.values())
        if not refused and not batch:
            return {"sent": 0, "retry": 0, "failed": 0}
        with committed(db):
            counts = outbox.record(db=db, results=refused + batch, now=utcnow(), settings=settings)
        self.written(batch)
        return counts


_recorder = _Recorder()


def send_now(
    *, db: Session, settings: Settings, sendings: Sequence[outbox.Sending], client: urllib3.PoolManager | None = None
) -> dict[str, int]:
    """Send what a turn or a reply claimed when it queued it (Conversed.sendings), then record what
    the provider said, with what other threads sent meanwhile; return the counts this call wrote.
    Commits after the provider answered (a result another thread writes is written by it)."""
    if not sendings:
        return {"sent": 0, "retry": 0, "failed": 0}
    results = outbox.send(settings, sendings, client=client)
    return _recorder.record(db, results, settings)


def deliver(
    *,
    db: Session,
    settings: Settings,
    ids: Sequence[int] | None = None,
    now: datetime | None = None,
    client: urllib3.PoolManager | None = None,
) -> dict[str, int]:
    """Send the due messenger deliveries (only ids, if given) once each; reschedule the refused with
    back-off; return the counts. Commits twice: the claim, then the outcomes; no transaction is open
    while the provider answers."""
    now = now or utcnow()
    with committed(db):
        sendings = outbox.claim(db=db, settings=settings, now=now, ids=ids)
    if not sendings:
        return {"sent": 0, "retry": 0, "failed": 0}
    results = outbox.send(settings, sendings, client=client)
    with committed(db):
        return outbox.record(db=db, results=results, now=now, settings=settings)


def reply_as_staff(
    *,
    db: Session,
    settings: Settings,
    conversation: Conversation,
    user_id: int,
    text: str,
    language: str,
    now: datetime | None = None,
) -> list[outbox.Sending]:
    """Store a caseworker's reply (machine-translated for the newcomer) and commit; a messenger's
    user gets it through the outbox: return those deliveries, claimed, to send now (send_now). Raise InvalidInput when
    it cannot reach them: the channel is off, or WhatsApp's 24-hour window closed and no template is
    configured (nothing is stored then)."""
    now = now or utcnow()
    adapter = adapters.MESSENGERS.get(conversation.channel)
    kind = "session"
    if adapter is not None:
        if not adapter.enabled(settings):
            raise InvalidInput({"reply": chat_service.channel_off_text(adapter.TITLE)})
        address = outbox.decrypt_address(settings, conversation.address_encrypted)
        if address is None:
            raise InvalidInput({"reply": chat_service.no_address_text()})
        found = outbox.kind_for(db=db, settings=settings, conversation=conversation, now=now)
        if found is None:
            raise InvalidInput({"reply": chat_service.window_closed_text()})
        kind = found
    before = chat_service.last_message_id(db=db, conversation=conversation)
    message = chat_service.staff_reply(
        db=db, settings=settings, conversation=conversation, user_id=user_id, text=text, language=language, now=now
    )
    sendings: list[outbox.Sending] = []
    if adapter is not None:
        target = conversation.language
        # The "a person has joined" notice of a first reply goes before it (not with a template:
        # after the window, one message is all WhatsApp allows).
        new = chat_service.messages(db=db, conversation=conversation, after_id=before, authors=("system", "staff"))
        stored = new if kind == "session" else [message]
        row = outbox.enqueue(
            db=db, conversation=conversation, channel=conversation.channel,
            address_encrypted=conversation.address_encrypted,  # type: ignore[arg-type]
            messages=[
                from_person(chat_service.shown(settings=settings, message=m, language=target), author=m.author, language=target)
                for m in stored
            ],
            message_id=message.id, language=target, now=now, kind=kind, claim_for=address,
        )
        sendings = outbox.claimed(row, address)  # type: ignore[arg-type]
    db.commit()
    return sendings
