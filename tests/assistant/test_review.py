"""The assistant learning from its conversations (issue 18): ratings from the web chat and Rasa's REST
channel, the consent question, the masked review queue, labelling an example into the NLU files,
retention, and a content editor who sees nothing else."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select

from app.assistant import flows, nlu_edit, review
from app.assistant.data import load_dialogues
from app.assistant.models import AnswerFeedback, Conversation, ConversationMessage, ReviewItem
from app.assistant.runtime import Tracker
from app.auth.enums import Role
from app.crypto import decrypt_json
from app.db import utcnow
from app.deps import app_settings
from app.i18n import use_locale
from tests.assistant.subset import content_with_languages
from tests.conftest import csrf_from

# Out of every topic, with a name in it (e-mail addresses and numbers: the comments below).
UNANSWERED = "My name is Olena Kowalenko, how do I repair a bicycle chain?"
TOPIC = "I need a work permit"
PASSWORD = "correct horse battery"


def rest(client, sender: str, message: str) -> list[dict]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
    assert response.status_code == 200, response.text
    return response.json()


def payload_of(messages: list[dict], title: str) -> str:
    return next(b["payload"] for m in messages for b in m.get("buttons", ()) if b["title"] == title)


def items(db) -> list[ReviewItem]:
    db.expire_all()
    return list(db.scalars(select(ReviewItem).order_by(ReviewItem.id)))


# --- consent and masking -------------------------------------------------------------------------------


def test_an_unanswered_message_enters_the_queue_masked_once_the_newcomer_agrees(client, db):
    answer = rest(client, "rev-1", UNANSWERED)
    # Asked once, in their language, with the two answers as quick replies.
    assert "May our team read the questions I could not answer well" in answer[-1]["text"]
    assert items(db) == []  # nothing is copied before they agree
    answer = rest(client, "rev-1", payload_of(answer, "Yes, you may"))
    assert "Thank you. Our team will read them" in answer[0]["text"]
    [item] = items(db)
    assert item.reason == review.UNANSWERED and item.language == "en" and item.status == review.OPEN
    assert "Olena" not in item.text_masked and "Kowalenko" not in item.text_masked
    assert "bicycle chain" in item.text_masked and "[name]" in item.text_masked
    # Later ones go straight in; the question is not asked again.
    again = rest(client, "rev-1", "can I bring my dog to the swimming pool?")
    assert not any("May our team read" in m["text"] for m in again)
    assert len(items(db)) == 2


def test_without_consent_nothing_enters_the_queue(client, db):
    answer = rest(client, "rev-2", UNANSWERED)
    rest(client, "rev-2", payload_of(answer, "No, thank you"))
    rest(client, "rev-2", "can I bring my dog to the swimming pool?")
    assert items(db) == []
    # Not answering the question is no consent either.
    rest(client, "rev-3", UNANSWERED)
    rest(client, "rev-3", "can I bring my dog to the swimming pool?")
    assert items(db) == []


def test_the_consent_question_comes_in_the_newcomers_language(client, db, settings):
    answer = rest(client, "rev-uk", "Мене звати Олена, де купити велосипед?")
    last = answer[-1]
    with use_locale("uk"):
        assert last["text"] == review.consent_question(settings).text != "", "not in Ukrainian"
    with use_locale("en"):
        assert last["text"] != review.consent_question(settings).text
    assert [b["payload"] for b in last["buttons"]] == ['/review_consent{"agree": "yes"}', '/review_consent{"agree": "no"}']
    conversation = db.scalar(select(Conversation).where(Conversation.sender_id == "rev-uk"))
    assert conversation.language == "uk"


# --- ratings ------------------------------------------------------------------------------------------------


def test_the_rest_channel_rates_an_answer_with_quick_replies_and_takes_a_comment(client, db, settings):
    answer = rest(client, "rate-1", TOPIC)
    assert answer[-1]["text"] == "Did this answer help?"
    assert [b["title"] for b in answer[-1]["buttons"]] == ["Helpful", "Not helpful"]
    assert "Free legal advice" in [b["title"] for b in answer[-2]["buttons"]]  # the answer's own stay
    reply = rest(client, "rate-1", payload_of(answer, "Not helpful"))
    assert "What were you looking for?" in reply[0]["text"]
    assert "May our team read" in reply[-1]["text"]  # the rated question would enter the queue
    feedback = db.scalar(select(AnswerFeedback))
    assert feedback.channel == "rest" and feedback.helpful is False
    assert feedback.intent == "work_permit" and 0 < feedback.confidence <= 1
    assert feedback.language == "en" and feedback.content_version == review.content_version(flows.dialogue_engine(settings).data)
    rest(client, "rate-1", payload_of(reply, "Yes, you may"))
    # The next words are also the comment (and answered as a question).
    rest(client, "rate-1", "a course in the evening, my e-mail is olena@example.com")
    db.expire_all()
    feedback = db.scalar(select(AnswerFeedback))
    assert "olena@example.com" not in (feedback.comment_encrypted or "")  # encrypted at rest
    assert decrypt_json(feedback.comment_encrypted)["comment"].startswith("a course in the evening")
    [item] = items(db)
    assert item.reason == review.UNHELPFUL and item.text_masked == TOPIC
    assert "evening" in item.comment_masked and "olena@example.com" not in item.comment_masked


def test_the_messengers_and_rest_ask_after_the_first_topic_and_then_every_third(client, db):
    questions = [
        "I need a work permit", "where can I learn Polish for free?", "how do I register at the labour office?",
        "where can I get legal help?", "how do I get a library card?",
    ]
    asked = [rest(client, "rate-every", q)[-1]["text"] == "Did this answer help?" for q in questions]
    assert asked == [True, False, False, True, False]
    # The latest answer can be rated all the same (a typed or sent /feedback rates the newest one).
    rest(client, "rate-every", '/feedback{"rating": "helpful"}')
    assert db.scalar(select(AnswerFeedback)).intent == "library_card"


def test_someone_in_crisis_is_never_asked_to_rate_and_nothing_goes_to_the_queue(client, db):
    rest(client, "crisis-1", "how do I repair a bicycle chain?")  # asks for consent
    rest(client, "crisis-1", '/review_consent{"agree": "yes"}')
    before = len(items(db))
    answer = rest(client, "crisis-1", "I don't want to live anymore, I cannot cope")
    assert all(m["text"] != "Did this answer help?" for m in answer)
    assert "112" in " ".join(m["text"] for m in answer)  # the emergency numbers
    assert len(items(db)) == before


def test_a_helpful_rating_is_kept_and_can_be_changed(client, db):
    answer = rest(client, "rate-2", TOPIC)
    rest(client, "rate-2", payload_of(answer, "Helpful"))
    assert db.scalar(select(AnswerFeedback)).helpful is True
    rest(client, "rate-2", '/feedback{"rating": "unhelpful", "comment": "not in the evening"}')
    db.expire_all()
    [feedback] = db.scalars(select(AnswerFeedback)).all()
    assert feedback.helpful is False and decrypt_json(feedback.comment_encrypted)["comment"] == "not in the evening"


def test_a_rating_with_nothing_to_rate_is_answered_and_stores_nothing(client, db):
    answer = rest(client, "rate-3", '/feedback{"rating": "helpful"}')
    assert "no answer to rate yet" in answer[0]["text"]
    assert db.scalar(select(AnswerFeedback)) is None


def test_the_web_chat_rates_an_answer_without_javascript(client, db):
    page = client.get("/en/chat")
    token = csrf_from(page.text)
    client.post("/en/chat", data={"csrf_token": token, "message": TOPIC})
    html = client.get("/en/chat").text
    answer_id = int(re.search(r'id="rate-(\d+)"', html).group(1))
    assert "Did this answer help?" in html
    sent = client.post(
        "/en/chat/feedback", data={"csrf_token": token, "message": str(answer_id), "rating": "unhelpful"},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and f"rated={answer_id}" in sent.headers["location"]
    follow = client.get(sent.headers["location"]).text
    assert "What were you looking for?" in follow and 'name="consent"' in follow
    feedback = db.scalar(select(AnswerFeedback))
    assert feedback.channel == "web" and feedback.helpful is False and feedback.intent == "work_permit"
    done = client.post(
        "/en/chat/feedback",
        data={"csrf_token": token, "message": str(answer_id), "rating": "unhelpful", "stage": "more",
              "comment": "for my son, call 600 123 456", "consent": "yes"},
        follow_redirects=True,
    )
    assert "Thank you for telling us." in done.text
    [item] = items(db)
    assert item.reason == review.UNHELPFUL and "600" not in item.comment_masked


def test_the_web_chat_rating_box_is_swapped_by_htmx(client, db):
    page = client.get("/en/chat")
    token = csrf_from(page.text)
    client.post("/en/chat", data={"csrf_token": token, "message": TOPIC})
    answer_id = int(re.search(r'id="rate-(\d+)"', client.get("/en/chat").text).group(1))
    fragment = client.post(
        "/en/chat/feedback", data={"message": str(answer_id), "rating": "helpful"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert fragment.status_code == 200
    assert fragment.text.strip().startswith(f'<div class="msg-rate" id="rate-{answer_id}">')
    assert "glad it helped" in fragment.text and "<section" not in fragment.text


def test_the_web_chat_refuses_bad_ratings_clearly(client, db):
    page = client.get("/en/chat")
    token = csrf_from(page.text)
    client.post("/en/chat", data={"csrf_token": token, "message": TOPIC})
    answer_id = int(re.search(r'id="rate-(\d+)"', client.get("/en/chat").text).group(1))
    wrong = client.post("/en/chat/feedback", data={"csrf_token": token, "message": str(answer_id), "rating": "meh"})
    assert wrong.status_code == 422
    long = client.post(
        "/en/chat/feedback",
        data={"csrf_token": token, "message": str(answer_id), "rating": "unhelpful", "stage": "more", "comment": "x" * 1001},
    )
    assert long.status_code == 422 and "at most 1000" in long.text
    # Another conversation's answer cannot be rated.
    client.cookies.clear()
    other = client.get("/en/chat")
    client.post("/en/chat", data={"csrf_token": csrf_from(other.text), "message": "hello"})
    stranger = client.post(
        "/en/chat/feedback", data={"csrf_token": csrf_from(other.text), "message": str(answer_id), "rating": "helpful"}
    )
    assert stranger.status_code == 404
    assert db.scalar(select(AnswerFeedback)) is None


# --- retention ------------------------------------------------------------------------------------------------


def test_retention_deletes_idle_chats_their_ratings_and_queue_items_on_time(client, db, settings):
    answer = rest(client, "old-1", TOPIC)
    rest(client, "old-1", payload_of(answer, "Not helpful"))
    rest(client, "old-1", '/review_consent{"agree": "yes"}')
    assert len(items(db)) == 1 and db.scalar(select(AnswerFeedback)) is not None
    conversation = db.scalar(select(Conversation).where(Conversation.sender_id == "old-1"))
    days = settings.conversation_retention_days
    assert days == 90
    kept = review.purge(db=db, settings=settings, now=utcnow() + timedelta(days=days - 1))
    assert kept == {"ratings_deleted": 0, "review_items_deleted": 0, "conversations_deleted": 0}
    gone = review.purge(db=db, settings=settings, now=utcnow() + timedelta(days=days, hours=1))
    db.commit()
    assert gone == {"ratings_deleted": 1, "review_items_deleted": 1, "conversations_deleted": 1}
    db.expire_all()
    assert db.get(Conversation, conversation.id) is None
    assert db.scalar(select(ConversationMessage).where(ConversationMessage.conversation_id == conversation.id)) is None


def test_the_jobs_runner_deletes_a_chat_past_retention(fresh_engine, settings):
    from app import jobs
    from app.assistant.channels import flows as channel_flows
    from app.assistant.channels.shapes import Inbound
    from app.db import session_factory

    with session_factory(fresh_engine, write=True)() as db:
        for text in (TOPIC, '/feedback{"rating": "unhelpful"}', '/review_consent{"agree": "yes"}'):
            channel_flows.converse(db=db, settings=settings, inbound=Inbound(channel="rest", sender="jobs-1", text=text))
        assert db.scalar(select(ReviewItem)) is not None and db.scalar(select(AnswerFeedback)) is not None
    days = settings.conversation_retention_days
    early = jobs.run_once(engine=fresh_engine, settings=settings, now=utcnow() + timedelta(days=days - 1))
    assert early["conversations_deleted"] == 0 and early["ratings_deleted"] == 0
    late = jobs.run_once(engine=fresh_engine, settings=settings, now=utcnow() + timedelta(days=days + 1))
    assert late == {**late, "conversations_deleted": 1, "ratings_deleted": 1, "review_items_deleted": 1}
    with session_factory(fresh_engine)() as db:
        assert db.scalar(select(Conversation)) is None and db.scalar(select(ConversationMessage)) is None


# --- the queue and a content editor -------------------------------------------------------------------------


@pytest.fixture
def editor(client, login, make_user):
    def sign_in(role=Role.content_editor):
        user, password = make_user(role)
        client.cookies.clear()
        assert login(user.email, password).status_code == 303
        return client

    return sign_in


def _queue_one(client, db, sender="q-1", text=UNANSWERED) -> ReviewItem:
    answer = rest(client, sender, text)
    rest(client, sender, payload_of(answer, "Yes, you may"))
    return items(db)[-1]


def test_the_queue_shows_masked_messages_grouped_to_a_content_editor(client, db, editor):
    _queue_one(client, db, "q-1")
    _queue_one(client, db, "q-2", "My name is Anna Nowak, how do I repair a bicycle chain?")
    page = editor().get("/en/staff/assistant/review")
    assert page.status_code == 200
    assert "bicycle chain" in page.text and "Olena" not in page.text and "Nowak" not in page.text
    assert "2 messages" in page.text  # the two alike are one group


def test_a_caseworker_may_not_open_the_queue(client, db, editor):
    assert editor(Role.caseworker).get("/en/staff/assistant/review").status_code == 403


def test_new_topic_and_dismiss(client, db, editor):
    item = _queue_one(client, db)
    staff = editor()
    page = staff.get("/en/staff/assistant/review")
    sent = staff.post(
        "/en/staff/assistant/review/decide",
        data={"csrf_token": csrf_from(page.text), "items": [str(item.id)], "decision": "new_topic"},
        follow_redirects=True,
    )
    assert "Marked as a new topic" in sent.text
    db.expire_all()
    assert db.get(ReviewItem, item.id).status == review.NEW_TOPIC
    assert "bicycle chain" in sent.text.split("New topics for the content team")[1]


def _routes(routes):
    """Every route of the app, through the routers it includes."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)
        else:
            yield route


def test_the_content_editor_sees_no_case_and_no_other_staff_page(client, db, editor, app):
    staff = editor()
    allowed = {
        "/staff/", "/staff/assistant/review", "/staff/assistant/scores", "/staff/account", "/staff/login",
        "/staff/logout", "/staff/two-factor", "/staff/password",
    }
    checked = 0
    for route in _routes(app.routes):
        path = route.path
        if not path.startswith("/staff") or "GET" not in (route.methods or ()):
            continue
        if path in allowed or path.startswith(("/staff/account", "/staff/login")):
            continue
        url = "/en" + re.sub(r"\{[^}]+\}", "1", path)
        status = staff.get(url, follow_redirects=False).status_code
        assert status in (403, 404), f"{url}: {status}"
        checked += 1
    # Nor change anything there.
    token = csrf_from(staff.get("/en/staff/").text)
    for url in ("/en/staff/cases/new", "/en/staff/agenda/blocks"):
        assert staff.post(url, data={"csrf_token": token}, follow_redirects=False).status_code in (403, 404, 422)
    assert checked >= 10
    home = staff.get("/en/staff/").text
    assert "open cases" not in home and "Teach the assistant" in home


# --- labelling ------------------------------------------------------------------------------------------------


@pytest.fixture
def content_copy(tmp_path):
    """A content folder whose dialogues/ is a copy with the Polish and English examples only (a model
    of two languages trains in a second or two)."""
    return content_with_languages(tmp_path / "content")


def test_labelling_writes_a_valid_nlu_file_and_the_relearned_assistant_understands_it(
    client, db, editor, app, settings, content_copy
):
    item = _queue_one(client, db)
    edited = settings.model_copy(update={"content_dir": content_copy})
    app.dependency_overrides[app_settings] = lambda: edited
    staff = editor()
    token = csrf_from(staff.get("/en/staff/assistant/review").text)
    # The editor writes the example in their own words (made-up ones here, so that only the new
    # example can teach them).
    example = "my quokka sprockets wobble near the zorbulator"
    before = flows.dialogue_engine(edited).parse(example, Tracker(language="en"))
    assert before.intent != "library_card"
    form = {"csrf_token": token, "items": [str(item.id)], "intent": "library_card", "text": example}
    preview = staff.post("/en/staff/assistant/review/label", data=form)
    assert preview.status_code == 200
    assert re.search(r'class="diff-add">\+ +- my quokka sprockets wobble near the zorbulator<', preview.text)
    digest = re.search(r'name="reviewed" value="([0-9a-f]+)"', preview.text).group(1)
    # A save of another example than the one read is refused.
    other = staff.post("/en/staff/assistant/review/label", data={**form, "text": example + " now", "save": "yes", "reviewed": digest})
    assert other.status_code == 409
    saved = staff.post("/en/staff/assistant/review/label", data={**form, "save": "yes", "reviewed": digest}, follow_redirects=True)
    assert "Saved. The assistant is learning" in saved.text
    db.expire_all()
    stored = db.get(ReviewItem, item.id)
    assert stored.status == review.LABELLED and stored.resolved_intent == "library_card"
    written = [p for p in (content_copy / "dialogues/data/nlu/en").glob("*.yml") if example in p.read_text()]
    assert len(written) == 1
    blocks = yaml.safe_load(written[0].read_text())["nlu"]
    assert any(b.get("intent") == "library_card" and example in b["examples"] for b in blocks)
    data = load_dialogues(content_copy / "dialogues")
    assert any(e.text == example and e.intent == "library_card" for e in data.examples["en"])
    # The assistant learns it in the background; once done, it understands the example.
    flows.relearn(edited, wait=True)
    after = flows.dialogue_engine(edited).parse(example, Tracker(language="en"))
    assert after.intent == "library_card"


def test_a_bad_example_is_refused_with_a_clear_message(client, db, editor):
    item = _queue_one(client, db)
    staff = editor()
    token = csrf_from(staff.get("/en/staff/assistant/review").text)
    refused = staff.post(
        "/en/staff/assistant/review/label",
        data={"csrf_token": token, "items": [str(item.id)], "intent": "out_of_scope", "text": item.text_masked},
    )
    assert refused.status_code == 422 and "example words" in refused.text
    nowhere = staff.post(
        "/en/staff/assistant/review/label",
        data={"csrf_token": token, "items": [str(item.id)], "intent": "no_such_intent", "text": "fix a bike"},
    )
    assert nowhere.status_code == 422 and "no_such_intent" in nowhere.text


def test_a_read_only_content_folder_gets_a_patch(client, db, editor, app, settings, content_copy):
    item = _queue_one(client, db)
    app.dependency_overrides[app_settings] = lambda: settings.model_copy(
        update={"content_dir": content_copy, "content_read_only": True}
    )
    staff = editor()
    token = csrf_from(staff.get("/en/staff/assistant/review").text)
    form = {"csrf_token": token, "items": [str(item.id)], "intent": "out_of_scope", "text": "fix my bike chain"}
    preview = staff.post("/en/staff/assistant/review/label", data=form)
    assert "Download the patch" in preview.text and 'value="yes"' not in preview.text
    patch = staff.post("/en/staff/assistant/review/patch", data=form)
    assert patch.status_code == 200 and patch.headers["content-type"].startswith("text/x-diff")
    assert re.search(r"\n\+ +- fix my bike chain\n", patch.text) and "b/dialogues/data/nlu/en/" in patch.text
    assert not any("fix my bike chain" in p.read_text() for p in (content_copy / "dialogues/data/nlu/en").glob("*.yml"))


def test_an_example_saved_by_another_process_is_learned_here_too(settings, content_copy, monkeypatch):
    edited = settings.model_copy(update={"content_dir": content_copy})
    engine = flows.dialogue_engine(edited)
    example = "the zorbulator wobbles my quokka sprockets again"
    assert engine.parse(example, Tracker(language="en")).intent != "library_card"
    # Another worker process saved it (or someone edited the file by hand).
    nlu_edit.apply(nlu_edit.propose(content_dir=content_copy, language="en", intent="library_card", text=example))
    monkeypatch.setattr(flows, "WATCH_SECONDS", 0.0)
    assert flows.dialogue_engine(edited) is engine  # it answers while the new one learns
    flows.relearn(edited, wait=True)
    assert flows.dialogue_engine(edited) is not engine
    assert flows.dialogue_engine(edited).parse(example, Tracker(language="en")).intent == "library_card"


def test_a_comment_stays_with_the_question_whose_answer_it_rated(client, db):
    rest(client, "comment-1", UNANSWERED)  # waits for the consent, not answered yet
    rest(client, "comment-1", TOPIC)
    rest(client, "comment-1", '/feedback{"rating": "unhelpful", "comment": "about seasonal work"}')
    rest(client, "comment-1", '/review_consent{"agree": "yes"}')
    by_reason = {item.reason: item for item in items(db)}
    assert by_reason[review.UNHELPFUL].text_masked == TOPIC
    assert by_reason[review.UNHELPFUL].comment_masked == "about seasonal work"
    assert by_reason[review.UNANSWERED].comment_masked is None  # the later answer's comment is not its
