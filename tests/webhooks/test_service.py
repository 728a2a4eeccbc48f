"""Webhooks: a real HTTP receiver on loopback gets signed posts; failures are retried with back-off."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from app.cases import flows
from app.db import utcnow
from app.webhooks import flows as webhook_flows
from app.webhooks import service
from app.webhooks.models import WebhookDelivery
from tests.cases.fixtures import refer_to_a


class Receiver:
    """A partner's endpoint: records requests, answers with the next scripted status."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/witaj"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver([])
    yield r
    r.close()


def test_signature_round_trip_and_tampering():
    body = b'{"type": "case.accept"}'
    header = service.sign("whsec_x", body, 1_700_000_000)
    assert service.verify("whsec_x", body, header, now=1_700_000_010)
    assert not service.verify("whsec_x", body + b" ", header, now=1_700_000_010)
    assert not service.verify("whsec_other", body, header, now=1_700_000_010)
    assert not service.verify("whsec_x", body, header, now=1_700_000_000 + 3600)  # replayed later
    assert not service.verify("whsec_x", body, "garbage", now=1_700_000_000)


def test_case_changes_reach_the_partner_signed(db, settings, world, open_case, receiver):
    endpoint, secret = service.create_endpoint(db=db, settings=settings, organisation_id=world.partner_a.id, url=receiver.url)
    assert secret.startswith("whsec_") and secret not in endpoint.secret_encrypted
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    now = utcnow()
    assert webhook_flows.deliver_due(db=db, settings=settings, now=now) == {"delivered": 1, "retry": 0, "failed": 0}
    headers, body = receiver.received[0]
    assert service.verify(secret, body, headers[service.SIGNATURE_HEADER], now=int(now.timestamp()))
    payload = json.loads(body)
    assert payload["type"] == "case.refer" and payload["case"]["reference"] == case.reference
    assert "Olena" not in body.decode()  # no personal data travels in webhooks
    # Another partner's endpoint hears nothing about this case.
    assert flows.notify_partner(db=db, case=case, event_type="x", now=now) == 1


def test_failed_deliveries_back_off_then_give_up(db, settings, world, open_case, receiver):
    receiver.statuses = [500, 503]
    service.create_endpoint(db=db, settings=settings, organisation_id=world.partner_a.id, url=receiver.url)
    case, _ = open_case()
    refer_to_a(db, settings, world, case)
    start = utcnow()
    assert webhook_flows.deliver_due(db=db, settings=settings, now=start)["retry"] == 1
    delivery = db.scalar(select(WebhookDelivery))
    assert delivery.next_attempt_at == start + timedelta(minutes=1) and delivery.last_status == 500
    assert webhook_flows.deliver_due(db=db, settings=settings, now=start + timedelta(seconds=30)) == {"delivered": 0, "retry": 0, "failed": 0}
    assert webhook_flows.deliver_due(db=db, settings=settings, now=start + timedelta(minutes=1))["retry"] == 1
    assert delivery.next_attempt_at == start + timedelta(minutes=3)  # 1 minute, then 2
    assert webhook_flows.deliver_due(db=db, settings=settings, now=start + timedelta(minutes=3))["delivered"] == 1
    assert len(receiver.received) == 3

    # An endpoint that never answers is given up after MAX_ATTEMPTS, and says so.
    receiver.close()
    flows.add_note(db=db, settings=settings, case=case, body="x", visibility="shared", actor=world.actor(world.caseworker))
    moment = start + timedelta(hours=1)
    for _ in range(service.MAX_ATTEMPTS):
        webhook_flows.deliver_due(db=db, settings=settings, now=moment)
        moment += timedelta(days=1)
    last = db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id.desc())).first()
    assert last.failed_at is not None and last.attempts == service.MAX_ATTEMPTS and last.last_error


def test_endpoint_url_is_validated(db, settings, world):
    from app.errors import InvalidInput

    with pytest.raises(InvalidInput):
        service.create_endpoint(db=db, settings=settings, organisation_id=world.partner_a.id, url="ftp://example.org")


@pytest.fixture
def twenty_due(fresh_engine, settings, receiver):
    """Return (write session factory, the time they are due): 20 deliveries to one partner's endpoint,
    on a database with real commits."""
    from app.auth import service as auth_service
    from app.auth.enums import OrgKind
    from app.db import session_factory

    factory = session_factory(fresh_engine, write=True)
    now = utcnow()
    with factory() as db:
        partner = auth_service.ensure_organisation(db=db, slug="partner", name="Partner", kind=OrgKind.partner)
        service.create_endpoint(db=db, settings=settings, organisation_id=partner.id, url=receiver.url)
        for number in range(20):
            service.enqueue(db=db, organisation_id=partner.id, event_type="x", payload={"n": number}, now=now)
        db.commit()
    return factory, now


def test_two_runners_at_once_never_post_a_delivery_twice(twenty_due, settings, receiver):
    """Every worker process (and every machine) runs the jobs loop: deliveries are claimed, so two
    runners that start together share the work instead of posting it twice."""
    factory, now = twenty_due
    together = threading.Barrier(2, timeout=30)
    counts: list[dict[str, int]] = []

    def runner() -> None:
        together.wait()
        with factory() as db:
            counts.append(webhook_flows.deliver_due(db=db, settings=settings, now=now))

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    posted = [int(headers["Witaj-Delivery"]) for headers, _body in receiver.received]
    assert len(posted) == 20 and len(set(posted)) == 20
    assert sum(c["delivered"] for c in counts) == 20


def test_a_claim_is_left_to_its_runner_until_its_lease_ends(twenty_due, settings):
    factory, now = twenty_due
    with factory() as db:
        first = service.claim_due(db=db, settings=settings, now=now, limit=5)
        db.commit()
    with factory() as db:
        second = service.claim_due(db=db, settings=settings, now=now + timedelta(minutes=1), limit=100)
        db.commit()
    assert len(first) == 5 and len(second) == 15
    assert not {o.delivery_id for o in first} & {o.delivery_id for o in second}
    with factory() as db:  # the first runner died before recording: its five are due again later
        again = service.claim_due(db=db, settings=settings, now=now + service.CLAIM_LEASE + timedelta(minutes=1))
        db.commit()
    assert {o.delivery_id for o in again} == {o.delivery_id for o in first} | {o.delivery_id for o in second}
