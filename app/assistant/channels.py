"""The channel layer: one shape for what a newcomer writes, whatever the channel, and one for what
goes back. Each channel (Rasa's REST channel today; Telegram, WhatsApp and Viber next) is a small
adapter that turns the provider's request into an `Inbound`, calls `converse`, and turns the
`Outbound` messages into the provider's reply shape.

`converse` runs the turn (app/assistant/flows.py) and adds what a person from the team wrote since
the newcomer's last message (a chat handed over to a case), before the bot's answer, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.assistant import flows
from app.assistant import service as chat_service
from app.assistant.models import Conversation, ConversationMessage
from app.assistant.runtime import BotMessage
from app.config import Settings
from app.i18n import _, use_locale


@dataclass(frozen=True)
class Inbound:
    """One message from a newcomer, as every channel gives it."""

    channel: str  # web, rest, telegram, whatsapp, viber
    sender: str  # the channel's id of the newcomer (personal data: never logged)
    text: str
    #: The language the channel suggests for a new conversation (a page's language, a messenger's
    #: interface language, a poster's deep link); the words written decide after that.
    language_hint: str | None = None
    #: The channel's id of the message (Telegram's update_id, WhatsApp's message id): a delivery the
    #: provider repeats runs no second turn.
    message_id: str | None = None
    #: Photos, voice messages, files the message carried: the assistant reads words only, says so,
    #: and keeps none of them.
    attachments: int = 0


@dataclass(frozen=True)
class Button:
    """A quick reply (payload: sent back as the newcomer's next message) or a link (url)."""

    title: str
    payload: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Outbound:
    """One message to the newcomer: text, quick replies and links, in the conversation's language."""

    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    #: Who speaks: the bot, or a person of the team (staff) and the chat's notices (system).
    author: str = "bot"

    @property
    def quick_replies(self) -> tuple[Button, ...]:
        return tuple(b for b in self.buttons if b.payload is not None)

    @property
    def links(self) -> tuple[Button, ...]:
        return tuple(b for b in self.buttons if b.url is not None)


def from_bot(message: BotMessage, link: Callable[[str], str] | None = None) -> Outbound:
    """Return the bot's message for a channel; a city form's button becomes a link when link (the
    form's address from its id) is given, and is left out otherwise."""
    buttons = []
    for button in message.buttons:
        if "form" in button:
            if link is not None:
                buttons.append(Button(title=button["title"], url=link(button["form"])))
        else:
            buttons.append(Button(title=button["title"], payload=button["payload"]))
    return Outbound(text=message.text, buttons=tuple(buttons))


def from_person(view: dict[str, Any], *, author: str, language: str) -> Outbound:
    """Return a person's message (or a notice) as shown in the conversation's language (see
    service.shown): a machine translation is marked so, with the original."""
    if not view["machine"]:
        return Outbound(text=view["text"], author=author)
    with use_locale(language):
        marked, original = _("Machine translated"), _("Original")
    return Outbound(text=f"{view['text']}\n\n({marked}. {original}: {view['original']})", author=author)


def converse(
    *, db: Session, settings: Settings, inbound: Inbound, link: Callable[[str, str], str] | None = None
) -> tuple[Conversation | None, list[Outbound]]:
    """Run one newcomer's message and return the conversation and what to send back: the team's
    messages not yet delivered on this channel, then the bot's answer (none while a person answers;
    nothing for a message the channel delivered before).

    link(language, form_id) gives a city form's address in a language (None: no link buttons). A
    message of attachments only gets the notice that only words are read, and no turn (the
    conversation is None if there is none yet).
    """
    default = inbound.language_hint or settings.default_locale
    hint = chat_service.language_hints.get(inbound.channel, inbound.sender)
    notice: list[Outbound] = []
    if inbound.attachments:
        with use_locale(hint or default):
            notice = [
                Outbound(
                    text=_(
                        "I can read only written messages for now: photos, voice messages and files do "
                        "not reach me. Please write your question in words."
                    ),
                    author="system",
                )
            ]
        if not inbound.text.strip():
            # A read only: nothing of the attachment is kept.
            return flows.read_conversation(db=db, channel=inbound.channel, sender_id=inbound.sender), notice
    text = chat_service.check_message(inbound.text)
    # Understood before the conversation is read: the parse stays out of the write transaction. A
    # sender this process has not seen is most likely new: read as a first message, whose words choose
    # the language to start in (the turn parses again in the conversation's language if it has one).
    # The turn decides: a conversation that does not exist starts in the language of its first words.
    if hint is None:
        understood = flows.understand_first(settings=settings, text=text, default=default)
    else:
        understood = flows.understand(settings=settings, text=text, language=hint)

    def first() -> flows.Understood:
        return understood if hint is None else flows.understand_first(settings=settings, text=text, default=default)
    delivered_key = f"{inbound.channel}_delivered"

    def pending(conversation: Conversation, _turn: flows.Turn) -> list[ConversationMessage]:
        # Only a chat handed over to a case has messages from a person (and the "joined" notice).
        if conversation.case_id is None:
            return []
        delivered = int((conversation.state or {}).get(delivered_key, 0))
        found = chat_service.messages(db=db, conversation=conversation, after_id=delivered, authors=("staff", "system"))
        if found:
            conversation.state = {**(conversation.state or {}), delivered_key: found[-1].id}
        return found

    conversation, turn, waiting = flows.take_turn(
        db=db, settings=settings, channel=inbound.channel, sender_id=inbound.sender, language=default, text=text,
        understood=understood, then=pending, external_id=inbound.message_id, first=first,
    )
    if turn.repeated:
        return conversation, []
    chat_service.language_hints.put(inbound.channel, inbound.sender, conversation.language)
    language = conversation.language
    out = notice + [
        from_person(chat_service.shown(settings=settings, message=m, language=language), author=m.author, language=language)
        for m in waiting
    ]
    form_link = (lambda form_id: link(language, form_id)) if link is not None else None
    out += [from_bot(m, form_link) for m in turn.answer]
    return conversation, out
