"""Enqueue case changes for partners' endpoints, and deliver them signed with HMAC-SHA256.

Signature header (like Stripe's): `Witaj-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
Receivers recompute it with their secret and refuse old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.crypto import decrypt_json, encrypt_json, new_secret
from app.db import utcnow
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


def create_endpoint(*, db: Session, settings: Settings, organisation_id: int, url: str) -> tuple[WebhookEndpoint, str]:
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


def enqueue(*, db: Session, organisation_id: int, event_type: str, payload: dict[str, Any], now: datetime) -> int:
    """Queue an event for the active endpoints of an organisation; return how many. Flushes.

    The payload should carry no personal data (a case's reference, status and version): the receiver
    reads the details through the API, where access and consent are checked again.
    """
    endpoints = db.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.organisation_id == organisation_id, WebhookEndpoint.is_active.is_(True))
    ).all()
    for endpoint in endpoints:
        db.add(WebhookDelivery(endpoint_id=endpoint.id, event_type=event_type, payload=payload, next_attempt_at=now))
    db.flush()
    return len(endpoints)


def _backoff(attempts: int) -> timedelta:
    return min(BASE_DELAY * (2 ** max(0, attempts - 1)), MAX_DELAY)


def deliver_due(
    *, db: Session, settings: Settings, now: datetime | None = None, client: httpx.Client | None = None, limit: int = 100
) -> dict[str, int]:
    """Post every due delivery once; reschedule failures with back-off. Returns counts. Flushes (the
    caller commits: a delivery is at least once, so a crash before the commit only posts it again)."""
    now = now or utcnow()
    due = db.scalars(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.delivered_at.is_(None),
            WebhookDelivery.failed_at.is_(None),
            WebhookDelivery.next_attempt_at <= now,
        )
        .order_by(WebhookDelivery.id)
        .limit(limit)
    ).all()
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    own_client = client is None
    http = client or httpx.Client(timeout=10.0, follow_redirects=False)
    try:
        for delivery in due:
            endpoint = delivery.endpoint
            body = json.dumps({"id": delivery.id, **delivery.payload}, ensure_ascii=False, sort_keys=True).encode()
            secret = decrypt_json(endpoint.secret_encrypted, settings)["secret"]
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, body, int(now.timestamp())),
                "Witaj-Delivery": str(delivery.id),
                "Witaj-Event": delivery.event_type,
            }
            delivery.attempts += 1
            error: str | None = None
            try:
                response = http.post(endpoint.url, content=body, headers=headers)
                delivery.last_status = response.status_code
                if 200 <= response.status_code < 300:
                    delivery.delivered_at = now
                    delivery.last_error = None
                    counts["delivered"] += 1
                    continue
                error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            delivery.last_error = error
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.failed_at = now
                counts["failed"] += 1
            else:
                delivery.next_attempt_at = now + _backoff(delivery.attempts)
                counts["retry"] += 1
        db.flush()
    finally:
        if own_client:
            http.close()
    return counts


def payload_of(delivery: WebhookDelivery) -> dict[str, Any]:
    """Return the JSON body a delivery posts."""
    return {"id": delivery.id, **delivery.payload}
