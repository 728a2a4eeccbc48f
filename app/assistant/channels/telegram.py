"""Telegram's Bot API (https://core.telegram.org/bots/api), over plain HTTP (the
outbox posts the requests these functions describe).

Why not aiogram or python-telegram-bot: both are async frameworks that want to own the update loop
and the bot's state; Witaj needs only the webhook's JSON in (an Update), two methods out
(sendMessage, answerCallbackQuery) and setWebhook once, inside its own turn, outbox and retry. Six
small functions that describe requests (Call), posted by the outbox, keep one way of sending for
every messenger.

- Webhook: Telegram POSTs an Update as JSON and sends the secret_token given to setWebhook in the
  X-Telegram-Bot-Api-Secret-Token header ("Setting a webhook" in the Bot API docs).
- Quick replies: an inline keyboard, one button per row; a button's callback_data (1-64 bytes) is
  the payload, and pressing it sends a callback_query, answered with answerCallbackQuery.
- Links: URL buttons. Long answers: split at 4096 characters (sendMessage's text limit).
- /start <language>: the deep link t.me/<bot>?start=uk (a QR code on a poster) opens the chat in
  that language.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from app.assistant.channels.shapes import Call, Inbound, Outbound, Received, split_text
from app.config import Settings

NAME = "telegram"
TITLE = "Telegram"
TEXT_LIMIT = 4096
CALLBACK_LIMIT = 64
SECRET_HEADER = "x-telegram-bot-api-secret-token"
#: What a message can carry besides words (Message's fields in the Bot API docs).
ATTACHMENTS = (
    "photo", "voice", "audio", "document", "video", "video_note", "sticker", "animation", "location",
    "contact", "venue", "poll", "dice",
)


def enabled(settings: Settings) -> bool:
    """Return whether the channel is on: a bot token and a webhook secret are set."""
    return bool(settings.telegram_bot_token and settings.telegram_webhook_secret)


def missing(settings: Settings) -> list[str]:
    """Return the settings still needed to turn the channel on."""
    needed = {"WITAJ_TELEGRAM_BOT_TOKEN": settings.telegram_bot_token, "WITAJ_TELEGRAM_WEBHOOK_SECRET": settings.telegram_webhook_secret}
    return [name for name, value in needed.items() if not value]


def verify(settings: Settings, headers: Mapping[str, str], body: bytes) -> bool:
    """Return whether the request carries the webhook's secret token."""
    secret = settings.telegram_webhook_secret
    sent = headers.get(SECRET_HEADER)
    return bool(secret) and sent is not None and hmac.compare_digest(sent.encode(), secret.encode())  # type: ignore[union-attr]


def _method(settings: Settings, name: str) -> str:
    return f"{settings.telegram_api_url.rstrip('/')}/bot{settings.telegram_bot_token}/{name}"


def _hint(settings: Settings, user: Mapping[str, Any] | None) -> str | None:
    # language_code is an IETF tag of the user's Telegram interface ("uk", "en-GB", "pt-br").
    code = str((user or {}).get("language_code") or "").split("-")[0].lower()
    return code if code in settings.locales else None


def _start(settings: Settings, text: str) -> str | None:
    """Return the language a deep link's /start parameter names (t.me/<bot>?start=uk), if any."""
    parameter = text.split(maxsplit=1)[1].strip().lower() if " " in text.strip() else ""
    return parameter if parameter in settings.locales else None


def read(settings: Settings, update: Mapping[str, Any]) -> list[Received]:
    """Return the newcomer's message an Update carries: a message in a private chat, or a pressed
    button (callback_query); nothing for anything else (edits, groups, channels, polls)."""
    update_id = update.get("update_id")
    if not isinstance(update_id, int):
        return []
    message = update.get("message")
    if isinstance(message, Mapping):
        chat = message.get("chat") or {}
        if chat.get("type") != "private" or not isinstance(chat.get("id"), int):
            return []
        user = message.get("from") if isinstance(message.get("from"), Mapping) else None
        text = message.get("text") if isinstance(message.get("text"), str) else None
        caption = message.get("caption") if isinstance(message.get("caption"), str) else None
        words = text if text is not None else caption or ""
        hint, chosen = _hint(settings, user), None
        if text is not None and (text == "/start" or text.startswith("/start ")):
            # Opening the chat (from a poster's QR code: in its language): a greeting.
            words, chosen = "/greet", _start(settings, text)
        elif text is not None and text.startswith("/") and "{" not in text:
            # A command from the bot's menu (/stop, /help, /stop@witaj_bot) is its word.
            words = text[1:].split("@", 1)[0].replace("_", " ")
        attachments = sum(1 for key in ATTACHMENTS if key in message)
        inbound = Inbound(
            channel=NAME, sender=str(chat["id"]), text=words, language_hint=hint, language=chosen,
            message_id=str(update_id), attachments=attachments,
        )
        return [Received(inbound=inbound, address=str(chat["id"]))]
    query = update.get("callback_query")
    if isinstance(query, Mapping) and isinstance(query.get("id"), str):
        user = query.get("from") if isinstance(query.get("from"), Mapping) else {}
        chat = ((query.get("message") or {}).get("chat") or {}) if isinstance(query.get("message"), Mapping) else {}
        chat_id = chat.get("id", user.get("id"))
        answer = Call(_method(settings, "answerCallbackQuery"), {"callback_query_id": query["id"]})
        data = query.get("data")
        if not isinstance(chat_id, int) or not isinstance(data, str) or not data:
            return []
        inbound = Inbound(
            channel=NAME, sender=str(chat_id), text=data, language_hint=_hint(settings, user), message_id=str(update_id)
        )
        return [Received(inbound=inbound, address=str(chat_id), calls=(answer,))]
    return []


def _callback_data(payload: str, title: str) -> str:
    """Return a quick reply's callback_data: the payload in compact JSON, or (longer than Telegram's
    64 bytes) the button's title, which the assistant reads as if typed."""
    compact = payload
    if payload.startswith("/") and "{" in payload:
        name, _brace, rest = payload.partition("{")
        try:
            compact = name + json.dumps(json.loads("{" + rest), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            compact = payload
    for candidate in (compact, title):
        if 0 < len(candidate.encode()) <= CALLBACK_LIMIT:
            return candidate
    return title.encode()[:CALLBACK_LIMIT].decode(errors="ignore")


def calls(settings: Settings, address: str, message: Outbound, *, language: str, template: bool = False) -> list[Call]:
    """Return the sendMessage requests of one message: its text in parts of at most 4096 characters,
    the last with the inline keyboard (quick replies, then links, one per row). Plain text, no
    parse_mode: nothing in an answer is read as markup."""
    rows: list[list[dict[str, str]]] = []
    for button in message.buttons:
        if button.url is not None:
            rows.append([{"text": button.title, "url": button.url}])
        elif button.payload is not None:
            rows.append([{"text": button.title, "callback_data": _callback_data(button.payload, button.title)}])
    parts = split_text(message.text, TEXT_LIMIT)
    out = []
    for number, part in enumerate(parts, start=1):
        body: dict[str, Any] = {"chat_id": int(address) if address.lstrip("-").isdigit() else address, "text": part}
        if number == len(parts) and rows:
            body["reply_markup"] = {"inline_keyboard": rows}
        out.append(Call(_method(settings, "sendMessage"), body))
    return out


def refusal(status: int, body: bytes) -> str | None:
    """Return None when Telegram took the request ({"ok": true}), else its error code and description."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        answer = {}
    if 200 <= status < 300 and isinstance(answer, dict) and answer.get("ok") is True:
        return None
    description = str(answer.get("description", "")) if isinstance(answer, dict) else ""
    return f"HTTP {status}" + (f": {description[:200]}" if description else "")


def set_webhook(settings: Settings, url: str) -> Call:
    """Return the setWebhook request that points Telegram at url with the secret token."""
    return Call(
        _method(settings, "setWebhook"),
        {
            "url": url,
            "secret_token": settings.telegram_webhook_secret,
            "allowed_updates": ["message", "callback_query"],
        },
    )
