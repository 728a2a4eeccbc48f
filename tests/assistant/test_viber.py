"""Whole conversations through the Viber adapter, against a fake REST Bot API server on 127.0.0.1
that answers as Viber's documentation shows, with the real dialogues, NLU model and database.

Shapes and signature: the REST Bot API reference (https://developers.viber.com/docs/api/rest-bot-api/:
"Callbacks" for the message event and X-Viber-Content-Signature, the hex HMAC-SHA256 of the body
keyed with the auth token; "Send Message", "Keyboards", "Set webhook", "Error Codes"), cited field
by field in tests/assistant/fake_viber.py."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import func, select

from app.assistant import service as chat_service
from app.assistant.channels import flows as channel_flows
from app.assistant.channels import outbox, viber
from app.assistant.channels.shapes import Button, Outbound
from app.assistant.models import ChannelDelivery, Conversation, ConversationMessage
from app.cases.models import CaseFile
from app.config import PROJECT_ROOT, get_settings
from app.db import utcnow
from app.i18n import translations
from tests.assistant.fake_provider import serving
from tests.assistant.fake_viber import TOKEN, FakeViber, message_callback, pressed, signed
from tests.conftest import csrf_from


@pytest.fixture
def fake():
    with serving(FakeViber()) as server:
        yield server


@pytest.fixture
def settings(fake):
    return get_settings().model_copy(update={"viber_auth_token": TOKEN, "viber_api_url": fake.url})


def post(client, callback: dict, *, token: str = TOKEN, headers: dict | None = None):
    body, signature = signed(callback, token)
    return client.post("/webhooks/viber", content=body, headers=signature if headers is None else headers)


def say(client, callback: dict):
    response = post(client, callback)
    assert response.status_code == 200, response.text
    return response


def conversation_of(db, user_id: str, settings) -> Conversation | None:
    return db.scalar(
        select(Conversation).where(
            Conversation.channel == "viber", Conversation.sender_id == chat_service.pseudonym(settings, "viber", user_id)
        )
    )


def said_by_user(db, conversation: Conversation) -> list[str]:
    return list(
        db.scalars(
            select(ConversationMessage.text).where(
                ConversationMessage.conversation_id == conversation.id, ConversationMessage.author == "user"
            ).order_by(ConversationMessage.id)
        )
    )


def said(name: str) -> str:
    """Return a response's English text (its msgid) from the dialogues' domain."""
    domain = yaml.safe_load((PROJECT_ROOT / "dialogues" / "domain.yml").read_text(encoding="utf-8"))
    return domain["responses"][name][0]["text"]


def ua(text: str) -> str:
    return translations("uk").ugettext(text)


def test_a_callback_not_signed_with_the_bots_token_is_refused_and_does_nothing(client, db, fake):
    callback = message_callback("01234567890A=", "привіт")
    body, good = signed(callback)
    for headers in ({}, {"X-Viber-Content-Signature": "0" * 64}, signed(callback, token=TOKEN + "x")[1]):
        assert client.post("/webhooks/viber", content=body, headers=headers).status_code == 401
    # The body changed after signing: the signature no longer matches.
    assert client.post("/webhooks/viber", content=body.replace(b"\xd0\xbf", b"\xd0\xb0", 1), headers=good).status_code == 401
    assert db.scalar(select(func.count()).select_from(Conversation).where(Conversation.channel == "viber")) == 0
    assert fake.seen == []


def test_the_channel_is_off_without_its_token(client, app):
    app.state.settings = get_settings()
    assert post(client, message_callback("off=", "hi")).status_code == 404


def test_viber_checks_the_webhook_and_other_events_are_acknowledged(client, db, fake):
    for event in ("webhook", "subscribed", "delivered", "seen", "conversation_started"):
        response = post(client, {"event": event, "timestamp": 1764777600000, "chat_hostname": "SN-CHAT-05_", "message_token": 1, "user": {"id": "x="}})
        assert response.status_code == 200
    assert fake.seen == []
    assert db.scalar(select(func.count()).select_from(Conversation).where(Conversation.channel == "viber")) == 0


def test_a_conversation_answers_with_a_keyboard_and_runs_what_is_pressed(client, db, settings, fake):
    user = "kQ2p1lX3mOUNFxRz+ad8Bw=="
    say(client, message_callback(user, "Привіт, потрібна допомога з роботою"))
    conversation = conversation_of(db, user, settings)
    assert conversation is not None and conversation.language == "uk"
    # The user id is stored only encrypted: the conversation is found by a keyed hash.
    assert user not in conversation.sender_id and user not in (conversation.address_encrypted or "")
    assert outbox.decrypt_address(settings, conversation.address_encrypted) == user
    sent = fake.sent(user)
    assert sent and all(body["sender"] == {"name": settings.viber_bot_name} for body in sent)
    with_keyboard = [body for body in sent if "keyboard" in body]
    assert with_keyboard, "quick replies come as a keyboard"
    last = with_keyboard[-1]
    replies = [b for b in last["keyboard"]["Buttons"] if b["ActionType"] == "reply"]
    assert replies and all(b["ActionBody"] and b["Columns"] == 6 for b in replies)
    payloads = json.loads(last["tracking_data"])["buttons"]
    title = replies[0]["ActionBody"]
    assert payloads[title].startswith("/")
    # Pressing the button: Viber sends its title as a message, with the message's tracking_data;
    # the turn runs the payload, and the history keeps what the newcomer saw.
    say(client, pressed(user, last, title))
    assert len(fake.sent(user)) > len(sent)
    assert len(said_by_user(db, conversation)) == 2


def test_a_repeated_callback_runs_no_second_turn(client, db, settings, fake):
    user = "rEpEaT0000000000000000=="
    callback = message_callback(user, "де отримати читацький квиток у бібліотеці?")
    say(client, callback)
    sent = len(fake.sent(user))
    say(client, callback)  # Viber repeats a callback whose 200 came too late
    assert len(fake.sent(user)) == sent
    assert len(said_by_user(db, conversation_of(db, user, settings))) == 1


def test_a_picture_gets_the_notice_that_only_words_are_read(client, db, settings, fake):
    user = "pIcTuRe0000000000000000=="
    say(client, message_callback(user, "", kind="picture"))
    [body] = fake.sent(user)
    assert body["text"] == ua(
        "I can read only written messages for now: photos, voice messages and files do "
        "not reach me. Please write your question in words."
    )
    assert conversation_of(db, user, settings) is None


def test_keyboards_escape_titles_split_long_answers_and_carry_links(settings):
    text = ("Słowo " * 1200 + "\n\n") * 3
    message = Outbound(
        text=text,
        buttons=(Button("<b>Tak</b> & więcej", payload="/affirm"), Button("Formularz", url="https://witaj.example/pl/forms/x")),
    )
    calls = viber.calls(settings, "abc=", message, language="pl")
    assert len(calls) >= 3 and all(len(call.json["text"]) <= viber.TEXT_LIMIT for call in calls)
    assert all(call.headers == {viber.AUTH_HEADER: settings.viber_auth_token} for call in calls)
    assert [("keyboard" in call.json) for call in calls] == [False] * (len(calls) - 1) + [True]
    buttons = calls[-1].json["keyboard"]["Buttons"]
    assert buttons == [
        {"Columns": 6, "Rows": 1, "ActionType": "reply", "ActionBody": "<b>Tak</b> & więcej", "Text": "&lt;b&gt;Tak&lt;/b&gt; &amp; więcej"},
        {"Columns": 6, "Rows": 1, "ActionType": "open-url", "ActionBody": "https://witaj.example/pl/forms/x", "Text": "Formularz"},
    ]
    assert json.loads(calls[-1].json["tracking_data"]) == {"buttons": {"<b>Tak</b> & więcej": "/affirm"}, "language": "pl"}
    # What comes back maps a pressed title to its payload; a forged tracking_data maps to words only.
    [received] = viber.read(settings, message_callback("abc=", "<b>Tak</b> & więcej", tracking_data=calls[-1].json["tracking_data"]))
    assert received.inbound.text == "/affirm" and received.address == "abc=" and received.inbound.language_hint == "pl"
    [typed] = viber.read(settings, message_callback("abc=", "hello", tracking_data='{"buttons": {"hello": "not a payload"}}'))
    assert typed.inbound.text == "hello"


def test_read_takes_messages_and_the_phones_language_as_a_hint(settings):
    [item] = viber.read(settings, message_callback("a=", "Hola", language="es-MX", token=77))
    assert (item.inbound.channel, item.inbound.sender, item.inbound.text, item.inbound.language_hint, item.inbound.message_id) == (
        "viber", "a=", "Hola", "es", "77"
    )
    assert viber.read(settings, message_callback("a=", "Hi", language="zz"))[0].inbound.language_hint is None
    assert viber.read(settings, {"event": "message", "sender": {"id": "a="}, "message": {"type": "text", "text": "x"}}) == []
    assert viber.read(settings, {"event": "message", "message_token": 1, "sender": {}, "message": {"type": "text"}}) == []


def test_a_handed_over_chat_gets_the_caseworkers_reply_on_viber(client, db, settings, fake, world, login):
    user = "hAnDoVeR000000000000000=="
    say(client, message_callback(user, "I want to talk to a person", language="en"))
    conversation = conversation_of(db, user, settings)
    case = db.get(CaseFile, conversation.case_id)
    assert case is not None
    login(world.caseworker.email, "long enough password", locale="en")
    page = client.get(f"/en/staff/cases/{case.reference}")
    assert "Viber" in page.text
    before = len(fake.sent(user))
    client.post(f"/en/staff/cases/{case.reference}/chat", data={"csrf_token": csrf_from(page.text), "reply": "Hello, Kasia here."})
    texts = [body["text"] for body in fake.sent(user)[before:]]
    assert texts == [translations("en").ugettext("A person from our team has joined the chat."), "Hello, Kasia here."]
    assert "Delivered" in client.get(f"/en/staff/cases/{case.reference}").text


def test_an_unsubscribed_user_is_shown_to_the_caseworker_and_retried_once_taken(client, db, settings, fake, world, login):
    user = "uNsUbScRiBeD00000000000=="
    say(client, message_callback(user, "I want to talk to a person", language="en"))
    case = db.get(CaseFile, conversation_of(db, user, settings).case_id)
    login(world.caseworker.email, "long enough password", locale="en")
    page = client.get(f"/en/staff/cases/{case.reference}")
    # Viber answers HTTP 200 with an error status: the user left the bot's chat.
    fake.fail_next(200, {"status": 6, "status_message": "notSubscribed"})
    client.post(f"/en/staff/cases/{case.reference}/chat", data={"csrf_token": csrf_from(page.text), "reply": "Are you there?"})
    delivery = db.scalars(select(ChannelDelivery).where(ChannelDelivery.channel == "viber").order_by(ChannelDelivery.id.desc())).first()
    db.refresh(delivery)
    assert delivery.attempts == 1 and delivery.delivered_at is None and delivery.last_error == "Viber status 6: notSubscribed"
    page = client.get(f"/en/staff/cases/{case.reference}")
    assert "notSubscribed" in page.text and "Not delivered yet" in page.text
    later = utcnow() + timedelta(minutes=10)
    assert channel_flows.deliver(db=db, settings=settings, now=later)["sent"] == 1
    db.refresh(delivery)
    assert delivery.delivered_at is not None and delivery.body == {} and delivery.address_encrypted is None
    assert channel_flows.deliver(db=db, settings=settings, now=later + timedelta(hours=1)) == {"sent": 0, "retry": 0, "failed": 0}
    texts = [body["text"] for body in fake.sent(user)]
    assert texts.count("Are you there?") == 1  # refused once, taken once, never twice


def test_a_provider_5xx_is_a_refusal_and_the_message_is_never_in_it():
    assert viber.refusal(200, b'{"status":0,"status_message":"ok","message_token":1}') is None
    assert viber.refusal(503, b"<html>Service Unavailable</html>") == "HTTP 503"
    assert viber.refusal(200, b'{"status":12,"status_message":"apiRateLimit"}') == "Viber status 12: apiRateLimit"
    assert viber.refusal(200, b"not json") == "Viber status None"


def test_set_webhook_points_viber_at_witaj(settings, fake, monkeypatch):
    from click.testing import CliRunner

    from app.cli import main as cli

    monkeypatch.setenv("WITAJ_VIBER_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("WITAJ_VIBER_API_URL", fake.url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["channels", "viber", "set-webhook", "--url", "https://witaj.example/webhooks/viber"])
        status = CliRunner().invoke(cli, ["channels", "status"])
        monkeypatch.setenv("WITAJ_VIBER_AUTH_TOKEN", "wrong-token")
        get_settings.cache_clear()
        refused = CliRunner().invoke(cli, ["channels", "viber", "set-webhook", "--url", "https://witaj.example/webhooks/viber"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    request = fake.requests_to("/set_webhook")[0]
    assert request.body["url"] == "https://witaj.example/webhooks/viber" and request.headers["x-viber-auth-token"] == TOKEN
    assert "viber: on" in status.output
    assert refused.exit_code != 0 and "invalidAuthToken" in refused.output


def test_a_posters_link_opens_the_chat_with_a_welcome_in_its_language_and_nothing_is_stored(client, db, settings, fake):
    """viber://pa?chatURI=<uri>&context=uk (a QR code on a poster): Viber sends conversation_started,
    whose answer is the welcome message (a bot may not write first); pressing one of its options
    starts the conversation in that language."""
    user = "wElCoMe0000000000000000=="
    opened = {
        "event": "conversation_started", "timestamp": 1764777600000, "chat_hostname": "SN-CHAT-05_",
        "message_token": 4912661846655238146, "type": "open", "context": "uk",
        "user": {"id": user, "name": "Olena", "language": "en", "country": "UA", "api_version": 10},
        "subscribed": False,
    }
    response = post(client, opened)
    assert response.status_code == 200
    welcome = response.json()
    uk = translations("uk")
    assert welcome["type"] == "text" and welcome["sender"] == {"name": settings.viber_bot_name}
    assert welcome["text"] == uk.ugettext(said("utter_greet")) + "\n\n" + uk.ugettext(said("utter_menu"))
    titles = [b["ActionBody"] for b in welcome["keyboard"]["Buttons"] if b["ActionType"] == "reply"]
    assert uk.ugettext("Find a job") in titles
    assert json.loads(welcome["tracking_data"])["language"] == "uk"
    assert fake.seen == [] and conversation_of(db, user, settings) is None  # nothing sent, nothing kept
    # The newcomer presses "Find a job" (in Ukrainian): the conversation starts in Ukrainian.
    say(client, pressed(user, welcome, uk.ugettext("Find a job")))
    conversation = conversation_of(db, user, settings)
    assert conversation.language == "uk" and said_by_user(db, conversation) == ["/job_search"]
    assert fake.sent(user)[0]["text"] == uk.ugettext(said("utter_job_search"))
    # Without a context (the bot's plain link) the phone's language welcomes; an unknown one falls back.
    spanish = post(client, {**opened, "context": None, "user": {**opened["user"], "language": "es"}}).json()
    assert spanish["text"].startswith(translations("es").ugettext(said("utter_greet")))
    assert json.loads(post(client, {**opened, "context": "xx", "user": {"id": user}}).json()["tracking_data"])["language"] == settings.default_locale
