"""lexicon/: the words of each language that the assistant reads besides its trained intents - the
days, months, times of day and audiences people name, the words of the short follow-up questions,
the words that join two questions in one message and the answers that mean "no". One file a
language (`lexicon/<language>.yml`, format in `lexicon/en.yml`); a city adds a language without
touching Python. Not a Rasa file: it starts with `version: 1`.

A form is matched as a whole word or phrase, case and diacritics ignored; a form that ends in `*`
takes any ending; an apostrophe matches any apostrophe or none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.content import Checker, ContentError, Key, load_yaml

VERSION = 1
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)
DAYS_FROM_TODAY = {"today": 0, "tomorrow": 1, "after_tomorrow": 2}
AUDIENCES = ("children", "families", "adults", "seniors")
FOLLOW_UPS = ("where", "when", "cost")
PERIODS = ("weekend", "evening", "this_week", "next_week")
SECTIONS = (
    "weekdays", "days_from_today", *PERIODS, "months", "audiences", "follow_up_cues", "and_question", "no_answers",
)
#: A language's file: lexicon/<code>.yml (other files there, such as notes, are not read).
_FILE = re.compile(r"^[a-z]{2,3}\.yml$")
#: A letter of a word: \w, and the vowel signs of Indic scripts (which are no \w characters).
WORD_CHAR = r"[\w\u0900-\u0963\u0966-\u0DFF]"
_APOSTROPHES = "'’ʼ`"


@dataclass(eq=False)
class Lexicon:
    """The forms of every language's lexicon file, pooled (a message is read in any language).
    Compared and hashed by identity: patterns are compiled once per lexicon read."""

    weekdays: dict[int, list[str]] = field(default_factory=lambda: {d: [] for d in range(7)})
    days_from_today: dict[int, list[str]] = field(default_factory=lambda: {d: [] for d in range(3)})
    months: dict[int, list[str]] = field(default_factory=lambda: {m: [] for m in range(1, 13)})
    periods: dict[str, list[str]] = field(default_factory=lambda: {p: [] for p in PERIODS})
    audiences: dict[str, list[str]] = field(default_factory=lambda: {a: [] for a in AUDIENCES})
    follow_up_cues: dict[str, list[str]] = field(default_factory=lambda: {f: [] for f in FOLLOW_UPS})
    #: (joining words, question words) of each language: "... and where ...".
    and_question: list[tuple[list[str], list[str]]] = field(default_factory=list)
    no_answers: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)


def pattern(forms: list[str], fold: Any) -> str:
    """Return a regex alternation of forms (folded by fold): `*` takes any ending, an apostrophe
    matches any or none, spaces any run of spaces; longest first."""
    alternatives = set()
    for form in forms:
        open_end = form.endswith("*")
        body = fold(form.rstrip("*").strip())
        if not body:
            continue
        regex = ""
        for ch in body:
            if ch in _APOSTROPHES:
                regex += f"[{_APOSTROPHES}]?"
            elif ch.isspace():
                regex += r"\s+" if not regex.endswith(r"\s+") else ""
            else:
                regex += re.escape(ch)
        alternatives.add(regex + (f"{WORD_CHAR}*" if open_end else ""))
    return "|".join(sorted(alternatives, key=len, reverse=True))


def whole(alternatives: str) -> re.Pattern[str]:
    """Return a pattern that finds alternatives as whole words (never a pattern that matches nothing)."""
    if not alternatives:
        return re.compile(r"(?!x)x")
    return re.compile(rf"(?<!{WORD_CHAR})(?:{alternatives})(?!{WORD_CHAR})")


def read_lexicon(folder: Path, errors: list[ContentError]) -> Lexicon:
    """Return the pooled lexicon of folder/lexicon/*.yml, recording every problem in errors (with its
    file and line). Not part of the dialogues' fingerprint: the trained model does not read it."""
    lexicon = Lexicon()
    directory = folder / "lexicon"
    if not directory.is_dir():
        return lexicon
    for path in sorted(directory.glob("*.yml")):
        if not _FILE.match(path.name):
            continue
        try:
            doc = load_yaml(path)
        except ContentError as exc:
            errors.append(exc)
            continue
        c = Checker(doc, errors)
        _read_file(c, doc.data, lexicon)
        lexicon.languages.append(path.stem)
    return lexicon


def _read_file(c: Checker, data: object, lexicon: Lexicon) -> None:
    top = c.mapping((), data, required=("version",), optional=SECTIONS)
    if top is None:
        return
    if top.get("version") != VERSION:
        c.fail(("version",), f"version must be {VERSION}, not {top.get('version')!r}")
    for number, name in enumerate(WEEKDAYS):
        lexicon.weekdays[number] += _forms_of(c, top, "weekdays", name, WEEKDAYS)
    for name, days in DAYS_FROM_TODAY.items():
        lexicon.days_from_today[days] += _forms_of(c, top, "days_from_today", name, tuple(DAYS_FROM_TODAY))
    for number, name in enumerate(MONTHS, start=1):
        lexicon.months[number] += _forms_of(c, top, "months", name, MONTHS)
    for name in AUDIENCES:
        lexicon.audiences[name] += _forms_of(c, top, "audiences", name, AUDIENCES)
    for name in FOLLOW_UPS:
        lexicon.follow_up_cues[name] += _forms_of(c, top, "follow_up_cues", name, FOLLOW_UPS)
    for name in PERIODS:
        if name in top:
            lexicon.periods[name] += _forms(c, (name,), top[name])
    if "no_answers" in top:
        lexicon.no_answers += _forms(c, ("no_answers",), top["no_answers"])
    if "and_question" in top:
        item = c.mapping(("and_question",), top["and_question"], required=("joiners", "question_words"))
        if item is not None and "joiners" in item and "question_words" in item:
            joiners = _forms(c, ("and_question", "joiners"), item["joiners"])
            questions = _forms(c, ("and_question", "question_words"), item["question_words"])
            if joiners and questions:
                lexicon.and_question.append((joiners, questions))


def _forms_of(c: Checker, top: dict[str, Any], section: str, name: str, allowed: tuple[str, ...]) -> list[str]:
    """Return the forms of section.name; check the section once (on its first name)."""
    value = top.get(section)
    if value is None:
        return []
    if name == allowed[0] and c.mapping((section,), value, required=(), optional=allowed) is None:
        return []
    if not isinstance(value, dict) or name not in value:
        return []
    return _forms(c, (section, name), value[name])


def _forms(c: Checker, key: Key, value: object) -> list[str]:
    def one(item_key: Key, item: object) -> str | None:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if isinstance(item, bool):
            c.fail(item_key, 'a form must be text; quote words YAML reads as true/false ("no", "yes", "on")')
            return None
        text = c.text(item_key, item)
        if text is not None and text.strip("*").strip() == "":
            c.fail(item_key, "a form must have letters besides `*`")
            return None
        return text

    return list(c.items(key, value, one, min_items=1) or ())
