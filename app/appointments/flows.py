"""Use cases of visits that own their transactions and reach another domain: the reminders' job,
which sends by e-mail or queues in the assistant's messengers' outbox (see app/appointments/reminders.py
for the text, the claim and the retries), and a case opened from a visit at the desk."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import mail
from app.appointments import reminders, service
from app.appointments.content import catalogue
from app.appointments.models import Appointment
from app.assistant.channels import adapters, outbox
from app.assistant.channels.shapes import Button, Outbound
from app.assistant.models import Conversation
from app.cases import service as case_service
from app.cases.events import Actor
from app.cases.models import CaseFile
from app.cases.schemas import CaseIn, ClientIn
from app.config import Settings
from app.db import committed, utcnow
from app.i18n import _, use_locale

log = logging.getLogger("witaj.appointments")


def send_reminders(*, db: Session, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Send the visits' reminders that are due, each once (claimed and committed before it is
    sent); return how many were sent, will be tried again, or were given up."""
    now = now or utcnow()
    counts = {"reminders_sent": 0, "reminders_retry": 0, "reminders_failed": 0}
    for appointment in reminders.due(db, now):
        with committed(db):
            claimed = reminders.claim(db, appointment, now)
        if not claimed:
            continue
        attempt = appointment.reminder_attempts
        try:
            with committed(db):
                if appointment.reminder_channel == service.EMAIL:
                    reminders.send_email(settings, appointment)
                else:
                    _queue_on_messenger(db, settings, appointment, now)
                reminders.record(db, appointment, now, "reminded", final=True, channel=appointment.reminder_channel, attempt=attempt)
        except Exception as exc:  # noqa: BLE001 - one visit's failure never stops the others' reminders
            final = attempt >= reminders.MAX_ATTEMPTS or isinstance(exc, reminders.NotReachable)
            # MailError and NotReachable say what failed without an address; anything else by its class.
            known = isinstance(exc, (mail.MailError, reminders.NotReachable))
            reason = str(exc) if known else type(exc).__name__
            if not known:
                log.warning("visit reminder failed: %s", reason)
            with committed(db):
                reminders.record(db, appointment, now, "reminder_failed", final=final, attempt=attempt, given_up=final, reason=reason)
            counts["reminders_failed" if final else "reminders_retry"] += 1
            continue
        counts["reminders_sent"] += 1
    return counts


def _queue_on_messenger(db: Session, settings: Settings, appointment: Appointment, now: datetime) -> None:
    conversation = db.get(Conversation, appointment.conversation_id) if appointment.conversation_id else None
    if conversation is None or not conversation.address_encrypted:
        raise reminders.NotReachable("the conversation was erased")
    # As a caseworker's reply (channels/flows.py): the messenger must be on, and after WhatsApp's
    # 24-hour window only the approved template may carry the reminder.
    adapter = adapters.MESSENGERS.get(conversation.channel)
    if adapter is None or not adapter.enabled(settings):
        raise reminders.NotReachable("the messenger is off")
    kind = outbox.kind_for(db=db, settings=settings, conversation=conversation, now=now)
    if kind is None:
        raise reminders.NotReachable("the messenger's window closed and no template is configured")
    text = reminders.reminder_text(settings, appointment)[1]
    link = reminders.visit_link(settings, appointment)
    with use_locale(appointment.language):
        buttons = (Button(title=_("Your visit"), url=link),) if link else ()
    try:
        with db.begin_nested():
            outbox.enqueue(
                db=db, conversation=conversation, channel=conversation.channel,
                address_encrypted=conversation.address_encrypted,
                messages=[Outbound(text=text, buttons=() if kind == "template" else buttons)],
                language=appointment.language, now=now, kind=kind, source_key=f"reminder:{appointment.id}",
            )
    except IntegrityError:
        pass  # queued by an earlier run that stopped before recording it: once is enough


def open_case_from_visit(*, db: Session, settings: Settings, appointment: Appointment, actor: Actor, now: datetime | None = None) -> CaseFile:
    """Open a case for the visit's person, in the visit's service's category, and link the visit to
    it; commits once. Raise InvalidInput (for example when the person's details were erased)."""
    now = now or utcnow()
    person = service.person_of(appointment, settings)
    visit_service = catalogue(settings).services.get(appointment.service_id)
    name = person.name if person is not None and person.name else _("Visitor %(reference)s") % {"reference": appointment.reference}
    with committed(db):
        case, _secret = case_service.create(
            db=db,
            settings=settings,
            client=ClientIn(
                display_name=name,
                preferred_language=appointment.language,
                email=person.email if person is not None else None,
                phone=person.phone if person is not None else None,
            ),
            case=CaseIn(
                category=visit_service.category if visit_service is not None else "",
                subject=_(visit_service.name) if visit_service is not None else appointment.reference,
            ),
            actor=actor,
            now=now,
        )
        service.link_case(db=db, appointment=appointment, case_id=case.id, actor_user_id=actor.principal.user_id if actor.principal else None, now=now)
    return case
