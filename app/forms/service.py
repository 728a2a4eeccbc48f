"""City forms: the validated content, answers checked with the forms' own rules, drafts resumable by
a secret link, and submission into a case (answers stored by field name with the form's revision).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cases.content import case_content, load_case_content
from app.cases.enums import Source
from app.cases.schemas import CaseIn, ClientIn
from app.config import Settings
from app.crypto import decrypt_json, encrypt_json, hash_secret, new_secret
from app.db import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.forms.content import (
    DATE_PARTS,
    YES,
    YES_NO_LABELS,
    Field,
    FormDef,
    canonical_json,
    form_from_snapshot,
    load_forms,
)
from app.forms.models import FormRevision, FormSubmission
from app.i18n import _, format_date, format_number, get_locale, translations, use_locale

#: The message context of form strings in the catalogs: their source language is Polish.
FORM_CONTEXT = "form"
SOURCE_LOCALE = "pl"
DRAFT, SUBMITTED = "draft", "submitted"
#: Drafts not touched for this long are deleted (`purge_drafts`): they hold personal data.
DRAFT_DAYS = 30
#: The longest text kept from one input, whatever the field (a draft may hold invalid answers).
MAX_RAW = 10_000
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{6,20}$")
_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")

Raw = dict[str, str | list[str]]


# --- content ---------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _forms(folder: str, cases_folder: str) -> dict[str, FormDef]:
    cc = load_case_content(Path(cases_folder))
    return load_forms(Path(folder), categories=cc.categories, districts=cc.districts)


def forms(settings: Settings) -> dict[str, FormDef]:
    """Return the validated forms of forms/*.yml by id, loaded once; raise ContentErrors."""
    return _forms(str(settings.content_dir / "forms"), str(settings.content_dir / "cases"))


def get_form(*, settings: Settings, form_id: str) -> FormDef:
    """Return the form with form_id; raise NotFound."""
    form = forms(settings).get(form_id)
    if form is None:
        raise NotFound("form")
    return form


def districts(settings: Settings) -> tuple[str, ...]:
    """Return the city's districts (the choices of `choices_from: districts`)."""
    return case_content(settings).districts


def today(settings: Settings) -> date:
    """Return today's date in the office's time zone (date limits and today() use it)."""
    return datetime.now(settings.zone).date()


# --- wording ---------------------------------------------------------------------------------


def form_text(text: str, locale: str | None = None) -> str:
    """Return a form's Polish text in locale (the current one by default); Polish is the source."""
    code = locale or get_locale()
    if code == SOURCE_LOCALE or not text:
        return text
    return translations(code).upgettext(FORM_CONTEXT, text)


# --- answers -----------------------------------------------------------------------------------


def raw_answers(form: FormDef, data: Mapping[str, Sequence[str]]) -> Raw:
    """Return what was entered for each field of form, from posted data (name -> list of values)."""
    raw: Raw = {}
    for f in form.fields.values():
        values = [str(v)[:MAX_RAW] for v in data.get(f.name, ()) if isinstance(v, str)]
        boxes = [f"{f.name}-{part}" for part in DATE_PARTS]
        if f.date_in_parts and any(box in data for box in boxes):
            typed = [[str(v)[:MAX_RAW] for v in data.get(box, ()) if isinstance(v, str)] for box in boxes]
            raw[f.name] = joined_date([found[-1] if found else "" for found in typed])
        elif f.type == "multiselect":
            raw[f.name] = [v for v in dict.fromkeys(values) if v]
        elif f.type == "consent":
            raw[f.name] = YES if values and values[-1] in (YES, "on", "true") else ""
        else:
            raw[f.name] = values[-1].strip() if values else ""
    return raw


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def joined_date(parts: Sequence[str]) -> str:
    """Return a date typed in three boxes (day, month, year) as one answer, D.M.YYYY as typed ("" when
    all three are empty); parse_date reads it, and date_parts splits it back for the boxes."""
    cleaned = ["".join(part.split()).replace(".", "")[:8] for part in parts]
    return ".".join(cleaned) if any(cleaned) else ""


def date_parts(value: object) -> dict[str, str]:
    """Return a date answer as its three boxes show it: {day, month, year} (an ISO date from a saved
    draft, or D.M.YYYY as typed, complete or not)."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        found = date.fromisoformat(text) if len(text) == 10 and text[4] == "-" else None
    except ValueError:
        found = None
    if found is not None:
        return {"day": str(found.day), "month": str(found.month), "year": str(found.year)}
    pieces = text.split(".")
    if len(pieces) == 3:
        return dict(zip(DATE_PARTS, pieces, strict=True))
    return dict.fromkeys(DATE_PARTS, "")


def incomplete_date(f: Field, raw: object) -> bool:
    """Return whether raw is a date in three boxes with some, but not all, of them filled (someone
    still typing it: the live check waits for the rest)."""
    if not f.date_in_parts or not isinstance(raw, str) or not raw:
        return False
    parts = date_parts(raw)
    return any(parts.values()) and not all(parts.values())


def coerce(f: Field, raw: str | list[str] | None) -> tuple[Any, str | None]:
    """Return (typed value, None) for an entered answer, or (None, message) when it has the wrong form."""
    if _empty(raw):
        return None, None
    if f.type == "multiselect":
        values = raw if isinstance(raw, list) else [raw]
        options = {c.value for c in f.choices}
        if any(v not in options for v in values):
            return None, _("Choose one of the offered options.")
        return [c.value for c in f.choices if c.value in values], None
    text = raw if isinstance(raw, str) else (raw[-1] if raw else "")
    if f.type == "number":
        cleaned = text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
        if "," in cleaned and "." not in cleaned:
            cleaned = cleaned.replace(",", ".")
        try:
            number = Decimal(cleaned)
        except InvalidOperation:
            return None, _("Enter a whole number.") if f.integer else _("Enter a number.")
        if not number.is_finite():
            return None, _("Enter a number.")
        if f.integer and number != number.to_integral_value():
            return None, _("Enter a whole number.")
        return (Decimal(int(number)) if f.integer else number), None
    if f.type == "date":
        found = parse_date(text)
        if found is None and f.date_in_parts:
            pieces = text.split(".")
            if len(pieces) == 3 and not all(pieces):
                return None, _("Enter the day, the month and the year.")
            return None, _("Enter a real date: the day and the month as numbers, the year with 4 digits.")
        if found is None:
            return None, _("Enter a date as YYYY-MM-DD.")
        return found, None
    if f.type in ("select", "yesno"):
        options = list(YES_NO_LABELS) if f.type == "yesno" else [c.value for c in f.choices]
        if text not in options:
            return None, _("Choose one of the offered options.")
        return text, None
    if f.type == "consent":
        return YES, None
    if f.type == "email" and not _EMAIL.match(text):
        return None, _("Enter a valid e-mail address.")
    if f.type == "phone" and not _PHONE.match(text):
        return None, _("Enter a phone number with digits only, for example +48 600 000 000.")
    limit = f.max_length
    if limit is not None and len(text) > limit and not any(c.kind == "max_length" for c in f.constraints):
        return None, _("Enter at most %(max)s characters.", max=limit)
    return text, None


def parse_date(text: str) -> date | None:
    """Return a date written as YYYY-MM-DD (what date inputs send) or DD.MM.YYYY, else None."""
    text = text.strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    match = _DOTTED_DATE.match(text)
    if match:
        try:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        except ValueError:
            return None
    return None


def constraint_error(f: Field, value: Any, values: Mapping[str, Any], on: date) -> str | None:
    """Return the message of the first constraint value breaks (in the user's language), else None."""
    for rule in f.constraints:
        broken = False
        if rule.kind in ("min", "max"):
            if f.type == "date":
                measured, limit = value, rule.value.resolve(on)
            elif f.type == "multiselect":
                measured, limit = Decimal(len(value)), rule.value
            else:
                measured, limit = value, rule.value
            broken = measured < limit if rule.kind == "min" else measured > limit
        elif rule.kind == "min_length":
            broken = len(value) < rule.value
        elif rule.kind == "max_length":
            broken = len(value) > rule.value
        elif rule.kind == "pattern":
            broken = rule.value.fullmatch(value) is None
        elif rule.kind == "expression":
            broken = not rule.value.test(values, today=on, current=value)
        if broken:
            return form_text(rule.message)
    return None


@dataclass
class Checked:
    """The outcome of checking answers: typed values of the relevant fields, what applies, errors."""

    values: dict[str, Any] = field(default_factory=dict)
    relevant: dict[str, bool] = field(default_factory=dict)
    sections: dict[str, bool] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def check(form: FormDef, raw: Mapping[str, Any], *, on: date, only: Iterable[str] | None = None) -> Checked:
    """Return the answers checked in form order: skip logic first (a skipped question is neither
    required nor kept), then type, required and constraints. `only` limits the errors reported."""
    wanted = set(only) if only is not None else None
    result = Checked()
    for section in form.sections:
        shown = section.relevant.test(result.values, today=on) if section.relevant else True
        result.sections[section.id] = shown
        for f in section.fields:
            relevant = shown and (f.relevant.test(result.values, today=on) if f.relevant else True)
            result.relevant[f.name] = relevant
            if not relevant:
                continue
            value, error = coerce(f, raw.get(f.name))
            if error is None and _empty(value) and f.required:
                error = (
                    _("Tick this box to send the form.")
                    if f.type == "consent"
                    else _("This field is required.")
                )
            if error is None and not _empty(value):
                error = constraint_error(f, value, result.values, on)
            if not _empty(value) and error is None:
                # Only valid answers are read by later skip logic: a date of birth in the future is
                # an error, not a child's age that opens the guardian's questions.
                result.values[f.name] = value
            if error and (wanted is None or f.name in wanted):
                result.errors[f.name] = error
    return result


def stored(value: Any) -> str | list[str]:
    """Return a typed answer as stored (JSON): text, or a list for multiselects."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def typed(f: Field, value: Any) -> Any:
    """Return a stored answer as the typed value the field's checks and expressions use."""
    found, error = coerce(f, value if isinstance(value, list | str) else str(value))
    return value if error else found


# --- revisions ---------------------------------------------------------------------------------


def ensure_revision(*, db: Session, form: FormDef, now: datetime | None = None) -> FormRevision:
    """Return the stored revision of form's current definition, storing it first if new (flushes)."""
    digest = form.digest
    query = select(FormRevision).where(FormRevision.form_id == form.id, FormRevision.digest == digest)
    found = db.scalar(query)
    if found is not None:
        return found
    revision = FormRevision(
        form_id=form.id, version=form.version, digest=digest, definition=form.data, created_at=now or utcnow()
    )
    try:
        with db.begin_nested():
            db.add(revision)
    except IntegrityError:
        found = db.scalar(query)  # stored meanwhile by a concurrent submission
        if found is None:
            raise
        return found
    return revision


def form_of(*, settings: Settings, submission: FormSubmission) -> FormDef:
    """Return the form as it was when submission was last saved (not necessarily today's)."""
    return revision_form(submission.revision, settings)


@lru_cache(maxsize=64)
def _revision_form(digest: str, definition: str, district_names: tuple[str, ...]) -> FormDef:
    return form_from_snapshot(json.loads(definition), districts=district_names)


def revision_form(revision: FormRevision, settings: Settings) -> FormDef:
    """Return the FormDef of a stored revision (a definition never changes once stored)."""
    return _revision_form(revision.digest, canonical_json(revision.definition), districts(settings))


# --- drafts and submissions ----------------------------------------------------------------------


def get_by_token(*, db: Session, token: str, for_update: bool = False) -> FormSubmission:
    """Return the draft or submission of a secret link's token; raise NotFound."""
    found = find_by_token(db=db, token=token, for_update=for_update)
    if found is None:
        raise NotFound("form")
    return found


def find_by_token(*, db: Session, token: str, for_update: bool = False) -> FormSubmission | None:
    """Return the draft or submission of a secret link's token, or None."""
    if not _TOKEN.match(token or ""):
        return None
    query = select(FormSubmission).where(FormSubmission.token_hash == hash_secret(token))
    if for_update:
        query = query.with_for_update(of=FormSubmission)
    return db.scalar(query)


def token_for_key(settings: Settings, key: str) -> str:
    """Return the link token of what a rendered form (its one-time key) saves or sends first.

    The same page sent twice (a double click, a retry, a reload of the answer) names the same
    draft or submission, whose token is unique: the second request finds the first one's work
    instead of doing it again, also when both run at once. Keyed with the app's secret, so the
    page alone does not give the link."""
    message = b"witaj-form-link:" + key.encode()
    digest = hmac.new(settings.secret_key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def answers_of(*, settings: Settings, submission: FormSubmission) -> dict[str, Any]:
    """Return the stored answers of a draft or submission, by field name."""
    return decrypt_json(submission.answers_encrypted, settings)


def save_draft(
    *,
    db: Session,
    settings: Settings,
    form: FormDef,
    raw: Raw,
    language: str,
    token: str | None = None,
    now: datetime | None = None,
    create: bool = False,
) -> tuple[FormSubmission, str]:
    """Return the saved draft and its link's token (a new one for a new draft, or token itself with
    create when no draft has it yet); raise Conflict when the link's form was already submitted. Flushes."""
    now = now or utcnow()
    revision = ensure_revision(db=db, form=form, now=now)
    kept = {k: v for k, v in raw.items() if not _empty(v)}
    existing = find_by_token(db=db, token=token, for_update=True) if token is not None and create else None
    if token is None or (create and existing is None):
        token = token or new_secret(24)
        draft = FormSubmission(
            form_id=form.id,
            token_hash=hash_secret(token),
            status=DRAFT,
            created_at=now,
            language=language,
            revision=revision,
            answers_encrypted="",
        )
        db.add(draft)
    else:
        draft = existing or get_by_token(db=db, token=token, for_update=True)
        if draft.form_id != form.id:
            raise NotFound("form")
        if draft.status != DRAFT:
            raise Conflict(_("This form has already been sent."))
    draft.revision = revision
    draft.language = language
    draft.answers_encrypted = encrypt_json(kept, settings)
    draft.updated_at = now
    db.flush()
    return draft, token


def draft_answers(*, settings: Settings, form: FormDef, submission: FormSubmission) -> Raw:
    """Return a draft's answers for the current form (answers to questions that are gone are dropped)."""
    answers = answers_of(settings=settings, submission=submission)
    return {name: value for name, value in answers.items() if name in form.fields}


def category_for(form: FormDef, values: Mapping[str, Any]) -> str:
    """Return the case category of a filled form (an answer may choose it, e.g. the kind of help)."""
    rule = form.category_rule
    if rule is not None:
        chosen = values.get(rule.field)
        if isinstance(chosen, str) and chosen in rule.by_choice:
            return rule.by_choice[chosen]
    return form.category


def client_of(form: FormDef, values: Mapping[str, Any], language: str) -> ClientIn:
    """Return the newcomer as the case tracker knows them, from the answers the form maps to the client."""

    def one(key: str) -> str | None:
        names = form.client.get(key, ())
        found = values.get(names[0]) if names else None
        return str(found) if found not in (None, "") else None

    name_parts = [str(values[n]) for n in form.client.get("name", ()) if values.get(n)]
    return ClientIn(
        display_name=" ".join(name_parts)[:120] or "–",
        preferred_language=language,
        district=one("district"),
        email=one("email"),
        phone=one("phone"),
    )


def case_of(form: FormDef, submission: FormSubmission, values: Mapping[str, Any], language: str) -> CaseIn:
    """Return the case a sent form opens (in Polish, the office's language)."""
    return CaseIn(
        category=category_for(form, values),
        subject=form.title[:200],
        # The submission's number makes the link recoverable from the case alone.
        description=f"Formularz „{form.title}” (wersja {form.version}), zgłoszenie nr {submission.id}, "
        f"wypełniony w języku: {language}.",
        source=Source.form,
        tags=[form.id],
    )


def prefill(form: FormDef, known: Mapping[str, str]) -> Raw:
    """Return answers for the questions form maps to the client (`client:` district, email, phone)
    from what is known of them elsewhere (the chat), each only where it is a valid answer."""
    answers: Raw = {}
    for key in ("district", "email", "phone"):
        names = form.client.get(key)
        value = known.get(key)
        if not names or not value or names[0] not in form.fields:
            continue
        found, error = coerce(form.fields[names[0]], value)
        if error is None and found is not None:
            answers[names[0]] = value
    return answers


def client_field_errors(form: FormDef, errors: Mapping[str, str]) -> dict[str, str]:
    """Return the case tracker's errors about the client (display_name, email...) on the form's own fields."""
    keys = (("display_name", "name"), ("email", "email"), ("phone", "phone"), ("district", "district"))
    targets = {field: form.client.get(key, ("",))[0] for field, key in keys}
    return {targets.get(k) or k: v for k, v in errors.items()}


def record_submission(
    *,
    db: Session,
    settings: Settings,
    form: FormDef,
    raw: Raw,
    language: str,
    token: str | None = None,
    now: datetime | None = None,
    on: date | None = None,
    create: bool = False,
) -> tuple[FormSubmission, dict[str, Any], str]:
    """Return the sent form (its answers checked and stored encrypted), the checked values and the
    link's token (a new one, or token itself with create when no draft has it yet); raise InvalidInput
    (messages in the user's language), Conflict when the link's form was already sent, or NotFound.
    Flushes; the case it opens is the caller's (forms.flows)."""
    now = now or utcnow()
    existing = find_by_token(db=db, token=token, for_update=True) if token is not None else None
    if token is not None and existing is None and not create:
        raise NotFound("form")
    if existing is not None and existing.form_id != form.id:
        raise NotFound("form")
    if existing is not None and existing.status != DRAFT:
        raise Conflict(_("This form has already been sent."))  # sent before: its answers are not judged again
    checked = check(form, raw, on=on or today(settings))
    if checked.errors:
        raise InvalidInput(checked.errors)
    revision = ensure_revision(db=db, form=form, now=now)
    answers = {name: stored(value) for name, value in checked.values.items()}
    submission = existing
    if submission is None:
        token = token or new_secret(24)
        submission = FormSubmission(form_id=form.id, token_hash=hash_secret(token), created_at=now)
        db.add(submission)
    submission.status = SUBMITTED
    submission.revision = revision
    submission.language = language
    submission.answers_encrypted = encrypt_json(answers, settings)
    submission.updated_at = now
    submission.submitted_at = now
    db.flush()
    return submission, checked.values, token


def for_case(*, db: Session, case_id: int) -> list[FormSubmission]:
    """Return the forms submitted into a case, oldest first."""
    query = select(FormSubmission).where(FormSubmission.case_id == case_id).order_by(FormSubmission.id)
    return list(db.scalars(query).all())


def purge_drafts(*, db: Session, now: datetime | None = None, days: int = DRAFT_DAYS) -> int:
    """Delete drafts not saved for `days` days; return how many. Flushes."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    result = db.execute(
        delete(FormSubmission).where(FormSubmission.status == DRAFT, FormSubmission.updated_at < cutoff)
    )
    db.flush()
    return int(result.rowcount or 0)


# --- reading answers -----------------------------------------------------------------------------


@dataclass
class AnswerRow:
    """One answered question, in Polish and in another language."""

    name: str
    label_pl: str
    label: str
    value_pl: str
    value: str
    section_pl: str
    section: str
    free_text: bool
    prose: bool = False  # a textarea: worth a machine translation for the office
    machine: str | None = None  # a machine translation of a free-text answer, shown under the original


def display_value(f: Field | None, value: Any, locale: str) -> str:
    """Return an answer as people read it in locale: choice labels, dates and numbers formatted."""
    if f is None:
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    if f.type in ("select", "multiselect", "yesno"):
        values = value if isinstance(value, list) else [value]
        labels = []
        for v in values:
            label = f.choice_label(str(v))
            translated = next((c.translated for c in f.choices if c.value == v), True)
            labels.append(form_text(label, locale) if label and translated else (label or str(v)))
        return ", ".join(labels)
    if f.type == "consent":
        return form_text(YES_NO_LABELS[YES], locale)
    typed_value = typed(f, value)
    with use_locale(locale):
        if isinstance(typed_value, date):
            return format_date(typed_value, "long")
        if isinstance(typed_value, Decimal):
            return format_number(typed_value)
    return str(value)


def answer_rows(form: FormDef, answers: Mapping[str, Any], locale: str) -> list[AnswerRow]:
    """Return the answered questions in form order, then answers the form no longer asks."""
    rows = []
    for section in form.sections:
        for f in section.fields:
            if f.name not in answers or _empty(answers[f.name]):
                continue
            value = answers[f.name]
            rows.append(
                AnswerRow(
                    name=f.name,
                    label_pl=f.label,
                    label=form_text(f.label, locale),
                    value_pl=display_value(f, value, SOURCE_LOCALE),
                    value=display_value(f, value, locale),
                    section_pl=section.title,
                    section=form_text(section.title, locale),
                    free_text=f.type in ("text", "textarea"),
                    prose=f.type == "textarea",
                )
            )
    for name, value in answers.items():
        if name not in form.fields and not _empty(value):
            shown = display_value(None, value, locale)
            rows.append(AnswerRow(name, name, name, shown, shown, "", "", True))
    return rows
