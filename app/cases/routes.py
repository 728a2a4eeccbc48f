"""Staff pages of the case tracker: inbox, new case, case page with its actions (htmx, and plain forms)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.assistant import service as chat_service
from app.auth import service as auth_service
from app.auth.deps import StaffPrincipal
from app.auth.enums import OrgKind
from app.auth.permissions import Action, Principal, can
from app.cases import access, flows, inbox
from app.cases import consent as consent_service
from app.cases import service as case_service
from app.cases.content import case_content
from app.cases.deadlines import is_overdue
from app.cases.enums import ConsentScope, Priority, Source, Visibility
from app.cases.events import Actor
from app.cases.exceptions import ConsentMissing, StaleCase, TransitionNotAllowed
from app.cases.models import CaseFile
from app.cases.notes import note_view
from app.cases.schemas import CaseIn, ClientIn, InboxFilter, TransitionIn, parsed
from app.config import Settings
from app.db import MAX_INT, parse_id, utcnow
from app.deps import AppSettings, DbSession, WriteDbSession
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.i18n import _, get_locale
from app.partners import service as partner_service
from app.web import redirect, render, url_for

router = APIRouter(prefix="/staff/cases")
#: Rows in one CSV export (the rest is left out and the audit entry says so).
EXPORT_LIMIT = 10_000


def _labels(settings: Settings) -> dict[str, Any]:
    cc = case_content(settings)
    return {
        "status_labels": {s.id: _(s.label) for s in cc.workflow.statuses.values()},
        "category_labels": {c.id: _(c.label) for c in cc.categories.values()},
        "outcome_labels": {o.id: _(o.label) for o in cc.workflow.outcomes.values()},
        "transition_labels": {t.name: _(t.label) for t in cc.workflow.transitions.values()},
        "priority_labels": {
            "low": _("Low"),
            "normal": _("Normal"),
            "high": _("High"),
            "urgent": _("Urgent"),
        },
        "districts": list(cc.districts),
    }


async def inbox_filters(
    status: str | None = None,
    category: str | None = None,
    language: str | None = None,
    partner: str | None = None,
    overdue: bool = False,
    mine: bool = False,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: str = "-updated",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> InboxFilter:
    """Return the inbox filters of the query string (a dependency shared by the page and the export)."""
    return InboxFilter(
        status=status or None,
        category=category or None,
        language=language or None,
        partner=partner or None,
        overdue=overdue,
        mine=mine,
        query=(q or "").strip() or None,
        sort=sort if sort in inbox.SORTS else "-updated",
        page=page,
    )


Filters = Annotated[InboxFilter, Depends(inbox_filters)]


@router.get("/", name="inbox")
def inbox_page(request: Request, db: DbSession, settings: AppSettings, principal: StaffPrincipal, filters: Filters) -> Response:
    """Show the cases the principal may see, filtered, sorted and paged; htmx gets only the table."""
    cases, has_next = inbox.list_for(db=db, principal=principal, filters=filters)
    partners = auth_service.organisations(db=db, kind=OrgKind.partner)
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    context = {
        "cases": cases,
        "filters": filters,
        "has_next": has_next,
        "query": query,
        "partners": partners if principal.is_office else [],
        "now": utcnow(),
        "is_overdue": is_overdue,
        "may_export": can(principal, Action.export_personal_data, principal.organisation_id),
        **_labels(settings),
    }
    block = "table" if request.headers.get("HX-Target") == "inbox-table" else "content"
    return render(request, "cases/inbox.html", context, block=block)


#: What a spreadsheet reads as the start of a formula (OWASP, "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_safe(value: str) -> str:
    """Return value as a spreadsheet shows it as text: a cell that starts like a formula (a chat
    description "=HYPERLINK(...)") gets a leading apostrophe, so opening the export runs nothing."""
    return "'" + value if value.startswith(_FORMULA_START) else value


@router.get("/export.csv", name="inbox_export")
def inbox_export(request: Request, db: WriteDbSession, principal: StaffPrincipal, filters: Filters) -> Response:
    """Download the filtered cases as CSV (supervisors; no contact details); the export is audited."""
    if not can(principal, Action.export_personal_data, principal.organisation_id):
        raise PermissionDenied("export")
    filters = filters.model_copy(update={"page": 1, "per_page": EXPORT_LIMIT})
    cases, more = inbox.list_for(db=db, principal=principal, filters=filters)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["reference", "status", "category", "priority", "language", "district", "source", "subject",
                     "created_at", "updated_at", "due_at"])
    for case in cases:
        row = [case.reference, case.status, case.category, case.priority, case.language, case.district or "",
               case.source, case.subject, case.created_at.isoformat(), case.updated_at.isoformat(),
               case.due_at.isoformat() if case.due_at else ""]
        writer.writerow([spreadsheet_safe(value) for value in row])
    detail = {"count": len(cases), "truncated": more, "filters": {k: v for k, v in request.query_params.items()}}
    access.audit(db=db, principal=principal, action="export_cases", detail=detail)
    db.commit()
    headers = {"Content-Disposition": 'attachment; filename="witaj-cases.csv"', "Cache-Control": "no-store"}
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/new", name="case_new")
def new_case_form(request: Request, settings: AppSettings, principal: StaffPrincipal) -> Response:
    """Show the form to open a case on someone's behalf (office staff)."""
    if not principal.is_office:
        raise PermissionDenied("create")
    return render(request, "cases/new.html", {"values": {}, "errors": {}, **_labels(settings)})


@router.post("/new", name="case_create")
def create_case(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    display_name: Annotated[str, Form()] = "",
    preferred_language: Annotated[str, Form()] = "",
    district: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "normal",
) -> Response:
    """Open a case; re-render the form with messages on bad input."""
    if not can(principal, Action.edit_cases, principal.organisation_id) or not principal.is_office:
        raise PermissionDenied("create")
    values = {
        "display_name": display_name,
        "preferred_language": preferred_language,
        "district": district,
        "email": email,
        "phone": phone,
        "category": category,
        "subject": subject,
        "description": description,
        "priority": priority,
    }
    try:
        case, secret = flows.open_case(
            db=db,
            settings=settings,
            client=ClientIn(
                display_name=display_name,
                preferred_language=preferred_language,
                district=district or None,
                email=email or None,
                phone=phone or None,
            ),
            case=CaseIn(
                category=category,
                subject=subject,
                description=description,
                source=Source.staff,
                priority=Priority(priority) if priority in Priority.__members__ else Priority.normal,
            ),
            actor=Actor.of(principal),
        )
    except InvalidInput as exc:
        context = {"values": values, "errors": exc.field_errors, **_labels(settings)}
        return render(request, "cases/new.html", context, status_code=422)
    context = {"case": case, "secret": secret}
    return render(request, "cases/created.html", context, status_code=201)


def _case_context(
    request: Request, db: Session, settings: Settings, principal: Principal, case: CaseFile, **extra: Any
) -> dict[str, Any]:
    actor = Actor.of(principal)
    scope = access.consent_scope_for(db=db, case=case, principal=principal)
    consents = consent_service.consents_of(db=db, case=case) if principal.is_office else []
    suggestions = []
    transitions = case_service.available_transitions(settings=settings, case=case, actor=actor)
    if principal.is_office and any(t.name == "refer" for t in transitions):
        suggestions = partner_service.suggestions_for(db=db, settings=settings, case=case)
    directory = partner_service.directory(settings)
    chat = None
    if principal.is_office:
        conversation = chat_service.for_case(db=db, case_id=case.id)
        if conversation is not None:
            viewer = get_locale()
            chat = {
                "conversation": conversation,
                "messages": chat_service.messages(db=db, conversation=conversation),
                "view": lambda m: chat_service.shown(settings=settings, message=m, language=viewer),
            }
    return {
        "chat": chat,
        "note_view": lambda note: note_view(settings=settings, note=note, language=get_locale()),
        "case": case,
        "version": case.version,
        "transitions": transitions,
        "timeline": access.timeline(db=db, case=case, principal=principal),
        "contact": None,
        "may_see_contact": ConsentScope.contact.value in scope,
        "consents": consents,
        "suggestions": suggestions,
        "directory": directory,
        "colleagues": case_service.staff_of(db=db, organisation_id=principal.organisation_id)
        if principal.organisation_id == case.holder_org_id
        else [],
        "may_assign_others": can(principal, Action.assign_cases, case.holder_org_id),
        "is_holder": principal.organisation_id == case.holder_org_id,
        "overdue": is_overdue(case),
        "errors": {},
        "message": None,
        "changes": [],
        "partner_orgs": auth_service.organisations(db=db, kind=OrgKind.partner)
        if principal.is_office
        else [],
        "form": {},
        **_labels(settings),
        **extra,
    }


@router.get("/{reference}", name="case_page")
def case_page(
    request: Request,
    reference: str,
    db: WriteDbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    show_contact: bool = False,
) -> Response:
    """Show a case the principal may see (404 otherwise); every view is audited."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    access.audit(db=db, principal=principal, action="view_case", case=case)
    context = _case_context(request, db, settings, principal, case)
    if show_contact:
        context["contact"] = access.client_contact(db=db, settings=settings, case=case, principal=principal)
    db.commit()  # the audit entries of this read
    return render(request, "cases/case.html", context)


def _back_to_case(request: Request, case: CaseFile) -> Response:
    return redirect(request, url_for(request, "case_page", reference=case.reference))


def _rerender(
    request: Request, db: Session, settings: Settings, principal: Principal, reference: str, status: int, **extra: Any
) -> Response:
    db.rollback()
    db.expire_all()
    case = access.get_visible(db=db, principal=principal, reference=reference)
    context = _case_context(request, db, settings, principal, case, **extra)
    return render(request, "cases/case.html", context, status_code=status)


@router.post("/{reference}/transition", name="case_transition")
def case_transition(
    request: Request,
    reference: str,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    name: Annotated[str, Form()],
    version: Annotated[int, Form(ge=1, le=MAX_INT)],
    reason: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    service_key: Annotated[str, Form(alias="service")] = "",
) -> Response:
    """Make a workflow transition; on refusal show the case again with the reason and what changed."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    organisation, _sep, service_id = service_key.partition("/")
    form = {"name": name, "reason": reason, "outcome": outcome, "category": category, "service": service_key}
    try:
        request_in = parsed(
            TransitionIn,
            name=name,
            expected_version=version,
            reason=reason or None,
            outcome=outcome or None,
            category=category or None,
            organisation=organisation or None,
            service=service_id or None,
        )
        flows.transition(db=db, settings=settings, case=case, request=request_in, actor=Actor.of(principal))
    except InvalidInput as exc:
        return _rerender(request, db, settings, principal, reference, 422, errors=exc.field_errors, form=form)
    except ConsentMissing as exc:
        return _rerender(request, db, settings, principal, reference, 422, message=exc.public_message(), form=form)
    except StaleCase as exc:
        return _rerender(
            request, db, settings, principal, reference, 409, message=exc.public_message(), changes=exc.changes, form=form
        )
    except TransitionNotAllowed as exc:
        return _rerender(request, db, settings, principal, reference, 409, message=exc.public_message(), form=form)
    except PermissionDenied:
        return _rerender(
            request, db, settings, principal, reference, 403, message=_("You do not have permission to do this."), form=form
        )
    if not access.get_visible_or_none(db=db, principal=principal, reference=reference):
        return redirect(request, url_for(request, "inbox"))  # e.g. a partner that declined
    return _back_to_case(request, case)


@router.post("/{reference}/notes", name="case_note")
def case_note(
    request: Request,
    reference: str,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    body: Annotated[str, Form()] = "",
    visibility: Annotated[str, Form()] = "internal",
) -> Response:
    """Add a note (partners' notes are always shared)."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    if not can(principal, Action.edit_cases, principal.organisation_id):
        raise PermissionDenied("note")
    chosen = Visibility.shared if visibility == "shared" else Visibility.internal
    try:
        # The office reads in its own language: a partner's note in another one is translated now.
        flows.add_note(
            db=db,
            settings=settings,
            case=case,
            body=body,
            visibility=chosen,
            actor=Actor.of(principal),
            language=get_locale(),
            translate_to=settings.default_locale,
        )
    except InvalidInput as exc:
        return _rerender(request, db, settings, principal, reference, 422, errors=exc.field_errors, form={"body": body})
    return _back_to_case(request, case)


@router.post("/{reference}/update", name="case_update")
def case_update(
    request: Request,
    reference: str,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    version: Annotated[int, Form(ge=1, le=MAX_INT)],
    assignee: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "",
    district: Annotated[str, Form()] = "",
    tags: Annotated[str, Form()] = "",
) -> Response:
    """Change assignee, priority, district and tags, refusing a stale form."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    try:
        flows.update_fields(
            db=db,
            settings=settings,
            case=case,
            actor=Actor.of(principal),
            expected_version=version,
            assignee_id=_assignee(assignee),
            priority=priority or None,
            district=district or None,
            tags=[t for t in tags.split(",")],
        )
    except InvalidInput as exc:
        return _rerender(request, db, settings, principal, reference, 422, errors=exc.field_errors)
    except StaleCase as exc:
        return _rerender(request, db, settings, principal, reference, 409, message=exc.public_message(), changes=exc.changes)
    return _back_to_case(request, case)


def _assignee(value: str) -> int | None:
    """Return the chosen colleague's id (None: nobody); raise InvalidInput for anything but an id."""
    if not value.strip():
        return None
    user_id = parse_id(value)
    if user_id is None:
        raise InvalidInput({"assignee_id": _("Choose a colleague from your organisation.")})
    return user_id


@router.post("/{reference}/consents", name="case_consent")
def case_consent(
    request: Request,
    reference: str,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    organisation: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
    contact: Annotated[bool, Form()] = False,
    confirmed: Annotated[bool, Form()] = False,
) -> Response:
    """Record the client's consent, given to the caseworker, to share the case with a partner (office only)."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    if not principal.is_office or not can(principal, Action.refer_cases, principal.organisation_id):
        raise PermissionDenied("consent")
    if not confirmed:
        return _rerender(
            request,
            db,
            settings,
            principal,
            reference,
            422,
            errors={"confirmed": _("Confirm that the client agreed after you read them the consent text.")},
        )
    scope = [ConsentScope.case.value] + ([ConsentScope.contact.value] if contact else [])
    try:
        flows.record_consent(
            db=db,
            case=case,
            organisation_slug=organisation,
            scope=scope,
            language=language or case.language,
            method="staff",
            actor=Actor.of(principal),
        )
    except InvalidInput as exc:
        return _rerender(request, db, settings, principal, reference, 422, errors=exc.field_errors)
    return _back_to_case(request, case)


@router.post("/{reference}/consents/{consent_id}/withdraw", name="case_consent_withdraw")
def case_consent_withdraw(
    request: Request,
    reference: str,
    consent_id: Annotated[int, Path(ge=1, le=MAX_INT)],
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
) -> Response:
    """Record that the client withdrew a consent; a referral resting on it ends at once."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    if not principal.is_office:
        raise PermissionDenied("consent")
    try:
        consent = consent_service.get_consent(db=db, case=case, consent_id=consent_id)
    except NotFound:
        return _rerender(request, db, settings, principal, reference, 404, message=_("We could not find that page."))
    try:
        flows.withdraw_consent(db=db, settings=settings, case=case, consent=consent, actor=Actor.of(principal))
    except StaleCase as exc:
        return _rerender(request, db, settings, principal, reference, 409, message=exc.public_message(), changes=exc.changes)
    return _back_to_case(request, case)


