"""Viber's REST Bot API as a fake server, and callbacks as Viber posts them.

Shapes from the REST Bot API documentation (https://developers.viber.com/docs/api/rest-bot-api/):
- every request carries the bot's token in the X-Viber-Auth-Token header; every answer is HTTP 200
  with "status" 0 and "status_message" "ok", or an error code: 2 invalidAuthToken, 3 badData,
  6 receiverNotSubscribed, 12 apiRateLimit ("Error Codes");
- set_webhook(url, event_types, send_name, send_photo) answers {"status": 0, "status_message":
  "ok", "event_types": [...]}, after Viber's signed "webhook" callback to url;
- send_message(receiver, min_api_version, sender {name, avatar}, tracking_data, type "text", text,
  keyboard) answers {"status": 0, "status_message": "ok", "message_token": ..., "chat_hostname":
  ...}; a text message's text is at most 7,000 characters; a keyboard is {"Type": "keyboard",
  "Buttons": [{"Columns", "Rows", "ActionType" reply / open-url, "ActionBody", "Text"}]};
- callbacks ("Callbacks"): {"event": "message", "timestamp", "chat_hostname", "message_token",
  "sender": {"id", "name", "avatar", "language", "country", "api_version"}, "message": {"type":
  "text", "text", "tracking_data"}} (or type "picture" with "media" and a caption in "text"),
  {"event": "subscribed" | "delivered" | "seen" | "webhook", ...}; each POSTed with
  X-Viber-Content-Signature: the hex HMAC-SHA256 of the body keyed with the auth token.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from app.assistant.channels import viber
from tests.assistant.fake_provider import FakeProvider

TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"


class FakeViber(FakeProvider):
    """The REST Bot API methods Witaj calls, checked as Viber checks them."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens = itertools.count(5_000_000_000_000_000_000)

    def answer_request(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if headers.get("x-viber-auth-token") != TOKEN:
            return 200, {"status": 2, "status_message": "invalidAuthToken"}
        if path == "/send_message":
            if not isinstance(body, dict) or not body.get("receiver") or body.get("type") != "text":
                return 200, {"status": 3, "status_message": "badData"}
            if not 1 <= len(body.get("text", "")) <= 7000 or len(body.get("sender", {}).get("name", "")) > 28:
                return 200, {"status": 3, "status_message": "badData"}
            tracking = body.get("tracking_data")
            if tracking is not None and len(tracking) > 4096:
                return 200, {"status": 3, "status_message": "badData"}
            return 200, {"status": 0, "status_message": "ok", "message_token": next(self.tokens), "chat_hostname": "SN-CHAT-05_"}
        if path == "/set_webhook":
            return 200, {"status": 0, "status_message": "ok", "event_types": body.get("event_types", [])}
        return 404, {"status": 3, "status_message": "badData"}

    def sent(self, receiver: str | None = None) -> list[dict[str, Any]]:
        """Return the send_message bodies Viber took (to receiver, if given), oldest first."""
        return [
            item.body for item in self.requests_to("/send_message")
            if receiver is None or item.body.get("receiver") == receiver
        ]


_tokens = itertools.count(4_912_661_846_655_238_145)


def message_callback(
    user_id: str, text: str, *, language: str | None = "uk", token: int | None = None,
    tracking_data: str | None = None, kind: str = "text",
) -> dict[str, Any]:
    """Return a "message" callback: the user wrote text (or sent a picture, kind "picture")."""
    message: dict[str, Any] = {"type": kind, "text": text}
    if kind == "picture":
        message["media"] = "https://dl-media.viber.com/1/share/2/long/bots/generic-message-photo.jpg"
    if tracking_data is not None:
        message["tracking_data"] = tracking_data
    sender: dict[str, Any] = {"id": user_id, "name": "Olena", "avatar": "https://avatar.example.com", "country": "UA", "api_version": 10}
    if language:
        sender["language"] = language
    return {
        "event": "message",
        "timestamp": 1764777600000,
        "chat_hostname": "SN-CHAT-05_",
        "message_token": token if token is not None else next(_tokens),
        "sender": sender,
        "message": message,
        "silent": False,
    }


def pressed(user_id: str, sent: dict[str, Any], title: str) -> dict[str, Any]:
    """Return the callback of pressing the reply button `title` of a message Witaj sent: Viber sends
    the button's ActionBody as a text message, with that message's tracking_data."""
    [button] = [b for b in sent["keyboard"]["Buttons"] if b["ActionType"] == "reply" and b["ActionBody"] == title]
    return message_callback(user_id, button["ActionBody"], tracking_data=sent.get("tracking_data"))


def signed(callback: dict[str, Any], token: str = TOKEN) -> tuple[bytes, dict[str, str]]:
    """Return the callback's body and headers as Viber posts it."""
    body = json.dumps(callback, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", "X-Viber-Content-Signature": viber.signature(token, body)}
