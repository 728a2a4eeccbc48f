"""Staff pages of the case tracker: inbox, new case, case page with its actions (htmx, and plain forms)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.assistant import service as chat_service
from app.assistant.channels import outbox
from app.auth import service as auth_service
from app.auth.deps import StaffPrincipal, require_action
from app.auth.enums import OrgKind
from app.auth.models import User
from app.auth.permissions import Action, Principal, can
from app.cases import access, flows, inbox, once
from app.cases import consent as consent_service
from app.cases import service as case_service
from app.cases.content import case_content
from app.cases.deadlines import is_overdue
from app.cases.enums import ConsentScope, Priority, Source, Visibility, decline_reason_labels
from app.cases.events import Actor
from app.cases.exceptions import ConsentMissing, StaleCase, TransitionNotAllowed
from app.cases.models import CaseFile, Consent
from app.cases.notes import note_view
from app.cases.schemas import CaseIn, ClientIn, InboxFilter, TransitionIn, parsed
from app.config import Settings
from app.db import MAX_INT, committed, parse_id, utcnow
from app.deps import AppSettings, DbSession, WriteDbSession
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.i18n import _, get_locale, use_locale
from app.languages import LANGUAGES, native_name
from app.partners import service as partner_service
from app.web import redirect, render, url_for

# Every case page needs view_cases (a content editor, signed in as office staff, has none).
router = APIRouter(prefix="/staff/cases", dependencies=[Depends(require_action(Action.view_cases))])
#: Rows in one CSV export (the rest is left out and the audit entry says so).
EXPORT_LIMIT = 10_000


def _labels(settings: Settings) -> dict[str, Any]:
    """Return what the case pages show for the stored values: every one translated, or named."""
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
        "source_labels": {
            Source.chat.value: _("Chat with Witaj"),
            Source.form.value: _("City form"),
            Source.staff.value: _("Opened by the office"),
        },
        "scope_labels": {
            ConsentScope.case.value: _("the case"),
            ConsentScope.contact.value: _("contact details"),
        },
        "method_labels": {
            "chat": _("in the chat"),
            "form": _("on a city form"),
            "staff": _("told to the office"),
        },
        "contact_labels": {"email": _("E-mail address"), "phone": _("Phone")},
        "event_labels": {
            "created": _("Case opened"),
            "transition": _("Status changed"),
            "updated": _("Details changed"),
            "note_added": _("Note added"),
            "consent_given": _("Consent recorded"),
            "consent_withdrawn": _("Consent withdrawn"),
            "handover": _("The chat was handed over to a person"),
        },
        "decline_reason_labels": decline_reason_labels(),
        # Each language in its own name, as the language switcher names them.
        "language_names": {code: language.native_name for code, language in LANGUAGES.items()},
        "districts": list(cc.districts),
    }


#: The case fields a change in the history shows, in this order (the referral's id is internal).
_CHANGED_FIELDS = (
    "status", "category", "priority", "assignee_id", "holder_org_id", "district", "tags", "outcome"
)
#: What a change in the history reads as: (field label, value) pairs.
Described = list[tuple[str, str]]


def _change_describer(db: Session, labels: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], Described]:
    """Return a function that turns an event's changed fields ({"priority": "high"}) into what a
    person reads ([("Priority", "High")]): labels for the fields, names for people and organisations."""
    names: dict[tuple[str, int], str] = {}

    def user_name(user_id: int) -> str:
        if ("user", user_id) not in names:
            user = db.get(User, user_id)
            names[("user", user_id)] = user.display_name if user else "–"
        return names[("user", user_id)]

    def organisation_name(organisation_id: int) -> str:
        if ("org", organisation_id) not in names:
            org = auth_service.organisation(db=db, organisation_id=organisation_id)
            names[("org", organisation_id)] = org.name if org else "–"
        return names[("org", organisation_id)]

    field_labels = {
        "status": _("Status"),
        "category": _("Category"),
        "priority": _("Priority"),
        "assignee_id": _("Assigned to"),
        "holder_org_id": _("Handled by"),
        "district": _("District"),
        "tags": _("Tags"),
        "outcome": _("Outcome"),
    }
    shown: dict[str, Callable[[Any], str]] = {
        "status": lambda v: labels["status_labels"].get(v, v),
        "category": lambda v: labels["category_labels"].get(v, v),
        "priority": lambda v: labels["priority_labels"].get(v, v),
        "outcome": lambda v: labels["outcome_labels"].get(v, v),
        "assignee_id": user_name,
        "holder_org_id": organisation_name,
        "tags": lambda v: ", ".join(v),
        "district": str,
    }

    def describe(after: Mapping[str, Any]) -> Described:
        rows = []
        for key in _CHANGED_FIELDS:
            if key not in after:
                continue
            value = after[key]
            if value in (None, [], ""):
                text = _("Nobody") if key == "assignee_id" else "–"
            else:
                text = shown[key](value)
            rows.append((field_labels[key], text))
        return rows

    return describe


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
    """Show the form to open a case on someone's behalf (office staff), with its one-time key."""
    if not principal.is_office:
        raise PermissionDenied("create")
    context = {"values": {}, "errors": {}, "key": once.new_key(), **_labels(settings)}
    return render(request, "cases/new.html", context)


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
    form_key: Annotated[str, Form(alias="_key")] = "",
) -> Response:
    """Open a case and redirect to its page of codes (POST/redirect/GET); re-render the form with
    messages on bad input. The form's key makes sending it again (a double click, a retry) lead to
    the case it opened, never to a second one (app/cases/once.py)."""
    if not can(principal, Action.edit_cases, principal.organisation_id) or not principal.is_office:
        raise PermissionDenied("create")
    key = once.valid_key(form_key)
    if key is not None:
        opened = once.find_by_key(db=db, key=key)
        if opened is not None:
            return _to_opened(request, opened, key, settings)
    key = key or once.new_key()
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
        # One transaction: the case, its sealed secret and the form's key (unique: a concurrent
        # request with the same key fails here and is led to the case this one opened).
        with committed(db):
            case, secret = case_service.create(
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
            once.attach(db=db, case=case, key=key, secret=secret)
    except InvalidInput as exc:
        context = {"values": values, "errors": exc.field_errors, "key": key, **_labels(settings)}
        return render(request, "cases/new.html", context, status_code=422)
    except IntegrityError:
        opened = once.find_by_key(db=db, key=key)
        if opened is None:
            raise
        case = opened
    return _to_opened(request, case, key, settings)


def _to_opened(request: Request, case: CaseFile, key: str, settings: Settings) -> Response:
    """Return the redirect to the page of the new case's codes, carrying the form's key to it."""
    response = redirect(request, url_for(request, "case_opened", reference=case.reference))
    return once.remember(request, response, key, settings)


@router.get("/{reference}/opened", name="case_opened")
def case_opened(
    request: Request, reference: str, db: WriteDbSession, settings: AppSettings, principal: StaffPrincipal
) -> Response:
    """Show the codes of a case just opened: the secret once, to the browser that opened it; reloaded
    or opened again, the case number only."""
    if not principal.is_office:
        raise PermissionDenied("create")
    case = access.get_visible(db=db, principal=principal, reference=reference)
    shown = once.reveal(db=db, case=case, keys=once.cookie_keys(request))
    db.commit()
    response = render(request, "cases/created.html", {"case": case, "secret": shown[0] if shown else None})
    if shown is not None:
        once.forget(request, response, shown[1], settings)
    return response


def consent_wording(organisation: str) -> list[str]:
    """Return the consent text a caseworker reads to the client before referring them to organisation,
    in the current language: what is shared, the question about contact details, how to take it back."""
    return [
        _(
            "We would like to share your case with %(organisation)s, so that they can help you. "
            "They will read what you told us about your case.",
            organisation=organisation,
        ),
        _("May we also give them your name and contact details, so that they can get in touch with you?"),
        _("You can take back your consent at any time: tell us, or write in the chat."),
    ]


def _referral(
    db: Session,
    settings: Settings,
    principal: Principal,
    case: CaseFile,
    consents: list[Consent],
    chosen: str | None,
) -> dict[str, Any]:
    """Return the referral step of the case page: the ranked partner services, the one chosen (the
    first by default), and for its organisation the consent on file or the consent question, with
    the text to read in the client's language and the reader's."""
    actor = Actor.of(principal)
    transitions = case_service.available_transitions(settings=settings, case=case, actor=actor)
    if not principal.is_office or not any(t.name == "refer" for t in transitions):
        return {"suggestions": [], "consent_on_file": {}, "refer_consent": None}
    suggestions = partner_service.suggestions_for(db=db, settings=settings, case=case)
    directory = partner_service.directory(settings)
    on_file: dict[str, Consent] = {}
    for consent in consents:  # oldest first: the newest live one wins, as for the referral itself
        if consent.withdrawn_at is None:
            on_file[consent.organisation.slug] = consent
    keys = [f"{s.organisation_slug}/{s.service_id}" for s in suggestions]
    if chosen not in keys:
        chosen = keys[0] if keys else None
    refer_consent = None
    if chosen is not None:
        slug = chosen.partition("/")[0]
        account = auth_service.get_organisation(db=db, slug=slug)
        name = account.name if account else directory.organisations[slug].name
        client = case.client
        spoken = [client.preferred_language, *(client.other_languages or [])]
        languages = list(dict.fromkeys([*spoken, *settings.locales]))
        reader = get_locale()
        texts = []
        for code in dict.fromkeys([client.preferred_language, reader]):
            if code in settings.locales:
                with use_locale(code):
                    texts.append((code, consent_wording(name)))
        refer_consent = {
            "service": chosen,
            "slug": slug,
            "organisation": name,
            "on_file": on_file.get(slug),
            "texts": texts,
            "languages": [(code, native_name(code)) for code in languages],
            "language": client.preferred_language,
        }
    return {"suggestions": suggestions, "consent_on_file": on_file, "refer_consent": refer_consent}


def _case_context(
    request: Request, db: Session, settings: Settings, principal: Principal, case: CaseFile, **extra: Any
) -> dict[str, Any]:
    actor = Actor.of(principal)
    scope = access.consent_scope_for(db=db, case=case, principal=principal)
    consents = consent_service.consents_of(db=db, case=case) if principal.is_office else []
    transitions = case_service.available_transitions(settings=settings, case=case, actor=actor)
    form = extra.get("form") or {}
    referral = _referral(db, settings, principal, case, consents, form.get("service"))
    directory = partner_service.directory(settings)
    labels = _labels(settings)
    org_names: dict[str, str] = {}

    def organisation_name(slug: str) -> str:
        """The name of a partner an event names by its slug (stored for ever, never renamed)."""
        if slug not in org_names:
            org = auth_service.get_organisation(db=db, slug=slug)
            partner = directory.organisations.get(slug)
            org_names[slug] = org.name if org else partner.name if partner else slug
        return org_names[slug]

    def service_name(slug: str, service_id: str | None) -> str | None:
        svc = directory.services.get((slug, service_id or ""))
        return _(svc.name) if svc else None
    chat = None
    if principal.is_office:
        conversation = chat_service.for_case(db=db, case_id=case.id)
        if conversation is not None:
            viewer = get_locale()
            said = chat_service.messages(db=db, conversation=conversation)
            chat = {
                "conversation": conversation,
                "channel": chat_service.channel_title(conversation.channel),
                "messages": said,
                "view": lambda m: chat_service.shown(settings=settings, message=m, language=viewer),
                # Why the last reply was refused: only one of the known reasons, in the reader's language.
                "error": error if (error := request.query_params.get("chat_error")) in chat_service.reply_errors() else None,
                # A messenger's delivery of each message from the team: sent, retried or given up.
                "deliveries": outbox.for_messages(db=db, message_ids=[m.id for m in said if m.author in ("staff", "system")]),
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
        **referral,
        "directory": directory,
        "organisation_name": organisation_name,
        "service_name": service_name,
        "describe_changes": _change_describer(db, labels),
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
        **labels,
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
    service: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Show a case the principal may see (404 otherwise); every view is audited. `service` chooses a
    partner service to refer to; htmx then gets only the consent part of the referral for it."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    form = {"name": "refer", "service": service} if service else {}
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == "refer-consent":
        # Whether the client agreed to share with that partner: no personal data, nothing to audit.
        consents = consent_service.consents_of(db=db, case=case) if principal.is_office else []
        referral = _referral(db, settings, principal, case, consents, service)
        context = {"case": case, **referral, "errors": {}, "form": form, **_labels(settings)}
        return render(request, "cases/case.html", context, block="refer_consent")
    access.audit(db=db, principal=principal, action="view_case", case=case)
    context = _case_context(request, db, settings, principal, case, form=form)
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
    consent_confirmed: Annotated[bool, Form()] = False,
    consent_contact: Annotated[bool, Form()] = False,
    consent_language: Annotated[str, Form()] = "",
    consent_for: Annotated[str, Form()] = "",
    decline_reason: Annotated[str, Form()] = "",
) -> Response:
    """Make a workflow transition; on refusal show the case again with the reason and what changed.
    A referral is one step: it records the client's consent for the chosen partner (consent_*) when
    the caseworker confirms it, and refers, both or neither."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    organisation, _sep, service_id = service_key.partition("/")
    form = {
        "name": name,
        "reason": reason,
        "decline_reason": decline_reason,
        "outcome": outcome,
        "category": category,
        "service": service_key,
        "consent_contact": consent_contact,
        "consent_language": consent_language,
    }
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
            decline_reason=decline_reason or None,
        )
        if name == "refer":
            given = None
            # A confirmation counts only for the organisation whose text was read: without JavaScript
            # the consent part shown may be another partner's than the one chosen. Then the referral
            # rests on the consent on file for the one chosen, or asks for it; never the wrong one.
            if consent_confirmed and consent_for == organisation:
                scope = [ConsentScope.case.value] + ([ConsentScope.contact.value] if consent_contact else [])
                given = flows.ConsentGiven(scope=tuple(scope), language=consent_language or case.language)
            flows.refer_with_consent(
                db=db,
                settings=settings,
                case=case,
                request=request_in,
                consent=given,
                actor=Actor.of(principal),
            )
        else:
            flows.transition(db=db, settings=settings, case=case, request=request_in, actor=Actor.of(principal))
    except InvalidInput as exc:
        # A consent's language is asked for as consent_language on the referral form.
        errors = {("consent_language" if k == "language" else k): text for k, text in exc.field_errors.items()}
        return _rerender(request, db, settings, principal, reference, 422, errors=errors, form=form)
    except ConsentMissing:
        missing = _("Read the client the consent text for this organisation, and confirm that they agreed.")
        errors = {"consent": missing}
        return _rerender(request, db, settings, principal, reference, 422, errors=errors, form=form)
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
    form = {"organisation": organisation}
    if not confirmed:
        return _rerender(
            request,
            db,
            settings,
            principal,
            reference,
            422,
            errors={"confirmed": _("Confirm that the client agreed after you read them the consent text.")},
            form=form,
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
        return _rerender(request, db, settings, principal, reference, 422, errors=exc.field_errors, form=form)
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


