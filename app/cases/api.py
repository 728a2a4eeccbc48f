"""JSON API for partners' own systems: /api/v1/cases (Bearer API tokens, one per organisation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from app.auth.deps import ApiPrincipal
from app.auth.permissions import Action, Principal, can
from app.cases import access, flows, inbox
from app.cases import service as case_service
from app.cases.deadlines import is_overdue
from app.cases.enums import Visibility
from app.cases.events import Actor
from app.cases.models import CaseFile, CaseNote
from app.cases.schemas import (
    CaseDetail,
    CaseList,
    CaseSummary,
    ClientOut,
    EventOut,
    InboxFilter,
    NoteIn,
    NoteOut,
    TransitionRequest,
)
from app.config import Settings
from app.deps import AppSettings, DbSession
from app.errors import PermissionDenied

router = APIRouter(prefix="/api/v1", tags=["cases"])


def _summary(case: CaseFile) -> CaseSummary:
    return CaseSummary(
        reference=case.reference,
        status=case.status,
        category=case.category,
        priority=case.priority,
        language=case.language,
        district=case.district,
        subject=case.subject,
        due_at=case.due_at,
        overdue=is_overdue(case),
        version=case.version,
        updated_at=case.updated_at,
    )


def _note(note: CaseNote) -> NoteOut:
    return NoteOut(
        id=note.id,
        body=note.body,
        language=note.language,
        translations=note.translations or {},
        author_organisation=note.author_org.slug,
        created_at=note.created_at,
    )


def _detail(db: Session, settings: Settings, case: CaseFile, principal: Principal) -> CaseDetail:
    items = access.timeline(db=db, case=case, principal=principal)
    history = [
        EventOut(kind=e.kind, name=e.name, at=e.at, before=e.before, after=e.after, reason=e.data.get("reason"))
        for e in (i["event"] for i in items)
    ]
    client = case.client
    return CaseDetail(
        **_summary(case).model_dump(),
        description=case.description,
        client=ClientOut(
            display_name=client.display_name,
            preferred_language=client.preferred_language,
            other_languages=list(client.other_languages or []),
            district=client.district,
            contact=access.client_contact(db=db, settings=settings, case=case, principal=principal),
        ),
        notes=[_note(i["note"]) for i in items if i["note"] is not None],
        history=history,
        allowed_transitions=[
            t.name for t in case_service.available_transitions(settings=settings, case=case, actor=Actor.of(principal))
        ],
    )


@router.get("/cases", response_model=CaseList, summary="Cases referred to your organisation")
def list_cases(
    db: DbSession,
    principal: ApiPrincipal,
    status: str | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 25,
) -> CaseList:
    """Return the cases the token's organisation may see, most recently changed first."""
    filters = InboxFilter(status=status, page=page, per_page=per_page)
    cases, has_next = inbox.list_for(db=db, principal=principal, filters=filters)
    return CaseList(items=[_summary(c) for c in cases], page=page, has_next=has_next)


@router.get("/cases/{reference}", response_model=CaseDetail, summary="One case (the read is audited)")
def read_case(reference: str, db: DbSession, settings: AppSettings, principal: ApiPrincipal) -> CaseDetail:
    """Return a case with its shared notes and history; 404 when not referred to you."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    access.audit(db=db, principal=principal, action="view_case", case=case, detail={"channel": "api"})
    detail = _detail(db, settings, case, principal)
    db.commit()  # the audit entries of this read
    return detail


@router.post("/cases/{reference}/transitions", response_model=CaseDetail, summary="Accept, decline or update status")
def post_transition(
    reference: str, body: TransitionRequest, db: DbSession, settings: AppSettings, principal: ApiPrincipal
) -> CaseDetail:
    """Make a workflow transition; 409 with the changes when expected_version is stale."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    flows.transition(db=db, settings=settings, case=case, request=body, actor=Actor.of(principal))
    refreshed = access.get_visible_or_none(db=db, principal=principal, reference=reference)
    if refreshed is None:
        # The move ended the organisation's access (e.g. decline): answer with what it last saw.
        return CaseDetail(
            **_summary(case).model_dump(),
            description="",
            client=ClientOut(display_name="", preferred_language=case.language, other_languages=[], district=None, contact=None),
            notes=[],
            history=[],
            allowed_transitions=[],
        )
    detail = _detail(db, settings, refreshed, principal)
    db.commit()  # the audit entry of a contact read
    return detail


@router.post("/cases/{reference}/notes", response_model=NoteOut, status_code=201, summary="Write to the city office")
def post_note(reference: str, body: NoteIn, db: DbSession, settings: AppSettings, principal: ApiPrincipal) -> NoteOut:
    """Add a note shared with the office (machine-translated into the office's language if it is in another)."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    if not can(principal, Action.edit_cases, principal.organisation_id):
        raise PermissionDenied("note")
    note = flows.add_note(
        db=db,
        settings=settings,
        case=case,
        body=body.body,
        visibility=Visibility.shared,
        actor=Actor.of(principal),
        language=body.language,
        translate_to=settings.default_locale,
    )
    return _note(note)
