"""Reminders of visits, the day before: by e-mail, or on the messenger the person booked from, in
the language they booked in. Run by the jobs runner (app/jobs.py).

Sent once: each due visit is claimed with a conditional UPDATE (the reminder's due time moves on by
the retry delay and its attempts count up, only where nobody else did it first), so two runners at
once never both send; the one that claimed it sends and then records the reminder as sent. A
failure (the SMTP server down or refusing) is retried after 5, 15, 60 minutes..., until the visit
starts or MAX_ATTEMPTS; every try is in the visit's history, never the address. A messenger reminder
goes into the messengers' outbox (unique per visit), which delivers and retries it like an answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import mail
from app.appointments import service
from app.appointments.content import catalogue
from app.appointments.models import Appointment, AppointmentEvent
from app.assistant.channels import outbox
from app.assistant.channels.shapes import Button, Outbound
from app.assistant.models import Conversation
from app.config import Settings
from app.db import utcnow
from app.i18n import _, format_date, format_time, use_locale

RETRY_AFTER = (timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=2), timedelta(hours=4))
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
#: Visits looked at per run (the rest wait for the next one).
BATCH = 200


def visit_link(settings: Settings, appointment: Appointment) -> str | None:
    """Return the address of the visit's page (None without WITAJ_PUBLIC_URL, or once erased)."""
    token = service.link_secret(appointment, settings)
    if not settings.public_url or not token:
        return None
    return f"{settings.public_url.rstrip('/')}/{appointment.language}/visits/v/{token}"


def reminder_text(settings: Settings, appointment: Appointment) -> tuple[str, str]:
    """Return the reminder's subject and text in the visit's language."""
    cat = catalogue(settings)
    place = cat.places.get(appointment.place_id)
    chosen = cat.services.get(appointment.service_id)
    with use_locale(appointment.language):
        day = format_date(appointment.starts_at, "EEEE d MMMM y")
        start, end = format_time(appointment.starts_at), format_time(appointment.ends_at)
        subject = _("Reminder: your visit tomorrow at %(time)s", time=start)
        lines = [_("This is a reminder of your visit tomorrow."), "", _(chosen.name) if chosen else appointment.service_id, f"{day}, {start}–{end}"]
        if place is not None:
            lines += [place.name, place.address, place.map_url]
        if chosen and chosen.bring:
            lines += ["", _("What to bring:")] + [f"• {_(item)}" for item in chosen.bring]
        lines += ["", _("Reference: %(reference)s", reference=appointment.reference)]
        if appointment.interpreter_language:
            lines.append(_("An interpreter has been asked for."))
        link = visit_link(settings, appointment)
        if link:
            lines += ["", _("To move or cancel the visit:"), link]
        else:
            lines += ["", _("To move or cancel the visit, open the link in your confirmation.")]
        lines += ["", _("If you cannot come, please cancel the visit, so that someone else can have this time.")]
    return subject, "\n".join(lines)


def _due(db: Session, now: datetime) -> list[Appointment]:
    return list(
        db.scalars(
            select(Appointment)
            .where(
                Appointment.reminder_due_at <= now,
                Appointment.reminder_sent_at.is_(None),
                Appointment.status == service.BOOKED,
                Appointment.starts_at > now,
                Appointment.reminder_channel != service.NONE,
            )
            .order_by(Appointment.reminder_due_at)
            .limit(BATCH)
        )
    )


def _claim(db: Session, appointment: Appointment, now: datetime) -> bool:
    """Take the reminder for this runner: True when no other runner took it first."""
    attempts = appointment.reminder_attempts
    retry = now + RETRY_AFTER[min(attempts, len(RETRY_AFTER) - 1)]
    claimed = db.execute(
        update(Appointment)
        .where(
            Appointment.id == appointment.id,
            Appointment.reminder_due_at == appointment.reminder_due_at,
            Appointment.reminder_attempts == attempts,
            Appointment.reminder_sent_at.is_(None),
        )
        .values(reminder_due_at=retry, reminder_attempts=attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    if claimed.rowcount != 1:
        return False
    db.refresh(appointment)
    return True


def _done(db: Session, appointment: Appointment, now: datetime, kind: str, **data: object) -> None:
    values: dict[str, object] = {"reminder_due_at": None}
    if kind == "reminded":
        values["reminder_sent_at"] = now
    db.execute(update(Appointment).where(Appointment.id == appointment.id).values(**values).execution_options(synchronize_session=False))
    db.add(AppointmentEvent(appointment_id=appointment.id, kind=kind, data=data, at=now))
    db.commit()


def send_due(*, db: Session, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Send the reminders that are due; return how many were sent, will be retried, or given up."""
    now = now or utcnow()
    counts = {"reminders_sent": 0, "reminders_retry": 0, "reminders_failed": 0}
    for appointment in _due(db, now):
        if not _claim(db, appointment, now):
            continue
        attempt = appointment.reminder_attempts
        try:
            if appointment.reminder_channel == service.EMAIL:
                _email(settings, appointment)
            else:
                _messenger(db, settings, appointment, now)
        except (mail.MailError, _NotReachable) as exc:
            db.rollback()
            if attempt >= MAX_ATTEMPTS or isinstance(exc, _NotReachable):
                _done(db, appointment, now, "reminder_failed", attempt=attempt, reason=str(exc))
                counts["reminders_failed"] += 1
            else:
                db.add(AppointmentEvent(appointment_id=appointment.id, kind="reminder_retry", data={"attempt": attempt, "reason": str(exc)}, at=now))
                db.commit()
                counts["reminders_retry"] += 1
            continue
        _done(db, appointment, now, "reminded", channel=appointment.reminder_channel, attempt=attempt)
        counts["reminders_sent"] += 1
    return counts


class _NotReachable(Exception):
    """The person cannot be reached any more (no address, the chat was erased): not retried."""


def _email(settings: Settings, appointment: Appointment) -> None:
    person = service.person_of(appointment, settings)
    if person is None or not person.email:
        raise _NotReachable("no e-mail address (erased)")
    subject, text = reminder_text(settings, appointment)
    mail.send(settings, mail.build(settings=settings, to=person.email, subject=subject, text=text, language=appointment.language))


def _messenger(db: Session, settings: Settings, appointment: Appointment, now: datetime) -> None:
    conversation = db.get(Conversation, appointment.conversation_id) if appointment.conversation_id else None
    if conversation is None or not conversation.address_encrypted:
        raise _NotReachable("the conversation was erased")
    text = reminder_text(settings, appointment)[1]
    link = visit_link(settings, appointment)
    with use_locale(appointment.language):
        buttons = (Button(title=_("Your visit"), url=link),) if link else ()
    try:
        with db.begin_nested():
            outbox.enqueue(
                db=db, conversation=conversation, channel=conversation.channel,
                address_encrypted=conversation.address_encrypted,
                messages=[Outbound(text=text, buttons=buttons)], language=appointment.language, now=now,
                source_key=f"reminder:{appointment.id}",
            )
    except IntegrityError:
        pass  # queued by an earlier run that stopped before recording it: once is enough
