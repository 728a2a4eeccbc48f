"""Reminders of visits, the day before, through a real SMTP server in this process (aiosmtpd): they
arrive once, in the language the visit was booked in; a refusing server is tried again; without
SMTP nothing breaks; a messenger's reminder is queued once; names and contacts are erased after the
retention period."""

from __future__ import annotations

import email
import threading
from datetime import UTC, date, datetime, timedelta
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from app import jobs, mail
from app.appointments import flows, reminders, service
from app.appointments.models import Appointment, AppointmentEvent
from app.assistant.channels import outbox
from app.assistant.models import ChannelDelivery, Conversation
from app.db import session_factory
from tests.browser import free_port

NOW = datetime(2027, 3, 8, 7, 0, tzinfo=UTC)  # Monday 8:00 in Kraków
VISIT = datetime(2027, 3, 9, 18, 30, tzinfo=UTC)  # Tuesday 19:30 in Kraków, the kiosk's evening
DUE = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)  # Monday 10:00 in Kraków, the day before


class Inbox:
    """What the SMTP server received; refuses the next `refuse` messages with a temporary error."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.refuse = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            if self.refuse:
                self.refuse -= 1
                return "451 4.3.0 Try again later"
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@pytest.fixture
def mailing(settings, smtp):
    inbox, port = smtp
    inbox.messages.clear()
    inbox.refuse = 0
    configured = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none", "public_url": "https://witaj.example"}
    )
    return inbox, configured


def book(db, settings, **kw):
    kw.setdefault("person", service.Person("Олена Коваленко", "olena@example.org"))
    visit, token = service.book(
        db=db, settings=settings, service_id="library-card", place_id="kiosk-bonarka", starts_at=VISIT,
        language="uk", source="web", now=NOW, **kw,
    )
    db.commit()
    return visit, token


def text_of(message, subtype: str = "plain") -> str:
    part = next(p for p in message.walk() if p.get_content_type() == f"text/{subtype}")
    return part.get_payload(decode=True).decode("utf-8")


def test_the_reminder_arrives_once_in_ukrainian(db, mailing):
    inbox, settings = mailing
    visit, token = book(db, settings, interpreter_language="uk")
    assert visit.reminder_channel == "email" and visit.reminder_due_at == DUE
    assert flows.send_reminders(db=db, settings=settings, now=DUE - timedelta(minutes=1))["reminders_sent"] == 0
    assert flows.send_reminders(db=db, settings=settings, now=DUE + timedelta(minutes=1))["reminders_sent"] == 1
    assert flows.send_reminders(db=db, settings=settings, now=DUE + timedelta(hours=2))["reminders_sent"] == 0
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "olena@example.org" and message["Content-Language"] == "uk"
    subject, body = str(make_header(decode_header(message["Subject"]))), text_of(message)
    assert "Нагадування" in subject and "19:30" in subject
    assert "Допомога з читацьким квитком" in body and "вівторок" in body and "9 березня" in body
    assert "Bonarka" in body and "Kamieńskiego 11" in body and "openstreetmap.org" in body
    assert "Ваш паспорт або карта побиту" in body and visit.reference in body
    assert f"https://witaj.example/uk/visits/v/{token}" in body
    page = text_of(message, "html")  # the HTML alternative: the same text, escaped, the link a link
    assert '<html lang="uk"' in page and f'<a href="https://witaj.example/uk/visits/v/{token}">' in page
    assert "Допомога з читацьким квитком" in page and "<script" not in page
    db.refresh(visit)
    assert visit.reminder_sent_at is not None
    assert [e.kind for e in service.history(db=db, appointment=visit)] == ["booked", "reminded"]


def test_a_refusing_server_is_tried_again_and_the_reminder_arrives_once(db, mailing):
    inbox, settings = mailing
    visit, _ = book(db, settings)
    inbox.refuse = 1
    assert flows.send_reminders(db=db, settings=settings, now=DUE)["reminders_retry"] == 1
    assert inbox.messages == []
    db.refresh(visit)
    assert visit.reminder_sent_at is None and visit.reminder_due_at == DUE + timedelta(minutes=5)
    assert flows.send_reminders(db=db, settings=settings, now=DUE + timedelta(minutes=2))["reminders_sent"] == 0
    assert flows.send_reminders(db=db, settings=settings, now=DUE + timedelta(minutes=6))["reminders_sent"] == 1
    assert len(inbox.messages) == 1
    kinds = [e.kind for e in service.history(db=db, appointment=visit)]
    assert kinds == ["booked", "reminder_failed", "reminded"]
    failed = service.history(db=db, appointment=visit)[1].data
    assert failed["attempt"] == 1 and failed["given_up"] is False and "olena" not in str(failed)


def test_a_moved_visit_is_reminded_of_its_new_time(db, mailing):
    inbox, settings = mailing
    visit, _ = book(db, settings)
    later = datetime(2027, 3, 11, 18, 30, tzinfo=UTC)  # Thursday
    service.move(db=db, settings=settings, appointment=visit, starts_at=later, now=NOW)
    db.commit()
    assert flows.send_reminders(db=db, settings=settings, now=DUE + timedelta(minutes=1))["reminders_sent"] == 0
    assert flows.send_reminders(db=db, settings=settings, now=DUE + timedelta(days=2, minutes=1))["reminders_sent"] == 1
    assert "четвер" in text_of(inbox.messages[0])


def test_two_job_runners_at_once_send_one_reminder(fresh_engine, mailing, monkeypatch):
    inbox, settings = mailing
    factory = session_factory(fresh_engine, write=True)
    with factory() as setup:
        visit, _ = book(setup, settings)
    found = reminders.due
    claimed_by_other: list[bool] = []

    def first_reads_then_the_other_claims(db, now):
        due = found(db, now)  # the first runner has read the due visits...
        db.commit()  # (its reading transaction ends, as between two of its claims)
        monkeypatch.setattr(reminders, "due", found)
        with factory() as other:  # ...and the other runner claims the visit meanwhile, sending it now
            claimed_by_other.append(reminders.claim(other, found(other, now)[0], now))
            other.commit()
        return due

    monkeypatch.setattr(reminders, "due", first_reads_then_the_other_claims)
    with factory() as first:
        counts = flows.send_reminders(db=first, settings=settings, now=DUE + timedelta(minutes=1))
    assert claimed_by_other == [True] and counts == {"reminders_sent": 0, "reminders_retry": 0, "reminders_failed": 0}
    assert inbox.messages == []
    # The jobs runner: nothing while the other runner holds it; had that one stopped without
    # sending, the reminder goes 5 minutes later, once.
    assert jobs.run_once(engine=fresh_engine, settings=settings, now=DUE + timedelta(minutes=2))["reminders_sent"] == 0
    assert jobs.run_once(engine=fresh_engine, settings=settings, now=DUE + timedelta(minutes=7))["reminders_sent"] == 1
    assert jobs.run_once(engine=fresh_engine, settings=settings, now=DUE + timedelta(minutes=30))["reminders_sent"] == 0
    assert len(inbox.messages) == 1
    with factory() as check:
        assert check.get(Appointment, visit.id).reminder_attempts == 2


def test_without_smtp_nothing_is_sent_and_nothing_breaks(db, settings):
    assert settings.smtp_host is None
    visit, _ = book(db, settings)
    assert visit.reminder_channel == "none" and visit.reminder_due_at is None
    assert flows.send_reminders(db=db, settings=settings, now=DUE + timedelta(minutes=1)) == {"reminders_sent": 0, "reminders_retry": 0, "reminders_failed": 0}


MESSENGERS_ON = {
    "public_url": "https://witaj.example", "telegram_bot_token": "1:reminder", "telegram_webhook_secret": "reminder",
    "whatsapp_access_token": "t", "whatsapp_app_secret": "s", "whatsapp_verify_token": "v", "whatsapp_phone_number_id": "1",
}


def chat_on(db, settings, channel: str) -> Conversation:
    chat = Conversation(channel=channel, sender_id=f"reminder-{channel}", language="uk", address_encrypted=outbox.encrypt_address(settings, "4242"))
    db.add(chat)
    db.flush()
    return chat


def test_a_messenger_reminder_is_queued_once_for_the_chat_it_was_booked_from(db, settings):
    settings = settings.model_copy(update=MESSENGERS_ON)
    chat = chat_on(db, settings, "telegram")
    visit, _ = book(db, settings, person=service.Person("Олена"), channel="telegram", conversation_id=chat.id)
    assert visit.reminder_channel == "messenger"
    assert flows.send_reminders(db=db, settings=settings, now=DUE)["reminders_sent"] == 1
    assert flows.send_reminders(db=db, settings=settings, now=DUE + timedelta(hours=1))["reminders_sent"] == 0
    rows = db.scalars(select(ChannelDelivery).where(ChannelDelivery.source_key == f"reminder:{visit.id}")).all()
    assert len(rows) == 1 and rows[0].channel == "telegram" and rows[0].language == "uk" and rows[0].kind == "session"
    assert "Допомога з читацьким квитком" in rows[0].body["messages"][0]["text"]


@pytest.mark.parametrize("template", ["witaj_reply", None])
def test_after_whatsapps_window_the_reminder_goes_as_the_template_or_not_at_all(db, settings, template):
    settings = settings.model_copy(update={**MESSENGERS_ON, "whatsapp_template": template})
    chat = chat_on(db, settings, "whatsapp")  # the newcomer last wrote more than 24 hours before
    visit, _ = book(db, settings, person=service.Person("Олена"), channel="whatsapp", conversation_id=chat.id)
    counts = flows.send_reminders(db=db, settings=settings, now=DUE)
    kinds = db.scalars(select(ChannelDelivery.kind).where(ChannelDelivery.source_key == f"reminder:{visit.id}")).all()
    if template:
        assert counts["reminders_sent"] == 1 and kinds == ["template"]
    else:  # not retried: nothing would change by itself
        assert counts["reminders_failed"] == 1 and kinds == []
        assert service.history(db=db, appointment=visit)[-1].data["given_up"] is True


def test_names_and_contacts_are_erased_after_the_retention_period(db, settings):
    visit, _ = book(db, settings)
    service.purge_personal(db=db, settings=settings, now=VISIT + timedelta(days=settings.appointment_retention_days - 1))
    db.refresh(visit)
    assert service.person_of(visit, settings) is not None
    erased = service.purge_personal(db=db, settings=settings, now=VISIT + timedelta(days=settings.appointment_retention_days + 1))
    db.refresh(visit)
    assert erased >= 1 and visit.person_encrypted is None and service.person_of(visit, settings) is None
    assert db.scalar(select(func.count()).select_from(AppointmentEvent).where(AppointmentEvent.appointment_id == visit.id)) == 1
    assert db.get(Appointment, visit.id).reference == visit.reference  # the visit itself stays (figures)
    assert date(2027, 3, 9) == visit.starts_at.date()


def test_mail_failures_are_one_error_that_names_no_address(mailing):
    inbox, settings = mailing
    message = mail.build(settings=settings, to="olena@example.org", subject="S", text="<b>", language="uk", with_html=True)
    inbox.refuse = 1
    with pytest.raises(mail.MailError) as refused:
        mail.send(settings, message)
    assert "451" in str(refused.value) and "olena" not in str(refused.value)
    with pytest.raises(mail.MailError):  # nothing listens there
        mail.send(settings.model_copy(update={"smtp_port": free_port()}), message)
    with pytest.raises(mail.MailError):  # a user name, and a server that offers no sign-in
        mail.send(settings.model_copy(update={"smtp_username": "witaj", "smtp_password": "x"}), message)
    mail.send(settings, message)
    assert len(inbox.messages) == 1 and "&lt;b&gt;" in text_of(inbox.messages[0], "html")
