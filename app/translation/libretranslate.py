"""The `libretranslate` backend: a client of a LibreTranslate server (the argos engine run as a service).

API used: `GET /languages` -> `[{"code", "name", "targets"}]`, `POST /translate` with
`{"q", "source", "target", "format": "text", "api_key"}` -> `{"translatedText"}`, and `POST /detect`
with `{"q", "api_key"}` -> `[{"language", "confidence"}]` (confidence 0-100). Errors are
`{"error": "..."}` with 400 (bad request), 403 (API key), 429 (rate limit) or 500.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.translation.base import BackendUnavailable, NoTranslationAvailable, Translation, TranslationError

_STATUS_REASONS = {
    403: "the server refused the API key (WITAJ_LIBRETRANSLATE_API_KEY)",
    429: "the server's rate limit was reached",
}


class LibreTranslateBackend:
    """Client of one LibreTranslate server; its language list is re-read every few minutes."""

    engine = "libretranslate"

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        languages_ttl: float = 300.0,
        client: httpx.Client | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url.rstrip("/")
        # Shown in model versions and messages: host and port only, never credentials in the URL.
        self.server = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
        self.api_key = api_key or None
        self.timeout = timeout
        self.languages_ttl = languages_ttl
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), headers={"Accept": "application/json"}
        )
        self._languages: list[dict[str, Any]] | None = None
        self._languages_at = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        if payload is not None and self.api_key:
            payload = {**payload, "api_key": self.api_key}
        try:
            response = self._client.request(method, f"{self.url}{path}", json=payload)
        except httpx.TimeoutException:
            raise BackendUnavailable(
                f"LibreTranslate at {self.server} did not answer within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"cannot reach LibreTranslate at {self.server}: {type(exc).__name__}"
            ) from None
        if response.status_code != 200:
            # The server's own error text is left out: it may quote the request.
            reason = _STATUS_REASONS.get(response.status_code, f"HTTP {response.status_code}")
            raise BackendUnavailable(f"LibreTranslate at {self.server} answered {path}: {reason}")
        try:
            return response.json()
        except ValueError:
            raise BackendUnavailable(
                f"LibreTranslate at {self.server} sent something other than JSON"
            ) from None

    def languages(self) -> list[dict[str, Any]]:
        """Return the server's languages ([{code, name, targets}]), cached for languages_ttl seconds."""
        with self._lock:
            fresh = self._languages is not None and time.monotonic() - self._languages_at < self.languages_ttl
            if fresh:
                return self._languages  # type: ignore[return-value]
        data = self._request("GET", "/languages")
        if not isinstance(data, list):
            raise BackendUnavailable(f"LibreTranslate at {self.server}: /languages is not a list")
        languages = [item for item in data if isinstance(item, dict) and isinstance(item.get("code"), str)]
        with self._lock:
            self._languages, self._languages_at = languages, time.monotonic()
        return languages

    def pairs(self) -> list[tuple[str, str]]:
        """Return the (source, target) pairs the server translates."""
        languages = self.languages()
        codes = [item["code"] for item in languages]
        pairs = set()
        for item in languages:
            targets = item.get("targets")
            for target in targets if isinstance(targets, list) else codes:
                if isinstance(target, str) and target != item["code"]:
                    pairs.add((item["code"], target))
        return sorted(pairs)

    def model_version(self, source: str, target: str) -> str:
        """Return "libretranslate@host:port" without asking the server (its API names no model versions)."""
        return f"libretranslate@{self.server}"

    def translate(self, text: str, source: str, target: str) -> Translation:
        """Return text translated by the server; raise NoTranslationAvailable or BackendUnavailable."""
        if (source, target) not in self.pairs():
            raise NoTranslationAvailable(source, target, f"LibreTranslate at {self.server} does not offer it")
        version = self.model_version(source, target)
        data = self._request(
            "POST", "/translate", {"q": text, "source": source, "target": target, "format": "text"}
        )
        translated = data.get("translatedText") if isinstance(data, dict) else None
        if not isinstance(translated, str):
            raise BackendUnavailable(f"LibreTranslate at {self.server}: no translatedText in the answer")
        return Translation(
            text=translated, source=source, target=target, engine=self.engine, model_version=version
        )

    def detect(self, text: str) -> tuple[str, float]:
        """Return (language, confidence 0..1) from the server's /detect."""
        data = self._request("POST", "/detect", {"q": text})
        candidates = [
            item
            for item in (data if isinstance(data, list) else [])
            if isinstance(item, dict) and isinstance(item.get("language"), str)
        ]
        if not candidates:
            raise TranslationError(f"LibreTranslate at {self.server} detected no language")
        best = max(candidates, key=lambda item: float(item.get("confidence") or 0.0))
        confidence = float(best.get("confidence") or 0.0) / 100.0
        return best["language"], min(max(confidence, 0.0), 1.0)
