"""City forms for newcomers (fill, check live with htmx, save a draft, send, download the receipt),
the form answers on a case for office staff, and the translation coverage page for administrators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth.deps import StaffPrincipal
from app.auth.permissions import Action, Principal, require
from app.cases import access
from app.config import Settings
from app.db import MAX_INT
from app.deps import AppSettings, DbSession, WriteDbSession
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.forms import flows, service
from app.forms.content import FormDef
from app.forms.coverage import coverage
from app.forms.pdf import receipt_pdf
from app.i18n import get_locale
from app.translation import service as translation_service
from app.web import redirect, render, url_for

router = APIRouter()
ACTIONS = ("submit", "save", "refresh")


# --- what a page shows ----------------------------------------------------------------------------


def _controls(form: FormDef) -> set[str]:
    """Return the fields whose answers decide which questions are asked."""
    names: set[str] = set()
    for section in form.sections:
        if section.relevant:
            names |= section.relevant.fields
        for f in section.fields:
            if f.relevant:
                names |= f.relevant.fields
    return names


def _display_raw(form: FormDef, raw: service.Raw) -> dict[str, Any]:
    """Return entered answers as inputs show them (dates typed as DD.MM.YYYY become YYYY-MM-DD)."""
    shown: dict[str, Any] = dict(raw)
    for name, value in raw.items():
        f = form.fields.get(name)
        if f is not None and f.type == "date" and isinstance(value, str):
            found = service.parse_date(value)
            if found is not None:
                shown[name] = found.isoformat()
    return shown


def _form_context(
    request: Request,
    settings: Settings,
    form: FormDef,
    raw: service.Raw,
    *,
    errors: dict[str, str] | None = None,
    token: str | None = None,
    saved: bool = False,
    message: str | None = None,
) -> dict[str, Any]:
    checked = service.check(form, raw, on=service.today(settings), only=())
    action = (
        url_for(request, "form_draft_post", form_id=form.id, token=token)
        if token
        else url_for(request, "form_post", form_id=form.id)
    )
    return {
        "form": form,
        "values": _display_raw(form, raw),
        "errors": errors or {},
        "relevant": checked.relevant,
        "sections_shown": checked.sections,
        "controls": _controls(form),
        "action": action,
        "check_url": url_for(request, "form_check", form_id=form.id),
        "token": token,
        "saved": saved,
        "draft_url": f"{request.url.scheme}://{request.url.netloc}"
        + url_for(request, "form_draft", form_id=form.id, token=token)
        if token
        else None,
        "message": message,
        "t": service.form_text,
        "official": get_locale() != service.SOURCE_LOCALE,
        "today": service.today(settings).isoformat(),
    }


def _posted(data: Any) -> dict[str, list[str]]:
    return {key: [v for v in data.getlist(key) if isinstance(v, str)] for key in data.keys()}


# --- newcomers' pages -------------------------------------------------------------------------------


@router.get("/forms/", name="forms_index")
def forms_index(request: Request, settings: AppSettings) -> Response:
    """List the city's forms."""
    forms = sorted(service.forms(settings).values(), key=lambda f: service.form_text(f.title))
    return render(request, "forms/index.html", {"forms": forms, "t": service.form_text})


@router.get("/forms/{form_id}", name="form_page")
def form_page(request: Request, form_id: str, settings: AppSettings) -> Response:
    """Show an empty form."""
    form = service.get_form(settings=settings, form_id=form_id)
    return render(request, "forms/form.html", _form_context(request, settings, form, {}))


@router.get("/forms/{form_id}/draft/{token}", name="form_draft")
def form_draft(request: Request, form_id: str, token: str, db: DbSession, settings: AppSettings) -> Response:
    """Show a saved draft again (the link is its key); a sent form shows where to get the receipt."""
    form = service.get_form(settings=settings, form_id=form_id)
    submission = service.get_by_token(db=db, token=token)
    if submission.form_id != form.id:
        raise NotFound("form")
    if submission.status != service.DRAFT:
        return render(
            request, "forms/sent.html", _sent_context(request, form, submission, token, secret=None)
        )
    raw = service.draft_answers(settings=settings, form=form, submission=submission)
    response = render(request, "forms/form.html", _form_context(request, settings, form, raw, token=token))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@router.post("/forms/{form_id}", name="form_post")
async def form_post(request: Request, form_id: str, db: DbSession, settings: AppSettings) -> Response:
    """Send, save or refresh a new form (plain post without JavaScript, or htmx)."""
    data = _posted(await request.form())
    return await run_in_threadpool(_handle_post, request, form_id, None, data, db, settings)


@router.post("/forms/{form_id}/draft/{token}", name="form_draft_post")
async def form_draft_post(
    request: Request, form_id: str, token: str, db: DbSession, settings: AppSettings
) -> Response:
    """Send, save or refresh a saved draft."""
    data = _posted(await request.form())
    return await run_in_threadpool(_handle_post, request, form_id, token, data, db, settings)


def _handle_post(
    request: Request,
    form_id: str,
    token: str | None,
    data: dict[str, list[str]],
    db: Session,
    settings: Settings,
) -> Response:
    form = service.get_form(settings=settings, form_id=form_id)
    raw = service.raw_answers(form, data)
    action = (data.get("_action") or ["submit"])[-1]
    action = action if action in ACTIONS else "submit"
    language = get_locale()
    if action == "refresh":
        # Without JavaScript: show the questions that now apply, keep every answer, judge nothing yet.
        return render(request, "forms/form.html", _form_context(request, settings, form, raw, token=token))
    if action == "save":
        try:
            _draft, token = flows.save_draft(
                db=db, settings=settings, form=form, raw=raw, language=language, token=token
            )
        except Conflict:
            return redirect(request, url_for(request, "form_draft", form_id=form.id, token=token))
        context = _form_context(request, settings, form, raw, token=token, saved=True)
        response = render(request, "forms/form.html", context)
        response.headers["Cache-Control"] = "no-store"
        return response
    try:
        sent = flows.submit(db=db, settings=settings, form=form, raw=raw, language=language, token=token)
    except InvalidInput as exc:
        context = _form_context(request, settings, form, raw, errors=exc.field_errors, token=token)
        return render(request, "forms/form.html", context, status_code=422)
    except Conflict:
        return redirect(request, url_for(request, "form_draft", form_id=form.id, token=token))
    context = _sent_context(request, form, sent.submission, sent.token, secret=sent.secret, case=sent.case)
    response = render(request, "forms/sent.html", context, status_code=201, block=None)
    response.headers["Cache-Control"] = "no-store"
    return response


def _sent_context(
    request: Request, form: FormDef, submission: Any, token: str, *, secret: str | None, case: Any = None
) -> dict[str, Any]:
    return {
        "form": form,
        "case": case or submission.case,
        "secret": secret,
        "receipt_url": url_for(request, "form_receipt", token=token),
        "t": service.form_text,
    }


@router.post("/forms/{form_id}/check", name="form_check")
async def form_check(request: Request, form_id: str, settings: AppSettings) -> Response:
    """htmx: check the changed question; show or hide the questions whose conditions changed."""
    data = _posted(await request.form())
    form = service.get_form(settings=settings, form_id=form_id)
    raw = service.raw_answers(form, data)
    changed = (data.get("_field") or [""])[-1]
    checked = service.check(form, raw, on=service.today(settings), only=[changed])
    shown_before = set(data.get("_shown", []))
    # Only what changed is swapped: an input the person is typing into is never replaced.
    sections = [
        s
        for s in form.sections
        if s.relevant is not None and checked.sections[s.id] != (f"section:{s.id}" in shown_before)
    ]
    swapped_sections = {s.id for s in sections}
    fields = [
        f
        for s in form.sections
        if s.id not in swapped_sections
        for f in s.fields
        if f.relevant is not None and checked.relevant[f.name] != (f.name in shown_before)
    ]
    context = {
        **_form_context(request, settings, form, raw),
        "relevant": checked.relevant,
        "sections_shown": checked.sections,
        "error": checked.errors.get(changed, ""),
        "swap_sections": sections,
        "swap_fields": fields,
    }
    return render(request, "forms/form.html", context, block="check")


@router.get("/forms/receipt/{token}.pdf", name="form_receipt")
def form_receipt(request: Request, token: str, db: DbSession, settings: AppSettings) -> Response:
    """Return the bilingual PDF receipt of a sent form (the form's secret link is the key)."""
    submission = service.get_by_token(db=db, token=token)
    if submission.status != service.SUBMITTED or submission.case is None:
        raise NotFound("form")
    pdf = receipt_pdf(settings=settings, submission=submission, locale=get_locale())
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{submission.case.reference}.pdf"',
            "Cache-Control": "no-store",
        },
    )


# --- staff ------------------------------------------------------------------------------------------


def _office_case(db: Session, principal: Principal, reference: str) -> Any:
    case = access.get_visible(db=db, principal=principal, reference=reference)
    if not principal.is_office:
        # Form answers hold the client's personal data; partners read what the office shares in notes.
        raise PermissionDenied("form_answers")
    return case


@router.get("/staff/forms/cases/{reference}", name="form_case_answers")
def case_answers(
    request: Request, reference: str, db: WriteDbSession, settings: AppSettings, principal: StaffPrincipal
) -> Response:
    """Show the forms sent into a case, with the Polish wording of the form version that was used."""
    case = _office_case(db, principal, reference)
    submissions = service.for_case(db=db, case_id=case.id)
    access.audit(db=db, principal=principal, action="view_form_answers", case=case)
    db.commit()
    items = []
    for submission in submissions:
        form = service.form_of(settings=settings, submission=submission)
        answers = service.answers_of(settings=settings, submission=submission)
        rows = service.answer_rows(form, answers, service.SOURCE_LOCALE)
        if submission.language != service.SOURCE_LOCALE:
            for row in rows:
                if row.prose:
                    found = translation_service.translate_within(settings, row.value_pl, submission.language, "pl")
                    row.machine = found.text if found is not None else None
        items.append(
            {
                "submission": submission,
                "form": form,
                "rows": rows,
                "current": service.forms(settings).get(form.id),
                "receipt_url": url_for(
                    request, "form_case_receipt", reference=case.reference, submission_id=submission.id
                ),
            }
        )
    return render(request, "forms/answers.html", {"case": case, "items": items})


@router.get("/staff/forms/cases/{reference}/{submission_id}.pdf", name="form_case_receipt")
def case_receipt(
    request: Request,
    reference: str,
    submission_id: Annotated[int, Path(ge=1, le=MAX_INT)],
    db: WriteDbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
) -> Response:
    """Return the receipt of a form sent into a case, in Polish and the client's language."""
    case = _office_case(db, principal, reference)
    submission = next((s for s in service.for_case(db=db, case_id=case.id) if s.id == submission_id), None)
    if submission is None:
        raise NotFound("form")
    access.audit(db=db, principal=principal, action="export_form_receipt", case=case)
    db.commit()
    pdf = receipt_pdf(settings=settings, submission=submission, locale=submission.language)
    return Response(pdf, media_type="application/pdf", headers={"Cache-Control": "no-store"})


@router.get("/staff/translations", name="translation_coverage")
def translation_coverage(request: Request, settings: AppSettings, principal: StaffPrincipal) -> Response:
    """Show, for administrators, how much of the interface, dialogues and forms each locale translates."""
    require(principal, Action.manage_content, principal.organisation_id)
    report = coverage(settings.locale_path, settings.locales)
    return render(request, "forms/coverage.html", {"report": report})


