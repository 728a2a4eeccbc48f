"""City forms for newcomers (fill, check live with htmx, save a draft, send, download the receipt),
the form answers on a case for office staff, and the translation coverage page for administrators.

Saving and sending answer with a redirect (POST/redirect/GET): reloading the answer sends nothing.
Each rendered form carries a one-time key: the same page sent twice (a double click, a retry) names
the same draft or submission, whose link token is unique, so it never opens a second case; the case's
secret is shown once, on the sent page, to the browser that sent it (app/cases/once.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.assistant import service as chat_service
from app.assistant.routes import CHAT_COOKIE
from app.auth.deps import StaffPrincipal
from app.auth.permissions import Action, Principal, require
from app.cases import access, once
from app.config import Settings
from app.crypto import decrypt_json
from app.db import MAX_INT
from app.deps import AppSettings, DbSession, WriteDbSession
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.forms import flows, service
from app.forms.content import FormDef
from app.forms.coverage import coverage
from app.forms.pdf import receipt_pdf
from app.i18n import get_locale
from app.translation import service as translation_service
from app.web import locale_url, redirect, render, url_for

router = APIRouter()
#: What a form's buttons ask: send, save a draft, show the questions that now apply (without
#: JavaScript), or show the form in another language (the header's language buttons), answers kept.
ACTIONS = ("submit", "save", "refresh", "language")


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
    """Return entered answers as inputs show them (dates typed as DD.MM.YYYY become YYYY-MM-DD; a date
    asked in three boxes becomes {day, month, year})."""
    shown: dict[str, Any] = dict(raw)
    for name, value in raw.items():
        f = form.fields.get(name)
        if f is not None and f.date_in_parts:
            shown[name] = service.date_parts(value)
        elif f is not None and f.type == "date" and isinstance(value, str):
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
    key: str | None = None,
    prefilled: list[str] | None = None,
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
        # One key per rendered page: sending this page twice finds the first sending's work.
        "key": key or once.new_key(),
        "prefilled": prefilled or [],
    }


def _posted(data: Any) -> dict[str, list[str]]:
    return {key: [v for v in data.getlist(key) if isinstance(v, str)] for key in data.keys()}


# --- newcomers' pages -------------------------------------------------------------------------------


@router.get("/forms/", name="forms_index")
def forms_index(request: Request, settings: AppSettings) -> Response:
    """List the city's forms."""
    forms = sorted(service.forms(settings).values(), key=lambda f: service.form_text(f.title))
    return render(request, "forms/index.html", {"forms": forms, "t": service.form_text})


@dataclass(frozen=True)
class ChatKnows:
    """What this browser's web chat knows that a form asks too: the conversation's language, the
    district (the `district` slot, or the district of the case the chat opened), and the e-mail
    address and phone number given in the chat's case form, where the newcomer agreed that we
    keep them (the case it opened holds them, with their preferred way of contact)."""

    language: str
    answers: dict[str, str]


def _chat_knows(request: Request, db: Session, settings: Settings) -> ChatKnows | None:
    """Return what the web chat of this browser (its HttpOnly cookie) knows, or None without a chat.
    Read on the server: nothing personal ever travels in the form's link."""
    sender = request.cookies.get(CHAT_COOKIE)
    conversation = chat_service.find(db=db, channel="web", sender_id=sender) if sender else None
    if conversation is None:
        return None
    slots = (conversation.state or {}).get("slots") or {}
    district = slots.get("district")
    answers: dict[str, str] = {}
    case = conversation.case
    if case is not None:
        district = district if district in service.districts(settings) else case.district
        try:
            contact = decrypt_json(case.client.contact_encrypted, settings)
        except ValueError:
            contact = {}
        # `preferred` is set only by the chat's case form, which opens a case after the consent
        # question; contact details typed elsewhere in a chat are the caseworker's, not a form's.
        if contact.get("preferred"):
            for kind in ("email", "phone"):
                first = str(contact.get(kind) or "").split(",")[0].strip()
                if first:
                    answers[kind] = first
    if isinstance(district, str) and district:
        answers["district"] = district
    return ChatKnows(language=conversation.language, answers=answers)


def _came_from_chat(request: Request) -> bool:
    """Return whether this page was opened from our chat page (its link to the form)."""
    referer = urlsplit(request.headers.get("referer", ""))
    return referer.netloc == request.url.netloc and referer.path.rstrip("/").endswith("/chat")


@router.get("/forms/{form_id}", name="form_page")
def form_page(request: Request, form_id: str, db: DbSession, settings: AppSettings) -> Response:
    """Show a form, with what this browser's chat already knows filled in (and, opened from the chat,
    in the conversation's language)."""
    form = service.get_form(settings=settings, form_id=form_id)
    knows = _chat_knows(request, db, settings)
    if knows is None:
        return render(request, "forms/form.html", _form_context(request, settings, form, {}))
    if knows.language != get_locale() and knows.language in settings.locales and _came_from_chat(request):
        return redirect(request, locale_url(request, knows.language))
    raw = service.prefill(form, knows.answers)
    labels = [service.form_text(form.fields[name].label) for name in raw]
    context = _form_context(request, settings, form, raw, prefilled=labels)
    response = render(request, "forms/form.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/forms/{form_id}/draft/{token}", name="form_draft")
def form_draft(
    request: Request, form_id: str, token: str, db: DbSession, settings: AppSettings, saved: bool = False
) -> Response:
    """Show a saved draft again (the link is its key); a sent form's link leads to the sent page."""
    form = service.get_form(settings=settings, form_id=form_id)
    submission = service.get_by_token(db=db, token=token)
    if submission.form_id != form.id:
        raise NotFound("form")
    if submission.status != service.DRAFT:
        return redirect(request, url_for(request, "form_sent", form_id=form.id, token=token))
    raw = service.draft_answers(settings=settings, form=form, submission=submission)
    context = _form_context(request, settings, form, raw, token=token, saved=saved)
    response = render(request, "forms/form.html", context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@router.get("/forms/{form_id}/sent/{token}", name="form_sent")
def form_sent(
    request: Request, form_id: str, token: str, db: WriteDbSession, settings: AppSettings
) -> Response:
    """Show a sent form: its case number, the receipt, and once, to the browser that sent it, the
    case's secret code (app/cases/once.py). Reloading shows the same page without the code."""
    form = service.get_form(settings=settings, form_id=form_id)
    submission = service.get_by_token(db=db, token=token)
    if submission.form_id != form.id or submission.case is None:
        if submission.form_id == form.id and submission.status == service.DRAFT:
            return redirect(request, url_for(request, "form_draft", form_id=form.id, token=token))
        raise NotFound("form")
    shown = once.reveal(db=db, case=submission.case, keys=once.cookie_keys(request))
    db.commit()
    context = _sent_context(request, form, submission, token, secret=shown[0] if shown else None)
    response = render(request, "forms/sent.html", context, block=None)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    if shown is not None:
        once.forget(request, response, shown[1], settings)
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
    key = once.valid_key((data.get("_key") or [""])[-1])
    language = get_locale()
    if action in ("refresh", "language"):
        # Without JavaScript, or in another language (this URL's): the questions that now apply,
        # every answer kept, nothing judged or stored yet.
        context = _form_context(request, settings, form, raw, token=token, key=key)
        response = render(request, "forms/form.html", context)
        response.headers["Cache-Control"] = "no-store"
        return response
    # A new form's page names what it saves or sends first by its key: sent twice, it finds that.
    link, create = (service.token_for_key(settings, key), True) if token is None and key else (token, False)
    if action == "save":
        try:
            _draft, link = flows.save_draft(
                db=db, settings=settings, form=form, raw=raw, language=language, token=link, create=create
            )
        except Conflict:
            return _to_sent(request, form, link, key, settings)
        draft_url = url_for(request, "form_draft", query={"saved": "true"}, form_id=form.id, token=link)
        return redirect(request, draft_url)
    key = key or once.new_key()  # a page without a key (a script's post): its secret is still shown once
    try:
        sent = flows.submit(
            db=db,
            settings=settings,
            form=form,
            raw=raw,
            language=language,
            token=link,
            create=create,
            key=key,
        )
    except InvalidInput as exc:
        context = _form_context(request, settings, form, raw, errors=exc.field_errors, token=token, key=key)
        return render(request, "forms/form.html", context, status_code=422)
    except Conflict:
        return _to_sent(request, form, link, key, settings)
    return _to_sent(request, form, sent.token, key, settings)


def _to_sent(
    request: Request, form: FormDef, token: str | None, key: str | None, settings: Settings
) -> Response:
    """Return the redirect to the sent form's page (POST/redirect/GET: reloading it sends nothing),
    carrying the page's key to it, which opens the seal of the case's secret once."""
    if token is None:
        return redirect(request, url_for(request, "form_page", form_id=form.id))
    response = redirect(request, url_for(request, "form_sent", form_id=form.id, token=token))
    return once.remember(request, response, key, settings) if key else response


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
    error = checked.errors.get(changed, "")
    changed_field = form.fields.get(changed)
    if changed_field is not None and service.incomplete_date(changed_field, raw.get(changed)):
        error = ""  # a date in three boxes: judged once all three are filled, or on sending
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
        "error": error,
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


