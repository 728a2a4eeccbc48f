"""A small HTTP server on 127.0.0.1 for the messengers' fakes (fake_telegram.py, fake_whatsapp.py,
fake_viber.py): it records every request (path, headers, JSON body) and answers with what the
provider's subclass says, or with a failure the test queued (a 5xx, a blocked bot)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Seen:
    """One request the fake provider got."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeProvider:
    """Subclasses answer(path, body) -> (status, JSON) as the provider's documentation shows."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.failures: list[tuple[int, Any] | None] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """Return the base URL, http://127.0.0.1:<port>."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, status: int, body: Any, times: int = 1, after: int = 0) -> None:
        """Answer `times` requests with status and body instead of taking them, once `after` more
        requests have been taken."""
        with self.lock:
            self.failures += [None] * after + [(status, body)] * times

    def answer(self, path: str, body: Any) -> tuple[int, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def requests_to(self, suffix: str) -> list[Seen]:
        """Return the requests whose path ends with suffix, oldest first."""
        return [item for item in self.seen if item.path.endswith(suffix)]

    def _respond(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self.lock:
            self.seen.append(Seen(method, path, headers, body))
            failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            return failure
        return self.answer_request(path, headers, body)

    def answer_request(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        """Answer a request whose headers matter (Viber's token is one); answer(path, body) else."""
        return self.answer(path, body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, body = fake._respond("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@contextmanager
def serving(fake: FakeProvider) -> Iterator[FakeProvider]:
    """Run fake for the block."""
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
