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
        # Languages of people who come to the city and whom Witaj tells, in English and Polish, that
        # it does not speak their language yet (FOREIGN_DETECTABLE).
        Language("tr", "Türkçe", "TURKISH"),
        Language("es", "Español", "SPANISH"),
        Language("hi", "हिन्दी", "HINDI"),
        Language("de", "Deutsch", "GERMAN"),
        Language("fr", "Français", "FRENCH"),
        Language("it", "Italiano", "ITALIAN"),
        Language("pt", "Português", "PORTUGUESE"),
        Language("ro", "Română", "ROMANIAN"),
        Language("nl", "Nederlands", "DUTCH"),
        Language("hu", "Magyar", "HUNGARIAN"),
        Language("lt", "Lietuvių", "LITHUANIAN"),
        Language("zh", "中文", "CHINESE"),
        Language("ja", "日本語", "JAPANESE"),
        Language("ko", "한국어", "KOREAN"),
        Language("fa", "فارسی", "PERSIAN"),
        Language("ur", "اردو", "URDU"),
        Language("bn", "বাংলা", "BENGALI"),
        Language("hy", "Հայերեն", "ARMENIAN"),
        Language("az", "Azərbaycan dili", "AZERBAIJANI"),
        Language("he", "עברית", "HEBREW"),
        Language("th", "ไทย", "THAI"),
        Language("tl", "Tagalog", "TAGALOG"),
        Language("id", "Bahasa Indonesia", "INDONESIAN"),
    )
}
#: A language code as Witaj stores it (ISO 639-1, or 639-3 where a language has no two-letter code).
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
#: The eleven locales of the plan (issue 14), in the order the language switcher shows them.
PLANNED_LOCALES = ("pl", "uk", "ru", "en", "be", "ka", "tr", "vi", "es", "hi", "ar")
#: Locales shipped complete (every catalog string, NLU examples, lexicon and test conversations);
#: WITAJ_LOCALES picks the enabled ones among them. A planned locale joins when its content is
#: complete (`witaj i18n check`, `witaj dialogues test`); until then a message in it gets the answer
#: for a language the city does not speak (FOREIGN_DETECTABLE).
COMPLETE = frozenset(PLANNED_LOCALES)
KNOWN_LOCALES = tuple(code for code in PLANNED_LOCALES if code in COMPLETE)
#: Scripts written right to left; the base layout sets dir="rtl" for these.
RTL_LOCALES = frozenset({"ar", "fa", "he", "ur", "ps", "ckb"})
#: Languages the detector chooses among: those with catalogs (a conversation can be held in them).
DETECTABLE = KNOWN_LOCALES
_LINGUA = {code: LANGUAGES[code].lingua for code in DETECTABLE}
#: Languages told apart from those a city enabled, to answer "I do not speak your language yet" in a
#: way the person can act on: every language Witaj names (those with catalogs the city did not
#: enable among them). Cyrillic languages Witaj has no catalog for (Kazakh, ...) are left out: a
#: short Russian or Ukrainian message must never be taken for one.
FOREIGN_DETECTABLE = tuple(LANGUAGES)
#: How sure lingua must be of a language the city does not speak, with at least two words (or a
#: script no enabled language is written in: Georgian, Arabic, Devanagari, ...).
FOREIGN_THRESHOLD = 0.9
MIN_FOREIGN_WORDS = 2


def native_name(code: str) -> str:
    """Return the language's name in itself ("Українська"), or the code when Witaj does not know it."""
    language = LANGUAGES.get(code)
    return language.native_name if language else code


#: The script each language with a catalog is written in.
SCRIPTS = {
    "pl": "latin", "uk": "cyrillic", "ru": "cyrillic", "en": "latin", "be": "cyrillic", "ka": "georgian",
    "tr": "latin", "vi": "latin", "es": "latin", "hi": "devanagari", "ar": "arabic",
}  # fmt: skip
#: Languages people often type in Latin letters without their script or marks ("pryvit", "mujhe naukri
#: chahiye", Arabizi "bdi shughl", Vietnamese without diacritics): lingua reads them as Polish or some
#: other Latin language, the model of the NLU examples (which has such examples) knows better.
TRANSLITERATED = frozenset({"uk", "ru", "be", "ka", "hi", "ar", "vi"})

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
#: How sure the example model must be that Latin letters are a TRANSLITERATED language. With
#: it, on held-out NLU examples (model trained on the other 80 %, every message against every prior):
#: 0.75 % of messages in the conversation's language leave it, 92 % of messages in another switch.
TRANSLITERATION_THRESHOLD = 0.95
#: The same with lingua alone (no example model at hand): lingua is over-confident on short texts.
LINGUA_SWITCH_THRESHOLD = 0.9

_POLISH_ONLY = re.compile(r"[ąęóżĄĘÓŻ]")
#: Letters of scripts written without spaces between words (Chinese, Japanese, Korean syllables, Thai).
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
#: Letters of Belarusian Łacinka and Latin transliterations that Polish and English never use.
_NEITHER_POLISH_NOR_ENGLISH = re.compile(r"[čšžŭČŠŽŬ]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
#: Letters only one of the Latin-script languages writes: Vietnamese's vowels with tone marks (the
#: Latin Extended Additional block) and ơ ư đ ă, Turkish's dotless ı, ğ and ş, Spanish ñ. Found in two words,
#: they are as sure a sign as a script: "cuối tuần ở Kraków có gì cho trẻ em?" is Vietnamese, whatever
#: lingua makes of "Kraków".
_ONLY_LETTERS = {
    "vi": re.compile(r"[\u1ea0-\u1ef9ơưđăƠƯĐĂ]"),
    "tr": re.compile(r"[ığşİĞŞ]"),
    "es": re.compile(r"[ñÑ]"),
}
_SCRIPT_LETTERS = {
    "latin": re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]"),
    "cyrillic": re.compile(r"[\u0400-\u04ff]"),
    "georgian": re.compile(r"[\u10a0-\u10ff\u1c90-\u1cbf]"),
    "arabic": re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"),
    "devanagari": re.compile(r"[\u0900-\u097f]"),
}
_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")
_TOKEN = re.compile(r"\S+")
#: Punctuation around a token ("(KRK-2026-000123)," or «слово»), not part of it.
_AROUND = "\"'`«»„“”‘’‹›()[]{}<>.,;:!?¡¿…–—"


# --- what carries a language ---------------------------------------------------------------------


def _language_less(token: str) -> bool:
    """Return whether a token says nothing about a language: an e-mail or web address, or a code.

    A code is a token with a digit or an underscore (references, secrets, phone numbers, dates,
    postcodes, "B2") or a small letter followed by a capital ("aBcD": secrets, identifiers). Words
    of the languages Witaj speaks have neither. (A Latin "i" typed in a Ukrainian word is no code.)"""
    core = token.strip(_AROUND)
    if not core or "@" in core or core.lower().startswith(("http://", "https://", "www.")):
        return True
    if any(ch.isdigit() or ch == "_" for ch in core):
        return True
    return any(a.islower() and b.isupper() for a, b in zip(core, core[1:], strict=False))


def _same_group(token: str, neighbour: str, *, grouped: bool) -> bool:
    """Return whether token (letters only) is a group of the code its neighbour belongs to: as long
    as the neighbour and in the same case, the neighbour being a group with letters and digits
    ("7K3M"), or a letters-only group already taken as one (grouped)."""
    core, other = token.strip(_AROUND), neighbour.strip(_AROUND)
    if not core.isalpha() or len(core) != len(other) or not other.isalnum():
        return False
    if core.isupper() != other.isupper() or core.islower() != other.islower():
        return False
    return grouped or (any(ch.isdigit() for ch in other) and any(ch.isalpha() for ch in other))


def language_words(text: str) -> str:
    """Return text with the tokens that carry no language blanked out: codes, numbers, addresses,
    and the letters-only groups of a code typed in groups ("7K3M QXDW 2WRT H5NP")."""
    tokens = [match.group() for match in _TOKEN.finditer(text)]
    blank = [_language_less(token) for token in tokens]
    grouped = [False] * len(tokens)
    changed = True
    while changed:  # a group beside a group of a code is one too: "QXDW KRTM 2WRT"
        changed = False
        for i, token in enumerate(tokens):
            if blank[i]:
                continue
            for j in (i - 1, i + 1):
                if 0 <= j < len(tokens) and blank[j] and _same_group(token, tokens[j], grouped=grouped[j]):
                    blank[i] = grouped[i] = changed = True
                    break
    return " ".join(" " if empty else token for token, empty in zip(tokens, blank, strict=True))


def carries_language(text: str) -> bool:
    """Return whether text has enough words besides codes, numbers and addresses to tell a language."""
    return sum(ch.isalpha() for ch in language_words(text)) >= MIN_LETTERS


def is_value(text: str) -> bool:
    """Return whether text is a value rather than a sentence: codes, numbers and addresses, with at
    most one word besides ("KRK-2026-000123 kxmwprtqz", "Krowodrza", a secret of letters only).

    Typed while a form asks for a slot, a value keeps the conversation's language (flows.receive):
    one word there is an answer to the question, not a choice of language."""
    return len(language_words(text).split()) <= 1


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


def foreign_language(
    text: str, *, enabled: Sequence[str], hint: Mapping[str, float] | None = None
) -> str | None:
    """Return the code of the language text is written in when the city has not enabled it and
    lingua is sure of it ("Onde posso encontrar trabalho?" -> pt), else None. Codes, numbers and
    addresses say nothing; one word ("hello", "ok") is never enough.

    hint: the example model's probabilities (NLUModel). Latin letters it is all but certain are an
    enabled TRANSLITERATED language (romanised Hindi, Arabizi, Vietnamese without marks) are that
    language, whatever lingua, which knows these languages only in their script, makes of them."""
    words = language_words(text)
    # Words as written (Devanagari's vowel signs are no \w letters, so _LETTER_WORD would split them).
    written = [token for token in words.split() if sum(ch.isalpha() for ch in token) >= 2]
    unspaced = len(_UNSPACED.findall(words)) >= MIN_LETTERS  # Chinese, Japanese, Thai: no spaces
    if not unspaced and (sum(ch.isalpha() for ch in words) < MIN_LETTERS * 2 or len(written) < MIN_FOREIGN_WORDS):
        return None
    if _mostly_latin(words) and not _latin_words(written):
        return None  # keys struck at random ("asdkjh qweoiu zxcmn") look like no language at all
    values = _foreign_detector().compute_language_confidence_values(words)
    if not values:
        return None
    best = _foreign_codes()[values[0].language]
    if best in enabled or values[0].value < FOREIGN_THRESHOLD:
        return None
    if hint is not None and _mostly_latin(words) and _transliterated(words, enabled, hint) is not None:
        return None
    return best


_VOWELS = frozenset("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿāăąēĕėęěīįıōőœūůűųơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")


def _latin_words(words: list[str]) -> bool:
    """Return whether Latin-script words look like words of a language: each with a vowel, and at
    least a quarter of the letters vowels."""
    letters = [ch for word in words for ch in word.lower() if ch.isalpha()]
    if not letters:
        return False
    every_word = all(any(ch in _VOWELS for ch in word.lower()) for word in words if len(word) >= 3)
    return every_word and sum(ch in _VOWELS for ch in letters) >= len(letters) / 4


@lru_cache(maxsize=1)
def _foreign_detector() -> Any:
    from lingua import Language as LinguaLanguage
    from lingua import LanguageDetectorBuilder

    # Low accuracy mode (trigrams only): about 0.2 s to load and fast; sure enough on two words and more.
    languages = [getattr(LinguaLanguage, LANGUAGES[code].lingua) for code in FOREIGN_DETECTABLE]
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


@lru_cache(maxsize=1)
def _foreign_codes() -> dict[Any, str]:
    from lingua import Language as LinguaLanguage

    return {getattr(LinguaLanguage, LANGUAGES[code].lingua): code for code in FOREIGN_DETECTABLE}


def preload(*, enabled: Sequence[str]) -> None:
    """Load lingua's models for the enabled languages now (about a second), not on the first message."""
    lingua_scores("warm up", enabled=enabled)


def detect_language(
    text: str, *, enabled: Sequence[str], prior: str | None, hint: Mapping[str, float] | None = None
) -> tuple[str, float]:
    """Return (language, confidence) of text among enabled; prior is kept unless text is clearly another.

    hint: per-language probabilities from the model trained on the NLU examples (NLUModel passes
    it); without it, Latin text never leaves a Cyrillic prior unless it has letters only Polish
    uses, because it may be a transliteration. Codes, numbers and addresses are left out (see
    `language_words`). Confidence 0.0: the text had no language in it.
    """
    codes = [code for code in enabled if code in DETECTABLE]
    if not codes:
        raise ValueError(f"no supported language among {list(enabled)}; supported: {list(DETECTABLE)}")
    if prior not in codes:
        prior = None
    text = language_words(text)
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return prior or codes[0], 0.0
    scores = lingua_scores(text, enabled=codes)
    if _NEITHER_POLISH_NOR_ENGLISH.search(text):
        scores = {code: 0.0 if code in ("pl", "en") else value for code, value in scores.items()}
    threshold = LINGUA_SWITCH_THRESHOLD
    if hint is not None and _mostly_latin(text) and not _POLISH_ONLY.search(text):
        # Ukrainian, Russian, Hindi, Arabic... in Latin letters ("pryvit, de znajty robotu?", "mujhe
        # naukri chahiye"): lingua reads the letters as Polish, the model of the NLU examples
        # (transliterations among them) knows better; it must be all but certain, over two words at least.
        written = _transliterated(text, codes, hint)
        if written is not None:
            return written, float(hint[written])
    if hint is not None:
        scores = {code: (scores[code] + float(hint.get(code, 0.0))) / 2 for code in codes}
        threshold = SWITCH_THRESHOLD
    best = max(codes, key=lambda code: scores[code])
    marked = [
        code for code, letters in _ONLY_LETTERS.items()
        if code in codes and sum(bool(letters.search(word)) for word in text.split()) >= 2
    ]
    if len(marked) == 1 and (best == marked[0] or (hint is not None and float(hint.get(marked[0], 0.0)) >= 0.5)):
        best = marked[0]
        return best, max(scores[best], float(hint.get(best, 0.0)) if hint is not None else 0.0)
    if prior is None or best == prior:
        return best, scores[best]
    # Cyrillic text is no Polish or English, Georgian letters no Arabic: when a language of the text's
    # script is there to take it, it does.
    script = _script(text)
    impossible = script not in (None, "latin") and SCRIPTS[prior] != script and SCRIPTS[best] == script
    if scores[best] < threshold and not impossible:
        # Not sure enough to switch - unless the prior cannot be the language at all.
        return prior, scores[prior]
    if len(_LETTER_WORD.findall(text)) < MIN_WORDS_TO_SWITCH and _mostly_latin(text):
        if SCRIPTS[prior] != "latin" or scores[best] < ONE_WORD_THRESHOLD:
            return prior, scores[prior]
    if hint is None and SCRIPTS[prior] != "latin" and _mostly_latin(text) and not _POLISH_ONLY.search(text):
        return prior, scores[prior]
    return best, scores[best]


def _script(text: str) -> str | None:
    """Return the script most letters of text are written in (latin, cyrillic, georgian, arabic,
    devanagari), None for no letters or another script."""
    counts = {name: len(pattern.findall(text)) for name, pattern in _SCRIPT_LETTERS.items()}
    name = max(counts, key=lambda key: counts[key])
    return name if counts[name] else None


def _transliterated(text: str, codes: Sequence[str], hint: Mapping[str, float]) -> str | None:
    """Return the TRANSLITERATED language among codes that the example model is all but certain
    Latin-letter text is written in (two words at least), else None."""
    candidates = [code for code in codes if code in TRANSLITERATED]
    written = max(candidates, key=lambda code: float(hint.get(code, 0.0)), default=None)
    if (
        written is not None
        and float(hint.get(written, 0.0)) >= TRANSLITERATION_THRESHOLD
        and len(_LETTER_WORD.findall(text)) >= MIN_WORDS_TO_SWITCH
    ):
        return written
    return None


def _mostly_latin(text: str) -> bool:
    latin = len(_LATIN.findall(text))
    return latin > sum(len(pattern.findall(text)) for name, pattern in _SCRIPT_LETTERS.items() if name != "latin")
