"""JSON API for partners' own systems: /api/v1/cases (Bearer API tokens, one per organisation)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.auth.permissions import Action, Principal, can
from app.cases import service
from app.cases.enums import Visibility
from app.cases.models import CaseFile
from app.config import Settings
from app.deps import ApiPrincipal, AppSettings, DbSession
from app.errors import PermissionDenied

router = APIRouter(prefix="/api/v1", tags=["cases"])


class CaseSummary(BaseModel):
    """A case as listed."""

    reference: str
    status: str
    category: str
    priority: str
    language: str
    district: str | None
    subject: str
    due_at: datetime | None
    overdue: bool
    version: int
    updated_at: datetime


class NoteOut(BaseModel):
    """A shared note: the original body, and machine translations by language (engine, model version)."""

    id: int
    body: str
    language: str | None
    translations: dict[str, dict[str, str]] = Field(default_factory=dict)
    author_organisation: str
    created_at: datetime


class EventOut(BaseModel):
    """One entry of the case history."""

    kind: str
    name: str | None
    at: datetime
    before: dict
    after: dict
    reason: str | None = None


class ClientOut(BaseModel):
    """What the consent lets the partner know of the client."""

    display_name: str
    preferred_language: str
    other_languages: list[str]
    district: str | None
    contact: dict[str, str] | None = Field(description="Only when the client's consent covers contact details")


class CaseDetail(CaseSummary):
    """A case with its client, shared notes and history."""

    description: str
    client: ClientOut
    notes: list[NoteOut]
    history: list[EventOut]
    allowed_transitions: list[str]


class CaseList(BaseModel):
    """One page of cases."""

    items: list[CaseSummary]
    page: int
    has_next: bool


class TransitionRequest(BaseModel):
    """A workflow transition (see cases/workflow.yml); expected_version guards against lost updates."""

    name: str = Field(min_length=1, max_length=40, examples=["accept"])
    expected_version: int = Field(ge=1)
    reason: str | None = Field(default=None, max_length=service.MAX_NOTE)
    outcome: str | None = Field(default=None, max_length=40)


class NoteRequest(BaseModel):
    """A note shared with the city office."""

    body: str = Field(min_length=1, max_length=service.MAX_NOTE)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")


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
        overdue=service.is_overdue(case),
        version=case.version,
        updated_at=case.updated_at,
    )


def _detail(db: Session, settings: Settings, case: CaseFile, principal: Principal) -> CaseDetail:
    items = service.timeline(db=db, case=case, principal=principal)
    notes = [
        NoteOut(
            id=i["note"].id,
            body=i["note"].body,
            language=i["note"].language,
            translations=i["note"].translations or {},
            author_organisation=i["note"].author_org.slug,
            created_at=i["note"].created_at,
        )
        for i in items
        if i["note"] is not None
    ]
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
            contact=service.client_contact(db=db, settings=settings, case=case, principal=principal),
        ),
        notes=notes,
        history=history,
        allowed_transitions=[
            t.name for t in service.available_transitions(settings=settings, case=case, actor=service.Actor.of(principal))
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
    filters = service.InboxFilter(status=status, page=page, per_page=per_page)
    cases, has_next = service.list_for(db=db, principal=principal, filters=filters)
    return CaseList(items=[_summary(c) for c in cases], page=page, has_next=has_next)


@router.get("/cases/{reference}", response_model=CaseDetail, summary="One case (the read is audited)")
def read_case(reference: str, db: DbSession, settings: AppSettings, principal: ApiPrincipal) -> CaseDetail:
    """Return a case with its shared notes and history; 404 when not referred to you."""
    case = service.get_visible(db=db, principal=principal, reference=reference)
    service.audit(db=db, principal=principal, action="view_case", case=case, detail={"channel": "api"})
    return _detail(db, settings, case, principal)


@router.post("/cases/{reference}/transitions", response_model=CaseDetail, summary="Accept, decline or update status")
def post_transition(
    reference: str, body: TransitionRequest, db: DbSession, settings: AppSettings, principal: ApiPrincipal
) -> CaseDetail:
    """Make a workflow transition; 409 with the changes when expected_version is stale."""
    case = service.get_visible(db=db, principal=principal, reference=reference)
    request = service.TransitionIn(
        name=body.name, expected_version=body.expected_version, reason=body.reason, outcome=body.outcome
    )
    service.transition(db=db, settings=settings, case=case, request=request, actor=service.Actor.of(principal))
    refreshed = service.get_visible_or_none(db=db, principal=principal, reference=reference)
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
    return _detail(db, settings, refreshed, principal)


@router.post("/cases/{reference}/notes", response_model=NoteOut, status_code=201, summary="Write to the city office")
def post_note(reference: str, body: NoteRequest, db: DbSession, settings: AppSettings, principal: ApiPrincipal) -> NoteOut:
    """Add a note shared with the office."""
    case = service.get_visible(db=db, principal=principal, reference=reference)
    if not can(principal, Action.edit_cases, principal.organisation_id):
        raise PermissionDenied("note")
    note = service.add_note(
        db=db, case=case, body=body.body, visibility=Visibility.shared, actor=service.Actor.of(principal), language=body.language
    )
    service.translate_note(db=db, settings=settings, note=note, target=settings.default_locale)
    return NoteOut(
        id=note.id,
        body=note.body,
        language=note.language,
        translations=note.translations or {},
        author_organisation=note.author_org.slug,
        created_at=note.created_at,
    )

