"""Notes on a case: internal (office only) or shared with the partner of the referral, and how a note
reads in another language (machine-translated, always with the original)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.cases import events
from app.cases.enums import Visibility
from app.cases.events import Actor
from app.cases.models import CaseFile, CaseNote
from app.cases.schemas import MAX_NOTE
from app.config import Settings
from app.db import utcnow
from app.errors import InvalidInput
from app.i18n import _
from app.translation import service as translation_service


def add_note(
    *,
    db: Session,
    case: CaseFile,
    body: str,
    visibility: Visibility,
    actor: Actor,
    language: str | None = None,
    now: datetime | None = None,
) -> CaseNote:
    """Return a new note on case; partners may only write shared notes. Raise InvalidInput. Flushes."""
    now = now or utcnow()
    text = (body or "").strip()
    if not text:
        raise InvalidInput({"body": _("Write something first.")})
    if len(text) > MAX_NOTE:
        raise InvalidInput({"body": _("Enter at most %(max)s characters.", max=MAX_NOTE)})
    principal = actor.principal
    if principal is not None and principal.is_partner:
        visibility = Visibility.shared
    note = CaseNote(
        case_id=case.id,
        author_user_id=principal.user_id if principal else None,
        author_org_id=principal.organisation_id if principal else case.owner_org_id,
        visibility=Visibility(visibility).value,
        body=text,
        language=language,
        created_at=now,
    )
    db.add(note)
    db.flush()
    events.append(
        db,
        case,
        kind="note_added",
        actor=actor,
        at=now,
        data={"note_id": note.id, "visibility": note.visibility},
    )
    events.touch(db, case, now)
    db.flush()
    return note


def translate_note(*, settings: Settings, note: CaseNote, target: str) -> bool:
    """Attach a machine translation of note into target if one comes within the wait; return whether
    one did (the caller commits it)."""
    result = translation_service.translate_within(settings, note.body, note.language, target)
    if result is None:
        return False
    note.translations = {**(note.translations or {}), target: translation_service.as_stored(result)}
    return True


def note_view(*, settings: Settings, note: CaseNote, language: str) -> dict[str, Any]:
    """Return how a note reads in `language`: its text, the original, machine-translated or not."""
    if not note.language or note.language == language:
        return {"text": note.body, "original": None, "machine": False}
    stored = (note.translations or {}).get(language)
    if stored is None:
        result = translation_service.translate_within(settings, note.body, note.language, language)
        stored = {"text": result.text} if result is not None else None
    if stored is None:
        return {"text": note.body, "original": None, "machine": False, "untranslated": True}
    return {"text": stored["text"], "original": note.body, "machine": True}
