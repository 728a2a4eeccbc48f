"""A small server on 127.0.0.1 that speaks LibreTranslate's HTTP API, for testing our client over real HTTP.

Endpoints as LibreTranslate serves them: `GET /languages` -> `[{"code", "name", "targets"}]`,
`POST /translate` (JSON or form: q, source, target, format, api_key) -> `{"translatedText"}`,
`POST /detect` (q, api_key) -> `[{"confidence": 0-100, "language"}]`; errors as `{"error"}` with
400, 403 (API key) or 500. It translates word for word with the suite's tiny dictionaries.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from tests.translation.tiny_model import EN_UK, PL_EN

LANGUAGES = [
    {"code": "en", "name": "English", "targets": ["pl", "uk"]},
    {"code": "pl", "name": "Polish", "targets": ["en", "uk"]},
    {"code": "uk", "name": "Ukrainian", "targets": ["en"]},
]

_DICTIONARIES = {
    ("pl", "en"): PL_EN,
    ("en", "uk"): EN_UK,
    ("pl", "uk"): {pl: EN_UK.get(en, en) for pl, en in PL_EN.items()},
    ("en", "pl"): {en: pl for pl, en in PL_EN.items()},
    ("uk", "en"): {uk: en for en, uk in EN_UK.items()},
}
_WORD = re.compile(r"\w+", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


class FakeLibreTranslate:
    """The server's state: requests seen, an optional API key, failures and a gate that holds answers."""

    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.requests: Counter[str] = Counter()
        self.fail_with: int | None = None
        #: Cleared: /translate waits until it is set again (a slow server, released by the test).
        self.gate = threading.Event()
        self.gate.set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """Return the base URL, http://127.0.0.1:<port>."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeLibreTranslate:
        """Serve in a thread; return self."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Release held requests and stop serving."""
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def translate_text(text: str, source: str, target: str) -> str:
        """Return what this server answers for text: a word-for-word translation."""
        words = _DICTIONARIES.get((source, target), {})

        def swap(match: re.Match[str]) -> str:
            word = match.group(0)
            found = words.get(word.lower())
            if found is None:
                return word
            return found[:1].upper() + found[1:] if word[:1].isupper() else found

        return _WORD.sub(swap, text)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # keep the test output clean

            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _params(self) -> dict[str, str]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                if "json" in (self.headers.get("Content-Type") or ""):
                    data = json.loads(raw or "{}")
                    return {key: str(value) for key, value in data.items() if value is not None}
                return {key: values[0] for key, values in parse_qs(raw).items()}

            def do_GET(self) -> None:  # noqa: N802
                fake.requests[self.path] += 1
                if self.path == "/languages":
                    self._send(200, LANGUAGES)
                else:
                    self._send(404, {"error": "Not Found"})

            def do_POST(self) -> None:  # noqa: N802
                fake.requests[self.path] += 1
                params = self._params()
                if self.path not in ("/translate", "/detect"):
                    self._send(404, {"error": "Not Found"})
                    return
                if fake.api_key is not None and params.get("api_key") != fake.api_key:
                    self._send(403, {"error": "Invalid API key"})
                    return
                if fake.fail_with is not None:
                    # LibreTranslate's errors may quote the request; our client must not repeat them.
                    self._send(fake.fail_with, {"error": f"Cannot translate text: {params.get('q', '')}"})
                    return
                q = params.get("q")
                if not q:
                    self._send(400, {"error": "Invalid request: missing q parameter"})
                    return
                if self.path == "/detect":
                    language = "uk" if _CYRILLIC.search(q) else "pl"
                    self._send(
                        200,
                        [{"confidence": 90.0, "language": language}, {"confidence": 10.0, "language": "en"}],
                    )
                    return
                fake.gate.wait(timeout=30)
                source, target = params.get("source", ""), params.get("target", "")
                if (source, target) not in _DICTIONARIES:
                    self._send(400, {"error": f"{target} is not supported"})
                    return
                self._send(200, {"translatedText": fake.translate_text(q, source, target)})

        return Handler


@pytest.fixture
def libretranslate() -> Iterator[FakeLibreTranslate]:
    """Return a LibreTranslate server on 127.0.0.1 (no API key), stopped after the test."""
    server = FakeLibreTranslate().start()
    try:
        yield server
    finally:
        server.stop()
