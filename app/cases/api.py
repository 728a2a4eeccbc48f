"""JSON API for partners' own systems: /api/v1/cases (Bearer API tokens, one per organisation)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Security
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from app import __version__
from app.auth.deps import ApiPrincipal
from app.auth.permissions import Action, Principal, can
from app.cases import access, flows, inbox
from app.cases import service as case_service
from app.cases.content import case_content
from app.cases.deadlines import is_overdue
from app.cases.enums import Visibility
from app.cases.events import Actor
from app.cases.models import CaseFile, CaseNote
from app.cases.schemas import (
    MAX_NOTE,
    NOT_BLANK,
    TEXT,
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
from app.deps import AppSettings, DbSession, WriteDbSession
from app.errors import ConflictBody, ErrorBody, PermissionDenied, ValidationErrorBody

API_DESCRIPTION = """The case tracker's API for partner organisations' own systems: the cases referred to
your organisation, their shared notes and history, and the workflow transitions your staff may make;
and visits: free times at the city's places, and the visits your organisation booked or that are
at its desks, which it may book, move and cancel (tag `appointments`).

Every request carries `Authorization: Bearer <token>` with an API token of your organisation. A
case that does not exist and a case not referred to you are answered alike (404). Changes take the
case's `version` as `expected_version`: a stale one is refused (409) with what changed meanwhile.
Errors are JSON: `detail` is a sentence in the language of `Accept-Language`; a refused input
(422) lists `errors`, one per field. Changes are announced by signed webhooks (see the README)."""

#: Declares the bearer scheme in the API description; the token itself is checked by api_principal.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token of your organisation (`witaj tokens create --org SLUG --name N`).",
)

#: What every operation of /api/v1 may answer (every domain's API router declares these).
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorBody,
        "description": "No token, or not a live one",
        "headers": {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    },
    422: {"model": ValidationErrorBody, "description": "The input was refused; errors says why"},
}

router = APIRouter(prefix="/api/v1", tags=["cases"], dependencies=[Security(bearer)], responses=RESPONSES)

#: A case reference as the URL carries it (KRK-2026-000123); any other text is simply not found.
Reference = Annotated[str, Path(min_length=1, max_length=32, pattern=TEXT, examples=["KRK-2026-000123"])]

NOT_FOUND = {404: {"model": ErrorBody, "description": "No such case, or not referred to your organisation"}}
#: What any operation with a body may answer besides.
BODY = {
    400: {"model": ErrorBody, "description": "The body could not be read as JSON text (e.g. not UTF-8)"},
    413: {"model": ErrorBody, "description": "The body is larger than the server takes"},
}
#: A change sent without any bearer token is refused as a possible cross-site request (403) before
#: the token is looked at (app/middleware.py); with a token that is not a live one, it is a 401.
FORBIDDEN = "Your organisation may not do this; or no `Authorization: Bearer` header was sent"


def describe(settings: Settings, more: Sequence[BaseRoute] = ()) -> dict[str, Any]:
    """Return the API description: this router's routes (and the API routes of other domains, more)
    alone, with the transitions of cases/workflow.yml and what each requires.

    Pages, forms and the web chat are not part of the API, and neither is Rasa's REST channel
    (POST /webhooks/rest/webhook): its contract is Rasa's, it takes no token, and its clients are
    chat widgets, not partners' systems; tests/test_input_properties.py sends it any JSON."""
    spec = get_openapi(
        title="Witaj API", version=__version__, description=API_DESCRIPTION, routes=[*router.routes, *more]
    )
    cc = case_content(settings)
    body = spec["components"]["schemas"]["TransitionRequest"]
    moves = [move for move in cc.workflow.transitions.values() if move.scope is not None]
    outcomes = list(cc.workflow.outcomes)
    body["properties"] |= {
        "name": {
            "type": "string",
            "enum": [move.name for move in moves],
            "description": "A transition of the workflow; which ones are possible depends on the case's"
            " status and on who holds it (the case's allowed_transitions)",
        },
        "category": {"anyOf": [{"enum": list(cc.categories)}, {"type": "null"}], "description": "For triage"},
        "outcome": {
            "anyOf": [{"enum": outcomes}, {"type": "null"}],
            "description": "For resolve and dismiss",
        },
    }
    # What each transition requires (cases/workflow.yml `requires`): without it the answer is a 422.
    rules = []
    for move in moves:
        needs: dict[str, Any] = {}
        if "reason" in move.requires:
            needs["reason"] = {"type": "string", "maxLength": MAX_NOTE, "pattern": NOT_BLANK}
        if "outcome" in move.requires:
            needs["outcome"] = {"enum": outcomes}
        if "partner" in move.requires:
            needs["organisation"] = {"type": "string"}
            needs["service"] = {"type": "string"}
        if needs:
            then = {"required": sorted(needs), "properties": needs}
            rules.append({"if": {"properties": {"name": {"const": move.name}}}, "then": then})
    body["allOf"] = rules
    return spec


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
        EventOut(
            kind=e.kind, name=e.name, at=e.at, before=e.before, after=e.after, reason=e.data.get("reason")
        )
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
            t.name
            for t in case_service.available_transitions(
                settings=settings, case=case, actor=Actor.of(principal)
            )
        ],
    )


@router.get("/cases", response_model=CaseList, summary="Cases referred to your organisation")
def list_cases(
    db: DbSession,
    principal: ApiPrincipal,
    status: Annotated[str | None, Query(max_length=40, pattern=TEXT)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 25,
) -> CaseList:
    """Return the cases the token's organisation may see, most recently changed first."""
    filters = InboxFilter(status=status, page=page, per_page=per_page)
    cases, has_next = inbox.list_for(db=db, principal=principal, filters=filters)
    return CaseList(items=[_summary(c) for c in cases], page=page, has_next=has_next)


@router.get(
    "/cases/{reference}",
    response_model=CaseDetail,
    responses=NOT_FOUND,
    summary="One case (the read is audited)",
)
def read_case(
    reference: Reference, db: WriteDbSession, settings: AppSettings, principal: ApiPrincipal
) -> CaseDetail:
    """Return a case with its shared notes and history; 404 when not referred to you."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    access.audit(db=db, principal=principal, action="view_case", case=case, detail={"channel": "api"})
    detail = _detail(db, settings, case, principal)
    db.commit()  # the audit entries of this read
    return detail


@router.post(
    "/cases/{reference}/transitions",
    response_model=CaseDetail,
    responses={
        **NOT_FOUND,
        **BODY,
        403: {"model": ErrorBody, "description": FORBIDDEN},
        409: {
            "model": ConflictBody,
            "description": "The case changed since expected_version (changes lists how), or it is in a status"
            " this transition does not start from (allowed lists what is possible now)",
        },
    },
    summary="Accept, decline or update status",
)
def post_transition(
    reference: Reference,
    body: TransitionRequest,
    db: DbSession,
    settings: AppSettings,
    principal: ApiPrincipal,
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
            client=ClientOut(
                display_name="",
                preferred_language=case.language,
                other_languages=[],
                district=None,
                contact=None,
            ),
            notes=[],
            history=[],
            allowed_transitions=[],
        )
    detail = _detail(db, settings, refreshed, principal)
    db.commit()  # the audit entry of a contact read
    return detail


@router.post(
    "/cases/{reference}/notes",
    response_model=NoteOut,
    status_code=201,
    responses={**NOT_FOUND, **BODY, 403: {"model": ErrorBody, "description": FORBIDDEN}},
    summary="Write to the city office",
)
def post_note(
    reference: Reference, body: NoteIn, db: DbSession, settings: AppSettings, principal: ApiPrincipal
) -> NoteOut:
    """Add a note shared with the office (machine-translated into its language if it is in another)."""
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
