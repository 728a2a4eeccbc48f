"""Whole conversations through the WhatsApp adapter, against a fake Cloud API server on 127.0.0.1
that answers as Meta's documentation shows, with the real dialogues, NLU model and database.

Shapes and signature: the Cloud API reference
(https://developers.facebook.com/documentation/business-messaging/whatsapp: "Webhooks" for the
GET verification with hub.challenge, the X-Hub-Signature-256 header and the "messages" field's
payloads; "Messages" for text, interactive button / list / cta_url and template bodies; the 24-hour
customer service window), cited field by field in tests/assistant/fake_whatsapp.py."""

from __future__ import annotations

import html
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from app.assistant import service as chat_service
from app.assistant.channels import flows as channel_flows
from app.assistant.channels import outbox, whatsapp
from app.assistant.channels.shapes import Button, Outbound
from app.assistant.models import ChannelDelivery, Conversation, ConversationMessage
from app.cases.models import CaseFile
from app.cli import main as cli
from app.config import get_settings
from app.db import utcnow
from app.i18n import translations
from tests.assistant.fake_provider import serving
from tests.assistant.fake_whatsapp import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TEMPLATE,
    TOKEN,
    VERIFY_TOKEN,
    FakeWhatsApp,
    delivery,
    graph_error,
    image,
    location,
    pressed,
    signed,
    status,
    template_button,
    text,
    wamid,
)
from tests.conftest import csrf_from

UA = "380501234567"  # a Ukrainian number: the hint of a first message is Ukrainian
UK = "447700900123"  # a British number: English


@pytest.fixture
def fake():
    with serving(FakeWhatsApp()) as server:
        yield server


@pytest.fixture
def settings(fake):
    return get_settings().model_copy(
        update={
            "whatsapp_access_token": TOKEN, "whatsapp_app_secret": APP_SECRET, "whatsapp_verify_token": VERIFY_TOKEN,
            "whatsapp_phone_number_id": PHONE_NUMBER_ID, "whatsapp_api_url": fake.api_url, "whatsapp_template": None,
        }
    )


def post(client, payload: dict, *, secret: str = APP_SECRET, headers: dict | None = None):
    raw, signature = signed(payload, secret)
    return client.post("/webhooks/whatsapp", content=raw, headers=signature if headers is None else headers)


def say(client, *messages: dict):
    response = post(client, delivery(list(messages)))
    assert response.status_code == 200, response.text
    return response


def conversation_of(db, wa_id: str, settings) -> Conversation | None:
    return db.scalar(
        select(Conversation).where(
            Conversation.channel == "whatsapp", Conversation.sender_id == chat_service.pseudonym(settings, "whatsapp", wa_id)
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


def interactive(bodies: list[dict], kind: str) -> list[dict]:
    return [b["interactive"] for b in bodies if b["type"] == "interactive" and b["interactive"]["type"] == kind]


def deliver_later(db, settings, when):
    return channel_flows.deliver(db=db, settings=settings, now=when)


def verify(client, token: str, mode: str = "subscribe"):
    return client.get(
        "/webhooks/whatsapp", params={"hub.mode": mode, "hub.verify_token": token, "hub.challenge": "1158201444"}
    )


# --- the webhook's verification and signature ---------------------------------------------------


def test_meta_verifies_the_webhook_with_our_verify_token(client, app):
    answer = verify(client, VERIFY_TOKEN)
    assert answer.status_code == 200 and answer.text == "1158201444"
    assert answer.headers["content-type"].startswith("text/plain")
    assert verify(client, VERIFY_TOKEN + "x").status_code == 403
    assert verify(client, "").status_code == 403
    assert verify(client, VERIFY_TOKEN, mode="unsubscribe").status_code == 403
    app.state.settings = get_settings()  # the channel off: no token, no secret
    assert verify(client, VERIFY_TOKEN).status_code == 404


def test_a_delivery_without_the_apps_signature_is_refused_and_does_nothing(client, db, settings, fake):
    payload = delivery([text(UA, "привіт")])
    raw, good = signed(payload)
    for headers in (
        {"Content-Type": "application/json"},  # no signature
        {**good, "X-Hub-Signature-256": "sha256=" + "0" * 64},
        {**good, "X-Hub-Signature-256": good["X-Hub-Signature-256"].removeprefix("sha256=")},
        signed(payload, secret="another app's secret")[1],
    ):
        assert client.post("/webhooks/whatsapp", content=raw, headers=headers).status_code == 401
    # The signature of another body: a payload changed on the way.
    assert client.post("/webhooks/whatsapp", content=raw.replace(b"\xd0\xbf", b"p", 1), headers=good).status_code == 401
    assert db.scalar(select(func.count()).select_from(Conversation).where(Conversation.channel == "whatsapp")) == 0
    assert fake.seen == []


def test_the_channel_is_off_without_its_settings(client, app):
    app.state.settings = get_settings().model_copy(update={"whatsapp_access_token": TOKEN, "whatsapp_app_secret": APP_SECRET})
    assert post(client, delivery([text(UA, "hi")])).status_code == 404
    assert whatsapp.missing(app.state.settings) == ["WITAJ_WHATSAPP_VERIFY_TOKEN", "WITAJ_WHATSAPP_PHONE_NUMBER_ID"]


# --- conversations --------------------------------------------------------------------------------


def test_a_conversation_answers_with_a_list_and_reply_buttons_and_runs_what_is_pressed(client, db, settings, fake):
    say(client, text(UK, "Hello"))
    conversation = conversation_of(db, UK, settings)
    assert conversation.language == "en"
    first = fake.sent(UK)
    assert first and all(body["to"] == UK for body in first)
    assert first[0]["type"] == "text"
    # The menu has ten topics: a list message.
    [menu] = interactive(first, "list")
    assert menu["action"]["button"] == "Choose…"
    rows = menu["action"]["sections"][0]["rows"]
    assert len(rows) == 10 and "/legal_help" in [row["id"] for row in rows]
    assert {"id": "/labour_register", "title": "Register at the labour…", "description": "Register at the labour office"} in rows
    # The number is kept only encrypted: the conversation is found by a keyed hash.
    assert UK not in conversation.sender_id and UK not in conversation.address_encrypted
    assert outbox.decrypt_address(settings, conversation.address_encrypted) == UK

    # A row of the list sends its id back: the payload runs, whatever the row's title says.
    row = next(row for row in rows if row["id"] == "/legal_help")
    say(client, pressed(UK, row["id"], row["title"], row=True))
    answer = fake.sent(UK)[len(first):]
    # "Open a case" or "Talk to a person": two short options, reply buttons; then, a message of its
    # own, whether the answer helped.
    [buttons, rating] = interactive(answer, "button")
    options = {b["reply"]["title"]: b["reply"]["id"] for b in buttons["action"]["buttons"]}
    assert options == {"Open a case": '/fill_form{"case_topic":"legal_aid"}', "Talk to a person": "/human_handoff"}
    assert rating["body"]["text"] == "Did this answer help?"
    assert [b["reply"]["id"] for b in rating["action"]["buttons"]] == ['/feedback{"rating":"helpful"}', '/feedback{"rating":"unhelpful"}']  # compacted
    [form] = interactive(answer, "cta_url")  # a city form's link: a call-to-action button
    assert form["action"]["parameters"]["url"].startswith("http://testserver/en/forms/")

    # Pressing a reply button runs its payload: the handover opens a case.
    before = len(fake.sent(UK))
    say(client, pressed(UK, options["Talk to a person"], "Talk to a person"))
    db.refresh(conversation)
    assert conversation.case_id is not None and len(fake.sent(UK)) > before
    assert said_by_user(db, conversation) == ["Hello", "/legal_help", "/human_handoff"]


def test_every_message_of_one_delivery_is_answered_and_statuses_do_nothing(client, db, settings, fake):
    other = "48601234567"
    say(client, text(UA, "Привіт"), text(other, "Dzień dobry"), text(UA, "Де отримати читацький квиток?"))
    assert conversation_of(db, UA, settings).language == "uk"
    # The greeting's list opens with a word in the conversation's language.
    [menu, *_rest] = interactive(fake.sent(UA), "list")
    assert menu["action"]["button"] == translations("uk").ugettext("Choose…") != "Choose…"
    assert conversation_of(db, other, settings).language == "pl"
    assert len(said_by_user(db, conversation_of(db, UA, settings))) == 2
    assert fake.sent(other)
    sent = len(fake.seen)
    statuses = [status(UA, "wamid.sent-by-us", state) for state in ("sent", "delivered", "read")]
    statuses.append({**status(UA, "wamid.sent-by-us", "failed"), "errors": [{"code": 131047, "title": "Re-engagement message"}]})
    assert post(client, delivery(statuses=statuses)).status_code == 200
    assert len(fake.seen) == sent
    assert len(said_by_user(db, conversation_of(db, UA, settings))) == 2


def test_a_photo_gets_the_notice_that_only_words_are_read_and_a_caption_is_answered(client, db, settings, fake):
    notice = translations("uk").ugettext(
        "I can read only written messages for now: photos, voice messages and files do "
        "not reach me. Please write your question in words."
    )
    say(client, image(UA))
    [body] = fake.sent(UA)
    assert body["type"] == "text" and body["text"]["body"] == notice
    assert conversation_of(db, UA, settings) is None  # nothing of the photo is kept
    say(client, location(UA))
    assert [b["text"]["body"] for b in fake.sent(UA)[1:]] == [notice]
    say(client, image(UA, caption="Привіт"))
    after = fake.sent(UA)[2:]
    assert after[0]["text"]["body"] == notice and len(after) > 1
    assert said_by_user(db, conversation_of(db, UA, settings)) == ["Привіт"]


def test_a_repeated_delivery_runs_no_second_turn(client, db, settings, fake):
    message = text(UA, "де отримати читацький квиток у бібліотеці?", message_id=wamid())
    say(client, message)
    sent = len(fake.sent(UA))
    say(client, message)  # Meta delivers again when our 200 came too late
    assert len(fake.sent(UA)) == sent
    assert len(said_by_user(db, conversation_of(db, UA, settings))) == 1


# --- the caseworker's side ------------------------------------------------------------------------


def handed_over(client, db, settings, world, login, wa_id: str = UK) -> tuple[Conversation, CaseFile, str]:
    say(client, text(wa_id, "I want to talk to a person"))
    conversation = conversation_of(db, wa_id, settings)
    case = db.get(CaseFile, conversation.case_id)
    assert case is not None
    login(world.caseworker.email, "long enough password", locale="en")
    return conversation, case, f"/en/staff/cases/{case.reference}"


def reply(client, page_url: str, words: str):
    page = client.get(page_url)
    return client.post(f"{page_url}/chat", data={"csrf_token": csrf_from(page.text), "reply": words}, follow_redirects=False)


def test_a_handed_over_chat_gets_the_caseworkers_reply_on_whatsapp(client, db, settings, fake, world, login):
    conversation, case, page_url = handed_over(client, db, settings, world, login)
    assert conversation.language == "en"
    assert "WhatsApp" in client.get(page_url).text
    before = len(fake.sent(UK))
    reply(client, page_url, "Hello, Kasia here.\nHow can I help?")
    bodies = fake.sent(UK)[before:]
    assert [b["type"] for b in bodies] == ["text", "text"]
    assert [b["text"]["body"] for b in bodies] == [
        translations("en").ugettext("A person from our team has joined the chat."), "Hello, Kasia here.\nHow can I help?"
    ]
    assert "Delivered" in client.get(page_url).text


def close_the_window(db, conversation: Conversation) -> None:
    db.execute(
        update(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation.id, ConversationMessage.author == "user")
        .values(created_at=utcnow() - timedelta(hours=25))
    )
    db.flush()


def test_after_24_hours_a_reply_without_a_template_is_refused_and_nothing_is_sent(client, db, settings, fake, world, login):
    conversation, case, page_url = handed_over(client, db, settings, world, login)
    close_the_window(db, conversation)
    tried = len(fake.seen)
    staff = db.scalar(select(func.count()).select_from(ConversationMessage).where(ConversationMessage.conversation_id == conversation.id))
    response = reply(client, page_url, "Are you still there?")
    assert response.status_code in (302, 303)
    [error] = parse_qs(urlsplit(response.headers["location"]).query)["chat_error"]
    assert "24 hours" in error and "WITAJ_WHATSAPP_TEMPLATE" in error
    assert html.escape(error, quote=False) in client.get(response.headers["location"]).text  # the case page says why
    assert len(fake.seen) == tried
    assert db.scalar(select(func.count()).select_from(ConversationMessage).where(ConversationMessage.conversation_id == conversation.id)) == staff
    assert db.scalar(select(func.count()).select_from(ChannelDelivery).where(ChannelDelivery.kind == "template")) == 0


def test_after_24_hours_a_reply_goes_as_the_approved_template(client, app, db, settings, fake, world, login):
    app.state.settings = settings.model_copy(update={"whatsapp_template": TEMPLATE})
    conversation, case, page_url = handed_over(client, db, settings, world, login)
    close_the_window(db, conversation)
    before = len(fake.sent(UK))
    reply(client, page_url, "Your appointment is confirmed.\n\nCome on Monday   at 10:00.")
    [body] = fake.sent(UK)[before:]  # no "joined" notice: one template message
    assert body["type"] == "template"
    template = body["template"]
    assert template["name"] == TEMPLATE and template["language"] == {"code": "en"}
    assert template["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Your appointment is confirmed. Come on Monday at 10:00."}]}
    ]
    page = client.get(page_url).text
    assert "Delivered as an approved template message" in page


def test_a_reply_queued_in_time_and_refused_for_the_closed_window_goes_again_as_the_template(client, app, db, settings, fake, world, login):
    """The window was open when the caseworker answered, but WhatsApp refused the reply with 131047
    (it waited behind a failure until the 24 hours ran out): the next try is the approved template
    with the reply's words, at once, and the case page says so."""
    app.state.settings = settings.model_copy(update={"whatsapp_template": TEMPLATE})
    conversation, case, page_url = handed_over(client, db, settings, world, login)
    before = len(fake.sent(UK))
    fake.fail_next(400, graph_error(131047, "(#131047) Re-engagement message", "More than 24 hours have passed."))
    reply(client, page_url, "Your appointment is on Monday.")
    row = db.scalars(select(ChannelDelivery).where(ChannelDelivery.kind == "template")).one()
    db.refresh(row)
    assert row.attempts == 1 and row.delivered_at is None and row.parts_sent == 0
    assert [m["text"] for m in row.body["messages"]] == ["Your appointment is on Monday."]  # the notice is left out
    channel_flows.deliver(db=db, settings=app.state.settings, now=utcnow() + timedelta(seconds=1))
    [body] = fake.sent(UK)[before:]
    assert body["type"] == "template" and body["template"]["name"] == TEMPLATE
    assert body["template"]["components"][0]["parameters"][0]["text"] == "Your appointment is on Monday."
    assert "Delivered as an approved template message" in client.get(page_url).text
    # Without a template the refusal stays a refusal, retried and shown as before.
    assert not whatsapp.window_closed("HTTP 500: An unknown error has occurred. (1)") and whatsapp.window_closed(
        "HTTP 400: (#131047) Re-engagement message (131047)"
    )


# --- deliveries that fail -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status_code, error, shown",
    [
        (500, {"error": {"message": "An unknown error has occurred.", "type": "OAuthException", "code": 1, "fbtrace_id": "A1"}}, "HTTP 500: An unknown error has occurred. (1)"),
        (400, graph_error(130429, "(#130429) Rate limit hit", "Cloud API message throughput has been reached."), "HTTP 400: (#130429) Rate limit hit (130429)"),
        (400, graph_error(131047, "(#131047) Re-engagement message", "More than 24 hours have passed."), "HTTP 400: (#131047) Re-engagement message (131047)"),
    ],
)
def test_a_failed_delivery_is_retried_later_and_sent_once(client, db, settings, fake, status_code, error, shown):
    fake.fail_next(status_code, error)
    say(client, text(UK, "Hello"))
    delivery_row = db.scalars(select(ChannelDelivery).where(ChannelDelivery.channel == "whatsapp").order_by(ChannelDelivery.id)).first()
    db.refresh(delivery_row)
    assert delivery_row.attempts == 1 and delivery_row.delivered_at is None and delivery_row.last_error == shown
    later = utcnow() + timedelta(minutes=10)
    assert deliver_later(db, settings, later)["sent"] >= 1
    db.refresh(delivery_row)
    assert delivery_row.delivered_at is not None and delivery_row.body == {} and delivery_row.address_encrypted is None
    taken = fake.sent(UK)
    assert taken and len(fake.tried(UK)) == len(taken) + 1  # the refused one, then each once
    assert len({json.dumps(body, sort_keys=True) for body in taken}) == len(taken)  # nothing twice
    assert deliver_later(db, settings, later + timedelta(hours=1)) == {"sent": 0, "retry": 0, "failed": 0}
    assert len(fake.sent(UK)) == len(taken)


def test_a_refusal_names_the_graph_error_never_the_message():
    ok = b'{"messaging_product":"whatsapp","contacts":[{"input":"48601234567","wa_id":"48601234567"}],"messages":[{"id":"wamid.X"}]}'
    assert whatsapp.refusal(200, ok) is None
    assert whatsapp.refusal(200, b'{"messaging_product":"whatsapp","messages":[]}') == "HTTP 200"
    assert whatsapp.refusal(502, b"<html>Bad Gateway</html>") == "HTTP 502"
    body = graph_error(131026, "(#131026) Message undeliverable", "secret words of the message")
    assert whatsapp.refusal(400, json.dumps(body).encode()) == "HTTP 400: (#131026) Message undeliverable (131026)"


# --- what goes out, and what comes in -------------------------------------------------------------


def test_long_answers_go_as_text_first_with_the_options_last(settings):
    text_ = ("Słowo " * 300 + "\n\n") * 6
    message = Outbound(text=text_, buttons=(Button("Tak", payload="/affirm"), Button("Nie", payload="/deny")))
    calls = whatsapp.calls(settings, "48601234567", message, language="pl")
    assert all(call.url == f"{settings.whatsapp_api_url}/{PHONE_NUMBER_ID}/messages" for call in calls)
    assert all(call.headers == {"Authorization": f"Bearer {TOKEN}"} for call in calls)
    kinds = [call.json["type"] for call in calls]
    assert kinds[-1] == "interactive" and set(kinds[:-1]) == {"text"} and len(kinds) >= 3
    assert all(len(call.json["text"]["body"]) <= 4096 for call in calls[:-1])
    last = calls[-1].json["interactive"]
    assert last["type"] == "button" and len(last["body"]["text"]) <= 1024
    words = " ".join([call.json["text"]["body"] for call in calls[:-1]] + [last["body"]["text"]])
    assert words.split() == text_.split()
    assert last["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "/affirm", "title": "Tak"}}, {"type": "reply", "reply": {"id": "/deny", "title": "Nie"}}
    ]
    # A link in plain text gets its preview; text without one does not.
    [linked] = whatsapp.calls(settings, "1", Outbound(text="See https://www.krakow.pl"), language="en")
    [plain] = whatsapp.calls(settings, "1", Outbound(text="See you"), language="en")
    assert linked.json["text"]["preview_url"] is True and plain.json["text"]["preview_url"] is False


def test_many_options_go_as_lists_of_ten_and_links_as_call_to_action_buttons(settings):
    options = tuple(Button(f"Opcja numer {n} z długim tytułem", payload=f"/option_{n}") for n in range(11))
    links = (Button("Formularz zgłoszenia", url="https://witaj.example/pl/forms/a"), Button("Mapa", url="https://witaj.example/map"))
    calls = whatsapp.calls(settings, "48601234567", Outbound(text="Wybierz temat.", buttons=options + links), language="pl")
    lists = [call.json["interactive"] for call in calls if call.json["interactive"]["type"] == "list"]
    assert [len(i["action"]["sections"][0]["rows"]) for i in lists] == [6, 5]
    assert lists[0]["body"]["text"] == "Wybierz temat."
    assert all(i["action"]["button"] == translations("pl").ugettext("Choose…") for i in lists)
    row = lists[0]["action"]["sections"][0]["rows"][0]
    assert row == {"id": "/option_0", "title": "Opcja numer 0 z długim…", "description": "Opcja numer 0 z długim tytułem"}
    ctas = [call.json["interactive"] for call in calls if call.json["interactive"]["type"] == "cta_url"]
    assert [c["action"] for c in ctas] == [
        {"name": "cta_url", "parameters": {"display_text": "Formularz zgłoszenia", "url": "https://witaj.example/pl/forms/a"}},
        {"name": "cta_url", "parameters": {"display_text": "Mapa", "url": "https://witaj.example/map"}},
    ]
    # Links alone: the first carries the answer's text.
    [only] = whatsapp.calls(settings, "1", Outbound(text="Formularz:", buttons=links[:1]), language="pl")
    assert only.json["interactive"]["body"]["text"] == "Formularz:"
    # A long title makes reply buttons a list; a payload longer than a row's id goes as the title.
    long = Outbound(text="?", buttons=(Button("Porada prawna w Krakowie", payload='/fill_form{"case_topic": "' + "x" * 200 + '"}'),))
    [call] = whatsapp.calls(settings, "1", long, language="pl")
    assert call.json["interactive"]["action"]["sections"][0]["rows"] == [
        {"id": "Porada prawna w Krakowie", "title": "Porada prawna w Krakowie"}
    ]


def test_a_template_carries_the_words_in_whatsapps_language_code(settings):
    calls = whatsapp.calls(settings.model_copy(update={"whatsapp_template": TEMPLATE}), "375291234567", Outbound(text="Добры дзень,\nзапiс пацверджаны."), language="be", template=True)
    [call] = calls
    assert call.json["type"] == "template"
    assert call.json["template"]["language"] == {"code": "be_BY"}
    assert call.json["template"]["components"][0]["parameters"] == [{"type": "text", "text": "Добры дзень, запiс пацверджаны."}]
    many = whatsapp.calls(settings.model_copy(update={"whatsapp_template": TEMPLATE}), "1", Outbound(text="słowo " * 400), language="pl", template=True)
    assert len(many) == 3 and all(len(c.json["template"]["components"][0]["parameters"][0]["text"]) <= 1024 for c in many)


def test_read_takes_messages_and_presses_and_leaves_the_rest(settings):
    photo = image(UA, caption="Що це?")
    payload = delivery([text(UA, "Привіт"), template_button("48601234567", "/human_handoff", "Porozmawiaj"), photo, location(UK)])
    received = whatsapp.read(settings, payload)
    assert [(r.address, r.inbound.text, r.inbound.attachments, r.inbound.language_hint) for r in received] == [
        (UA, "Привіт", 0, "uk"), ("48601234567", "/human_handoff", 0, "pl"), (UA, "Що це?", 1, "uk"), (UK, "", 1, "en")
    ]
    assert received[0].inbound.message_id == payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert all(r.inbound.channel == "whatsapp" and r.inbound.sender == r.address for r in received)
    # Statuses, reactions, another number of the business account, another object: nothing.
    reaction = {"from": UA, "id": wamid(), "timestamp": "1", "type": "reaction", "reaction": {"message_id": "wamid.A", "emoji": "👍"}}
    assert whatsapp.read(settings, delivery(statuses=[status(UA, "wamid.A")])) == []
    assert whatsapp.read(settings, delivery([reaction])) == []
    assert whatsapp.read(settings, delivery([text(UA, "hi")], phone_number_id="999")) == []
    assert whatsapp.read(settings, {**delivery([text(UA, "hi")]), "object": "page"}) == []


@pytest.mark.parametrize(
    "number, hint",
    [
        ("48601234567", "pl"), ("380501234567", "uk"), ("79161234567", "ru"), ("375291234567", "be"),
        ("995591234567", "ka"), ("905321234567", "tr"), ("84912345678", "vi"), ("919812345678", "hi"),
        ("34612345678", "es"), ("5215512345678", "es"), ("201001234567", "ar"), ("971501234567", "ar"),
        ("212612345678", "ar"), ("447700900123", "en"), ("14155550123", "en"), ("353851234567", "en"),
        ("4915112345678", None), ("351912345678", None),
    ],
)
def test_the_numbers_country_calling_code_is_the_language_hint(settings, number, hint):
    [received] = whatsapp.read(settings, delivery([text(number, "?")]))
    assert received.inbound.language_hint == hint


def test_channels_status_says_what_whatsapp_still_needs(monkeypatch):
    monkeypatch.setenv("WITAJ_WHATSAPP_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("WITAJ_WHATSAPP_APP_SECRET", APP_SECRET)
    get_settings.cache_clear()
    try:
        off = CliRunner().invoke(cli, ["channels", "status"])
        monkeypatch.setenv("WITAJ_WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN)
        monkeypatch.setenv("WITAJ_WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        get_settings.cache_clear()
        on = CliRunner().invoke(cli, ["channels", "status"])
    finally:
        get_settings.cache_clear()
    assert "whatsapp: off (missing WITAJ_WHATSAPP_VERIFY_TOKEN, WITAJ_WHATSAPP_PHONE_NUMBER_ID)" in off.output
    assert "whatsapp: on (webhook: /webhooks/whatsapp)" in on.output
