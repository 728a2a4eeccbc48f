"""`witaj forms export-xlsform`: each form as an XLSForm (survey, choices, settings sheets) with one
label column per language, so partners can collect the same form offline in KoboToolbox or ODK.

Skip logic is exported as written (our expressions are XLSForm's). Constraints become one XPath
constraint per question; date limits relative to today use decimal-date-time().
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.forms.content import YES, YES_NO_LABELS, Constraint, Field, FormDef
from app.forms.service import SOURCE_LOCALE, form_text
from app.i18n import _, use_locale
from app.languages import native_name

YES_NO_LIST = "yes_no"
CONSENT_LIST = "consent_yes"


def _column(kind: str, code: str) -> str:
    return f"{kind}::{native_name(code)} ({code})"


def choice_name(value: str) -> str:
    """Return a choice value usable as an XLSForm choice name (district names lose spaces and accents)."""
    plain = (
        unicodedata.normalize("NFKD", value.replace("ł", "l").replace("Ł", "L"))
        .encode("ascii", "ignore")
        .decode()
    )
    return re.sub(r"[^a-z0-9_]+", "_", plain.lower()).strip("_") or "choice"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "") + "'"


def _date_limit(rule: Constraint) -> str:
    bound = rule.value
    if bound.fixed is not None:
        return f"decimal-date-time(date({_quote(bound.fixed.isoformat())}))"
    days = {"d": 1, "m": 30.4375, "y": 365.25}[bound.unit] * bound.amount
    shift = f" {'+' if bound.sign > 0 else '-'} {days:g}" if bound.amount else ""
    return f"decimal-date-time(today()){shift}"


def constraint_of(f: Field) -> tuple[str, list[str]]:
    """Return the field's constraints as one XPath expression, and the messages (Polish)."""
    parts: list[str] = []
    messages: list[str] = []
    for rule in f.constraints:
        if rule.kind in ("min", "max"):
            op = ">=" if rule.kind == "min" else "<="
            if f.type == "date":
                parts.append(f"decimal-date-time(.) {op} {_date_limit(rule)}")
            elif f.type == "multiselect":
                parts.append(f"count-selected(.) {op} {rule.value}")
            else:
                parts.append(f". {op} {rule.value}")
        elif rule.kind == "min_length":
            parts.append(f"string-length(.) >= {rule.value}")
        elif rule.kind == "max_length":
            parts.append(f"string-length(.) <= {rule.value}")
        elif rule.kind == "pattern":
            parts.append(f"regex(., {_quote('^(' + rule.value.pattern + ')$')})")
        elif rule.kind == "expression":
            parts.append(f"({rule.value.source})")
        if rule.message not in messages:
            messages.append(rule.message)
    if f.type == "email":
        parts.append(r"regex(., '^[^@ ]+@[^@ ]+\.[^@ ]{2,}$')")
    if f.type == "phone":
        parts.append(r"regex(., '^\+?[0-9 ()-]{6,20}$')")
    return " and ".join(parts), messages


def rows(
    form: FormDef, locales: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Return the survey rows, choice rows and settings of form as XLSForm columns."""
    codes = [SOURCE_LOCALE, *[code for code in locales if code != SOURCE_LOCALE]]

    def labels(kind: str, text: str | None, translated: bool = True) -> dict[str, str]:
        if not text:
            return {}
        return {_column(kind, code): form_text(text, code) if translated else text for code in codes}

    def ui(kind: str, message: str) -> dict[str, str]:
        found = {}
        for code in codes:
            with use_locale(code):
                found[_column(kind, code)] = _(message)
        return found

    survey: list[dict[str, Any]] = []
    choices: list[dict[str, Any]] = []
    for value, label in YES_NO_LABELS.items():
        choices.append({"list_name": YES_NO_LIST, "name": value, **labels("label", label)})
    choices.append({"list_name": CONSENT_LIST, "name": YES, **labels("label", YES_NO_LABELS[YES])})
    for section in form.sections:
        survey.append(
            {
                "type": "begin_group",
                "name": section.id,
                **labels("label", section.title),
                **labels("hint", section.description),
                "relevant": section.relevant.source if section.relevant else "",
            }
        )
        for f in section.fields:
            row: dict[str, Any] = {"name": f.name, **labels("label", f.label), **labels("hint", f.help)}
            if f.type in ("text", "email", "phone"):
                row["type"] = "text"
                if f.type == "phone":
                    row["appearance"] = "numbers"
            elif f.type == "textarea":
                row.update(type="text", appearance="multiline")
            elif f.type == "number":
                row["type"] = "integer" if f.integer else "decimal"
            elif f.type == "date":
                row["type"] = "date"
                if f.appearance:  # no-calendar: ODK Collect asks day, month and year as we do
                    row["appearance"] = f.appearance
            elif f.type in ("select", "multiselect"):
                list_name = f"{form.id.replace('-', '_')}_{f.name}"
                row["type"] = f"{'select_one' if f.type == 'select' else 'select_multiple'} {list_name}"
                for choice in f.choices:
                    choices.append(
                        {
                            "list_name": list_name,
                            "name": choice_name(choice.value),
                            **labels("label", choice.label, choice.translated),
                        }
                    )
            elif f.type == "yesno":
                row["type"] = f"select_one {YES_NO_LIST}"
            elif f.type == "consent":
                row["type"] = f"select_one {CONSENT_LIST}"
            row["required"] = "yes" if f.required else ""
            if f.required:
                row.update(ui("required_message", "This field is required."))
            row["relevant"] = f.relevant.source if f.relevant else ""
            constraint, messages = constraint_of(f)
            row["constraint"] = constraint
            if messages:
                row.update(
                    {
                        _column("constraint_message", code): " ".join(form_text(m, code) for m in messages)
                        for code in codes
                    }
                )
            survey.append(row)
        survey.append({"type": "end_group", "name": section.id})
    settings = {
        "form_title": form.title,
        "form_id": form.id,
        "version": str(form.version),
        "default_language": f"{native_name(SOURCE_LOCALE)} ({SOURCE_LOCALE})",
    }
    return survey, choices, settings


def write_xlsform(form: FormDef, path: Path, *, locales: Sequence[str]) -> Path:
    """Write form as an XLSForm .xlsx at path; return path."""
    from openpyxl import Workbook

    survey, choices, settings = rows(form, locales)
    book = Workbook()
    for index, (title, table) in enumerate(
        (("survey", survey), ("choices", choices), ("settings", [settings]))
    ):
        sheet = book.active if index == 0 else book.create_sheet()
        sheet.title = title
        columns: list[str] = []
        for row in table:
            for key in row:
                if key not in columns:
                    columns.append(key)
        sheet.append(columns)
        for row in table:
            sheet.append([row.get(column, "") for column in columns])
    book.save(path)
    return path
