"""The shapes every channel shares: what a newcomer writes (Inbound), what goes back (Outbound, with
quick replies and link buttons), and what a messenger's adapter gives and asks for (Received, Call).
No database, no HTTP: adapters and the layer's flows build on these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.assistant.runtime import BotMessage
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
    #: A language the newcomer chose outside their words (a poster's deep link, /start uk): the
    #: conversation goes on in it, new or not.
    language: str | None = None
    #: The language of the page the newcomer writes from (the web chat): read as the conversation's
    #: language until it has one (a messenger's first message chooses its language by its words).
    page_language: str | None = None
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
        elif "url" in button:  # a link of its own (a booked visit's page, a map)
            buttons.append(Button(title=button["title"], url=button["url"]))
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


@dataclass(frozen=True)
class Call:
    """One request to a provider's API: POST url with a JSON body."""

    url: str
    json: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    """One newcomer's message out of a provider's webhook delivery, with where answers go."""

    inbound: Inbound
    #: The provider's address of the chat (Telegram's chat id, a WhatsApp number, a Viber user id):
    #: personal data, stored encrypted on the conversation and never logged.
    address: str
    #: Requests to make at once, whatever the turn gives (Telegram's answerCallbackQuery).
    calls: tuple[Call, ...] = ()


def outbound_json(message: Outbound) -> dict[str, Any]:
    """Return an Outbound as JSON (the outbox keeps it so until it is delivered)."""
    return {
        "text": message.text,
        "author": message.author,
        "buttons": [{k: v for k, v in (("title", b.title), ("payload", b.payload), ("url", b.url)) if v is not None} for b in message.buttons],
    }


def outbound_from_json(data: dict[str, Any]) -> Outbound:
    """Return the Outbound that outbound_json wrote."""
    buttons = tuple(Button(title=b["title"], payload=b.get("payload"), url=b.get("url")) for b in data.get("buttons", ()))
    return Outbound(text=data["text"], buttons=buttons, author=data.get("author", "bot"))


def split_text(text: str, limit: int) -> list[str]:
    """Return text in parts of at most limit characters, cut at a paragraph, a line, a sentence or a
    space where one is in the second half of a part (a word is cut only when it is longer)."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for mark in ("\n\n", "\n", ". ", " "):
            found = window.rfind(mark)
            if found >= limit // 2:
                cut = found + len(mark)
                break
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts
