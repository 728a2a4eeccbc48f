"""Viber's REST Bot API (https://developers.viber.com/docs/api/rest-bot-api/), over plain HTTP (the
outbox posts the requests these functions describe).

Why not viberbot (Viber's own Python library): it is a thin wrapper of the same three requests whose
last release is years old and which pulls `requests` in; Witaj needs only the
callback's JSON in and send_message out, inside its own turn, outbox and retry (see telegram.py).

- Webhook: set_webhook (url, event_types) with the X-Viber-Auth-Token header; Viber then POSTs every
  callback (message, subscribed, conversation_started, delivered, seen, failed, webhook, ...) signed
  with X-Viber-Content-Signature: the hex HMAC-SHA256 of the raw body keyed with the auth token.
- Messages: a "message" callback carries sender (id, name, language of the phone, country,
  api_version), message (type text / picture / video / file / sticker / contact / location / url,
  text, tracking_data) and a message_token, the same when Viber repeats a callback.
- Answers: send_message (receiver, sender.name, type "text", text of at most 7,000 characters,
  tracking_data, keyboard); every answer is HTTP 200 with "status" 0 for ok, else a code and
  status_message (6 receiverNotSubscribed, 5 receiverNoSuitableDevice, 12 apiRateLimit, ...).
- Quick replies: a keyboard (Type "keyboard") of buttons, one a row (Columns 6, Rows 1); a "reply"
  button sends its ActionBody back as the user's message, shown in the chat, so ActionBody is the
  button's title and the message's tracking_data maps each title to its payload (it comes back with
  the user's reply), with the conversation's language. Links: "open-url" buttons.
- Opening the chat (conversation_started, from the bot's link or a poster's QR code with
  context=<language>): answered with a welcome message in the HTTP response, the greeting and the
  menu in that language (a bot may write first only so); nothing is stored until the user writes.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
from collections.abc import Mapping
from typing import Any

from app.assistant.channels.shapes import Call, Inbound, Outbound, Received, split_text
from app.config import Settings

NAME = "viber"
TITLE = "Viber"
SIGNATURE_HEADER = "x-viber-content-signature"
AUTH_HEADER = "X-Viber-Auth-Token"
TEXT_LIMIT = 7000
TRACKING_LIMIT = 4096
BUTTON_TEXT_LIMIT = 250
KEYBOARD_BUTTONS = 24
#: Keyboards came with Viber's API version 3: older apps get the text alone.
KEYBOARD_API_VERSION = 3
#: The callbacks Witaj asks for (set_webhook's event_types); "message" always comes,
#: conversation_started is answered with the welcome message, and the others with 200 alone.
EVENT_TYPES = ["conversation_started", "failed", "subscribed", "unsubscribed"]
#: What a message can be besides words (the "message" callback's message types).
ATTACHMENTS = ("picture", "video", "file", "sticker", "contact", "location", "url", "rich_media")


def enabled(settings: Settings) -> bool:
    """Return whether the channel is on: the bot's auth token is set (it also keys the signature)."""
    return bool(settings.viber_auth_token)


def missing(settings: Settings) -> list[str]:
    """Return the settings still needed to turn the channel on."""
    return [] if settings.viber_auth_token else ["WITAJ_VIBER_AUTH_TOKEN"]


def signature(token: str, body: bytes) -> str:
    """Return X-Viber-Content-Signature of body: hex HMAC-SHA256 keyed with the auth token."""
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def verify(settings: Settings, headers: Mapping[str, str], body: bytes) -> bool:
    """Return whether the callback is signed with the bot's auth token."""
    token = settings.viber_auth_token
    sent = headers.get(SIGNATURE_HEADER)
    return bool(token) and sent is not None and hmac.compare_digest(sent.strip().lower(), signature(token, body))  # type: ignore[arg-type]


def _headers(settings: Settings) -> dict[str, str]:
    return {AUTH_HEADER: settings.viber_auth_token or ""}


def _url(settings: Settings, method: str) -> str:
    return f"{settings.viber_api_url.rstrip('/')}/{method}"


def _hint(settings: Settings, sender: Mapping[str, Any]) -> str | None:
    # language: the phone's language, an ISO 639-1 code, sometimes with a region ("uk", "en-US").
    code = str(sender.get("language") or "").replace("_", "-").split("-")[0].lower()
    return code if code in settings.locales else None


def _tracking(settings: Settings, tracking: Any) -> tuple[dict[str, str], str | None]:
    """Return the title -> payload map and the conversation's language that a message's
    tracking_data carries (see calls and welcome), else ({}, None)."""
    if not isinstance(tracking, str) or not tracking.startswith("{"):
        return {}, None
    try:
        data = json.loads(tracking)
    except ValueError:
        return {}, None
    if not isinstance(data, dict):
        return {}, None
    buttons = data.get("buttons") if isinstance(data.get("buttons"), dict) else {}
    language = data.get("language") if data.get("language") in settings.locales else None
    payloads = {k: v for k, v in buttons.items() if isinstance(k, str) and isinstance(v, str) and v.startswith("/")}
    return payloads, language


def read(settings: Settings, callback: Mapping[str, Any]) -> list[Received]:
    """Return the newcomer's message a callback carries; nothing for the other events (subscribed,
    delivered, seen, failed, the webhook's check, ...)."""
    if callback.get("event") != "message":
        return []
    sender = callback.get("sender")
    message = callback.get("message")
    token = callback.get("message_token")
    if not isinstance(sender, Mapping) or not isinstance(message, Mapping) or not isinstance(token, (int, str)):
        return []
    user_id = sender.get("id")
    if not isinstance(user_id, str) or not user_id or len(user_id) > 200:
        return []
    kind = message.get("type")
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    attachments = 1 if kind in ATTACHMENTS else 0
    payloads, language = _tracking(settings, message.get("tracking_data"))
    if kind == "text":
        # A pressed keyboard button sends its title (what the chat shows); the tracking_data of the
        # message it belonged to gives its payload back.
        text = payloads.get(text, text)
    elif kind not in ATTACHMENTS:
        return []
    inbound = Inbound(
        channel=NAME, sender=user_id, text=text, language_hint=language or _hint(settings, sender),
        message_id=str(token), attachments=attachments,
    )
    return [Received(inbound=inbound, address=user_id)]


def _keyboard(message: Outbound) -> tuple[dict[str, Any] | None, dict[str, str]]:
    buttons: list[dict[str, Any]] = []
    payloads: dict[str, str] = {}
    for button in message.buttons[:KEYBOARD_BUTTONS]:
        title = button.title[:BUTTON_TEXT_LIMIT]
        # The button's Text may hold Viber's few HTML-like tags: escaped, a title is shown as written.
        shown = html.escape(title, quote=False)
        if button.url is not None:
            buttons.append({"Columns": 6, "Rows": 1, "ActionType": "open-url", "ActionBody": button.url, "Text": shown})
        elif button.payload is not None:
            buttons.append({"Columns": 6, "Rows": 1, "ActionType": "reply", "ActionBody": title, "Text": shown})
            payloads.setdefault(title, button.payload)
    if not buttons:
        return None, {}
    return {"Type": "keyboard", "DefaultHeight": False, "Buttons": buttons}, payloads


def calls(settings: Settings, address: str, message: Outbound, *, language: str, template: bool = False) -> list[Call]:
    """Return the send_message requests of one message: its text in parts of at most 7,000
    characters, the last with the keyboard (quick replies, then links) and, in tracking_data, which
    payload each quick reply's title stands for."""
    keyboard, payloads = _keyboard(message)
    parts = split_text(message.text, TEXT_LIMIT)
    out = []
    for number, part in enumerate(parts, start=1):
        body: dict[str, Any] = {
            "receiver": address,
            "sender": {"name": settings.viber_bot_name},
            "type": "text",
            "text": part,
        }
        if number == len(parts) and keyboard is not None:
            _with_keyboard(body, keyboard, payloads, language)
        out.append(Call(_url(settings, "send_message"), body, _headers(settings)))
    return out


def _with_keyboard(body: dict[str, Any], keyboard: dict[str, Any], payloads: dict[str, str], language: str) -> None:
    body["keyboard"] = keyboard
    body["min_api_version"] = KEYBOARD_API_VERSION
    tracking = json.dumps({"buttons": payloads, "language": language}, ensure_ascii=False, separators=(",", ":"))
    if payloads and len(tracking) <= TRACKING_LIMIT:
        body["tracking_data"] = tracking


def opened(settings: Settings, callback: Mapping[str, Any]) -> str | None:
    """Return the language to welcome in when the callback says a user opened the bot's chat
    (conversation_started: from the bot's link or a poster's QR code, viber://pa?chatURI=<uri>&
    context=uk), else None. The link's context names the language; else the phone's, else the city's."""
    if callback.get("event") != "conversation_started":
        return None
    user = callback.get("user")
    if not isinstance(user, Mapping) or not isinstance(user.get("id"), str):
        return None
    context = str(callback.get("context") or "").strip().lower()
    return context if context in settings.locales else _hint(settings, user) or settings.default_locale


def welcome(settings: Settings, messages: list[Outbound], *, language: str) -> dict[str, Any]:
    """Return the welcome message Viber shows when a user opens the chat: the answer to the
    conversation_started callback itself (a bot may not write to a user before they do). One text
    message, with the messages' options as the keyboard; nothing of it is stored."""
    text = "\n\n".join(message.text for message in messages if message.text)[:TEXT_LIMIT]
    body: dict[str, Any] = {"sender": {"name": settings.viber_bot_name}, "type": "text", "text": text}
    keyboard, payloads = _keyboard(Outbound(text=text, buttons=tuple(b for m in messages for b in m.buttons)))
    if keyboard is not None:
        _with_keyboard(body, keyboard, payloads, language)
    return body


def refusal(status: int, body: bytes) -> str | None:
    """Return None when Viber took the message (status 0), else its status and status_message."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if 200 <= status < 300 and answer.get("status") == 0:
        return None
    if not 200 <= status < 300:
        return f"HTTP {status}"
    described = str(answer.get("status_message", ""))[:200]
    return f"Viber status {answer.get('status')}" + (f": {described}" if described else "")


def set_webhook(settings: Settings, url: str) -> Call:
    """Return the set_webhook request that points Viber at url."""
    return Call(
        _url(settings, "set_webhook"),
        {"url": url, "event_types": EVENT_TYPES, "send_name": False, "send_photo": False},
        _headers(settings),
    )
