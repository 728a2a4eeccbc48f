"""Channels of the assistant: the web chat (htmx, or plain form posts), Rasa's REST channel, and the
messengers' webhooks (Telegram, WhatsApp, Viber: adapters in app/assistant/channels/)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from functools import partial
from types import ModuleType
from typing import Annotated, Any

import anyio
import anyio.to_thread
import httpx
import urllib3
from fastapi import APIRouter, Body, Form, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.assistant import flows, review, service
from app.assistant.channels import adapters, outbox, rest
from app.assistant.channels import flows as channel_flows
from app.assistant.channels.shapes import Call, Inbound, Received
from app.assistant.models import Conversation
from app.auth.deps import StaffPrincipal
from app.auth.permissions import Action, can
from app.cases import access
from app.config import Settings
from app.db import MAX_INT, parse_id
from app.deps import AppSettings, DbSession
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.i18n import _, get_locale
from app.web import base_path, redirect, render, url_for

router = APIRouter()
CHAT_COOKIE = "witaj_chat"


# --- web chat --------------------------------------------------------------------------------


def _web_conversation(request: Request, db: Session, *, create: bool) -> tuple[Conversation | None, str | None]:
    sender = request.cookies.get(CHAT_COOKIE)
    if sender is None and not create:
        return None, None
    fresh = sender is None
    sender = sender or service.new_sender_id()
    conversation = service.get_or_start(db=db, channel="web", sender_id=sender, language=get_locale())
    return conversation, sender if fresh else None


def _set_cookie(response: Response, sender: str | None, settings: Settings) -> Response:
    if sender:
        response.set_cookie(
            CHAT_COOKIE, sender, max_age=30 * 24 * 3600, httponly=True, samesite="lax", secure=settings.secure_cookies
        )
    return response


def _chat_context(
    db: Session,
    conversation: Conversation | None,
    error: str | None = None,
    draft: str = "",
    settings: Settings | None = None,
    after_id: int = 0,
    items: list[Any] | None = None,
) -> dict[str, Any]:
    """Return what the chat templates show: items, else the messages after after_id (all by default)."""
    if items is None:
        items = service.messages(db=db, conversation=conversation, after_id=after_id) if conversation else []
    last_bot = next((m for m in reversed(items) if m.author == "bot"), None)
    last_user = next((m for m in reversed(items) if m.author == "user"), None)
    hosts = settings.chat_link_hosts if settings is not None else ()
    tracker_state = (conversation.state or {}) if conversation is not None else {}
    rateable = [m.id for m in items if m.author == "bot" and (m.data or {}).get("rate")]
    return {
        "conversation": conversation,
        "items": items,
        # The answers' ratings, and whether the newcomer was asked if the team may read what failed.
        "ratings": review.ratings(db=db, message_ids=rateable) if rateable else {},
        "follow_up": None,
        "comment_error": None,
        "consent_unknown": tracker_state.get("review_consent") is None,
        "consent_text": review.consent_question(settings).text if settings is not None else "",
        "last_id": items[-1].id if items else after_id,
        "buttons": last_bot.buttons if last_bot and items and items[-1].id == last_bot.id else [],
        "waiting": conversation is not None and conversation.mode in (service.QUEUED, service.HUMAN),
        "error": error,
        "draft": draft,
        "refresh_form": False,
        "system_text": service.display_text,
        "rich": partial(service.answer_html, hosts=hosts),
        # A page opened after a send without JavaScript (…/chat#latest) starts at the newcomer's
        # last message, with the answer under it.
        "latest_id": last_user.id if last_user else None,
        "view": lambda m: service.shown(settings=settings, message=m, language=conversation.language)
        if conversation is not None and settings is not None
        else {"text": service.display_text(m), "original": None, "machine": False, "untranslated": False},
    }


@router.get("/chat", name="chat")
def chat_page(request: Request, db: DbSession, settings: AppSettings) -> Response:
    """Show the chat with its history (nothing is stored until the first message)."""
    conversation, _sender = _web_conversation(request, db, create=False)
    context = _chat_context(db, conversation, settings=settings)
    # After "not helpful" without JavaScript: the page asks what the newcomer looked for, under it.
    context["follow_up"] = parse_id(request.query_params.get("rated", ""))
    # After "delete my conversation": said on the fresh page (only when nothing is left of it).
    context["erased"] = conversation is None and request.query_params.get("erased") == "1"
    return render(request, "assistant/chat.html", context)


def _chat_limiter(request: Request, settings: Settings) -> anyio.CapacityLimiter:
    """Return this process's limit on chat turns running at once (WITAJ_CHAT_THREADS, default 1).

    A turn is Python work that holds the GIL: several at once in one process add no speed, and a
    turn holding SQLite's write lock then waits for the interpreter behind the others (measured with
    bench/chat.py, 2 workers: the lock was held 3.5 ms per turn instead of a fraction of one, and
    half the CPU stood idle). More processes (WITAJ_WORKERS) use more cores."""
    loop = asyncio.get_running_loop()
    held = getattr(request.app.state, "chat_limiter", None)
    if held is None or held[0] is not loop:  # one per event loop (tests start several)
        held = (loop, anyio.CapacityLimiter(settings.chat_threads))
        request.app.state.chat_limiter = held
    return held[1]


async def _in_chat_thread(request: Request, settings: Settings, work: Any, *args: Any) -> Response:
    return await anyio.to_thread.run_sync(partial(work, *args), limiter=_chat_limiter(request, settings))


@router.post("/chat", name="chat_send")
async def chat_send(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    message: Annotated[str, Form()] = "",
    after: Annotated[str, Form()] = "",
) -> Response:
    """Take the newcomer's message (or a quick-reply payload) and answer; htmx gets the new messages
    (those after `after`, the last one the page shows, when a person may have written meanwhile)."""
    return await _in_chat_thread(request, settings, _web_turn, request, db, settings, message, after)


def _web_turn(request: Request, db: Session, settings: Settings, message: str, after: str) -> Response:
    sender = request.cookies.get(CHAT_COOKIE)
    try:
        text = service.check_message(message)
    except InvalidInput as exc:
        conversation, _new = _web_conversation(request, db, create=False)
        context = _chat_context(db, conversation, error=exc.field_errors.get("message"), draft=message, settings=settings)
        # htmx swaps only the form, with its error, into the page; a plain post gets the page.
        return render(request, "assistant/chat.html", context, status_code=422, block="refused")
    new_sender = None if sender else service.new_sender_id()
    sender = sender or new_sender
    assert sender is not None
    htmx = request.headers.get("HX-Request") == "true"

    def shown_items(conversation: Conversation, turn: flows.Turn) -> list[Any]:
        if htmx and conversation.case_id is not None:
            # A person may have written since the page last looked: show everything after it.
            seen = parse_id(after) or turn.stored[0].id - 1
            return service.messages(db=db, conversation=conversation, after_id=seen)
        return turn.stored

    inbound = Inbound(channel="web", sender=sender, text=text, page_language=get_locale())
    conversed = channel_flows.converse(db=db, settings=settings, inbound=inbound, view=shown_items)
    if conversed.erased:
        # Gone with its messages: the page starts afresh, and says so.
        response = redirect(request, url_for(request, "chat", query={"erased": "1"}))
        response.delete_cookie(CHAT_COOKIE)
        return response
    if htmx:
        context = _chat_context(db, conversed.conversation, settings=settings, items=conversed.items)
        context["refresh_form"] = True
        return _set_cookie(render(request, "assistant/chat.html", context, block="new_messages"), new_sender, settings)
    return _set_cookie(redirect(request, url_for(request, "chat") + "#latest"), new_sender, settings)


@router.post("/chat/feedback", name="chat_feedback")
def chat_feedback(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    message: Annotated[str, Form()] = "",
    rating: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    consent: Annotated[str, Form()] = "",
    stage: Annotated[str, Form()] = "",
) -> Response:
    """Rate one of the assistant's answers (helpful or not); after "not helpful", a second post may add
    what the newcomer looked for and their answer to the consent question. htmx gets the control back;
    a plain post goes back to the answer."""
    conversation, _sender = _web_conversation(request, db, create=False)
    message_id = parse_id(message)
    if conversation is None or message_id is None or rating not in ("helpful", "unhelpful") or consent not in ("", "yes", "no"):
        raise InvalidInput({"rating": _("Choose whether the answer helped.")})
    htmx = request.headers.get("HX-Request") == "true"
    try:
        text = review.check_comment(comment)
    except InvalidInput as exc:
        answer = review.rateable_answer(db=db, conversation=conversation, message_id=message_id)
        if answer is None:
            raise
        # The box as after "not helpful" (nothing was stored), with the comment's error: htmx gets the
        # box, a plain post the page.
        context = _chat_context(db, conversation, settings=settings, items=[answer] if htmx else None)
        context.update(follow_up=message_id, comment_error=exc.field_errors["comment"])
        context["ratings"] = {**context["ratings"], message_id: False}
        return render(request, "assistant/chat.html", context, status_code=422, block="rated" if htmx else "content")
    rated = flows.rate_on_web(
        db=db, settings=settings, conversation=conversation, message_id=message_id, helpful=rating == "helpful",
        comment=text, consent=None if not consent else consent == "yes",
    )
    if rated is None:
        raise NotFound("answer")
    follow_up = message_id if rating == "unhelpful" and stage != "more" else None
    if htmx:
        context = _chat_context(db, conversation, settings=settings, items=[rated.answer])
        context["follow_up"] = follow_up
        return render(request, "assistant/chat.html", context, block="rated")
    query = {"rated": str(message_id)} if follow_up else None
    return redirect(request, url_for(request, "chat", query=query) + f"#rate-{message_id}")


@router.get("/chat/messages", name="chat_poll")
def chat_poll(
    request: Request, db: DbSession, settings: AppSettings, after: Annotated[int, Query(ge=0, le=MAX_INT)] = 0
) -> Response:
    """Return messages after `after` (staff replies while a person handles the chat); 204 when none."""
    conversation, _sender = _web_conversation(request, db, create=False)
    if conversation is None:
        return Response(status_code=204)
    context = _chat_context(db, conversation, settings=settings, after_id=after)
    if not context["items"]:
        return Response(status_code=204)
    return render(request, "assistant/chat.html", context, block="new_messages")


# --- Rasa's REST channel ---------------------------------------------------------------------------


class RestMessage(BaseModel):
    """Rasa's REST channel input: POST /webhooks/rest/webhook."""

    sender: str = Field(min_length=1, max_length=120)
    message: str = Field(min_length=1, max_length=service.MAX_MESSAGE)


@router.post("/webhooks/rest/webhook", name="rest_webhook", tags=["assistant"])
async def rest_webhook(request: Request, body: Annotated[RestMessage, Body()], db: DbSession, settings: AppSettings) -> Response:
    """Answer like Rasa's REST channel: a list of {recipient_id, text, buttons}; staff replies ride along."""
    if settings.assistant_backend == "rasa":
        return await run_in_threadpool(_forward_to_rasa, body, settings)
    return await _in_chat_thread(request, settings, _rest_turn, request, body, db, settings)


def _rest_turn(request: Request, body: RestMessage, db: Session, settings: Settings) -> Response:
    """The REST channel's adapter: Rasa's request in, Rasa's list of messages out."""
    origin = f"{request.url.scheme}://{request.url.netloc}{base_path(request)}"

    def link(language: str, form_id: str) -> str:
        return f"{origin}/{language}" + request.app.url_path_for("form_page", form_id=form_id)

    inbound = Inbound(channel="rest", sender=body.sender, text=body.message, language_hint=get_locale())
    conversed = channel_flows.converse(db=db, settings=settings, inbound=inbound, link=link)
    return JSONResponse([rest.message(body.sender, message) for message in conversed.out])


def _forward_to_rasa(body: RestMessage, settings: Settings) -> Response:
    """Pass the message to a city's own Rasa server and return its answer unchanged."""
    url = settings.rasa_url.rstrip("/") + "/webhooks/rest/webhook"
    try:
        reply = httpx.post(url, json={"sender": body.sender, "message": body.message}, timeout=15.0)
        reply.raise_for_status()
        return JSONResponse(reply.json())
    except (httpx.HTTPError, ValueError):
        return JSONResponse({"detail": "the assistant is not available right now"}, status_code=503)


# --- the messengers' webhooks -------------------------------------------------------------------


def _public_origin(request: Request, settings: Settings) -> str:
    return (settings.public_url or f"{request.url.scheme}://{request.url.netloc}{base_path(request)}").rstrip("/")


def _channel_http(app: Any, settings: Settings) -> urllib3.PoolManager:
    """Return this app's HTTP pool for the messengers' APIs (kept: connections are reused)."""
    client = getattr(app.state, "channel_http", None)
    if client is None:
        client = app.state.channel_http = outbox.http_pool(settings)
    return client


def _send_now(app: Any, settings: Settings, calls: Sequence[Call], sendings: Sequence[outbox.Sending]) -> None:
    """Send answers queued by a committed turn or reply, on a sending thread (what fails here, the
    jobs runner retries)."""
    client = _channel_http(app, settings)
    if calls:
        outbox.post_calls(settings, calls, client=client)
    if sendings:
        with app.state.channel_sessions() as db:
            channel_flows.send_now(db=db, settings=settings, sendings=sendings, client=client)


def _messenger_turns(request: Request, db: Session, settings: Settings, received: list[Received]) -> list[outbox.Sending]:
    origin = _public_origin(request, settings)

    def link(language: str, form_id: str) -> str:
        return f"{origin}/{language}" + request.app.url_path_for("form_page", form_id=form_id)

    sendings: list[outbox.Sending] = []
    for item in received:
        try:
            conversed = channel_flows.converse(db=db, settings=settings, inbound=item.inbound, link=link, address=item.address)
        except InvalidInput:
            continue  # nothing a turn can take (text a database cannot store was refused before)
        sendings += conversed.sendings
    return sendings


async def _messenger(request: Request, name: str, db: Session, settings: Settings) -> Response:
    """A messenger's webhook: checked with the provider's signature, read into the newcomers'
    messages, each run as a turn whose answers are queued; 200 at once, the answers sent after."""
    adapter: ModuleType | None = adapters.MESSENGERS.get(name)
    if adapter is None or not adapter.enabled(settings):
        return JSONResponse({"detail": "this channel is not configured"}, status_code=404)
    body = await request.body()
    if not adapter.verify(settings, request.headers, body):
        return JSONResponse({"detail": "the signature does not match"}, status_code=401)
    try:
        payload = json.loads(body)
    except ValueError:
        return JSONResponse({"detail": "the body is not JSON"}, status_code=400)
    if not isinstance(payload, dict):
        return JSONResponse({"ok": True})
    opened = getattr(adapter, "opened", None)
    language = opened(settings, payload) if opened is not None else None
    if language is not None:
        # The chat was just opened (Viber): the welcome message is this request's answer.
        origin = _public_origin(request, settings)

        def form_link(code: str, form_id: str) -> str:
            return f"{origin}/{code}" + request.app.url_path_for("form_page", form_id=form_id)

        messages = await anyio.to_thread.run_sync(
            partial(channel_flows.welcome, settings=settings, language=language, link=form_link)
        )
        return JSONResponse(adapter.welcome(settings, messages, language=language))
    received = adapter.read(settings, payload)
    if not received:
        return JSONResponse({"ok": True})
    sendings = await anyio.to_thread.run_sync(
        partial(_messenger_turns, request, db, settings, received), limiter=_chat_limiter(request, settings)
    )
    calls = [call for item in received for call in item.calls]
    request.app.state.channel_sender.submit(_send_now, request.app, settings, calls, sendings)
    return JSONResponse({"ok": True})


@router.post("/webhooks/telegram", name="telegram_webhook", tags=["assistant"])
async def telegram_webhook(request: Request, db: DbSession, settings: AppSettings) -> Response:
    """Telegram's webhook (an Update per request), checked with X-Telegram-Bot-Api-Secret-Token."""
    return await _messenger(request, "telegram", db, settings)


@router.get("/webhooks/whatsapp", name="whatsapp_verify", tags=["assistant"])
def whatsapp_verify(
    settings: AppSettings,
    mode: Annotated[str, Query(alias="hub.mode", max_length=40)] = "",
    token: Annotated[str, Query(alias="hub.verify_token", max_length=300)] = "",
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=300)] = "",
) -> Response:
    """WhatsApp's webhook verification: hub.challenge echoed when hub.verify_token is ours."""
    adapter = adapters.MESSENGERS.get("whatsapp")
    if adapter is None or not adapter.enabled(settings):
        return JSONResponse({"detail": "this channel is not configured"}, status_code=404)
    answer = adapter.challenge(settings, mode=mode, token=token, challenge=challenge)
    if answer is None:
        return JSONResponse({"detail": "the verify token does not match"}, status_code=403)
    return PlainTextResponse(answer)


@router.post("/webhooks/whatsapp", name="whatsapp_webhook", tags=["assistant"])
async def whatsapp_webhook(request: Request, db: DbSession, settings: AppSettings) -> Response:
    """WhatsApp Cloud API's webhook, checked with X-Hub-Signature-256."""
    return await _messenger(request, "whatsapp", db, settings)


@router.post("/webhooks/viber", name="viber_webhook", tags=["assistant"])
async def viber_webhook(request: Request, db: DbSession, settings: AppSettings) -> Response:
    """Viber's REST bot API callbacks, checked with X-Viber-Content-Signature."""
    return await _messenger(request, "viber", db, settings)


# --- the caseworker's side of a handed-over chat ---------------------------------------------------


@router.post("/staff/cases/{reference}/chat", name="case_chat_reply")
def case_chat_reply(
    request: Request,
    reference: str,
    db: DbSession,
    settings: AppSettings,
    principal: StaffPrincipal,
    reply: Annotated[str, Form()] = "",
) -> Response:
    """Answer the newcomer in the chat linked to a case (office staff of the case only)."""
    case = access.get_visible(db=db, principal=principal, reference=reference)
    conversation = service.for_case(db=db, case_id=case.id)
    if conversation is None or not principal.is_office or not can(principal, Action.message_clients, case.owner_org_id):
        raise PermissionDenied("chat")
    try:
        sendings = channel_flows.reply_as_staff(
            db=db, settings=settings, conversation=conversation, user_id=principal.user_id or 0, text=reply, language=get_locale()
        )
    except InvalidInput as exc:
        db.rollback()
        return redirect(request, url_for(request, "case_page", reference=reference, query={"chat_error": next(iter(exc.field_errors.values()))}))
    if sendings:
        request.app.state.channel_sender.submit(_send_now, request.app, settings, (), sendings)
    return redirect(request, url_for(request, "case_page", reference=reference) + "#chat")
