"""Tables of appointments: appointment (a booked visit), appointment_hold (the desk time a visit
takes, one row per grid unit: the database refuses two visits at one desk at once),
appointment_block (time staff closed) and appointment_event (append-only history of a visit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class Appointment(Base):
    """A visit booked at a place for a service; the person's name and contact only encrypted."""

    __tablename__ = "appointment"
    __table_args__ = (
        # Free-slot search and the agenda read one place's visits in a time range.
        Index("ix_appointment_place_start", "place_id", "starts_at"),
        # The reminder job reads the booked visits whose reminder is due.
        Index("ix_appointment_reminder", "reminder_due_at"),
        # The statistics read every place's visits of a month (app/reports/stats.py).
        Index("ix_appointment_start", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    # The secret of the link that shows, moves and cancels the visit: only its hash is kept.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The booking form's one-time key (hashed, app/cases/once.py): the same form sent twice (a double
    # click, a retry) books one visit; the link's secret sealed under that key finds it again.
    idempotency_key_hash: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    token_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    place_id: Mapped[str] = mapped_column(String(40))
    service_id: Mapped[str] = mapped_column(String(40))
    desk: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # booked, checked_in, no_show, cancelled
    status: Mapped[str] = mapped_column(String(12), default="booked")
    language: Mapped[str] = mapped_column(String(10))
    interpreter_language: Mapped[str | None] = mapped_column(String(10), default=None)
    # {"name": ..., "email": ..., "phone": ...}, encrypted (app/crypto.py); emptied by the retention job.
    person_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    # How the person is reminded: email, messenger or none (never the address itself).
    reminder_channel: Mapped[str] = mapped_column(String(10), default="none")
    reminder_due_at: Mapped[datetime | None] = mapped_column(default=None)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    reminder_attempts: Mapped[int] = mapped_column(Integer, default=0)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation.id", ondelete="SET NULL"), default=None, index=True
    )
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id", ondelete="SET NULL"), default=None, index=True)
    source: Mapped[str] = mapped_column(String(10))  # web, chat, api, staff
    # The organisation whose staff or API token booked it (None: the person themselves).
    booked_by_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)



class AppointmentHold(Base):
    """One grid unit of one desk's time taken by a visit: the primary key is the promise that no
    desk is ever booked twice at once, kept by the database under concurrent requests."""

    __tablename__ = "appointment_hold"

    place_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    desk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id", ondelete="CASCADE"), index=True)


class AppointmentBlock(Base):
    """Time in which a place (or one of its desks) takes no visits: a desk closed, a training day."""

    __tablename__ = "appointment_block"
    __table_args__ = (Index("ix_appointment_block_place", "place_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    place_id: Mapped[str] = mapped_column(String(40))
    desk: Mapped[int | None] = mapped_column(Integer, default=None)  # None: every desk
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppointmentEvent(Base):
    """Something that happened to a visit (booked, moved, cancelled, checked in...): append-only."""

    __tablename__ = "appointment_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)
