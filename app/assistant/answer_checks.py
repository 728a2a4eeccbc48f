"""`witaj dialogues check-answers`: every response of dialogues/domain.yml translated in every enabled
locale (not missing, empty or fuzzy, the same placeholders), its links well formed and on the hosts
dialogues/answers.yml allows (in English and in each translation), and its facts reviewed recently.

Pure functions: they read the files and return an AnswerReport; the command prints it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from babel.messages.catalog import Catalog

from app.assistant.knowledge import AnswerPolicy
from app.config import HOST_NAME
from app.content import ContentError, load_yaml
from app.i18n_tools import DOMAIN, placeholders, read_catalog

#: Something written as a web address: any scheme (http://, ftp://, javascript:// ...) or www.; it
#: ends before spaces, quotes and angle brackets, as the chat reads addresses (service.answer_html).
_ADDRESS = re.compile(r"(?<![\w.+-])(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>\"'\\`]*", re.IGNORECASE)
_TRAILING = ".,;:!?)]}»”’…"


@dataclass(frozen=True)
class Text:
    """One translatable string of a response: a variation's text or a button's title."""

    response: str
    msgid: str
    line: int  # in domain.yml
    what: str  # "text" or "button"


@dataclass(frozen=True)
class AnswerReport:
    """What check_answers found: errors (untranslated, placeholders, links) fail the check; answers
    due for review and notes are warnings."""

    errors: tuple[ContentError, ...]
    due: tuple[ContentError, ...]
    notes: tuple[str, ...]
    responses: int
    texts: int
    links: int
    locales: tuple[str, ...]

    def summary(self) -> str:
        """Return the one-line count of what was checked and found."""
        return (
            f"{self.responses} responses ({self.texts} texts and button titles, {self.links} links) "
            f"in {len(self.locales)} locale(s): {len(self.errors)} error(s), "
            f"{len(self.due)} due for review"
        )


@dataclass
class _Found:
    errors: list[ContentError] = field(default_factory=list)
    links: int = 0


def response_texts(domain_path: Path) -> tuple[list[str], dict[str, int], list[Text]]:
    """Return the response names of domain.yml in order, the line of each, and every text and button
    title (stripped, as `witaj i18n extract` takes them) with its line; raise ContentError when the
    file does not parse (load_dialogues reports the rest)."""
    doc = load_yaml(domain_path)
    raw = doc.data.get("responses") if isinstance(doc.data, dict) else None
    names: list[str] = []
    lines: dict[str, int] = {}
    texts: list[Text] = []
    for name, variations in (raw or {}).items() if isinstance(raw, dict) else ():
        names.append(name)
        lines[name] = doc.line("responses", name)
        for index, variation in enumerate(variations if isinstance(variations, list) else ()):
            if not isinstance(variation, dict):
                continue
            text = variation.get("text")
            if isinstance(text, str) and text.strip():
                texts.append(Text(name, text.strip(), doc.line("responses", name, index, "text"), "text"))
            buttons = variation.get("buttons")
            for number, button in enumerate(buttons if isinstance(buttons, list) else ()):
                title = button.get("title") if isinstance(button, dict) else None
                if isinstance(title, str) and title.strip():
                    key = ("responses", name, index, "buttons", number, "title")
                    texts.append(Text(name, title.strip(), doc.line(*key), "button"))
    return names, lines, texts


def links(text: str) -> list[str]:
    """Return every web address written in text, without the punctuation of the sentence around it."""
    found = []
    for match in _ADDRESS.finditer(text):
        address = match.group().rstrip(_TRAILING)
        if address.count("(") > address.count(")") and match.group()[len(address) :].startswith(")"):
            address += ")"  # an address that ends in a bracket of its own (Wikipedia-style)
        found.append(address)
    return found


def link_problem(address: str, policy: AnswerPolicy) -> str | None:
    """Return why address may not be in an answer, or None: it must be https (www. counts as
    https://www.), without invisible characters, a user name or a port, on an allowed host."""
    hidden = [ch for ch in address if unicodedata.category(ch) in ("Cc", "Cf")]
    if hidden:
        return f"the link {address!r} contains an invisible or control character U+{ord(hidden[0]):04X}"
    url = "https://" + address if address[:4].lower() == "www." else address
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"the link {address!r} is not well formed: {exc}"
    if parts.scheme.lower() != "https":
        return f"the link {address!r} must start with https:// (other addresses are never shown as links)"
    host = (parts.hostname or "").lower()
    if "@" in parts.netloc or port is not None:
        return f"the link {address!r} has a user name or a port: write https://host/path only"
    if not HOST_NAME.match(host):
        return (
            f"the link {address!r} has no valid host name {host!r}: leave a space between an address and "
            "the text or punctuation after it (the chat reads them as part of the address), and write an "
            "international host name in punycode"
        )
    if not policy.allows(host):
        return (
            f"the link {address!r} points to {host}, which is not in `allowed_hosts` of dialogues/answers.yml"
        )
    return None


def _link_errors(path: Path | str, line: int, where: str, text: str, policy: AnswerPolicy, found: _Found) -> int:
    """Record a problem for each link of text that may not be there; return how many links it has."""
    addresses = links(text)
    for address in addresses:
        problem = link_problem(address, policy)
        if problem is not None:
            found.errors.append(ContentError(path, line, f"{where}: {problem}"))
    return len(addresses)


def _named(texts: Sequence[Text]) -> str:
    """Return how a message names the responses that share a msgid."""
    names = list(dict.fromkeys(text.response for text in texts))
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _translation_errors(
    po: Path, code: str, catalog: Catalog, msgid: str, uses: Sequence[Text], policy: AnswerPolicy, found: _Found
) -> list[str]:
    """Record the problems of msgid's translation in catalog; return [code] when it is not there at all."""
    message = catalog.get(msgid)
    if message is None:
        return [code]
    where = f"{_named(uses)} ({code})"
    line = message.lineno or 0
    if message.fuzzy:
        found.errors.append(ContentError(po, line, f"{where}: the translation is fuzzy: review it and remove the flag"))
        return []
    if not message.string:
        found.errors.append(ContentError(po, line, f"{where}: not translated (empty msgstr)"))
        return []
    want, got = placeholders(msgid), placeholders(message.string)
    if want != got:
        found.errors.append(
            ContentError(po, line, f"{where}: the placeholders differ: msgid has {want}, msgstr has {got}")
        )
    if message.string != msgid:  # the English text's links are checked once, at domain.yml
        _link_errors(po, line, where, message.string, policy, found)
    return []


def _due(
    names: Sequence[str],
    lines: dict[str, int],
    policy: AnswerPolicy,
    answers_path: Path,
    domain_path: Path,
    today: date,
    max_age_days: int,
) -> Iterator[ContentError]:
    for name in names:
        reviewed = policy.reviewed.get(name)
        if reviewed is None:
            yield ContentError(domain_path, lines[name], f"{name}: never reviewed (no date under `reviewed:` in answers.yml)")
            continue
        age = (today - reviewed).days
        if age > max_age_days:
            yield ContentError(
                answers_path,
                policy.reviewed_lines.get(name, 0),
                f"{name}: last reviewed {reviewed.isoformat()}, {age} days ago (review after {max_age_days} days)",
            )


def check_answers(
    dialogues_dir: Path,
    locales_dir: Path,
    locales: Iterable[str],
    policy: AnswerPolicy,
    *,
    today: date,
    max_age_days: int | None = None,
    chat_link_hosts: Iterable[str] = (),
) -> AnswerReport:
    """Return what is wrong with the responses of dialogues_dir/domain.yml: translations in locales
    (catalogs in locales_dir), links against policy, and review dates older than max_age_days (default:
    the policy's) on today. chat_link_hosts, when given, adds a note for each allowed host the web chat
    would not link."""
    domain_path = dialogues_dir / "domain.yml"
    answers_path = dialogues_dir / "answers.yml"
    locales = tuple(locales)
    names, lines, texts = response_texts(domain_path)
    found = _Found()
    for text in texts:
        found.links += _link_errors(domain_path, text.line, text.response, text.msgid, policy, found)

    uses: dict[str, list[Text]] = {}
    for text in texts:
        uses.setdefault(text.msgid, []).append(text)
    absent: dict[str, list[str]] = {}  # msgid -> locales whose catalog lacks it
    for code in locales:
        po = locales_dir / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not po.exists():
            found.errors.append(ContentError(po, 0, f"no catalog for the enabled locale {code}: run `witaj i18n update`"))
            continue
        catalog = read_catalog(po, code)
        for msgid, used in uses.items():
            absent.setdefault(msgid, []).extend(_translation_errors(po, code, catalog, msgid, used, policy, found))
    for msgid, codes in absent.items():
        if not codes:
            continue
        for text in uses[msgid]:
            found.errors.append(
                ContentError(
                    domain_path,
                    text.line,
                    f"{text.response}: the {text.what} has no translation in {', '.join(codes)} "
                    "(not in the catalog: run `witaj i18n extract` and `witaj i18n update`, then translate)",
                )
            )

    for name, day in policy.reviewed.items():
        if day > today:
            found.errors.append(
                ContentError(
                    answers_path,
                    policy.reviewed_lines.get(name, 0),
                    f"{name}: reviewed on {day.isoformat()}, which is after today ({today.isoformat()})",
                )
            )
    days = policy.review_after_days if max_age_days is None else max_age_days
    due = list(_due(names, lines, policy, answers_path, domain_path, today, days))

    chat = tuple(chat_link_hosts)
    notes = tuple(
        f"allowed host {host} is not covered by WITAJ_CHAT_LINK_HOSTS ({', '.join(chat)}): "
        "the web chat shows its addresses as text"
        for host in policy.allowed_hosts
        if chat and not AnswerPolicy(allowed_hosts=chat).allows(host)
    )
    return AnswerReport(
        errors=tuple(sorted(found.errors, key=_order)),
        due=tuple(sorted(due, key=_order)),
        notes=notes,
        responses=len(names),
        texts=len(texts),
        links=found.links,
        locales=locales,
    )


def _order(error: ContentError) -> tuple[str, int, str]:
    return error.path, error.line, error.message
