"""Whole conversations through both HTTP channels (web chat and Rasa's REST channel), with the real
dialogue files, the real NLU model and a real database."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from app.assistant import flows, runtime
from app.assistant.models import Conversation, ConversationMessage
from app.cases.models import CaseFile, CaseNote
from app.i18n import translations
from tests.conftest import csrf_from, writes_within


def rest(client, sender: str, message: str) -> list[dict]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
    assert response.status_code == 200, response.text
    body = response.json()
    assert all(set(item) <= {"recipient_id", "text", "buttons"} and item["recipient_id"] == sender for item in body)
    return body


def said(engine_text: str, language: str) -> str:
    """Return an English response text as the bot says it in language (its first line)."""
    return translations(language).ugettext(engine_text).splitlines()[0]


def response_text(settings, name: str) -> str:
    return flows.dialogue_engine(settings).data.domain.responses[name][0].text


@pytest.fixture
def office(world):
    return world.office


SERVICES = [
    ("pl", "jak się zarejestrować w urzędzie pracy jako bezrobotny?", "utter_labour_register"),
    ("uk", "шукаю роботу в Кракові, де є вакансії?", "utter_job_search"),
    ("be", "ці патрэбны дазвол на працу ў Польшчы?", "utter_work_permit"),
    ("en", "are there any free vocational training courses?", "utter_training_courses"),
    ("ru", "хочу записаться на приём в бюро труда", "utter_ask_visit_service"),
    ("uk", "де отримати читацький квиток у бібліотеці?", "utter_library_card"),
    ("en", "where can I learn Polish for free?", "utter_polish_course"),
    ("ru", "нужна бесплатная юридическая консультация", "utter_legal_help"),
    ("pl", "szukam mieszkania, nie mam gdzie spać", "utter_housing_help"),
    ("be", "мне патрэбна дапамога псіхолага", "utter_psychological_help"),
]


def web_say(client, language: str, message: str) -> str:
    page = client.get(f"/{language}/chat")
    client.post(f"/{language}/chat", data={"csrf_token": csrf_from(page.text), "message": message})
    return client.get(f"/{language}/chat").text


@pytest.mark.parametrize("channel", ["rest", "web"])
@pytest.mark.parametrize(("language", "message", "response"), SERVICES, ids=[s[2] for s in SERVICES])
def test_every_service_answers_in_the_users_language(client, settings, office, channel, language, message, response):
    expected = said(response_text(settings, response), language)
    if channel == "rest":
        answer = rest(client, f"svc-{response}", message)
        assert expected in answer[0]["text"]
    else:
        assert str(escape(expected)) in web_say(client, language, message)


class TestRestChannel:
    def test_greeting_in_ukrainian_answers_in_ukrainian_with_buttons(self, client, settings, office):
        answer = rest(client, "u-greet", "Привіт! Допоможіть, будь ласка")
        texts = [m["text"] for m in answer]
        assert said(response_text(settings, "utter_greet"), "uk") in texts[0]
        assert any(m.get("buttons") for m in answer)  # the menu's quick replies

    def test_library_branch_asks_for_district_then_lists_branches(self, client, settings, office):
        first = rest(client, "lib", "where is the nearest library branch?")
        assert said(response_text(settings, "utter_library_branches_ask_district"), "en") in first[0]["text"]
        second = rest(client, "lib", "I live in Nowa Huta")
        assert "Nowa Huta" in second[0]["text"] and "•" in second[0]["text"]

    def test_events_are_listed(self, client, office):
        answer = rest(client, "events", "what cultural events are there this week?")
        assert "•" in answer[0]["text"] or "karnet" in answer[0]["text"]

    def test_language_switch_mid_chat(self, client, settings, office):
        rest(client, "switch", "hello")
        answer = rest(client, "switch", '/change_language{"language": "be"}')
        assert said(response_text(settings, "utter_language_changed"), "be") in answer[0]["text"]
        after = rest(client, "switch", "/library_card")
        assert said(response_text(settings, "utter_library_card"), "be") in after[0]["text"]

    def test_fallback_twice_hands_over_with_a_case(self, client, settings, db, office):
        first = rest(client, "lost", "qwpoeiru zxmcvnb")
        assert said(response_text(settings, "utter_ask_rephrase"), "pl") in first[0]["text"] or first
        second = rest(client, "lost", "asdkjh qweoiu zxcmn")
        assert said(response_text(settings, "utter_handoff_connecting"), "pl") in second[-1]["text"]
        conversation = db.scalar(select(Conversation).where(Conversation.sender_id == "lost"))
        assert conversation.mode == "queued" and conversation.case_id is not None
        case = db.get(CaseFile, conversation.case_id)
        assert case.source == "chat" and case.status == "new"
        transcript = db.scalar(select(CaseNote.body).where(CaseNote.case_id == case.id))
        assert "qwpoeiru" in transcript  # the transcript travels with the case

    def test_case_form_with_a_validation_error_then_case_and_status(self, client, settings, db, office):
        sender = "form-en"
        rest(client, sender, '/change_language{"language": "en"}')
        rest(client, sender, '/fill_form{"case_topic": "housing"}')
        too_short = rest(client, sender, "help")
        assert said(response_text(settings, "utter_invalid_case_description"), "en") in too_short[0]["text"]
        rest(client, sender, "My landlord keeps my deposit after I moved out in October.")
        rest(client, sender, '/inform{"contact_preference": "email"}')
        bad_email = rest(client, sender, "not an email")
        assert said(response_text(settings, "utter_invalid_email"), "en") in bad_email[0]["text"]
        rest(client, sender, "anna.k@example.com")
        rest(client, sender, "Krowodrza")
        created = rest(client, sender, "/affirm")
        text = created[0]["text"]
        reference = re.search(r"KRK-\d{4}-\d{6}", text).group(0)
        lines = text.splitlines()
        at = next(i for i, line in enumerate(lines) if reference in line)
        secret = lines[at + 1].split(": ", 1)[1].strip()  # the line after the reference
        assert len(secret) >= 10
        case = db.scalar(select(CaseFile).where(CaseFile.reference == reference))
        assert case.category == "housing" and case.source == "chat" and case.district == "Krowodrza"
        stored = db.scalars(select(ConversationMessage.text).where(ConversationMessage.private.is_(True))).all()
        assert stored and all(secret not in t for t in stored)  # the secret is shown once, never stored

        rest(client, "status-check", "/case_status")
        rest(client, "status-check", reference)
        status = rest(client, "status-check", secret)
        assert reference in status[0]["text"]
        user_lines = db.scalars(
            select(ConversationMessage.text).join(Conversation).where(Conversation.sender_id == "status-check")
        ).all()
        assert secret not in user_lines

    def test_no_consent_no_case(self, client, db, office):
        sender = "no-consent"
        for message in ('/fill_form{"case_topic": "job_search"}', "I am looking for work as a cook in Kraków",
                        '/inform{"contact_preference": "chat"}', "no", "/deny"):
            answer = rest(client, sender, message)
        assert not any(re.search(r"KRK-\d{4}-\d{6}", m["text"]) for m in answer)
        conversation = db.scalar(select(Conversation).where(Conversation.sender_id == sender))
        assert conversation.case_id is None

    def test_person_joins_and_answers(self, client, settings, db, world, login):
        rest(client, "needs-person", "I want to talk to a human")
        conversation = db.scalar(select(Conversation).where(Conversation.sender_id == "needs-person"))
        case = db.get(CaseFile, conversation.case_id)
        login(world.caseworker.email, "long enough password", locale="pl")
        page = client.get(f"/pl/staff/cases/{case.reference}")
        assert "I want to talk to a human" in page.text
        client.post(
            f"/pl/staff/cases/{case.reference}/chat", data={"csrf_token": csrf_from(page.text), "reply": "Dzień dobry, tu Kasia."}
        )
        answer = rest(client, "needs-person", "thank you")
        texts = [m["text"] for m in answer]
        assert any("Kasia" in t for t in texts)
        with_joined = translations(conversation.language).ugettext("A person from our team has joined the chat.")
        assert with_joined in texts
        again = [m["text"] for m in rest(client, "needs-person", "are you still there?")]
        assert not any("Kasia" in t or t == with_joined for t in again)  # each reply is delivered once

    def test_resume_after_restart(self, client, settings, db, office, app):
        sender = "resume"
        rest(client, sender, '/fill_form{"case_topic": "legal_aid"}')
        rest(client, sender, "I got a negative decision on my residence permit and need to appeal.")
        flows._engines.clear()  # a restart: the engine and its model are loaded again
        answer = rest(client, sender, '/inform{"contact_preference": "chat"}')
        # The form goes on where it was: the next question is the district.
        assert said(response_text(settings, "utter_ask_case_form_district"), "en") in answer[0]["text"]

    def test_invalid_request_is_422_with_fields(self, client):
        response = client.post("/webhooks/rest/webhook", json={"sender": "", "message": ""})
        assert response.status_code == 422
        assert {e["field"] for e in response.json()["errors"]} == {"sender", "message"}


class TestWebChat:
    def test_plain_form_post_without_javascript(self, client, settings, office):
        page = client.get("/en/chat")
        assert page.status_code == 200
        token = csrf_from(page.text)
        sent = client.post("/en/chat", data={"csrf_token": token, "message": "hello"}, follow_redirects=False)
        assert sent.status_code == 303
        after = client.get("/en/chat")
        assert str(escape(said(response_text(settings, "utter_greet"), "en"))) in after.text
        assert 'name="message" value="/labour_register"' in after.text  # quick replies as buttons

    def test_htmx_post_returns_only_new_messages(self, client, settings, office):
        page = client.get("/uk/chat")
        fragment = client.post(
            "/uk/chat", data={"message": "дякую"}, headers={"HX-Request": "true", "X-CSRF-Token": csrf_from(page.text)}
        )
        assert fragment.status_code == 200 and "<html" not in fragment.text
        assert "дякую" in fragment.text and 'hx-swap-oob="true"' in fragment.text

    def test_a_persons_reply_the_page_has_not_polled_yet_comes_with_the_next_answer(self, client, settings, db, world):
        """The htmx send carries the id of the last message the page shows (`after`): a caseworker's
        reply that arrived since the last poll is shown with the newcomer's message, not skipped."""
        from app.assistant import service

        page = client.get("/en/chat")
        token = csrf_from(page.text)
        client.post("/en/chat", data={"csrf_token": token, "message": "I want to talk to a human"})
        page = client.get("/en/chat")
        seen = re.search(r'id="chat-after" name="after" value="(\d+)"', page.text)
        assert seen and 'hx-include="#chat-after"' in page.text
        conversation = db.scalar(select(Conversation).where(Conversation.channel == "web"))
        assert conversation.case_id is not None
        service.staff_reply(db=db, settings=settings, conversation=conversation, user_id=world.caseworker.id, text="Hello, Kasia here.", language="en")
        fragment = client.post(
            "/en/chat",
            data={"message": "are you there?", "after": seen.group(1)},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
        )
        assert fragment.status_code == 200
        assert "Kasia here" in fragment.text and "are you there?" in fragment.text
        assert fragment.text.index("Kasia here") < fragment.text.index("are you there?")
        assert 'id="chat-form"' in fragment.text  # the sent message leaves the box

    def test_a_poll_brings_a_persons_reply_and_keeps_what_the_newcomer_is_typing(self, client, settings, db, world):
        from app.assistant import service

        page = client.get("/en/chat")
        client.post("/en/chat", data={"csrf_token": csrf_from(page.text), "message": "I want to talk to a human"})
        seen = re.search(r'id="chat-after" name="after" value="(\d+)"', client.get("/en/chat").text).group(1)
        conversation = db.scalar(select(Conversation).where(Conversation.channel == "web"))
        service.staff_reply(db=db, settings=settings, conversation=conversation, user_id=world.caseworker.id, text="Kasia here.", language="en")
        polled = client.get(f"/en/chat/messages?after={seen}", headers={"HX-Request": "true"})
        assert polled.status_code == 200 and "Kasia here." in polled.text
        assert 'id="chat-form"' not in polled.text  # swapping the form would wipe the draft
        assert re.search(r'id="chat-after" name="after" value="(\d+)"', polled.text).group(1) != seen

    def test_empty_message_is_refused_in_users_language(self, client, office):
        page = client.get("/ru/chat")
        response = client.post("/ru/chat", data={"csrf_token": csrf_from(page.text), "message": "   "})
        assert response.status_code == 422
        assert translations("ru").ugettext("Write a message first.") in response.text

    def test_chat_needs_csrf(self, client, office):
        client.get("/en/chat")
        assert client.post("/en/chat", data={"message": "hi"}).status_code == 403


def test_rasa_backend_forwards_to_a_rasa_server(client, app, settings, office):
    """WITAJ_ASSISTANT_BACKEND=rasa: the message goes to the city's Rasa server (a fake speaking its REST protocol)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class FakeRasa(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, body))
            out = json.dumps([{"recipient_id": body["sender"], "text": "hi from rasa", "buttons": [{"title": "A", "payload": "/a"}]}])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(out.encode())

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), FakeRasa)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app.state.settings = settings.model_copy(update={"assistant_backend": "rasa", "rasa_url": f"http://127.0.0.1:{server.server_address[1]}"})
    try:
        answer = rest(client, "via-rasa", "hello")
    finally:
        server.shutdown()
        app.state.settings = settings
    assert received == [("/webhooks/rest/webhook", {"sender": "via-rasa", "message": "hello"})]
    assert answer == [{"recipient_id": "via-rasa", "text": "hi from rasa", "buttons": [{"title": "A", "payload": "/a"}]}]


class TestCityFormFromChat:
    """The assistant launches the city form of a topic: a link under its answer, in the user's language."""

    def test_rest_channel_gives_a_web_url_button_to_the_form_in_the_users_language(self, client, settings, office):
        answer = rest(client, "form-link", "де отримати читацький квиток у бібліотеці?")
        assert said(response_text(settings, "utter_library_card"), "uk") in answer[0]["text"]
        links = [b for m in answer for b in m.get("buttons", []) if b.get("type") == "web_url"]
        assert len(links) == 1 and links[0]["title"] == translations("uk").ugettext("Fill in the form online")
        assert links[0]["url"] == "http://testserver/uk/forms/biblioteka-karta" and "payload" not in links[0]
        form = client.get(links[0]["url"])
        assert form.status_code == 200 and 'lang="uk"' in form.text
        assert "Zgłoszenie do zapisu do Biblioteki Kraków" in form.text  # the Polish wording beside it
        # Ordinary quick replies keep Rasa's {title, payload} shape.
        replies = [b for m in answer for b in m.get("buttons", []) if "payload" in b]
        assert all(set(b) == {"title", "payload"} for b in replies)

    def test_topic_without_a_form_gets_no_link(self, client, office):
        answer = rest(client, "no-form-link", "шукаю роботу в Кракові, де є вакансії?")
        assert not [b for m in answer for b in m.get("buttons", []) if b.get("type") == "web_url"]

    def test_web_chat_shows_the_form_link_and_it_opens_the_form(self, client, settings, office):
        page = web_say(client, "ru", "нужна бесплатная юридическая консультация")
        link = re.search(r'<a class="chip chip-link" href="([^"]+)">([^<]+)</a>', page)
        assert link is not None, page
        assert link.group(1) == "/ru/forms/pomoc-organizacji"
        assert link.group(2) == translations("ru").ugettext("Fill in the form online")
        assert client.get(link.group(1)).status_code == 200

    def test_events_answer_links_the_cultural_programme_form(self, client, office):
        answer = rest(client, "events-form", "what cultural events are there this week?")
        links = [b["url"] for m in answer for b in m.get("buttons", []) if b.get("type") == "web_url"]
        assert "•" in answer[0]["text"]  # weekly events: there are always some in the next 7 days
        assert links == ["http://testserver/en/forms/program-kulturalny"]


def test_library_branch_hours_are_labelled_in_the_users_language(client, office):
    rest(client, "branch-uk", "де найближча бібліотека?")
    answer = rest(client, "branch-uk", "Нова Гута")
    text = answer[0]["text"]
    assert "•" in text and "сьогодні" in text and "today" not in text


def test_a_message_parsed_beforehand_is_used_only_if_read_in_the_conversations_language(db, settings):
    """Channels parse a message before the conversation is read (outside the write transaction),
    with the language they last saw it in; if the conversation's language is another, receive
    parses again, so a stale hint never decides."""
    from app.assistant import service
    from app.assistant.models import ConversationMessage

    conversation = service.get_or_start(db=db, channel="rest", sender_id="hint", language="uk")
    text = "дякую"
    real = flows.dialogue_engine(settings).parse(text, runtime.Tracker(language="uk"))
    planted = runtime.Parsed(text=text, language="uk", intent="goodbye", confidence=0.99, entities=[])
    stale = flows.Understood(text=text, language="en", parsed=planted)
    turn = flows.receive(db=db, settings=settings, conversation=conversation, text=text, understood=stale)
    assert turn.stored[0].data["intent"] == real.intent != "goodbye"
    fresh = flows.Understood(text=text, language="uk", parsed=planted)
    turn = flows.receive(db=db, settings=settings, conversation=conversation, text=text, understood=fresh)
    assert turn.stored[0].data["intent"] == "goodbye"  # read in the right language: not parsed twice
    assert [m.id for m in turn.stored] == sorted(m.id for m in turn.stored) and all(m.id for m in turn.stored)
    assert all(isinstance(m, ConversationMessage) for m in turn.stored) and turn.stored[1].author == "bot"


def test_a_turn_that_loses_a_race_for_its_conversation_runs_again_on_the_fresh_state(fresh_engine, settings):
    """Two messages of one newcomer at once: the turn is computed outside the write transaction, so
    another turn may commit in between. The conversation's version catches it and the turn runs
    again: both messages are answered, in order, and neither turn's state is lost."""
    from sqlalchemy import event

    from app.db import session_factory

    write = session_factory(fresh_engine, write=True)
    with write() as db:
        flows.take_turn(db=db, settings=settings, channel="rest", sender_id="twice", language="en", text="hello")
    raced = []

    def competing_turn(session, _flush_context, _instances):
        if not raced:  # once: between this turn's read and its first write
            raced.append(True)
            with write() as other:
                flows.take_turn(db=other, settings=settings, channel="rest", sender_id="twice", language="en", text="thank you")

    with write() as db:
        event.listen(db, "before_flush", competing_turn)
        conversation, turn, _ = flows.take_turn(
            db=db, settings=settings, channel="rest", sender_id="twice", language="en", text="I am looking for a job"
        )
    assert raced and turn.answer
    with write() as db:
        stored = db.scalars(
            select(ConversationMessage).where(ConversationMessage.conversation_id == conversation.id).order_by(ConversationMessage.id)
        ).all()
        users = [m.text for m in stored if m.author == "user"]
        assert users == ["hello", "thank you", "I am looking for a job"]
        state = db.get(Conversation, conversation.id).state
        intents = [h for h in state["history"] if h.startswith("intent:")]
        assert intents[-3:] == ["intent:greet", "intent:thank", "intent:job_search"]  # no turn overwrote another


@pytest.mark.parametrize("threads", [1, 2])
def test_a_process_runs_as_many_chat_turns_at_once_as_chat_threads_allows(tmp_path, settings, monkeypatch, threads):
    """WITAJ_CHAT_THREADS: turns beyond the limit wait for a free one (a turn is GIL-bound work;
    more at once only stretch the database's write lock), and none is lost."""
    import asyncio
    import threading

    import httpx
    from alembic import command

    from app.db import build_engine
    from app.main import create_app
    from app.migrations import alembic_config

    engine = build_engine(f"sqlite:///{tmp_path / 'chat.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), "head")
    app = create_app(settings.model_copy(update={"chat_threads": threads}), engine, check_db=False)
    running, most, lock = [0], [0], threading.Lock()
    real_take_turn = flows.take_turn
    together = threading.Barrier(threads, timeout=30)

    def counted_take_turn(**kwargs):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            together.wait()  # as many turns as the limit allows are inside at once
            return real_take_turn(**kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(flows, "take_turn", counted_take_turn)

    async def chat() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            answers = await asyncio.gather(
                *(client.post("/webhooks/rest/webhook", json={"sender": f"s{i}", "message": "hello"}) for i in range(4))
            )
        return [a.status_code for a in answers]

    assert asyncio.run(chat()) == [200] * 4
    assert most[0] == threads
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Conversation)).scalar() == 4


def test_a_handed_over_chat_waits_for_its_translation_without_holding_the_write_lock(fresh_engine, settings, monkeypatch):
    """A newcomer's message to a person is machine-translated (a wait of up to
    WITAJ_TRANSLATION_WAIT_SECONDS) before the turn writes anything: other chats keep writing."""
    from app.assistant import service
    from app.db import session_factory
    from app.translation import service as translation

    write = session_factory(fresh_engine, write=True)
    with write() as db:
        conversation = service.get_or_start(db=db, channel="rest", sender_id="queued", language="uk")
        conversation.mode = service.QUEUED
        db.commit()
    others_wrote: list[bool] = []
    real_translate_within = translation.translate_within

    def translate_while_another_writes(*args, **kwargs):
        # With the lock held here the other chat would wait SQLite's 5 s.
        others_wrote.append(writes_within(fresh_engine, "UPDATE conversation SET updated_at = updated_at", 2.0))
        return real_translate_within(*args, **kwargs)

    monkeypatch.setattr(translation, "translate_within", translate_while_another_writes)
    with write() as db:
        _conversation, turn, _ = flows.take_turn(
            db=db, settings=settings, channel="rest", sender_id="queued", language="uk", text="Коли мені прийти?"
        )
    assert others_wrote == [True]
    assert turn.answer == [] and turn.stored[0].id and turn.stored[0].text == "Коли мені прийти?"
