"""Machine translation of free text (chat after handoff, shared notes, form answers).

>>> from app.translation import get_service
>>> service = get_service(settings)
>>> result = await service.translate_async(text, "uk", "pl")  # Translation | None, never raises
>>> service.translate(text, "uk", "pl")  # Translation; NoTranslationAvailable, BackendUnavailable
>>> service.detect(text)  # ("uk", 0.97)
>>> service.pairs()  # [("en", "uk"), ("pl", "en"), ("pl", "uk"), ...]

Backends (WITAJ_TRANSLATION_BACKEND): argos (argostranslate in process, the `mt` extra),
libretranslate (a LibreTranslate server), none. Importing this package loads no model library.
"""

from app.translation.base import (
    Backend,
    BackendUnavailable,
    NoTranslationAvailable,
    Translation,
    TranslationError,
)
from app.translation.service import (
    TranslationCache,
    TranslationConfig,
    TranslationService,
    build_service,
    detect_async,
    get_service,
    translate_async,
)

__all__ = [
    "Backend",
    "BackendUnavailable",
    "NoTranslationAvailable",
    "Translation",
    "TranslationCache",
    "TranslationConfig",
    "TranslationError",
    "TranslationService",
    "build_service",
    "detect_async",
    "get_service",
    "translate_async",
]
