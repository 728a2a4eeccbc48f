"""What every translation backend offers, the result it returns and the errors it raises.

Nothing here imports a translation library: `app.translation` stays importable without the `mt`
extra, and argostranslate (with torch) loads only when the argos backend first translates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from app.languages import DETECTABLE, detect_language

#: The language every pivot goes through when no direct model is installed.
PIVOT = "en"

_CODE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$")


@dataclass(frozen=True, slots=True)
class Translation:
    """A translated text with what produced it; `machine` is False only for same-language copies."""

    text: str
    source: str
    target: str
    engine: str
    model_version: str
    machine: bool = True


class TranslationError(Exception):
    """Translation failed; the message never contains the text."""


class NoTranslationAvailable(TranslationError):
    """No model (or server) can translate source -> target; show the original with a note."""

    def __init__(self, source: str, target: str, reason: str = "") -> None:
        self.source = source
        self.target = target
        self.reason = reason
        message = f"no translation available for {source}->{target}"
        super().__init__(f"{message}: {reason}" if reason else message)


class BackendUnavailable(TranslationError):
    """The backend could not answer (server down, timeout, HTTP error, broken model)."""


def normalize_code(code: str) -> str:
    """Return a language code lower-cased and trimmed, or raise ValueError when it is not one."""
    value = (code or "").strip().lower().replace("_", "-")
    if not _CODE.match(value):
        raise ValueError(f"not a language code: {code!r}")
    return value


@runtime_checkable
class Backend(Protocol):
    """A translation engine. Implementations: argos, libretranslate, none."""

    #: Stored with every translation ("argos", "libretranslate", "none").
    engine: str

    def translate(self, text: str, source: str, target: str) -> Translation:
        """Return text translated; raise NoTranslationAvailable or BackendUnavailable."""
        ...

    def detect(self, text: str) -> tuple[str, float]:
        """Return (language code, confidence 0..1) of text; confidence 0.0 when it cannot tell."""
        ...

    def pairs(self) -> list[tuple[str, str]]:
        """Return every (source, target) this backend can translate now, pivots included."""
        ...

    def model_version(self, source: str, target: str) -> str:
        """Return the version of what would translate source -> target, without network or model work.

        Raises NoTranslationAvailable when it already knows that nothing translates the pair.
        """
        ...


def detect_locally(text: str, languages: Sequence[str]) -> tuple[str, float]:
    """Return (language, confidence) among languages with the lingua-based detector the assistant uses."""
    known = [code for code in languages if code in DETECTABLE] or list(DETECTABLE)
    return detect_language(text, enabled=known, prior=None)


def pivot_pairs(direct: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return direct pairs plus those reachable through PIVOT (source -> en -> target), sorted."""
    pairs = set(direct)
    into_pivot = {source for source, target in direct if target == PIVOT}
    out_of_pivot = {target for source, target in direct if source == PIVOT}
    pairs.update((source, target) for source in into_pivot for target in out_of_pivot if source != target)
    return sorted(pairs)
