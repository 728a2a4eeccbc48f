"""WhatsApp's Cloud API as a fake server, and webhook deliveries as Meta posts them.

Shapes from Meta's documentation (WhatsApp Business Platform, Cloud API):
- sending: POST /<API_VERSION>/<PHONE_NUMBER_ID>/messages with "Authorization: Bearer <token>" and
  {"messaging_product": "whatsapp", "recipient_type": "individual", "to", "type", <type>: {...}};
  the answer is {"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}], "messages":
  [{"id": "wamid..."}]} (template messages add "message_status": "accepted")
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/reference/whatsapp-business-phone-number/message-api);
- text messages: text.body of at most 4096 characters, preview_url
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/text-messages);
- interactive reply buttons: body.text at most 1024 characters, 1-3 buttons of type "reply", id at
  most 256 characters, title at most 20
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-reply-buttons-messages);
- interactive list: action.button at most 20 characters, up to 10 sections and 10 rows in all, a
  row's id at most 200, title at most 24, description at most 72, a section's title required when
  there is more than one
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-list-messages);
- interactive call-to-action URL: action {"name": "cta_url", "parameters": {"display_text" (at most
  20), "url"}}
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-cta-url-messages);
- template messages: template {"name", "language": {"code"}, "components": [{"type": "body",
  "parameters": [{"type": "text", "text"}]}]}; a parameter may hold no new line, tab or more than
  four spaces in a row; language codes as listed (Belarusian is be_BY)
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/supported-languages);
- errors: {"error": {"message", "type", "code", "error_data": {"messaging_product", "details"},
  "error_subcode", "fbtrace_id"}}; 131047 re-engagement (the 24-hour window), 130429 rate limit
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes);
- webhooks: GET verification with hub.mode=subscribe, hub.verify_token, hub.challenge; POSTs signed
  with X-Hub-Signature-256, "sha256=" + HMAC-SHA256 of the raw body with the app secret
  (https://developers.facebook.com/docs/graph-api/webhooks/getting-started); the "messages" field's
  value holds metadata, contacts, messages[] (text, interactive button_reply / list_reply, button,
  image, ...) or statuses[]
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/interactive).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from collections.abc import Sequence
from typing import Any

from tests.assistant.fake_provider import FakeProvider

TOKEN = "EAAGm0PX4ZCpsBAKZCwitajTestToken0123456789"
APP_SECRET = "0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a"
VERIFY_TOKEN = "witaj-verify-token_01"
PHONE_NUMBER_ID = "106540352242922"
TEMPLATE = "witaj_caseworker_reply"
API_VERSION = "v21.0"
#: Template language codes the fake accepts for the template (as if approved in each).
TEMPLATE_LANGUAGES = {"pl", "uk", "ru", "be_BY", "ka", "tr", "vi", "hi", "es", "ar", "en"}


def graph_error(code: int, message: str, details: str = "", subcode: int | None = None) -> dict[str, Any]:
    """Return a Graph API error body."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEfGhIjK"}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def _invalid(details: str) -> tuple[int, Any]:
    return 400, graph_error(100, "(#100) Invalid parameter", details)


class FakeWhatsApp(FakeProvider):
    """The Cloud API's /messages endpoint, checked as WhatsApp checks it."""

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(1)
        self.taken: list[dict[str, Any]] = []
        self._local = threading.local()

    @property
    def api_url(self) -> str:
        """Return the Graph API base Witaj is configured with (WITAJ_WHATSAPP_API_URL)."""
        return f"{self.url}/{API_VERSION}"

    def _respond(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        self._local.headers = headers  # answer() runs in this thread, right after
        return super()._respond(method, path, headers, raw)

    def answer(self, path: str, body: Any) -> tuple[int, Any]:
        if getattr(self._local, "headers", {}).get("authorization") != f"Bearer {TOKEN}":
            return 401, graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        if path != f"/{API_VERSION}/{PHONE_NUMBER_ID}/messages":
            return 400, graph_error(100, "Unsupported post request.", subcode=33)
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return _invalid("messaging_product is required")
        if body.get("recipient_type") != "individual" or not str(body.get("to", "")).isdigit():
            return _invalid("to must be the user's phone number")
        kind = body.get("type")
        problem = {"text": self._text, "interactive": self._interactive, "template": self._template}.get(kind)
        if problem is None:
            return _invalid(f"unsupported type {kind!r}")
        found = problem(body.get(kind))
        if found is not None:
            return found
        self.taken.append(body)
        message: dict[str, Any] = {"id": f"wamid.HBgLNDg2MDEyMzQ1NjcVAgARGBI{next(self.ids):08d}AA=="}
        if kind == "template":
            message["message_status"] = "accepted"
        return 200, {"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}], "messages": [message]}

    @staticmethod
    def _text(text: Any) -> tuple[int, Any] | None:
        if not isinstance(text, dict) or not 1 <= len(str(text.get("body", ""))) <= 4096:
            return _invalid("text.body must be 1-4096 characters")
        if not isinstance(text.get("preview_url", False), bool):
            return _invalid("text.preview_url must be a boolean")
        return None

    @staticmethod
    def _interactive(part: Any) -> tuple[int, Any] | None:
        if not isinstance(part, dict) or not 1 <= len(str((part.get("body") or {}).get("text", ""))) <= 1024:
            return _invalid("interactive.body.text must be 1-1024 characters")
        action = part.get("action") or {}
        if part.get("type") == "button":
            buttons = action.get("buttons") or []
            if not 1 <= len(buttons) <= 3:
                return _invalid("between 1 and 3 reply buttons")
            ids = [b.get("reply", {}).get("id", "") for b in buttons]
            titles = [b.get("reply", {}).get("title", "") for b in buttons]
            if any(b.get("type") != "reply" for b in buttons) or len(set(ids)) != len(ids) or len(set(titles)) != len(titles):
                return _invalid("reply buttons need unique ids and titles")
            if not all(1 <= len(i) <= 256 for i in ids) or not all(1 <= len(t) <= 20 for t in titles):
                return _invalid("a reply button's id is 1-256 characters, its title 1-20")
            return None
        if part.get("type") == "list":
            sections = action.get("sections") or []
            rows = [row for section in sections for row in section.get("rows") or []]
            if not 1 <= len(str(action.get("button", ""))) <= 20:
                return _invalid("the list's button is 1-20 characters")
            if not 1 <= len(sections) <= 10 or not 1 <= len(rows) <= 10:
                return _invalid("up to 10 sections and 10 rows in all")
            if len(sections) > 1 and not all(section.get("title") for section in sections):
                return _invalid("sections need titles when there are several")
            ids = [row.get("id", "") for row in rows]
            if len(set(ids)) != len(ids) or not all(1 <= len(i) <= 200 for i in ids):
                return _invalid("a row's id is unique, 1-200 characters")
            if not all(1 <= len(row.get("title", "")) <= 24 and len(row.get("description", "")) <= 72 for row in rows):
                return _invalid("a row's title is 1-24 characters, its description at most 72")
            return None
        if part.get("type") == "cta_url":
            parameters = action.get("parameters") or {}
            if action.get("name") != "cta_url" or not str(parameters.get("url", "")).startswith(("https://", "http://")):
                return _invalid("a cta_url action needs a url")
            if not 1 <= len(str(parameters.get("display_text", ""))) <= 20:
                return _invalid("display_text is 1-20 characters")
            return None
        return _invalid("unsupported interactive type")

    @staticmethod
    def _template(part: Any) -> tuple[int, Any] | None:
        if not isinstance(part, dict) or part.get("name") != TEMPLATE:
            return 404, graph_error(132001, "(#132001) Template name does not exist in the translation")
        if (part.get("language") or {}).get("code") not in TEMPLATE_LANGUAGES:
            return 404, graph_error(132001, "(#132001) Template name does not exist in the translation")
        components = part.get("components") or []
        parameters = [p for c in components if c.get("type") == "body" for p in c.get("parameters") or []]
        if len(parameters) != 1 or parameters[0].get("type") != "text":
            return 400, graph_error(132000, "(#132000) Number of parameters does not match the expected number of params")
        text = str(parameters[0].get("text", ""))
        if not 1 <= len(text) <= 1024 or "\n" in text or "\t" in text or "     " in text:
            return 400, graph_error(132018, "(#132018) There was an issue with the parameters in your template.")
        return None

    def sent(self, to: str | None = None) -> list[dict[str, Any]]:
        """Return the /messages bodies WhatsApp took (to a number, if given), oldest first."""
        return [body for body in self.taken if to is None or body["to"] == to]

    def tried(self, to: str) -> list[dict[str, Any]]:
        """Return every /messages body posted to a number, taken or refused."""
        return [item.body for item in self.requests_to("/messages") if isinstance(item.body, dict) and item.body.get("to") == to]


# --- webhook deliveries as Meta posts them ----------------------------------------------------------

_wamids = itertools.count(1)


def wamid() -> str:
    """Return a new WhatsApp message id."""
    return f"wamid.HBgMNDg2MDEyMzQ1Njc4FQIAEhggQ{next(_wamids):012d}AA=="


def _message(wa_id: str, kind: str, content: dict[str, Any], *, message_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"from": wa_id, "id": message_id or wamid(), "timestamp": "1764777600", "type": kind, kind: content, **extra}


def text(wa_id: str, body: str, *, message_id: str | None = None) -> dict[str, Any]:
    """Return a text message."""
    return _message(wa_id, "text", {"body": body}, message_id=message_id)


def pressed(wa_id: str, ident: str, title: str, *, row: bool = False) -> dict[str, Any]:
    """Return the reply to an interactive message: a reply button (button_reply) or a list row."""
    reply = {"id": ident, "title": title}
    kind = "list_reply" if row else "button_reply"
    context = {"from": "15550783881", "id": wamid()}
    return _message(wa_id, "interactive", {"type": kind, kind: reply}, context=context)


def template_button(wa_id: str, payload: str, label: str) -> dict[str, Any]:
    """Return a template's quick reply button pressed."""
    return _message(wa_id, "button", {"payload": payload, "text": label}, context={"from": "15550783881", "id": wamid()})


def image(wa_id: str, caption: str | None = None) -> dict[str, Any]:
    """Return a photo, with a caption if given."""
    content = {"mime_type": "image/jpeg", "sha256": "81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3", "id": "2754859441498128"}
    if caption:
        content["caption"] = caption
    return _message(wa_id, "image", content)


def location(wa_id: str) -> dict[str, Any]:
    """Return a shared location."""
    return _message(wa_id, "location", {"latitude": 50.0614, "longitude": 19.9366, "name": "Rynek Główny"})


def status(wa_id: str, message_id: str, state: str = "delivered") -> dict[str, Any]:
    """Return a status of a message the business sent (sent, delivered, read, failed)."""
    return {
        "id": message_id, "status": state, "timestamp": "1764777601", "recipient_id": wa_id,
        "pricing": {"billable": False, "pricing_model": "PMP", "category": "service", "type": "free_customer_service"},
    }


def delivery(
    messages: Sequence[dict[str, Any]] = (),
    statuses: Sequence[dict[str, Any]] = (),
    *,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """Return a webhook delivery of the "messages" field with these messages or statuses."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Olena"}, "wa_id": wa_id} for wa_id in dict.fromkeys(m["from"] for m in messages)]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]}


def signed(payload: dict[str, Any], secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    """Return a delivery's raw body and the headers Meta sends with it."""
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}
