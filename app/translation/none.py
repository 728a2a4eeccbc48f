"""The `none` backend: machine translation turned off; originals are shown on their own."""

from __future__ import annotations

from collections.abc import Sequence

from app.languages import KNOWN_LOCALES
from app.translation.base import NoTranslationAvailable, Translation, detect_locally


class NoneBackend:
    """Translates nothing; still detects languages (locally), which the assistant needs anyway."""

    engine = "none"

    def __init__(self, *, languages: Sequence[str] = KNOWN_LOCALES) -> None:
        self.languages = tuple(languages)

    def translate(self, text: str, source: str, target: str) -> Translation:
        """Raise NoTranslationAvailable: machine translation is turned off."""
        raise NoTranslationAvailable(
            source, target, "machine translation is turned off (WITAJ_TRANSLATION_BACKEND=none)"
        )

    def detect(self, text: str) -> tuple[str, float]:
        """Return (language, confidence) among the enabled locales."""
        return detect_locally(text, self.languages)

    def pairs(self) -> list[tuple[str, str]]:
        """Return no pairs."""
        return []

    def model_version(self, source: str, target: str) -> str:
        """Raise NoTranslationAvailable."""
        raise NoTranslationAvailable(
            source, target, "machine translation is turned off (WITAJ_TRANSLATION_BACKEND=none)"
        )
