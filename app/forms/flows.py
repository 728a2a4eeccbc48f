"""Sending a city form: the answers are stored and a case is opened for them, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cases import once
from app.cases import service as case_service
from app.cases.events import CLIENT
from app.cases.models import CaseFile
from app.config import Settings
from app.db import committed, utcnow
from app.errors import Conflict, InvalidInput
from app.forms import service as forms_service
from app.forms.content import FormDef
from app.forms.models import FormSubmission
from app.i18n import _


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
    create: bool = False,
    key: str | None = None,
    now: datetime | None = None,
    on: date | None = None,
) -> Submitted:
    """Return the sent form and the case it opened, its secret sealed under the page's key (shown once
    on the confirmation page, app/cases/once.py); raise InvalidInput (messages in the user's language,
    on the form's own fields), Conflict when the link's form was already sent (also by another request
    with the same token at the same moment), or NotFound. With create, token names the submission to
    make when no draft has it. Commits both, or neither."""
    now = now or utcnow()
    try:
        with committed(db):
            submission, values, token = forms_service.record_submission(
                db=db,
                settings=settings,
                form=form,
                raw=raw,
                language=language,
                token=token,
                create=create,
                now=now,
                on=on,
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
            if key is not None:
                once.attach(db=db, case=case, key=key, secret=secret, idempotent=False)
    except IntegrityError:
        # The link token is unique: the same page sent twice at once stores one submission.
        if token is not None and forms_service.find_by_token(db=db, token=token) is not None:
            raise Conflict(_("This form has already been sent.")) from None
        raise
    return Submitted(submission=submission, case=case, secret=secret, token=token)


def save_draft(
    *,
    db: Session,
    settings: Settings,
    form: FormDef,
    raw: forms_service.Raw,
    language: str,
    token: str | None = None,
    create: bool = False,
    now: datetime | None = None,
) -> tuple[FormSubmission, str]:
    """Return the saved draft and its link's token; raise Conflict when the link's form was already
    sent. With create, token names the draft to make when none has it (a page saved twice at once
    saves one draft). Commits."""
    try:
        with committed(db):
            return forms_service.save_draft(
                db=db,
                settings=settings,
                form=form,
                raw=raw,
                language=language,
                token=token,
                create=create,
                now=now,
            )
    except IntegrityError:
        if not create or token is None or forms_service.find_by_token(db=db, token=token) is None:
            raise
    # Saved meanwhile by the same page's other request: save these answers into that draft.
    with committed(db):
        return forms_service.save_draft(
            db=db,
            settings=settings,
            form=form,
            raw=raw,
            language=language,
            token=token,
            create=create,
            now=now,
        )
