"""A chat turn is one transaction: what it opens in other domains (a case, the transcript note) is
committed with its messages, or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.assistant import flows
from app.assistant.models import Conversation, ConversationMessage
from app.auth import service as auth_service
from app.auth.enums import OrgKind
from app.cases import service as case_service
from app.cases.models import CaseFile, CaseNote
from app.db import session_factory
from app.errors import InvalidInput


@pytest.fixture
def write(fresh_engine, settings):
    """Return a factory of write sessions on a database with real commits and the city office."""
    factory = session_factory(fresh_engine, write=True)
    with factory() as db:
        auth_service.ensure_organisation(
            db=db, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office
        )
        db.commit()
    return factory


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def turn(db, settings, sender: str, text: str, then=None):
    return flows.take_turn(
        db=db, settings=settings, channel="rest", sender_id=sender, language="en", text=text, then=then
    )


def test_a_turn_that_fails_after_opening_a_case_leaves_neither_the_case_nor_the_messages(write, settings):
    with write() as db:
        turn(db, settings, "fails", "hello")
        messages_before = count(db, ConversationMessage)

    def fail_after_the_turn(conversation, done):
        # The hand-over has opened a case and written the transcript; then something breaks.
        assert conversation.case_id is not None and done.answer
        raise RuntimeError("the channel could not answer")

    with write() as db, pytest.raises(RuntimeError):
        turn(db, settings, "fails", "/human_handoff", then=fail_after_the_turn)
    with write() as db:
        assert count(db, CaseFile) == 0 and count(db, CaseNote) == 0
        assert count(db, ConversationMessage) == messages_before  # not the message, nor the bot's answer
        conversation = db.scalar(select(Conversation).where(Conversation.sender_id == "fails"))
        assert conversation.case_id is None and conversation.mode == "bot"


def test_a_handover_commits_the_case_the_transcript_and_the_messages_together(write, settings):
    with write() as db:
        turn(db, settings, "handover", "hello")
        before = count(db, ConversationMessage)
        conversation, done, _ = turn(db, settings, "handover", "/human_handoff")
    with write() as db:
        case = db.get(CaseFile, db.get(Conversation, conversation.id).case_id)
        assert case is not None and case.source == "chat"
        assert "hello" in db.scalar(select(CaseNote.body).where(CaseNote.case_id == case.id))
        assert done.answer and count(db, ConversationMessage) == before + 1 + len(done.answer)


def test_a_case_the_chat_cannot_open_takes_nothing_else_of_the_turn_with_it(write, settings, monkeypatch):
    """The case form ends with action_create_case; when the case tracker refuses the case, the
    newcomer is told so and the turn's messages are kept (the refusal rolls back only the case)."""
    real_create = case_service.create

    def create_then_refuse(**kwargs):
        real_create(**kwargs)  # writes a client, a case and its event...
        raise InvalidInput({"subject": "refused"})  # ...then refuses

    sender = "refused"
    with write() as db:
        for message in (
            '/fill_form{"case_topic": "job_search"}',
            "I am looking for work as a cook in Kraków",
            '/inform{"contact_preference": "chat"}',
            "no",
        ):
            turn(db, settings, sender, message)
    monkeypatch.setattr(case_service, "create", create_then_refuse)
    with write() as db:
        _conversation, done, _ = turn(db, settings, sender, "/affirm")
    refused = (
        flows.dialogue_engine(settings)
        .render("utter_case_not_created_error", flows.Tracker(language="en"))
        .text
    )
    assert [m.text for m in done.answer] == [refused]
    with write() as db:
        assert count(db, CaseFile) == 0
        last = db.scalars(select(ConversationMessage).order_by(ConversationMessage.id.desc()).limit(2)).all()
        assert (
            [m.author for m in last] == ["bot", "user"]
            and last[1].text == "/affirm"
            and last[0].text == refused
        )


def test_contact_details_typed_in_the_chat_are_masked_and_kept_encrypted_for_the_case(write, settings):
    """An e-mail or phone number typed into the chat is not readable in the transcript or the case's
    notes; it reaches the case's contact details, shown only through the audited "show contact"."""
    from app.cases import access
    from app.cases.models import AuditEntry
    from app.cases.notes import note_view  # noqa: F401  (the page reads notes through it)

    sender = "contacts"
    with write() as db:
        turn(db, settings, sender, "hello, call me on +48 600 100 200 please")
        turn(db, settings, sender, "/human_handoff")
        turn(db, settings, sender, "or write to anna.k@example.com")
    with write() as db:
        texts = db.scalars(select(ConversationMessage.text).where(ConversationMessage.author == "user")).all()
        notes = db.scalars(select(CaseNote.body)).all()
        for stored in [*texts, *notes]:
            assert "600 100 200" not in stored and "anna.k@example.com" not in stored
        assert any("••• ••• •••" in t for t in texts) and any("•••@•••" in t for t in texts)
        raw = db.scalars(select(ConversationMessage.data)).all()
        assert "600 100 200" not in str(raw) and "anna.k" not in str(raw)  # encrypted on the message
        case = db.scalar(select(CaseFile))
        office = auth_service.get_organisation(db=db, slug=settings.office_slug)
        caseworker = auth_service.create_user(
            db=db, email="cw@example.org", display_name="CW", password="long enough password", role="caseworker",
            organisation=office,
        )
        contact = access.client_contact(db=db, settings=settings, case=case, principal=auth_service.principal_of(caseworker))
        assert contact == {"phone": "+48 600 100 200", "email": "anna.k@example.com"}
        assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "view_contact")) == 1


def test_a_cases_secret_cannot_be_guessed_by_starting_new_chats(write, settings):
    """The chat's case-status check counts wrong secrets per case, not per chat: a new sender id (a
    new browser, a cleared cookie) does not start the count again."""
    from app.cases.access import SECRET_ATTEMPTS

    with write() as db:
        turn(db, settings, "owner", "/human_handoff")
        reference = db.scalar(select(CaseFile.reference))
    for attempt in range(SECRET_ATTEMPTS + 1):
        sender = f"guesser-{attempt}"  # a new chat for every guess
        with write() as db:
            turn(db, settings, sender, "/case_status")
            turn(db, settings, sender, reference)
            _conversation, done, _ = turn(db, settings, sender, f"WRONG{attempt:04d}")
    locked = flows.dialogue_engine(settings).render("utter_case_status_locked", flows.Tracker(language="en")).text
    not_found = flows.dialogue_engine(settings).render("utter_case_not_found", flows.Tracker(language="en")).text
    assert done.answer[0].text == locked != not_found


def test_a_client_reading_their_case_in_the_chat_is_audited(write, settings):
    from app.cases import flows as case_flows
    from app.cases.events import CLIENT
    from app.cases.models import AuditEntry
    from app.cases.schemas import CaseIn, ClientIn

    with write() as db:
        case, secret = case_flows.open_case(
            db=db, settings=settings, client=ClientIn(display_name="Olena", preferred_language="uk"),
            case=CaseIn(category="job_search", subject="Praca"), actor=CLIENT,
        )
        for message in ("/case_status", case.reference, secret):
            _conversation, done, _ = turn(db, settings, "reader", message)
        assert case.reference in done.answer[0].text
        audited = db.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case.id)).all()
        assert audited == ["client_view"]
