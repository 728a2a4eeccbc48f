"""WhatsApp's Cloud API (https://developers.facebook.com/documentation/business-messaging/whatsapp),
over plain HTTP (the outbox posts the requests these functions describe).

Why not pywa (or heyoo, or Meta's Node SDK): pywa is a framework that wants to own the webhook
server and its handlers (it registers its own routes, verifies and dispatches updates itself); Witaj
needs only the webhook's JSON in and one endpoint out (POST /<phone-number-id>/messages), inside its
own turn, outbox and retry. A few small functions that describe requests, posted by the outbox, keep one way
of sending for every messenger (see telegram.py).

- Webhook: Meta verifies the callback URL once with a GET (hub.mode=subscribe, hub.verify_token,
  hub.challenge echoed back), then POSTs the "messages" field's changes, each signed with
  X-Hub-Signature-256: "sha256=" + the hex HMAC-SHA256 of the raw body keyed with the app's secret.
- Quick replies: up to 3 short ones (titles of at most 20 characters) as reply buttons, more or
  longer ones as a list message (at most 10 rows a message; a row's title of at most 24 characters,
  cut with "…" and given whole in its description). A button's id is the payload: pressing it sends
  the id back (interactive.button_reply / list_reply).
- Links: one call-to-action URL button message per link. Long answers: text messages of at most 4096
  characters; an interactive message's body holds at most 1024, so a longer text goes first.
- The 24-hour customer service window: after the newcomer's last message a business may write only
  with an approved template (WITAJ_WHATSAPP_TEMPLATE, one body parameter: the caseworker's words).
- WhatsApp says nothing of a user's language: the number's country calling code is a hint for a first
  message (48 Polish, 380 Ukrainian, ...); the words written decide.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from app.assistant.channels.shapes import Button, Call, Inbound, Outbound, Received, split_text
from app.config import Settings
from app.i18n import _, use_locale

NAME = "whatsapp"
TITLE = "WhatsApp"
#: The customer service window: free-form messages only this long after the user's last message.
WINDOW = timedelta(hours=24)
SIGNATURE_HEADER = "x-hub-signature-256"

# Limits of the Messages API (text, interactive reply buttons, list and CTA URL messages).
TEXT_LIMIT = 4096
BODY_LIMIT = 1024
REPLY_BUTTONS = 3
BUTTON_TITLE_LIMIT = 20
BUTTON_ID_LIMIT = 256
LIST_ROWS = 10
LIST_BUTTON_LIMIT = 20
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
ROW_ID_LIMIT = 200
DISPLAY_TEXT_LIMIT = 20
#: A template's body, the parameter filled in, holds at most 1024 characters: the parameter keeps
#: room for the template's own words (keep them under 120 characters), a longer reply goes as more
#: template messages.
TEMPLATE_PARAMETER_LIMIT = 900

#: What a message can carry besides words (the messages webhook's message types).
ATTACHMENTS = ("image", "audio", "video", "document", "sticker", "location", "contacts")
CAPTIONED = ("image", "video", "document")

#: Witaj's locales whose WhatsApp template language code differs ("Supported languages").
TEMPLATE_LANGUAGES = {"be": "be_BY"}

#: Country calling codes (E.164) of the languages Witaj speaks: only a hint for a first message.
CALLING_CODES = {
    "48": "pl",
    "380": "uk",
    "7": "ru",
    "375": "be",
    "995": "ka",
    "90": "tr",
    "84": "vi",
    "91": "hi",
    **dict.fromkeys(("34", "52", "54", "57", "51", "56", "58"), "es"),
    **dict.fromkeys(
        (
            "20", "212", "213", "216", "218", "249", "961", "962", "963", "964", "965", "966", "967",
            "968", "970", "971", "973", "974",
        ),
        "ar",
    ),
    **dict.fromkeys(("44", "1", "61", "353"), "en"),
}
_HTTPS = re.compile(r"https://\S")
_SPACES = re.compile(r"\s+")


def enabled(settings: Settings) -> bool:
    """Return whether the channel is on: an access token, the app's secret, a verify token and the
    business phone number's id are set."""
    return not missing(settings)


def missing(settings: Settings) -> list[str]:
    """Return the settings still needed to turn the channel on."""
    needed = {
        "WITAJ_WHATSAPP_ACCESS_TOKEN": settings.whatsapp_access_token,
        "WITAJ_WHATSAPP_APP_SECRET": settings.whatsapp_app_secret,
        "WITAJ_WHATSAPP_VERIFY_TOKEN": settings.whatsapp_verify_token,
        "WITAJ_WHATSAPP_PHONE_NUMBER_ID": settings.whatsapp_phone_number_id,
    }
    return [name for name, value in needed.items() if not value]


def template_name(settings: Settings) -> str | None:
    """Return the approved template a reply after the 24-hour window goes in (None: none)."""
    return settings.whatsapp_template or None


def window_closed(error: str | None) -> bool:
    """Return whether a refusal says the 24-hour window closed (Graph API error 131047, "Re-engagement
    message"): a caseworker's reply queued in time and refused after it then goes as the template."""
    return bool(error) and error.endswith("(131047)")  # type: ignore[union-attr]


def signature(secret: str, body: bytes) -> str:
    """Return the X-Hub-Signature-256 value Meta sends with body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(settings: Settings, headers: Mapping[str, str], body: bytes) -> bool:
    """Return whether the request carries the app secret's signature of its raw body."""
    secret = settings.whatsapp_app_secret
    sent = headers.get(SIGNATURE_HEADER)
    if not secret or not sent:
        return False
    return hmac.compare_digest(sent.strip().encode(), signature(secret, body).encode())


def challenge(settings: Settings, *, mode: str, token: str, challenge: str) -> str | None:
    """Return the challenge to echo when Meta verifies the webhook with our verify token, else None."""
    expected = settings.whatsapp_verify_token
    if mode != "subscribe" or not expected or not token:
        return None
    return challenge if hmac.compare_digest(token.encode(), expected.encode()) else None


def _hint(settings: Settings, wa_id: str) -> str | None:
    """Return the language the number's country calling code suggests, if Witaj speaks it."""
    for length in (3, 2, 1):
        language = CALLING_CODES.get(wa_id[:length])
        if language is not None:
            return language if language in settings.locales else None
    return None


def _words(message: Mapping[str, Any]) -> tuple[str, int]:
    """Return what a message says (a pressed button: its payload) and how many attachments it has."""
    kind = message.get("type")
    part = message.get(kind) if isinstance(kind, str) else None
    part = part if isinstance(part, Mapping) else {}
    if kind == "text":
        return str(part.get("body") or ""), 0
    if kind == "interactive":
        reply = part.get("button_reply") or part.get("list_reply")
        return (str(reply.get("id") or reply.get("title") or "") if isinstance(reply, Mapping) else ""), 0
    if kind == "button":
        # A template's quick reply button: its payload, or its text.
        return str(part.get("payload") or part.get("text") or ""), 0
    if kind in ATTACHMENTS:
        caption = part.get("caption") if kind in CAPTIONED else None
        return (caption if isinstance(caption, str) else ""), 1
    return "", 0


def read(settings: Settings, payload: Mapping[str, Any]) -> list[Received]:
    """Return the newcomers' messages a webhook delivery carries (several are possible), in order;
    nothing for statuses (sent, delivered, read, failed), reactions and anything else."""
    if payload.get("object") != "whatsapp_business_account":
        return []
    out = []
    for entry in payload.get("entry") or ():
        if not isinstance(entry, Mapping):
            continue
        for change in entry.get("changes") or ():
            if not isinstance(change, Mapping) or change.get("field", "messages") != "messages":
                continue
            value = change.get("value")
            if not isinstance(value, Mapping):
                continue
            metadata = value.get("metadata")
            number = metadata.get("phone_number_id") if isinstance(metadata, Mapping) else None
            if number is not None and str(number) != str(settings.whatsapp_phone_number_id):
                continue  # another number of the same business account: not ours to answer
            for message in value.get("messages") or ():
                if not isinstance(message, Mapping):
                    continue
                wa_id, wamid = message.get("from"), message.get("id")
                if not isinstance(wa_id, str) or not wa_id or not isinstance(wamid, str) or not wamid:
                    continue
                text, attachments = _words(message)
                if not text.strip() and not attachments:
                    continue
                inbound = Inbound(
                    channel=NAME, sender=wa_id, text=text, language_hint=_hint(settings, wa_id),
                    message_id=wamid, attachments=attachments,
                )
                out.append(Received(inbound=inbound, address=wa_id))
    return out


def _url(settings: Settings) -> str:
    return f"{settings.whatsapp_api_url.rstrip('/')}/{settings.whatsapp_phone_number_id}/messages"


def _cut(text: str, limit: int) -> str:
    """Return text, or (longer than limit) its start with "…", cut between words where it can."""
    if len(text) <= limit:
        return text
    start = text[: limit - 1]
    space = start.rfind(" ")
    return (start[:space] if space >= limit // 2 else start).rstrip(" ,.;:-–") + "…"


def _compact(payload: str) -> str:
    """Return a payload with its JSON entities written without spaces ('/inform{"a":"b"}')."""
    if payload.startswith("/") and "{" in payload:
        name, _brace, rest = payload.partition("{")
        try:
            return name + json.dumps(json.loads("{" + rest), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            return payload
    return payload


def _button_id(button: Button, limit: int) -> str:
    """Return a quick reply's id: its payload, or (longer than WhatsApp allows) its title, which the
    assistant reads as if typed."""
    for candidate in (_compact(button.payload or ""), button.title):
        if 0 < len(candidate) <= limit:
            return candidate
    return button.title[:limit]


def _split_for_body(text: str) -> tuple[list[str], str]:
    """Return the text messages to send first and the last part (at most 1024 characters), the body
    of the interactive message that ends the answer."""
    if len(text) <= BODY_LIMIT:
        return [], text
    last = split_text(text, BODY_LIMIT)[-1]
    # split_text keeps its last part as the text's own end: what comes before it goes as text.
    head = text[: len(text) - len(last)].rstrip()
    return [part for part in split_text(head, TEXT_LIMIT) if part.strip()], last


def _reply_buttons(buttons: tuple[Button, ...]) -> dict[str, Any]:
    seen, out = set(), []
    for button in buttons:
        ident = _button_id(button, BUTTON_ID_LIMIT)
        if ident in seen:
            continue
        seen.add(ident)
        out.append({"type": "reply", "reply": {"id": ident, "title": button.title}})
    return {"buttons": out}


def _rows(buttons: tuple[Button, ...]) -> list[dict[str, str]]:
    seen, rows = set(), []
    for button in buttons:
        ident = _button_id(button, ROW_ID_LIMIT)
        if ident in seen:
            continue
        seen.add(ident)
        row = {"id": ident, "title": _cut(button.title, ROW_TITLE_LIMIT)}
        if row["title"] != button.title:
            row["description"] = _cut(button.title, ROW_DESCRIPTION_LIMIT)
        rows.append(row)
    return rows


def _lists(rows: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """Return rows in lists of at most 10, as even as they go (11 options: 6 and 5)."""
    count = -(-len(rows) // LIST_ROWS)
    size = -(-len(rows) // count) if count else 0
    return [rows[i : i + size] for i in range(0, len(rows), size)] if size else []


def calls(settings: Settings, address: str, message: Outbound, *, language: str, template: bool = False) -> list[Call]:
    """Return the /messages requests of one message: the text (in parts of at most 4096
    characters), its quick replies as reply buttons or a list, one call-to-action button per link;
    or (template, after the 24-hour window) the approved template with the text as its parameter."""
    headers = {"Authorization": f"Bearer {settings.whatsapp_access_token}"}
    url = _url(settings)

    def call(kind: str, content: dict[str, Any]) -> Call:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": address, "type": kind, kind: content}
        return Call(url, body, headers)

    def text(part: str) -> Call:
        return call("text", {"body": part, "preview_url": bool(_HTTPS.search(part))})

    def interactive(kind: str, body: str, action: dict[str, Any]) -> Call:
        return call("interactive", {"type": kind, "body": {"text": body}, "action": action})

    if template:
        # A template parameter may hold no new line, tab or run of spaces: the words are kept whole.
        words = _SPACES.sub(" ", message.text).strip() or "…"
        code = TEMPLATE_LANGUAGES.get(language, language)
        return [
            call(
                "template",
                {
                    "name": template_name(settings),
                    "language": {"code": code},
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": part}]}],
                },
            )
            for part in split_text(words, TEMPLATE_PARAMETER_LIMIT)
        ]

    quick, links = message.quick_replies, message.links
    if not quick and not links:
        return [text(part) for part in split_text(message.text, TEXT_LIMIT) if part.strip()]
    first, body = _split_for_body(message.text)
    out = [text(part) for part in first]
    body = body if body.strip() else "…"
    if quick:
        if len(quick) <= REPLY_BUTTONS and all(len(b.title) <= BUTTON_TITLE_LIMIT for b in quick):
            out.append(interactive("button", body, _reply_buttons(quick)))
        else:
            with use_locale(language):
                label = _cut(_("Choose…"), LIST_BUTTON_LIMIT)
            for number, rows in enumerate(_lists(_rows(quick))):
                # More than 10 options: the next list goes with the button's word as its body.
                out.append(interactive("list", body if number == 0 else label, {"button": label, "sections": [{"rows": rows}]}))
        body = ""
    for link in links:
        # The answer's text goes with its first button, when no quick replies took it; a further
        # link's message says what it opens.
        out.append(
            interactive(
                "cta_url",
                body or link.title,
                {"name": "cta_url", "parameters": {"display_text": _cut(link.title, DISPLAY_TEXT_LIMIT), "url": link.url}},
            )
        )
        body = ""
    return out


def refusal(status: int, body: bytes) -> str | None:
    """Return None when WhatsApp took the message (2xx with messages[0].id), else the status and the
    Graph API error's message and code."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        answer = {}
    answer = answer if isinstance(answer, dict) else {}
    messages = answer.get("messages")
    if 200 <= status < 300 and isinstance(messages, list) and messages and isinstance(messages[0], dict) and messages[0].get("id"):
        return None
    error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
    reason = str(error.get("message") or "")[:200]
    code = error.get("code")
    detail = (f": {reason}" if reason else "") + (f" ({code})" if code is not None else "")
    return f"HTTP {status}{detail}"[:300]
