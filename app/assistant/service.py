"""Conversations and their messages: started, looked up, stored, shown in the reader's language (with
machine translation and the original), and a caseworker's reply. The turn that runs a message through
the dialogue engine, and what it opens in other domains, is in app/assistant/flows.py."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from app.assistant.models import (
    AnswerFeedback,
    ChannelDelivery,
    Conversation,
    ConversationMessage,
    ReviewItem,
)
from app.config import HOST_NAME, Settings
from app.db import utcnow
from app.errors import InvalidInput
from app.i18n import _, use_locale
from app.languages import KNOWN_LOCALES
from app.translation import service as translation_service

log = logging.getLogger(__name__)
MAX_MESSAGE = 2000

#: Modes of a conversation: the bot answers; waiting for a person; a person answers; over.
BOT, QUEUED, HUMAN, CLOSED = "bot", "queued", "human", "closed"


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

    def forget(self, channel: str, sender_id: str) -> None:
        with self.lock:
            self.languages.pop((channel, sender_id), None)


language_hints = _LanguageHints()


#: An e-mail address, and a phone number of 9 to 15 digits (not a case reference, a date, a postcode).
_EMAIL_IN_TEXT = re.compile(r"[^\s@<>(),;:\"']{1,64}@[^\s@<>(),;:\"']+\.[^\s@<>(),;:\"'.]{2,}")
_PHONE_IN_TEXT = re.compile(r"(?<![\w+(-])\+?\(?\d(?:[ ()-]{0,2}\d){8,14}(?![\w-])")
MASKED_EMAIL, MASKED_PHONE = "•••@•••", "••• ••• •••"


def mask_contacts(text: str) -> tuple[str, dict[str, list[str]]]:
    """Return text with e-mail addresses and phone numbers masked, and those it found by kind.

    A chat transcript is shown to caseworkers and copied into the case: contact details in it would be
    readable without the audited "show contact" step, and unencrypted at rest.
    """
    found: dict[str, list[str]] = {}

    def hide(kind: str, mask: str) -> Any:
        def replace(match: re.Match[str]) -> str:
            found.setdefault(kind, []).append(match.group(0).strip())
            return mask

        return replace

    masked = _EMAIL_IN_TEXT.sub(hide("email", MASKED_EMAIL), text)
    masked = _PHONE_IN_TEXT.sub(hide("phone", MASKED_PHONE), masked)
    return masked, found


def check_message(text: str | None) -> str:
    """Return the newcomer's message stripped; InvalidInput (in their language) when empty or too long."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput({"message": _("Write a message first.")})
    if len(text) > MAX_MESSAGE:
        raise InvalidInput({"message": _("Enter at most %(max)s characters.", max=MAX_MESSAGE)})
    return text


#: The conversation of a (channel, sender): built once, it is the hottest query of the chat.
_BY_SENDER = select(Conversation).where(
    Conversation.channel == bindparam("channel"), Conversation.sender_id == bindparam("sender_id")
)


def new_sender_id() -> str:
    """Return a random, unguessable id for a web chat (kept in a cookie)."""
    return secrets.token_urlsafe(24)


def pseudonym(settings: Settings, channel: str, user_id: str) -> str:
    """Return the sender id a messenger's user is known by: a keyed hash of the provider's id, so the
    id itself is stored only encrypted (Conversation.address_encrypted) and a copy of the table names
    nobody. Keyed with the secret key: a new one starts new conversations."""
    key = hashlib.sha256(b"witaj-sender\x00" + settings.secret_key.encode()).digest()
    return channel[:2] + "-" + hmac.new(key, f"{channel}\x00{user_id}".encode(), hashlib.sha256).hexdigest()


def erase(*, db: Session, conversation: Conversation) -> None:
    """Delete the conversation, its messages, its ratings and queue items, and what waits to be sent for it (a case opened from it
    stays with the office, with the transcript it was given). Flushes."""
    db.execute(delete(ChannelDelivery).where(ChannelDelivery.conversation_id == conversation.id))
    delete_contents(db=db, conversation_ids=[conversation.id])
    db.delete(conversation)
    db.flush()


def delete_contents(*, db: Session, conversation_ids: Sequence[int]) -> None:
    """Delete the messages of the conversations conversation_ids, with their ratings and review-queue
    items (erasing one, or the retention's chats past their time; what waits to be sent is the
    caller's)."""
    for table in (AnswerFeedback, ReviewItem, ConversationMessage):
        db.execute(delete(table).where(table.conversation_id.in_(conversation_ids)))


def last_newcomer_at(*, db: Session, conversation: Conversation) -> datetime | None:
    """Return when the newcomer last wrote in the conversation (None: never)."""
    return db.scalar(
        select(func.max(ConversationMessage.created_at)).where(
            ConversationMessage.conversation_id == conversation.id, ConversationMessage.author == "user"
        )
    )


def find(*, db: Session, channel: str, sender_id: str) -> Conversation | None:
    """Return the conversation of (channel, sender_id), or None."""
    return db.scalar(_BY_SENDER, {"channel": channel, "sender_id": sender_id})


def has_message(*, db: Session, conversation: Conversation, external_id: str) -> bool:
    """Return whether the conversation has the newcomer's message with the channel's id external_id."""
    found = db.scalar(
        select(ConversationMessage.id).where(
            ConversationMessage.conversation_id == conversation.id, ConversationMessage.external_id == external_id
        )
    )
    return found is not None


def get_or_start(*, db: Session, channel: str, sender_id: str, language: str) -> Conversation:
    """Return the conversation of (channel, sender_id), starting it if new. Flushes."""
    conversation = db.scalar(_BY_SENDER, {"channel": channel, "sender_id": sender_id})
    if conversation is None:
        conversation = Conversation(channel=channel, sender_id=sender_id[:120], language=language, mode=BOT, state={})
        db.add(conversation)
        db.flush()
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


def store(db: Session, conversation: Conversation, author: str, text: str, **fields: Any) -> ConversationMessage:
    """Add a message to the conversation (flushed with the turn)."""
    message = ConversationMessage(conversation_id=conversation.id, author=author, text=text, **fields)
    db.add(message)
    return message


def transcript(*, db: Session, conversation: Conversation) -> str:
    """Return the chat so far as plain text (private bot messages already masked)."""
    names = {"user": "Client", "bot": "Witaj", "staff": "Staff", "system": "System"}
    return "\n".join(f"{names.get(m.author, m.author)}: {m.text}" for m in messages(db=db, conversation=conversation))


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
    """Store a caseworker's message, machine-translated into the newcomer's language if one comes in
    time; the first one tells the newcomer a person has joined. Raise InvalidInput. Flushes."""
    now = now or utcnow()
    text = (text or "").strip()
    if not text:
        raise InvalidInput({"reply": _("Write something first.")})
    if len(text) > MAX_MESSAGE:
        raise InvalidInput({"reply": _("Enter at most %(max)s characters.", max=MAX_MESSAGE)})
    if conversation.mode != HUMAN:
        conversation.mode = HUMAN
        conversation.staff_user_id = user_id
        store(db, conversation, "system", "joined", language=conversation.language, created_at=now, data={"event": "joined"})
    message = store(db, conversation, "staff", text, author_user_id=user_id, language=language, created_at=now)
    db.flush()
    translate_into(settings=settings, message=message, target=conversation.language)
    conversation.updated_at = now
    db.flush()
    return message


# --- machine translation of what a person and a newcomer write to each other ---------------------


def translate_into(*, settings: Settings, message: ConversationMessage, target: str) -> None:
    """Attach a machine translation of message into target, if one comes within the wait; never raises."""
    result = translation_service.translate_within(settings, message.text, message.language, target)
    if result is not None:
        data = dict(message.data or {})
        data["translations"] = {**(data.get("translations") or {}), target: translation_service.as_stored(result)}
        message.data = data


def shown(*, settings: Settings, message: ConversationMessage, language: str) -> dict[str, Any]:
    """Return how message reads for someone reading `language`: text, the original, machine-translated or not."""
    plain = {"text": display_text(message), "original": None, "machine": False, "untranslated": False}
    if message.author in ("bot", "system") or not message.language or message.language == language:
        return plain
    stored = (message.data or {}).get("translations", {}).get(language)
    if stored is None:
        try:
            cached = translation_service.get_service(settings).lookup(message.text, message.language, language)
        except Exception:  # noqa: BLE001 - shown untranslated
            cached = None
        if cached is not None and cached.machine:
            stored = {"text": cached.text}
    if stored is None:
        return {**plain, "untranslated": True}
    return {"text": stored["text"], "original": message.text, "machine": True, "untranslated": False}


def window_closed_text() -> str:
    """Return why a caseworker's reply after WhatsApp's 24-hour window was not sent."""
    return _(
        "WhatsApp lets us write to a client only within 24 hours of their last message, "
        "unless with an approved template, and none is configured (WITAJ_WHATSAPP_TEMPLATE). "
        "The reply was not sent: contact the client another way, or wait until they write again."
    )


def channel_off_text(title: str) -> str:
    """Return why a reply cannot reach a chat whose messenger is switched off."""
    return _("The %(channel)s channel is switched off, so the client would not get this reply.", channel=title)


def no_address_text() -> str:
    """Return why a reply cannot reach a messenger chat that has no address any more."""
    return _("This chat has no address to answer to any more.")


def reply_errors() -> set[str]:
    """Return every reason a caseworker's reply can be refused, in the current locale: the case page
    shows the one its address names, and nothing else (no text of anyone's choosing)."""
    return {
        _("Write something first."),
        _("Enter at most %(max)s characters.", max=MAX_MESSAGE),
        window_closed_text(),
        no_address_text(),
        *(channel_off_text(title) for title in ("Telegram", "WhatsApp", "Viber")),
    }


def channel_title(channel: str) -> str:
    """Return a channel's name as staff read it (the messengers' own names are not translated)."""
    names = {
        "web": _("Web chat"),
        "rest": _("Chat widget (REST API)"),
        "telegram": "Telegram",
        "whatsapp": "WhatsApp",
        "viber": "Viber",
    }
    return names.get(channel, channel)


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


# --- answers as structured text --------------------------------------------------------------------

#: A web address in an answer: https://..., http://... (never linked) or www....; it ends before
#: spaces, quotes and angle brackets, and without the punctuation of the sentence around it.
_LOCALE_PATH = r"/(?:" + "|".join(KNOWN_LOCALES) + r")(?:/[a-z0-9_-]+)+/?(?![\w/]|\.[\w/.])"
_ADDRESS = re.compile(r"(?:https?://|www\.)[^\s<>\"'\\`]+|(?<![\w/.:])" + _LOCALE_PATH, re.IGNORECASE)
#: A page of this site in one of its languages (/uk/follow): linked as it is, never leaving the site.
_SITE_PATH = re.compile("^" + _LOCALE_PATH + "$")
_TRAILING = ".,;:!?)]}»”’…"
_BULLET = re.compile(r"^\s*[•-]\s+")


def allowed_link(address: str, hosts: Iterable[str]) -> str | None:
    """Return the https URL an answer may link address to, or None: a page of this site (/uk/follow),
    or https (www. is read as https://www.), no user name or port, and a host that is one of hosts or
    a subdomain of one.

    "krakow.pl.evil.example", "evilkrakow.pl", "https://krakow.pl@evil.example" and look-alike letters
    are no such host."""
    if address.startswith("/"):
        return address if _SITE_PATH.match(address) else None
    url = "https://" + address if address[:4].lower() == "www." else address
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() != "https" or "@" in parts.netloc or port is not None:
        return None
    if not HOST_NAME.match(host):
        return None
    if not any(host == allowed or host.endswith("." + allowed) for allowed in hosts):
        return None
    return url


def _inline(line: str, hosts: Iterable[str]) -> Markup:
    """Return one line escaped, with its web addresses on allowed hosts as links."""
    out = Markup()
    cursor = 0
    for match in _ADDRESS.finditer(line):
        address = match.group().rstrip(_TRAILING)
        if address.count("(") > address.count(")") and match.group()[len(address) :].startswith(")"):
            address += ")"  # an address that ends in a bracket of its own (Wikipedia-style)
        end = match.start() + len(address)
        url = allowed_link(address, hosts)
        if url is None:
            continue
        out += escape(line[cursor : match.start()])
        out += Markup('<a href="{}" rel="noopener noreferrer">{}</a>').format(url, address)
        cursor = end
    return out + escape(line[cursor:])


def answer_html(text: str, *, hosts: Iterable[str]) -> Markup:
    """Return an answer of the assistant (content, never a person's message) as safe HTML.

    Paragraphs are separated by a blank line; lines beginning with "• " or "- " are a bullet list;
    other line breaks stay line breaks; https addresses on `hosts` (and their subdomains) become
    links. Everything else is escaped text: no markup of the text ever reaches the page."""
    hosts = tuple(hosts)
    blocks: list[Markup] = []
    for paragraph in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n").strip()):
        runs: list[tuple[bool, list[str]]] = []
        for raw in paragraph.split("\n"):
            line = raw.strip()
            if not line:
                continue
            bullet = _BULLET.match(raw) is not None
            if bullet:
                line = _BULLET.sub("", raw).strip()
            if runs and runs[-1][0] == bullet:
                runs[-1][1].append(line)
            else:
                runs.append((bullet, [line]))
        for bullet, lines in runs:
            if bullet:
                items = Markup("").join(Markup("<li>{}</li>").format(_inline(line, hosts)) for line in lines)
                blocks.append(Markup("<ul>{}</ul>").format(items))
            else:
                joined = Markup("<br>\n").join(_inline(line, hosts) for line in lines)
                blocks.append(Markup("<p>{}</p>").format(joined))
    return Markup("\n").join(blocks)
