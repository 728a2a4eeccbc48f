"""Sending a city form: the answers are stored and a case is opened for them, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from app.cases import service as case_service
from app.cases.events import CLIENT
from app.cases.models import CaseFile
from app.config import Settings
from app.db import committed, utcnow
from app.errors import InvalidInput
from app.forms import service as forms_service
from app.forms.content import FormDef
from app.forms.models import FormSubmission


@dataclass
class Submitted:
    """A sent form: its submission, the case it opened, the case's secret (shown once) and the link token."""

    submission: FormSubmission
    case: CaseFile
    secret: str
    token: str


def submit(
    *,
    db: Session,
    settings: Settings,
    form: FormDef,
    raw: forms_service.Raw,
    language: str,
    token: str | None = None,
    now: datetime | None = None,
    on: date | None = None,
) -> Submitted:
    """Return the sent form and the case it opened; raise InvalidInput (messages in the user's
    language, on the form's own fields), Conflict when the link's form was already sent, or NotFound.
    Commits both, or neither."""
    now = now or utcnow()
    with committed(db):
        submission, values, token = forms_service.record_submission(
            db=db, settings=settings, form=form, raw=raw, language=language, token=token, now=now, on=on
        )
        try:
            case, secret = case_service.create(
                db=db,
                settings=settings,
                client=forms_service.client_of(form, values, language),
                case=forms_service.case_of(form, submission, values, language),
                actor=CLIENT,
                now=now,
            )
        except InvalidInput as exc:
            raise InvalidInput(forms_service.client_field_errors(form, exc.field_errors)) from None
        submission.case = case
    return Submitted(submission=submission, case=case, secret=secret, token=token)


def save_draft(
    *,
    db: Session,
    settings: Settings,
    form: FormDef,
    raw: forms_service.Raw,
    language: str,
    token: str | None = None,
    now: datetime | None = None,
) -> tuple[FormSubmission, str]:
    """Return the saved draft and its link's token; raise Conflict when the link's form was already
    sent. Commits."""
    with committed(db):
        return forms_service.save_draft(
            db=db, settings=settings, form=form, raw=raw, language=language, token=token, now=now
        )
