"""The outbox of messenger answers: written in the transaction that produced them, claimed by one
sender at a time, posted to the provider with no transaction open, recorded. Delivered at least
once by design and, because a claim is a conditional UPDATE and what the provider took is recorded
part by part, sent once in practice: a repeated claim finds the row no longer due, a retry sends only
the parts the provider did not take.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import urllib3
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from app.assistant import service as chat_service
from app.assistant.channels import adapters
from app.assistant.channels.shapes import Outbound, outbound_from_json, outbound_json
from app.assistant.models import ChannelDelivery, Conversation
from app.config import Settings
from app.crypto import decrypt_json, encrypt_json

MAX_ATTEMPTS = 8
#: Back-off after each failed attempt: 1, 2, 4, ... minutes, at most 6 hours (all 8: about 4 hours).
BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=6)
#: How long a claimed delivery is left to the sender that claimed it (one that crashed meanwhile
#: leaves it to the next run).
CLAIM_LEASE = timedelta(minutes=5)
DELIVERY = ChannelDelivery.__table__
# Built once, on the table rather than the ORM class: both run with every messenger turn, and
# building a statement costs more than running it.
_INSERT = insert(DELIVERY)
_DELIVERED = (
    update(DELIVERY)
    .where(DELIVERY.c.id.in_(bindparam("ids", expanding=True)), DELIVERY.c.delivered_at.is_(None))
    .values(
        attempts=DELIVERY.c.attempts + 1, delivered_at=bindparam("now"), last_error=None, body={}, address_encrypted=None
    )
)


def encrypt_address(settings: Settings, address: str) -> str:
    """Return a provider's address of a chat encrypted for storage."""
    return encrypt_json({"address": address}, settings)


def decrypt_address(settings: Settings, token: str | None) -> str | None:
    """Return the address encrypt_address stored (None if none)."""
    return decrypt_json(token, settings).get("address") if token else None


def kind_for(*, db: Session, settings: Settings, conversation: Conversation, now: datetime) -> str | None:
    """Return how a message the newcomer did not just ask for reaches them on conversation's
    messenger: "session", or "template" once the messenger's window since their last message closed
    (WhatsApp's 24 hours: only an approved template then); None when it closed and no template is
    configured (the message cannot be sent)."""
    adapter = adapters.MESSENGERS.get(conversation.channel)
    window = getattr(adapter, "WINDOW", None)
    if window is None:
        return "session"
    last = chat_service.last_newcomer_at(db=db, conversation=conversation)
    if last is not None and now - last <= window:
        return "session"
    return "template" if adapter.template_name(settings) else None  # type: ignore[union-attr]


def enqueue(
    *,
    db: Session,
    conversation: Conversation | None,
    channel: str,
    address_encrypted: str,
    messages: Sequence[Outbound],
    language: str,
    now: datetime,
    message_id: int | None = None,
    kind: str = "session",
    claim_for: str | None = None,
    source_key: str | None = None,
) -> Queued | None:
    """Queue messages for a chat, due now, as one delivery sent in order (a turn's answers, a reply
    with its "joined" notice); return it (None for no messages). One INSERT, no ORM object: it is
    written with every messenger turn.

    message_id: the stored message whose delivery it is (a caseworker's reply: the case page shows it).
    claim_for: the address, when the caller sends it itself right after its commit (see `claimed`):
    the row is then claimed for CLAIM_LEASE from the start, so the jobs runner leaves it alone
    unless this process stops before recording what the provider said.
    source_key: unique (ChannelDelivery.source_key): a second row with it raises IntegrityError."""
    if not messages:
        return None
    inserted = db.execute(
        _INSERT,
        {
            "conversation_id": conversation.id if conversation is not None else None,
            "message_id": message_id,
            "channel": channel,
            "address_encrypted": address_encrypted,
            "body": {"messages": [outbound_json(message) for message in messages]},
            "language": language,
            "kind": kind,
            "parts_sent": 0,
            "attempts": 0,
            "next_attempt_at": now + CLAIM_LEASE if claim_for is not None else now,
            "created_at": now,
            "source_key": source_key,
        },
    )
    return Queued(id=inserted.inserted_primary_key[0], channel=channel, messages=tuple(messages), language=language, kind=kind)


def queued(*, db: Session, source_key: str) -> bool:
    """Return whether a delivery with this source key was queued already."""
    return db.scalar(select(ChannelDelivery.id).where(ChannelDelivery.source_key == source_key)) is not None


def _messages(body: dict[str, Any]) -> tuple[Outbound, ...]:
    return tuple(outbound_from_json(item) for item in body.get("messages", ()))


@dataclass(frozen=True)
class Queued:
    """A delivery enqueue wrote."""

    id: int
    channel: str
    messages: tuple[Outbound, ...]
    language: str
    kind: str


@dataclass(frozen=True)
class Sending:
    """A claimed delivery, ready to post without the database."""

    delivery_id: int
    channel: str
    address: str
    messages: tuple[Outbound, ...]
    language: str
    kind: str
    parts_sent: int


@dataclass(frozen=True)
class Result:
    """What posting one delivery gave: the parts the provider took in all, and why it stopped."""

    delivery_id: int
    parts_sent: int
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


def claimed(row: Queued | None, address: str) -> list[Sending]:
    """Return the delivery enqueue claimed (claim_for=address), ready to send: no second read."""
    if row is None:
        return []
    return [
        Sending(
            delivery_id=row.id, channel=row.channel, address=address, messages=row.messages,
            language=row.language, kind=row.kind, parts_sent=0,
        )
    ]


def claim(
    *, db: Session, settings: Settings, now: datetime, ids: Sequence[int] | None = None, limit: int = 100
) -> list[Sending]:
    """Claim up to limit due deliveries (only ids, if given: due or never tried) for CLAIM_LEASE;
    return them, oldest first. Flushes. A claim is one conditional UPDATE: two senders at once never both win a row."""
    due = [
        ChannelDelivery.delivered_at.is_(None),
        ChannelDelivery.failed_at.is_(None),
        ChannelDelivery.next_attempt_at <= now,
    ]
    if ids is not None:
        if not ids:
            return []
        # Named ones are sent now unless done, also when claimed at enqueue and never tried.
        due[2] = or_(ChannelDelivery.next_attempt_at <= now, ChannelDelivery.attempts == 0)
    query = select(ChannelDelivery.id).where(*due)
    if ids is not None:
        query = query.where(ChannelDelivery.id.in_(list(ids)))
    candidates = db.scalars(query.order_by(ChannelDelivery.id).limit(limit)).all()
    if not candidates:
        return []
    claimed = db.scalars(
        update(ChannelDelivery)
        .where(ChannelDelivery.id.in_(candidates), *due)
        .values(next_attempt_at=now + CLAIM_LEASE)
        .returning(ChannelDelivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    out = []
    rows = db.scalars(select(ChannelDelivery).where(ChannelDelivery.id.in_(claimed)).order_by(ChannelDelivery.id))
    for row in rows:
        address = decrypt_address(settings, row.address_encrypted)
        if address is None or not row.body:
            continue
        out.append(
            Sending(
                delivery_id=row.id, channel=row.channel, address=address, messages=_messages(row.body),
                language=row.language, kind=row.kind, parts_sent=row.parts_sent,
            )
        )
    return out


def http_pool(settings: Settings) -> urllib3.PoolManager:
    """Return a pool of kept-alive connections to the providers' APIs, safe to share between threads.

    urllib3 rather than httpx here: a messenger turn posts one request a message, and httpx spent
    about 0.7 ms of CPU on each where urllib3 spends 0.4 (measured on the bench's fake Bot API); no
    retries or redirects of its own: what fails is the outbox's to retry."""
    return urllib3.PoolManager(
        num_pools=8, maxsize=8, retries=False, timeout=urllib3.Timeout(total=settings.channel_timeout_seconds)
    )


def _post(http: urllib3.PoolManager, call: Any) -> tuple[int, bytes]:
    response = http.request(
        "POST", call.url, body=json.dumps(call.json, ensure_ascii=False, separators=(",", ":")).encode(),
        headers={"Content-Type": "application/json", **call.headers}, redirect=False,
    )
    return response.status, response.data


#: What a request that got no answer raises: a refused connection, a timeout, a broken response.
NO_ANSWER = (urllib3.exceptions.HTTPError, OSError)


def send(settings: Settings, sendings: Sequence[Sending], *, client: urllib3.PoolManager | None = None) -> list[Result]:
    """Post each claimed delivery's requests (all its messages') that the provider has not taken yet,
    in order, stopping at the first refusal (no database). A refusal's reason is the provider's
    status and error, never the message text."""
    own = client is None
    http = client or http_pool(settings)
    results = []
    try:
        for item in sendings:
            adapter = adapters.MESSENGERS.get(item.channel)
            if adapter is None or not adapter.enabled(settings):
                results.append(Result(item.delivery_id, item.parts_sent, f"the {item.channel} channel is off"))
                continue
            calls = [
                call
                for message in item.messages
                for call in adapter.calls(
                    settings, item.address, message, language=item.language, template=item.kind == "template"
                )
            ]
            taken, error = item.parts_sent, None
            for call in calls[item.parts_sent:]:
                try:
                    status, data = _post(http, call)
                except NO_ANSWER as exc:
                    error = type(exc).__name__
                    break
                error = adapter.refusal(status, data)
                if error is not None:
                    break
                taken += 1
            results.append(Result(item.delivery_id, taken, error))
    finally:
        if own:
            http.clear()
    return results


def post_calls(settings: Settings, calls: Sequence[Any], *, client: urllib3.PoolManager | None = None) -> int:
    """Make requests whose outcome matters to nobody (Telegram's answerCallbackQuery: the button stops
    spinning); return how many the provider took."""
    own = client is None
    http = client or http_pool(settings)
    taken = 0
    try:
        for call in calls:
            try:
                status, _data = _post(http, call)
                taken += 200 <= status < 300
            except NO_ANSWER:
                continue
    finally:
        if own:
            http.clear()
    return taken


def _backoff(attempts: int) -> timedelta:
    return min(BASE_DELAY * (2 ** max(0, attempts - 1)), MAX_DELAY)


def _as_template(settings: Settings | None, row: ChannelDelivery, error: str | None) -> bool:
    """Turn a caseworker's reply that the provider refused because its window closed (WhatsApp's 24
    hours ran out while it waited, e.g. behind a 5xx) into the approved template with the reply's
    words, due at once; return whether it did. The "joined" notice, if unsent, is left out: after the
    window one message is all WhatsApp allows."""
    adapter = adapters.MESSENGERS.get(row.channel)
    closed = getattr(adapter, "window_closed", None)
    if settings is None or closed is None or row.kind != "session" or row.message_id is None or not closed(error):
        return False
    if not adapter.template_name(settings):  # type: ignore[union-attr]
        return False
    staff = [item for item in (row.body or {}).get("messages", ()) if item.get("author") == "staff"]
    if not staff:
        return False
    row.kind, row.body, row.parts_sent = "template", {"messages": staff[-1:]}, 0
    return True


def record(*, db: Session, results: Sequence[Result], now: datetime, settings: Settings | None = None) -> dict[str, int]:
    """Record what sending gave: delivered (the address and text cleared), due again after back-off,
    or given up after MAX_ATTEMPTS (cleared too); return the counts. Flushes. With settings, a reply
    refused for a closed window goes again at once as the approved template (see _as_template)."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    sent = [result.delivery_id for result in results if result.delivered]
    if sent:
        # One statement for what the provider took (the common case): its address and text go.
        done = db.execute(_DELIVERED, {"ids": sent, "now": now})
        # A statement on the table leaves rows this session holds as they were: read them again.
        ids = set(sent)
        for held in [o for o in db.identity_map.values() if isinstance(o, ChannelDelivery) and o.id in ids]:
            db.expire(held)
        counts["sent"] = done.rowcount or 0
    for result in results:
        if result.delivered:
            continue
        row = db.get(ChannelDelivery, result.delivery_id)
        if row is None:
            continue
        row.attempts += 1
        row.parts_sent = result.parts_sent
        row.last_error = (result.error or "refused")[:300]
        if row.attempts < MAX_ATTEMPTS and _as_template(settings, row, result.error):
            row.next_attempt_at = now
            counts["retry"] += 1
        elif row.attempts >= MAX_ATTEMPTS:
            row.failed_at = now
            row.body, row.address_encrypted = {}, None
            counts["failed"] += 1
        else:
            row.next_attempt_at = now + _backoff(row.attempts)
            counts["retry"] += 1
    db.flush()
    return counts


def for_messages(*, db: Session, message_ids: Sequence[int]) -> dict[int, ChannelDelivery]:
    """Return the delivery of each of these messages that has one (the case page shows its status)."""
    if not message_ids:
        return {}
    rows = db.scalars(select(ChannelDelivery).where(ChannelDelivery.message_id.in_(list(message_ids))))
    return {row.message_id: row for row in rows if row.message_id is not None}
