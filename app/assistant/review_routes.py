"""The content editors' review queue (content_editor, supervisors, admins): what the assistant could not
answer, answered unsure or answered unhelpfully, masked, grouped by language and similar wording, with
a machine translation into the editor's language. For a group the editor marks the right intent (the
example goes into dialogues/data/nlu/<language>/ after they read the difference, or as a patch when
the content folder cannot be written), marks it as a new topic, or dismisses it."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.assistant import flows, nlu_edit, review
from app.assistant.models import ReviewItem
from app.auth.deps import StaffPrincipal
from app.auth.permissions import Action, Principal, require
from app.config import Settings
from app.deps import AppSettings, DbSession
from app.errors import InvalidInput
from app.i18n import _, get_locale
from app.languages import LANGUAGES
from app.translation import service as translation_service
from app.web import redirect, render, url_for

router = APIRouter(prefix="/staff/assistant/review")
#: Groups shown on one page, and how many of their translations a page waits for (the rest come later).
PAGE_GROUPS = 40
WAIT_TRANSLATIONS = 6


def _editor(principal: Principal) -> Principal:
    require(principal, Action.review_assistant, principal.organisation_id)
    return principal


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values[: review.QUEUE_LIMIT] if v.isascii() and v.isdigit() and 0 < len(v) <= 10]


def _translated(settings: Settings, texts: list[tuple[str, str]], target: str) -> list[str | None]:
    """Return each (text, language) in target: cached ones, the first few waited for, the rest None
    (they go on in the background and are shown on the next visit)."""
    service = translation_service.get_service(settings)
    out: list[str | None] = []
    waited = 0
    for text, language in texts:
        if not language or language == target:
            out.append(None)
            continue
        try:
            found = service.lookup(text, language, target)
        except Exception:  # noqa: BLE001 - shown untranslated
            found = None
        if found is None and waited < WAIT_TRANSLATIONS:
            waited += 1
            found = translation_service.translate_within(settings, text, language, target)
        out.append(found.text if found is not None else None)
    return out


def _intents(settings: Settings) -> list[str]:
    data = flows.dialogue_engine(settings).data
    return sorted(i for i in data.domain.intents if i not in review.NOT_A_TOPIC or i in ("greet", "goodbye", "thank"))


def _queue_context(db: Session, settings: Settings, language: str | None) -> dict[str, Any]:
    groups = review.open_groups(db=db, language=language or None)[:PAGE_GROUPS]
    target = get_locale()
    translations = _translated(settings, [(g.first.text_masked, g.language) for g in groups], target)
    return {
        "groups": list(zip(groups, translations, strict=True)),
        "counts": review.open_counts(db=db),
        "language": language or "",
        "language_names": {code: lang.native_name for code, lang in LANGUAGES.items()},
        "intents": _intents(settings),
        "topics": review.new_topics(db=db, limit=100),
        "feedback": review.feedback_counts(db=db),
        "reason_labels": {
            review.UNANSWERED: _("Not understood"), review.UNSURE: _("Answered unsure"), review.UNHELPFUL: _("Rated not helpful"),
        },
    }


@router.get("", name="assistant_review")
def queue_page(
    request: Request, db: DbSession, settings: AppSettings, principal: StaffPrincipal,
    language: Annotated[str, Query(max_length=10)] = "", done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Show the open items grouped, the new topics collected, and the ratings by language."""
    _editor(principal)
    context = _queue_context(db, settings, language if language in LANGUAGES else "")
    context["done"] = done
    return render(request, "assistant/review.html", context)


@router.post("/decide", name="assistant_review_decide")
def decide(
    request: Request, db: DbSession, principal: StaffPrincipal,
    items: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    decision: Annotated[str, Form()] = "",
    language: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Mark a group as a new topic for the content team, or dismiss it."""
    _editor(principal)
    if decision not in (review.NEW_TOPIC, review.DISMISSED):
        raise InvalidInput({"decision": _("Choose what to do with these messages.")})
    found = review.items_for(db=db, ids=_ids(items))
    flows.decide_review(db=db, items=found, status=decision, actor_id=principal.user_id)
    query = {"done": decision, **({"language": language} if language in LANGUAGES else {})}
    return redirect(request, url_for(request, "assistant_review", query=query))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _label_context(
    db: Session, settings: Settings, found: list[ReviewItem], intent: str, text: str, error: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "items": found, "intent": intent, "text": text, "intents": _intents(settings), "edit": None, "errors": error or {},
        "language_names": {code: lang.native_name for code, lang in LANGUAGES.items()},
    }


@router.post("/label", name="assistant_review_label")
def label(
    request: Request, db: DbSession, settings: AppSettings, principal: StaffPrincipal,
    items: Annotated[list[str], Form()] = [],  # noqa: B006
    intent: Annotated[str, Form(max_length=80)] = "",
    text: Annotated[str, Form(max_length=2000)] = "",
    save: Annotated[str, Form(max_length=64)] = "",
    reviewed: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Show the difference the example makes to the NLU file; with `save` (and the digest of the change
    as it was shown), write it, mark the group labelled, and let the assistant relearn."""
    _editor(principal)
    found = review.items_for(db=db, ids=_ids(items))
    if not found:
        return redirect(request, url_for(request, "assistant_review"))
    language = found[0].language
    try:
        edit = nlu_edit.propose(content_dir=settings.content_dir, language=language, intent=intent, text=text)
    except InvalidInput as exc:
        context = _label_context(db, settings, found, intent, text, exc.field_errors)
        return render(request, "assistant/review_label.html", context, status_code=422)
    writable = nlu_edit.writable(settings.content_dir, edit, read_only=settings.content_read_only)
    context = _label_context(db, settings, found, intent, text)
    # The digest of the file as the change leaves it: a save is refused when what it writes is not what
    # the editor read (they changed the example or the topic, or someone changed the file meanwhile).
    context.update(edit=edit, diff=edit.diff(), digest=_digest(edit.after), writable=writable)
    if save != "yes" or not writable:
        return render(request, "assistant/review_label.html", context)
    if reviewed != _digest(edit.after):
        context["changed"] = True
        return render(request, "assistant/review_label.html", context, status_code=409)
    flows.label_example(db=db, settings=settings, edit=edit, items=found, actor_id=principal.user_id, intent=intent.strip())
    query = {"done": review.LABELLED, "language": language}
    return redirect(request, url_for(request, "assistant_review", query=query))


@router.post("/patch", name="assistant_review_patch")
def patch(
    db: DbSession, settings: AppSettings, principal: StaffPrincipal,
    items: Annotated[list[str], Form()] = [],  # noqa: B006
    intent: Annotated[str, Form(max_length=80)] = "",
    text: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Return the example as a patch of the content folder (for a folder this process may not write);
    the group is marked labelled, since the patch goes to whoever maintains the content."""
    _editor(principal)
    found = review.items_for(db=db, ids=_ids(items))
    if not found:
        raise InvalidInput({"items": _("These messages were already handled.")})
    edit = nlu_edit.propose(content_dir=settings.content_dir, language=found[0].language, intent=intent, text=text)
    # The patch goes to whoever maintains the content: the group is done here.
    flows.decide_review(db=db, items=found, status=review.LABELLED, actor_id=principal.user_id, intent=intent.strip())
    name = f"witaj-{found[0].language}-{intent.strip()}.patch".replace("/", "-")
    return Response(
        edit.diff(), media_type="text/x-diff; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
