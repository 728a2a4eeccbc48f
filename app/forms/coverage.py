"""Per-locale translation coverage of the interface, the assistant's dialogues and the city forms,
measured against locales/messages.pot (the admin page /staff/translations)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from app.i18n import _
from app.i18n_tools import DOMAIN, read_catalog
from app.languages import native_name

PARTS = ("interface", "dialogues", "forms")


def part_of(locations: list[tuple[str, int | None]], context: str | None) -> str:
    """Return which part of Witaj a message belongs to, from its context and where it was found."""
    if context == "form" or any(path.startswith("forms/") for path, _line in locations):
        return "forms"
    if locations and all(path.startswith("dialogues/") for path, _line in locations):
        return "dialogues"
    return "interface"


@dataclass
class Cell:
    """How much of one part one locale translates."""

    translated: int = 0
    total: int = 0

    @property
    def percent(self) -> Decimal:
        """Return the share translated, rounded down to one decimal (100 only when complete)."""
        if not self.total:
            return Decimal(100)
        return (Decimal(100 * self.translated) / self.total).quantize(Decimal("0.1"), rounding=ROUND_DOWN)

    @property
    def complete(self) -> bool:
        """Return whether every message of the part is translated."""
        return self.translated == self.total


@dataclass
class Row:
    """One locale's coverage."""

    locale: str
    name: str
    cells: list[Cell]
    missing: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Report:
    """Coverage of every enabled locale."""

    parts: list[dict[str, str]]
    rows: list[Row]


def coverage(locales_dir: Path, locales: list[str]) -> Report:
    """Return the translation coverage of each locale (fuzzy messages count as untranslated)."""
    template = read_catalog(locales_dir / f"{DOMAIN}.pot")
    parts = {}
    for message in template:
        if message.id:
            key = message.id if isinstance(message.id, str) else message.id[0]
            parts[(key, message.context)] = part_of(message.locations, message.context)
    labels = {"interface": _("Interface"), "dialogues": _("Assistant's dialogues"), "forms": _("City forms")}
    rows = []
    for code in locales:
        path = locales_dir / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        done: set[tuple[str, str | None]] = set()
        if path.exists():
            for message in read_catalog(path, code):
                if not message.id or message.fuzzy:
                    continue
                strings = message.string if isinstance(message.string, list | tuple) else [message.string]
                if all(strings):
                    done.add((message.id if isinstance(message.id, str) else message.id[0], message.context))
        cells = {part: Cell() for part in PARTS}
        row = Row(locale=code, name=native_name(code), cells=[])
        for key, part in sorted(parts.items(), key=lambda item: (item[1], item[0][0])):
            cells[part].total += 1
            if key in done:
                cells[part].translated += 1
            else:
                row.missing.append({"part": part, "msgid": key[0]})
        row.cells = [cells[part] for part in PARTS]
        rows.append(row)
    return Report(parts=[{"id": part, "label": labels[part]} for part in PARTS], rows=rows)
