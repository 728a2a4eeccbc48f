"""Tables of the city forms: form_revision (each definition a form was filled with) and
form_submission (drafts and submitted forms)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.cases.models import CaseFile
from app.db import Base, utcnow


class FormRevision(Base):
    """A form's definition as it was when someone filled it: old answers stay readable after the
    form in forms/ changes. One row per distinct definition (its digest), kept for ever."""

    __tablename__ = "form_revision"
    __table_args__ = (UniqueConstraint("form_id", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormSubmission(Base):
    """A filled form: a draft (resumable by the secret link) or submitted (then it has a case).

    Answers are personal data: they are stored encrypted (app/crypto.py), as {field name: value}.
    Only a hash of the link's token is stored.
    """

    __tablename__ = "form_submission"
    __table_args__ = (
        Index("ix_form_submission_form", "form_id", "status", "updated_at"),
        # The statistics count the forms sent in a month (app/reports/stats.py).
        Index("ix_form_submission_submitted", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[str] = mapped_column(String(80))
    revision_id: Mapped[int] = mapped_column(ForeignKey("form_revision.id", ondelete="RESTRICT"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(10))  # draft, submitted
    language: Mapped[str] = mapped_column(String(10))
    answers_encrypted: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_file.id", ondelete="RESTRICT"), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)

    revision: Mapped[FormRevision] = relationship(lazy="joined", innerjoin=True)
    case: Mapped[CaseFile | None] = relationship()
