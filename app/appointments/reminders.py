"""Reminders of visits, the day before: by e-mail, or on the messenger the person booked from, in
the language they booked in. This module holds the reminder's text, the e-mail and the steps on
the visit's row (due, claim, record; they only flush); the job that sends them and owns the
transactions is send_reminders in app/appointments/flows.py (it also reaches the assistant's
messengers' outbox), run by the jobs runner (app/jobs.py).

Sent once: each due visit is claimed with a conditional UPDATE (the reminder's due time moves on by
the retry delay and its attempts count up, only where nobody else did it first), so two runners at
once never both send; the one that claimed it sends and then records the reminder as sent. A
failure (the SMTP server down or refusing) is retried after 5, 15, 60 minutes..., until the visit
starts or MAX_ATTEMPTS; every try is in the visit's history ("reminded", or "reminder_failed" with
the attempt and whether it was the last), never the address. A messenger reminder goes into the
messengers' outbox (unique per visit), which delivers and retries it like an answer.

The link: only the hash of the visit's secret is a column, so the secret itself rides encrypted with
the name and contact (service.book) and the reminder links to the visit's own page
(WITAJ_PUBLIC_URL + /<lang>/visits/v/<secret>) to move or cancel it; without WITAJ_PUBLIC_URL, or
once the retention job erased it, the text says to use the link in the confirmation instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import mail
from app.appointments import service
from app.appointments.content import catalogue
from app.appointments.models import Appointment, AppointmentEvent
from app.config import Settings
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


class NotReachable(Exception):
    """The person cannot be reached any more (no address, the chat was erased): not retried."""


def due(db: Session, now: datetime) -> list[Appointment]:
    """Return the booked visits whose reminder is due and not sent, oldest due first (BATCH)."""
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


def claim(db: Session, appointment: Appointment, now: datetime) -> bool:
    """Take the reminder for this runner (the caller commits before sending): True when no other
    runner took it first, since appointment was read. The next try is due RETRY_AFTER later."""
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
    if claimed.rowcount != 1:
        return False
    db.refresh(appointment)
    return True


def record(db: Session, appointment: Appointment, now: datetime, kind: str, *, final: bool, **data: object) -> None:
    """Add the try to the visit's history; when final, the reminder is over (sent or given up)."""
    if final:
        values: dict[str, object] = {"reminder_due_at": None}
        if kind == "reminded":
            values["reminder_sent_at"] = now
        db.execute(update(Appointment).where(Appointment.id == appointment.id).values(**values).execution_options(synchronize_session=False))
    db.add(AppointmentEvent(appointment_id=appointment.id, kind=kind, data=data, at=now))
    db.flush()


def send_email(settings: Settings, appointment: Appointment) -> None:
    """Send the reminder by e-mail; raise mail.MailError (tried again) or NotReachable."""
    person = service.person_of(appointment, settings)
    if person is None or not person.email:
        raise NotReachable("no e-mail address (erased)")
    subject, text = reminder_text(settings, appointment)
    message = mail.build(settings=settings, to=person.email, subject=subject, text=text, language=appointment.language, with_html=True)
    mail.send(settings, message)
