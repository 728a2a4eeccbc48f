"""Languages: the one table of their names, and telling which language a text is in.

Every page, form, filter and export that names a language takes the name from `LANGUAGES` (each
language in its own name, never translated). Detection uses lingua among the languages Witaj has
catalogs for (`DETECTABLE`), with the conversation's language as a prior; the assistant's NLU and
the machine-translation backends both call it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Language:
    """A language: its code (ISO 639-1), its name in itself, and lingua's name for it."""

    code: str
    native_name: str
    lingua: str


#: Every language Witaj names (in the partner directory, the language switcher, exports), in its own name.
LANGUAGES: dict[str, Language] = {
    language.code: language
    for language in (
        Language("pl", "Polski", "POLISH"),
        Language("uk", "Українська", "UKRAINIAN"),
        Language("ru", "Русский", "RUSSIAN"),
        Language("en", "English", "ENGLISH"),
        Language("be", "Беларуская", "BELARUSIAN"),
        Language("ka", "ქართული", "GEORGIAN"),
        Language("ar", "العربية", "ARABIC"),
        Language("vi", "Tiếng Việt", "VIETNAMESE"),
    )
}
#: A language code as Witaj stores it (ISO 639-1, or 639-3 where a language has no two-letter code).
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
#: Locales we ship catalogs for; WITAJ_LOCALES picks the enabled ones among them.
KNOWN_LOCALES = ("pl", "uk", "ru", "en", "be")
#: Scripts written right to left; the base layout sets dir="rtl" for these.
RTL_LOCALES = frozenset({"ar", "fa", "he", "ur", "ps", "ckb"})
#: Languages the detector chooses among: those with catalogs (a conversation can be held in them).
DETECTABLE = KNOWN_LOCALES
_LINGUA = {code: LANGUAGES[code].lingua for code in DETECTABLE}


def native_name(code: str) -> str:
    """Return the language's name in itself ("Українська"), or the code when Witaj does not know it."""
    language = LANGUAGES.get(code)
    return language.native_name if language else code


CYRILLIC_LANGUAGES = frozenset({"uk", "ru", "be"})

#: Below this many letters a message says nothing about its language ("ok", "42", "tak", a reference).
MIN_LETTERS = 4
#: One word ("okay", "super", "biblioteka", "так") rarely says which language it is, and the user can
#: always ask for another language: it leaves the conversation's language only when it is Cyrillic
#: in a Polish or English conversation, or all but certain (ONE_WORD_THRESHOLD: "help", "dzięki")
#: in a Polish or English one (in a uk/ru/be conversation a Latin word may be a transliteration).
MIN_WORDS_TO_SWITCH = 2
ONE_WORD_THRESHOLD = 0.96
#: Mean of lingua's and the example model's confidence needed to leave the conversation's language.
#: Tuned on held-out NLU examples (the example model trained on the other 80 %, every message
#: against every prior): at 0.7, 0.5 % of messages in the conversation's language switch it away
#: (Łacinka or transliterations read as Polish), 84 % of messages in another language switch to
#: it, and the rest (one word, transliterations) keep the conversation's language.
SWITCH_THRESHOLD = 0.7
#: The same with lingua alone (no example model at hand): lingua is over-confident on short texts.
LINGUA_SWITCH_THRESHOLD = 0.9

_POLISH_ONLY = re.compile(r"[ąęóżĄĘÓŻ]")
#: Letters of Belarusian Łacinka and Latin transliterations that Polish and English never use.
_NEITHER_POLISH_NOR_ENGLISH = re.compile(r"[čšžŭČŠŽŬ]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")


# --- detection ---------------------------------------------------------------------------------


# lingua is imported where it is used: loading it (and its models) takes about a second, which
# commands that never detect a language (migrations, validation) should not pay.


@lru_cache(maxsize=16)
def _detector(codes: tuple[str, ...]) -> Any:
    from lingua import Language as LinguaLanguage
    from lingua import LanguageDetectorBuilder

    languages = [getattr(LinguaLanguage, LANGUAGES[code].lingua) for code in codes]
    return LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()


@lru_cache(maxsize=1)
def _codes_by_language() -> dict[Any, str]:
    from lingua import Language as LinguaLanguage

    return {getattr(LinguaLanguage, name): code for code, name in _LINGUA.items()}


def lingua_scores(text: str, *, enabled: Sequence[str]) -> dict[str, float]:
    """Return lingua's confidence for each enabled language that lingua knows."""
    codes = tuple(sorted(code for code in set(enabled) if code in DETECTABLE))
    scores = dict.fromkeys(codes, 0.0)
    if len(codes) < 2:
        return {code: 1.0 for code in codes}
    by_language = _codes_by_language()
    for value in _detector(codes).compute_language_confidence_values(text):
        scores[by_language[value.language]] = value.value
    return scores


def preload(*, enabled: Sequence[str]) -> None:
    """Load lingua's models for the enabled languages now (about a second), not on the first message."""
    lingua_scores("warm up", enabled=enabled)


def detect_language(
    text: str, *, enabled: Sequence[str], prior: str | None, hint: Mapping[str, float] | None = None
) -> tuple[str, float]:
    """Return (language, confidence) of text among enabled; prior is kept unless text is clearly another.

    hint: per-language probabilities from the model trained on the NLU examples (NLUModel passes
    it); without it, Latin text never leaves a Cyrillic prior unless it has letters only Polish
    uses, because it may be a transliteration. Confidence 0.0: the text had no language in it.
    """
    codes = [code for code in enabled if code in DETECTABLE]
    if not codes:
        raise ValueError(f"no supported language among {list(enabled)}; supported: {list(DETECTABLE)}")
    if prior not in codes:
        prior = None
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return prior or codes[0], 0.0
    scores = lingua_scores(text, enabled=codes)
    if _NEITHER_POLISH_NOR_ENGLISH.search(text):
        scores = {code: 0.0 if code in ("pl", "en") else value for code, value in scores.items()}
    threshold = LINGUA_SWITCH_THRESHOLD
    if hint is not None:
        scores = {code: (scores[code] + float(hint.get(code, 0.0))) / 2 for code in codes}
        threshold = SWITCH_THRESHOLD
    best = max(codes, key=lambda code: scores[code])
    if prior is None or best == prior:
        return best, scores[best]
    if scores[best] < threshold:
        return prior, scores[prior]
    if len(_LETTER_WORD.findall(text)) < MIN_WORDS_TO_SWITCH and _mostly_latin(text):
        if prior in CYRILLIC_LANGUAGES or scores[best] < ONE_WORD_THRESHOLD:
            return prior, scores[prior]
    if hint is None and prior in CYRILLIC_LANGUAGES and _mostly_latin(text) and not _POLISH_ONLY.search(text):
        return prior, scores[prior]
    return best, scores[best]


def _mostly_latin(text: str) -> bool:
    return len(_LATIN.findall(text)) > len(_CYRILLIC.findall(text))
