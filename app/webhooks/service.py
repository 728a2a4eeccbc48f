"""Enqueue case changes for partners' endpoints, and deliver them signed with HMAC-SHA256.

Signature header (like Stripe's): `Witaj-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
Receivers recompute it with their secret and refuse old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.crypto import decrypt_json, encrypt_json, new_secret
from app.errors import InvalidInput
from app.i18n import _
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

SIGNATURE_HEADER = "Witaj-Signature"
MAX_ATTEMPTS = 8
#: Back-off after each failed attempt: 1, 2, 4, ... minutes, at most 6 hours.
BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=6)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """Return the signature header value for body sent at timestamp."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = 300, now: int | None = None) -> bool:
    """Return whether header is a valid, recent signature of body (for receivers and tests)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or int(time.time())) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def create_endpoint(
    *, db: Session, settings: Settings, organisation_id: int, url: str
) -> tuple[WebhookEndpoint, str]:
    """Return a new endpoint and its signing secret (shown once); raise InvalidInput. Flushes."""
    if not url.startswith(("https://", "http://")) or len(url) > 500:
        raise InvalidInput({"url": _("Enter an address starting with https://")})
    secret = "whsec_" + new_secret(24)
    endpoint = WebhookEndpoint(
        organisation_id=organisation_id, url=url, secret_encrypted=encrypt_json({"secret": secret}, settings)
    )
    db.add(endpoint)
    db.flush()
    return endpoint, secret


def enqueue(
    *, db: Session, organisation_id: int, event_type: str, payload: dict[str, Any], now: datetime
) -> int:
    """Queue an event for the active endpoints of an organisation; return how many. Flushes.

    The payload should carry no personal data (a case's reference, status and version): the receiver
    reads the details through the API, where access and consent are checked again.
    """
    endpoints = db.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.organisation_id == organisation_id, WebhookEndpoint.is_active.is_(True)
        )
    ).all()
    for endpoint in endpoints:
        db.add(
            WebhookDelivery(
                endpoint_id=endpoint.id, event_type=event_type, payload=payload, next_attempt_at=now
            )
        )
    db.flush()
    return len(endpoints)


def _backoff(attempts: int) -> timedelta:
    return min(BASE_DELAY * (2 ** max(0, attempts - 1)), MAX_DELAY)


#: How long a claimed delivery is left to the runner that claimed it; one that crashed meanwhile
#: leaves it to the next run (deliveries are at least once; a receiver drops a repeated Witaj-Delivery).
CLAIM_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Outgoing:
    """A claimed delivery, ready to post without the database: where, what, signed how."""

    delivery_id: int
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Outcome:
    """What posting one delivery gave: the HTTP status, or the error's name."""

    delivery_id: int
    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        """Return whether the receiver took it (a 2xx answer)."""
        return self.status is not None and 200 <= self.status < 300


def claim_due(*, db: Session, settings: Settings, now: datetime, limit: int = 100) -> list[Outgoing]:
    """Claim up to limit due deliveries for CLAIM_LEASE and return them signed, ready to post. Flushes.

    The claim is one conditional UPDATE (still due? then due again only after the lease): another
    runner, in this process or on another machine, that claims at the same time finds the rows no
    longer due once this transaction commits, so no delivery is posted twice by two runners.
    """
    due = select(WebhookDelivery.id).where(
        WebhookDelivery.delivered_at.is_(None),
        WebhookDelivery.failed_at.is_(None),
        WebhookDelivery.next_attempt_at <= now,
    )
    candidates = db.scalars(due.order_by(WebhookDelivery.id).limit(limit)).all()
    if not candidates:
        return []
    claimed = db.scalars(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(candidates), WebhookDelivery.next_attempt_at <= now)
        .where(WebhookDelivery.delivered_at.is_(None), WebhookDelivery.failed_at.is_(None))
        .values(next_attempt_at=now + CLAIM_LEASE)
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    outgoing = []
    for delivery in db.scalars(
        select(WebhookDelivery).where(WebhookDelivery.id.in_(claimed)).order_by(WebhookDelivery.id)
    ):
        body = json.dumps(payload_of(delivery), ensure_ascii=False, sort_keys=True).encode()
        secret = decrypt_json(delivery.endpoint.secret_encrypted, settings)["secret"]
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body, int(now.timestamp())),
            "Witaj-Delivery": str(delivery.id),
            "Witaj-Event": delivery.event_type,
        }
        outgoing.append(
            Outgoing(delivery_id=delivery.id, url=delivery.endpoint.url, body=body, headers=headers)
        )
    return outgoing


def post(outgoing: list[Outgoing], *, client: httpx.Client | None = None) -> list[Outcome]:
    """Post each delivery once (no database): its status, or the error's type (never the body)."""
    own_client = client is None
    http = client or httpx.Client(timeout=10.0, follow_redirects=False)
    outcomes = []
    try:
        for item in outgoing:
            try:
                response = http.post(item.url, content=item.body, headers=item.headers)
                outcomes.append(Outcome(item.delivery_id, response.status_code, None))
            except httpx.HTTPError as exc:
                outcomes.append(Outcome(item.delivery_id, None, type(exc).__name__))
    finally:
        if own_client:
            http.close()
    return outcomes


def record(*, db: Session, outcomes: list[Outcome], now: datetime) -> dict[str, int]:
    """Record what posting gave: delivered, due again after back-off, or given up after MAX_ATTEMPTS;
    return the counts. Flushes."""
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    for outcome in outcomes:
        delivery = db.get(WebhookDelivery, outcome.delivery_id)
        if delivery is None:
            continue
        delivery.attempts += 1
        delivery.last_status = outcome.status
        if outcome.delivered:
            delivery.delivered_at = now
            delivery.last_error = None
            counts["delivered"] += 1
            continue
        delivery.last_error = outcome.error or f"HTTP {outcome.status}"
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.failed_at = now
            counts["failed"] += 1
        else:
            delivery.next_attempt_at = now + _backoff(delivery.attempts)
            counts["retry"] += 1
    db.flush()
    return counts


def payload_of(delivery: WebhookDelivery) -> dict[str, Any]:
    """Return the JSON body a delivery posts."""
    return {"id": delivery.id, **delivery.payload}
