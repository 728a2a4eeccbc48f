"""`witaj i18n extract|update|compile|check`: one workflow for every translatable string.

Extraction takes its sources from EXTRACTORS, so later domains (dialogues/, forms/) add their
own extractor with one line: `register_source(...)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

from app.config import PROJECT_ROOT
from app.content import markup
from app.languages import KNOWN_LOCALES

DOMAIN = "messages"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


@dataclass(frozen=True)
class Source:
    """A folder to extract from: glob patterns mapped to a Babel extraction method."""

    folder: str
    method_map: list[tuple[str, str | Callable[..., Iterator[Any]]]]
    options_map: dict[str, dict[str, str]] = field(default_factory=dict)


EXTRACTORS: list[Source] = [
    Source("app", [("**.py", "python")]),
    Source(
        "templates",
        [("**.html", "jinja2.ext:babel_extract")],
        {"**.html": {"trimmed": "true", "extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}},
    ),
    # Labels and descriptions of the case workflow and of partner services (app/content_extract.py).
    Source("cases", [("**.yml", "app.content_extract:extract_yaml_labels")]),
    Source("partners", [("**.yml", "app.content_extract:extract_yaml_labels")]),
    Source("appointments", [("*.yml", "app.content_extract:extract_yaml_labels")]),
    # The assistant's responses and buttons (English in domain.yml), and its events' titles.
    Source(
        "dialogues",
        [
            ("domain.yml", "app.assistant.data:extract_responses"),
            ("knowledge/events.yml", "app.content_extract:extract_yaml_labels"),
        ],
    ),
    # The city forms' official Polish wording, with the message context "form" (app/forms/extract.py).
    Source("forms", [("*.yml", "app.forms.extract:extract_form")]),
]

#: The source language of messages by context: interface strings are written in English, the
#: forms ("form") in their official Polish wording. In its source language a message stands for itself.
SOURCE_LOCALE_OF_CONTEXT: dict[str | None, str] = {None: "en", "form": "pl"}


def register_source(source: Source) -> None:
    """Add a folder of content whose human text goes into messages.pot."""
    EXTRACTORS.append(source)


def _code_root() -> Path:
    return Path(__file__).resolve().parent.parent


def extract(content_dir: Path, locales_dir: Path) -> Catalog:
    """Write locales_dir/messages.pot from every registered source; return the template catalog."""
    template = Catalog(project="Witaj", msgid_bugs_address="", charset="utf-8", fuzzy=False)
    for source in EXTRACTORS:
        base = (_code_root() if source.folder == "app" else content_dir) / source.folder
        if not base.is_dir():
            continue
        found = extract_from_dir(
            str(base), method_map=source.method_map, options_map=source.options_map, keywords=KEYWORDS
        )
        for filename, lineno, message, comments, context in found:
            rel = (base / filename).relative_to(base.parent).as_posix()
            template.add(message, None, [(rel, lineno)], auto_comments=comments, context=context)
    locales_dir.mkdir(parents=True, exist_ok=True)
    with (locales_dir / f"{DOMAIN}.pot").open("wb") as fp:
        write_po(fp, template, omit_header=True, sort_output=True, include_lineno=False, width=100)
    return template


def _po_path(locales_dir: Path, code: str) -> Path:
    return locales_dir / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    """Return the catalog at path."""
    with path.open("rb") as fp:
        return read_po(fp, locale=locale, domain=DOMAIN)


def write_catalog(path: Path, catalog: Catalog) -> None:
    """Write catalog to path as a .po file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fp:
        write_po(fp, catalog, sort_output=True, include_lineno=False, width=100, ignore_obsolete=True)


def update(locales_dir: Path, locales: Iterable[str] = KNOWN_LOCALES) -> list[str]:
    """Merge messages.pot into each locale's .po (creating missing ones); return the paths written."""
    written = []
    for code in locales:
        # Read afresh for each locale: Catalog.update shares Message objects with the template.
        template = read_catalog(locales_dir / f"{DOMAIN}.pot")
        path = _po_path(locales_dir, code)
        if path.exists():
            catalog = read_catalog(path, code)
        else:
            catalog = Catalog(locale=code, domain=DOMAIN, project="Witaj", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        for message in catalog:
            if message.id and SOURCE_LOCALE_OF_CONTEXT.get(message.context, "en") == code:
                if message.context is not None:
                    message.string = message.id  # the official wording is changed in its source file only
                elif not _has_translation(message):
                    message.string = message.id
        write_catalog(path, catalog)
        written.append(str(path))
    return written


def compile_catalogs(locales_dir: Path, locales: Iterable[str] = KNOWN_LOCALES) -> list[str]:
    """Build each locale's .mo from its .po (fuzzy messages left out); return the paths written."""
    written = []
    for code in locales:
        po = _po_path(locales_dir, code)
        if not po.exists():
            continue
        catalog = read_catalog(po, code)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as fp:
            write_mo(fp, catalog, use_fuzzy=False)
        written.append(str(mo))
    return written


@dataclass(frozen=True)
class Problem:
    """One reason a catalog is not complete, with the file and line to fix."""

    path: str
    line: int
    kind: str
    msgid: str
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.path}:{self.line}: {self.kind}: {self.msgid[:60]!r}{extra}"


_PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%[sdifr]|\{(\w*)\}")


def placeholders(text: str) -> list[str]:
    """Return the sorted placeholders (%(name)s, %s, {name}) in text; '%%' is not one."""
    found = []
    for match in _PLACEHOLDER.finditer(text.replace("%%", "")):
        whole = match.group(0)
        if whole.startswith("%("):
            found.append(f"%({match.group(1)})")
        elif whole.startswith("%"):
            found.append("%")
        else:
            found.append("{" + match.group(2) + "}")
    return sorted(found)


def _has_translation(message: Message) -> bool:
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return all(bool(s) for s in strings)


def check_catalog(path: Path, code: str, template: Catalog | None = None) -> list[Problem]:
    """Return every problem that keeps the catalog at path from being complete."""
    shown = str(path)
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve())
        shown = str(rel)
    except ValueError:
        pass
    try:
        catalog = read_catalog(path, code)
    except Exception as exc:  # noqa: BLE001 - report any parse error with the file
        line = getattr(exc, "lineno", 0) or 0
        return [Problem(shown, int(line) + 1 if line else 0, "unreadable", "", str(exc))]
    problems: list[Problem] = []
    expected_plurals = get_plural(Locale.parse(code)).num_plurals
    if catalog.num_plurals != expected_plurals:
        problems.append(
            Problem(
                shown,
                1,
                "plural-forms",
                "",
                f"the header declares {catalog.num_plurals} plural forms, {code} needs {expected_plurals}",
            )
        )
    ids = set()
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
        ids.add((key, message.context))
        line = message.lineno or 0
        if message.fuzzy:
            problems.append(Problem(shown, line, "fuzzy", key, "review it and remove the fuzzy flag"))
            continue
        if message.pluralizable:
            strings = list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]
            if len(strings) != expected_plurals or not all(strings):
                problems.append(
                    Problem(
                        shown,
                        line,
                        "missing-plural",
                        key,
                        f"needs {expected_plurals} forms, has {sum(map(bool, strings))}",
                    )
                )
                continue
            allowed = set(placeholders(message.id[0])) | set(placeholders(message.id[1]))
            used = [set(placeholders(form)) for form in strings]
            extra = set().union(*used) - allowed
            # A form may leave out the number ("one minute"), but every name must appear somewhere.
            lost = {p for p in allowed if p != "%(num)"} - set().union(*used)
            if extra or lost:
                detail = f"unknown {sorted(extra)}" if extra else f"missing {sorted(lost)}"
                problems.append(Problem(shown, line, "placeholders", key, detail))
            problems.extend(_markup_problems(shown, line, key, list(message.id), strings))
            continue
        if not message.string:
            problems.append(Problem(shown, line, "untranslated", key))
            continue
        in_source_language = SOURCE_LOCALE_OF_CONTEXT.get(message.context) == code
        if message.context is not None and in_source_language and message.string != key:
            detail = f"in {code}, the source language, msgstr must equal msgid"
            problems.append(Problem(shown, line, "source-changed", key, detail))
            continue
        want, got = placeholders(key), placeholders(message.string)
        if want != got:
            problems.append(Problem(shown, line, "placeholders", key, f"msgid has {want}, msgstr has {got}"))
        problems.extend(_markup_problems(shown, line, key, [key], [message.string]))
    if template is not None:
        for message in template:
            if not message.id:
                continue
            key = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
            if (key, message.context) not in ids:
                problems.append(Problem(shown, 0, "missing", key, "run `witaj i18n update`"))
    return problems


def _markup_problems(shown: str, line: int, key: str, ids: list[str], strings: list[str]) -> list[Problem]:
    """Return a problem for each translation that adds markup (a tag, an hx-/on... attribute) its
    msgid does not have: pages escape translations, and a translator may not add what would act."""
    allowed = {piece for text in ids for piece in markup(text)}
    added = [piece for text in strings for piece in markup(text) if piece not in allowed]
    if not added:
        return []
    detail = (
        f"msgstr adds {added[0][:60]!r}: a translation is plain text and may not add HTML tags or "
        "hx-/on... attributes its msgid does not have"
    )
    return [Problem(shown, line, "markup", key, detail)]


def check(locales_dir: Path, locales: Iterable[str]) -> list[Problem]:
    """Return the problems of every given locale's catalog (measured against messages.pot)."""
    pot = locales_dir / f"{DOMAIN}.pot"
    template = read_catalog(pot) if pot.exists() else None
    problems: list[Problem] = []
    for code in locales:
        path = _po_path(locales_dir, code)
        if not path.exists():
            problems.append(
                Problem(str(path), 0, "missing-catalog", "", f"run `witaj i18n update` for {code}")
            )
            continue
        problems.extend(check_catalog(path, code, template))
    return problems


def default_locales_dir() -> Path:
    """Return the locales folder of the checkout."""
    return PROJECT_ROOT / "locales"


_PROTECT = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%[sdifr]|\{\w*\}|https?://\S+")


def pretranslate(
    locales_dir: Path, code: str, translate: Callable[[str, str, str], tuple[str, str] | None]
) -> tuple[int, int]:
    """Fill the empty messages of locale code with machine translations marked fuzzy (for review);
    return (filled, skipped). translate(text, source, target) returns (text, engine note) or None.

    Placeholders and links are swapped for numbered tokens while translating and put back after;
    a translation that loses one is skipped, never half-kept. Fuzzy messages never count as
    complete, so `witaj i18n check` fails until a person has reviewed each one.
    """
    path = _po_path(locales_dir, code)
    catalog = read_catalog(path, code)
    filled = skipped = 0
    for message in catalog:
        if not message.id or _has_translation(message):
            continue
        # Form wording is written in Polish (msgctxt "form..."); everything else in English.
        source = "pl" if (message.context or "").startswith("form") else "en"
        ids = list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]
        texts = []
        for original in ids:
            protected, tokens = _protect(original)
            result = translate(protected, source, code)
            restored = _restore(result[0], tokens) if result else None
            if restored is None:
                break
            texts.append(restored)
        if len(texts) != len(ids):
            skipped += 1
            continue
        if isinstance(message.id, (list, tuple)):
            forms = get_plural(Locale.parse(code)).num_plurals
            message.string = tuple([texts[0]] + [texts[-1]] * (forms - 1))
        else:
            message.string = texts[0]
        message.flags.add("fuzzy")
        note = f"machine-translated ({result[1]}), needs review" if result else "machine-translated"
        if note not in message.user_comments:
            message.user_comments.append(note)
        filled += 1
    write_catalog(path, catalog)
    return filled, skipped


def _protect(text: str) -> tuple[str, list[str]]:
    tokens: list[str] = []

    def swap(match: re.Match[str]) -> str:
        tokens.append(match.group(0))
        return f"[{len(tokens) - 1}]"

    return _PROTECT.sub(swap, text), tokens


def _restore(text: str, tokens: list[str]) -> str | None:
    for index, token in enumerate(tokens):
        marker = f"[{index}]"
        if marker not in text:
            return None
        text = text.replace(marker, token, 1)
    return text
