"""Reads and validates the city forms in forms/<form-id>.yml (the format is in forms/README.md).

Every problem in the folder is reported at once, each as `file:line: message`. The human text of a
form is the official Polish wording; it is translated through the gettext catalogs with the
message context "form" (app/forms/extract.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.content import Checker, ContentError, ContentErrors, Key, YamlDoc, load_yaml
from app.forms.expr import Expression, ExpressionError, Node, parse

FIELD_TYPES = (
    "text",
    "textarea",
    "number",
    "date",
    "email",
    "phone",
    "select",
    "multiselect",
    "yesno",
    "consent",
)
TEXT_TYPES = ("text", "textarea", "email", "phone")
CHOICE_TYPES = ("select", "multiselect")
#: Which constraints each field type takes.
CONSTRAINTS_FOR: dict[str, tuple[str, ...]] = {
    **{kind: ("min_length", "max_length", "pattern", "expression") for kind in TEXT_TYPES},
    "number": ("min", "max", "expression"),
    "date": ("min", "max", "expression"),
    "select": ("expression",),
    "multiselect": ("min", "max", "expression"),
    "yesno": ("expression",),
    "consent": (),
}
CONSTRAINT_KINDS = ("min", "max", "min_length", "max_length", "pattern", "expression")
#: The longest answer a field of a type takes when its constraints say nothing shorter.
DEFAULT_MAX_LENGTH = {"text": 200, "textarea": 4000, "email": 254, "phone": 20}
#: Where a select can take its choices from instead of listing them (proper names, not translated).
CHOICE_SOURCES = ("districts",)
#: Which answers fill the case's client record.
CLIENT_KEYS = ("name", "email", "phone", "district")
#: How a field may be shown instead of its type's usual input (XLSForm's `appearance` column).
#: `no-calendar`: a date people know or copy from a document (a date of birth) in three boxes, day,
#: month and year, as GOV.UK asks for one; no calendar to scroll back through decades.
APPEARANCES: dict[str, tuple[str, ...]] = {"date": ("no-calendar",)}
#: The boxes of a `no-calendar` date, in the order people write a date in our languages.
DATE_PARTS = ("day", "month", "year")
YES, NO = "yes", "no"
#: Polish wording of the yes/no answers (translated with the other form strings).
YES_NO_LABELS = {YES: "Tak", NO: "Nie"}

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_CHOICE = re.compile(r"^[a-z0-9_]{1,40}$")
_AUTOCOMPLETE = re.compile(r"^[a-z0-9 -]{2,60}$")
_RELATIVE_DATE = re.compile(r"^today(?:\s*([+-])\s*(\d{1,4})\s*([dmy]))?$")


# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One option of a select or multiselect: the stored value and its Polish label."""

    value: str
    label: str
    translated: bool = True  # False for proper names (districts), shown as written


@dataclass(frozen=True)
class DateBound:
    """A date limit: a fixed date, or today moved by some days, months or years."""

    fixed: date | None = None
    sign: int = 0
    amount: int = 0
    unit: str = "d"

    def resolve(self, today: date) -> date:
        """Return the limit on the given day."""
        if self.fixed is not None:
            return self.fixed
        if self.unit == "d":
            from datetime import timedelta

            return today + timedelta(days=self.sign * self.amount)
        months = self.sign * self.amount * (12 if self.unit == "y" else 1)
        month_index = today.month - 1 + months
        year, month = today.year + month_index // 12, month_index % 12 + 1
        from calendar import monthrange

        return date(year, month, min(today.day, monthrange(year, month)[1]))

    def source(self) -> str:
        """Return the bound as written in forms/*.yml."""
        if self.fixed is not None:
            return self.fixed.isoformat()
        if not self.amount:
            return "today"
        return f"today{'+' if self.sign > 0 else '-'}{self.amount}{self.unit}"


@dataclass(frozen=True)
class Constraint:
    """A rule an answer must keep, with the message (Polish wording) shown when it does not."""

    kind: str  # one of CONSTRAINT_KINDS
    value: Any  # Decimal (min/max of numbers and counts), int (lengths), DateBound, re.Pattern, Expression
    message: str


@dataclass(frozen=True)
class Field:
    """One question of a form."""

    name: str
    type: str
    label: str
    section: str
    help: str | None = None
    required: bool = False
    relevant: Expression | None = None
    constraints: tuple[Constraint, ...] = ()
    choices: tuple[Choice, ...] = ()
    choices_from: str | None = None
    integer: bool = True
    autocomplete: str | None = None
    placeholder: str | None = None
    appearance: str | None = None

    @property
    def date_in_parts(self) -> bool:
        """Return whether the field is a date asked in three boxes (day, month, year)."""
        return self.type == "date" and self.appearance == "no-calendar"

    @property
    def max_length(self) -> int | None:
        """Return the longest answer a text field takes."""
        if self.type not in TEXT_TYPES:
            return None
        limits = [c.value for c in self.constraints if c.kind == "max_length"]
        return min([*limits, DEFAULT_MAX_LENGTH[self.type]])

    def choice_label(self, value: str) -> str | None:
        """Return the Polish label of a choice value, or None when the value is not a choice."""
        if self.type == "yesno":
            return YES_NO_LABELS.get(value)
        for choice in self.choices:
            if choice.value == value:
                return choice.label
        return None


@dataclass(frozen=True)
class Section:
    """A group of questions with a heading; it may be skipped as a whole (`relevant`)."""

    id: str
    title: str
    fields: tuple[Field, ...]
    description: str | None = None
    relevant: Expression | None = None


@dataclass(frozen=True)
class CategoryRule:
    """The case category chosen by an answer (e.g. the kind of help asked for)."""

    field: str
    by_choice: dict[str, str]


@dataclass(frozen=True)
class FormDef:
    """A city form: one definition, rendered in every language beside the Polish wording."""

    id: str
    version: int
    title: str
    category: str
    sections: tuple[Section, ...]
    data: dict[str, Any] = field(repr=False, compare=False)
    description: str | None = None
    legal_basis: str | None = None
    office: str | None = None
    category_rule: CategoryRule | None = None
    client: dict[str, tuple[str, ...]] = field(default_factory=dict)
    path: str = ""

    @property
    def fields(self) -> dict[str, Field]:
        """Return the form's fields by name, in form order."""
        return {f.name: f for section in self.sections for f in section.fields}

    @property
    def digest(self) -> str:
        """Return a hash of the definition: a changed form has a different one, even with the same version."""
        return hashlib.sha256(canonical_json(self.data).encode()).hexdigest()

    def texts(self) -> Iterator[str]:
        """Yield every Polish source text of the form (for translation coverage)."""
        for text in (self.title, self.description, self.legal_basis):
            if text:
                yield text
        for section in self.sections:
            yield section.title
            if section.description:
                yield section.description
            for f in section.fields:
                yield f.label
                if f.help:
                    yield f.help
                if f.placeholder:
                    yield f.placeholder
                for choice in f.choices:
                    if choice.translated:
                        yield choice.label
                for constraint in f.constraints:
                    yield constraint.message
                if f.type == "yesno":
                    yield from YES_NO_LABELS.values()


def canonical_json(data: Any) -> str:
    """Return data as JSON with sorted keys (dates as ISO text), for hashing and storing."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__}")


def to_jsonable(data: Any) -> Any:
    """Return the raw YAML data with dates as text, so it can be stored as JSON and read back."""
    return json.loads(canonical_json(data))


# --- reading -----------------------------------------------------------------------------------


@dataclass
class _Context:
    categories: frozenset[str]
    districts: tuple[str, ...]


def load_forms(folder: Path, *, categories: Iterable[str], districts: Sequence[str]) -> dict[str, FormDef]:
    """Return every form in folder by id; raise ContentErrors listing every problem in every file."""
    errors: list[ContentError] = []
    forms: dict[str, FormDef] = {}
    context = _Context(frozenset(categories), tuple(districts))
    if not folder.is_dir():
        raise ContentErrors([ContentError(folder, 0, "the forms folder does not exist")])
    for path in sorted(folder.glob("*.yml")):
        try:
            doc = load_yaml(path)
        except ContentError as exc:
            errors.append(exc)
            continue
        form = read_form(Checker(doc, errors), context.categories, context.districts, file_id=path.stem)
        if form is not None:
            forms[form.id] = form
    if errors:
        raise ContentErrors(errors)
    return forms


def form_from_snapshot(data: dict[str, Any], *, districts: Sequence[str] = ()) -> FormDef:
    """Return the form stored with a submission (its definition when it was used), trusting it."""
    errors: list[ContentError] = []
    doc = YamlDoc(path=Path(f"{data.get('id', 'form')}.yml"), data=data, lines={})
    form = read_form(Checker(doc, errors), None, districts, file_id=None)
    if form is None:
        raise ContentErrors(errors)
    return form


def read_form(
    c: Checker, categories: frozenset[str] | None, districts: Sequence[str], *, file_id: str | None
) -> FormDef | None:
    """Return the form of one document, or None after recording its problems in the checker."""
    start = c.error_count
    top = c.mapping(
        (),
        c.doc.data,
        required=("id", "version", "title", "category", "sections"),
        optional=("description", "legal_basis", "office", "category_by_answer", "client"),
    )
    if top is None:
        return None
    form_id = c.field(top, (), "id", c.matching, _ID, "lower-case words joined by hyphens, e.g. library-card")
    if form_id is not None and file_id is not None and form_id != file_id:
        c.fail(("id",), f"`id` is {form_id!r} but the file is {file_id}.yml; they must be the same")
    version = c.field(top, (), "version", c.integer, minimum=1)
    title = c.field(top, (), "title", c.text)
    description = c.field(top, (), "description", c.text)
    legal_basis = c.field(top, (), "legal_basis", c.text)
    office = c.field(top, (), "office", c.text)
    category = c.field(top, (), "category", c.text)
    if category is not None and categories is not None and category not in categories:
        c.fail(("category",), f"`category` is {category!r}; allowed: {', '.join(sorted(categories))}")
    sections: list[Section] = []
    seen_sections: dict[str, Key] = {}
    fields: dict[str, tuple[Field, Key]] = {}
    raw_sections = c.field(top, (), "sections", c.sequence, min_items=1) or []
    for index, raw in enumerate(raw_sections):
        section = _read_section(c, ("sections", index), raw, fields, seen_sections, districts)
        if section is not None:
            sections.append(section)
    for section_id, section_key in seen_sections.items():
        if section_id in fields:
            # One namespace, as in XLSForm (groups and questions are both named elements).
            c.fail(
                section_key, f"section id {section_id!r} is also a field's name; give them different names"
            )
    category_rule = None
    if "category_by_answer" in top:
        category_rule = _read_category_rule(c, top["category_by_answer"], fields, categories)
    client = _read_client(c, top.get("client"), fields) if "client" in top else {}
    if c.error_count > start or form_id is None or version is None or title is None or category is None:
        return None
    return FormDef(
        id=form_id,
        version=version,
        title=title,
        description=description,
        legal_basis=legal_basis,
        office=office,
        category=category,
        category_rule=category_rule,
        client=client,
        sections=tuple(sections),
        data=to_jsonable(c.doc.data),
        path=str(c.doc.path),
    )


def _read_section(
    c: Checker,
    key: Key,
    raw: object,
    fields: dict[str, tuple[Field, Key]],
    seen: dict[str, Key],
    districts: Sequence[str],
) -> Section | None:
    item = c.mapping(key, raw, required=("id", "title", "fields"), optional=("description", "relevant"))
    if item is None:
        return None
    start = c.error_count
    section_id = c.field(item, key, "id", c.matching, _NAME, "a name of lower-case letters, digits and _")
    if section_id is not None:
        if section_id in seen:
            c.fail(
                (*key, "id"),
                f"section id {section_id!r} is used twice (first on line {c.doc.line(*seen[section_id])})",
            )
        seen[section_id] = (*key, "id")
    title = c.field(item, key, "title", c.text)
    description = c.field(item, key, "description", c.text)
    relevant = (
        _read_expression(c, (*key, "relevant"), item["relevant"], fields, current=False)
        if "relevant" in item
        else None
    )
    own: list[Field] = []
    for index, raw_field in enumerate(c.field(item, key, "fields", c.sequence, min_items=1) or []):
        found = _read_field(c, (*key, "fields", index), raw_field, section_id or "?", fields, districts)
        if found is not None:
            own.append(found)
            fields[found.name] = (found, (*key, "fields", index))
    if c.error_count > start or section_id is None or title is None:
        return None
    return Section(id=section_id, title=title, description=description, relevant=relevant, fields=tuple(own))


def _read_field(
    c: Checker,
    key: Key,
    raw: object,
    section: str,
    fields: dict[str, tuple[Field, Key]],
    districts: Sequence[str],
) -> Field | None:
    item = c.mapping(
        key,
        raw,
        required=("name", "type", "label"),
        optional=(
            "help",
            "required",
            "relevant",
            "constraints",
            "choices",
            "choices_from",
            "integer",
            "autocomplete",
            "placeholder",
            "appearance",
        ),
    )
    if item is None:
        return None
    start = c.error_count
    name = c.field(
        item, key, "name", c.matching, _NAME, "a name of lower-case letters, digits and _ (at most 40)"
    )
    if name is not None and name in fields:
        c.fail(
            (*key, "name"),
            f"field name {name!r} is used twice (first on line {c.doc.line(*fields[name][1])})",
        )
    kind = c.field(item, key, "type", c.choice, FIELD_TYPES)
    label = c.field(item, key, "label", c.text)
    help_text = c.field(item, key, "help", c.text)
    placeholder = c.field(item, key, "placeholder", c.text)
    required = c.field(item, key, "required", c.boolean) or False
    autocomplete = c.field(item, key, "autocomplete", c.matching, _AUTOCOMPLETE, "an HTML autocomplete token")
    appearance = None
    if "appearance" in item and kind is not None:
        allowed = APPEARANCES.get(kind, ())
        if not allowed:
            c.fail((*key, "appearance"), f"a {kind} field has no `appearance`")
        else:
            appearance = c.field(item, key, "appearance", c.choice, allowed)
    integer = True
    if "integer" in item:
        if kind != "number":
            c.fail((*key, "integer"), "`integer` is only for fields of type number")
        integer = bool(c.field(item, key, "integer", c.boolean))
    relevant = None
    if "relevant" in item:
        relevant = _read_expression(c, (*key, "relevant"), item["relevant"], fields, current=False)
    choices: tuple[Choice, ...] = ()
    choices_from = None
    if kind in CHOICE_TYPES:
        if ("choices" in item) == ("choices_from" in item):
            c.fail(key, f"a {kind} field needs either `choices` or `choices_from`, not both or neither")
        elif "choices" in item:
            choices = _read_choices(c, (*key, "choices"), item["choices"])
        else:
            choices_from = c.field(item, key, "choices_from", c.choice, CHOICE_SOURCES)
            if choices_from == "districts":
                choices = tuple(Choice(value=d, label=d, translated=False) for d in districts)
    else:
        for extra in ("choices", "choices_from"):
            if extra in item and kind is not None:
                c.fail((*key, extra), f"`{extra}` is only for select and multiselect fields, not {kind}")
    if kind == "consent" and "required" in item and not required:
        c.fail(
            (*key, "required"), "a consent field that is not required would never stop a form; leave it out"
        )
    if kind == "consent":
        required = required or "required" not in item
    constraints: tuple[Constraint, ...] = ()
    if "constraints" in item and kind is not None:
        constraints = _read_constraints(
            c, (*key, "constraints"), item["constraints"], kind, fields, name, choices
        )
    if c.error_count > start or name is None or kind is None or label is None:
        if name is not None and name not in fields:
            # Known by name from here on, so later references do not report it again.
            fields[name] = (
                Field(name=name, type=kind or "text", label=label or name, section=section, choices=choices),
                key,
            )
        return None
    return Field(
        name=name,
        type=kind,
        label=label,
        section=section,
        help=help_text,
        required=required,
        relevant=relevant,
        constraints=constraints,
        choices=choices,
        choices_from=choices_from,
        integer=integer,
        autocomplete=autocomplete,
        placeholder=placeholder,
        appearance=appearance,
    )


def _read_choices(c: Checker, key: Key, raw: object) -> tuple[Choice, ...]:
    found: list[Choice] = []
    seen: set[str] = set()
    for index, entry in enumerate(c.sequence(key, raw, min_items=2) or []):
        item = c.mapping((*key, index), entry, required=("value", "label"))
        if item is None:
            continue
        value = item.get("value")
        if isinstance(value, bool) or isinstance(value, int):
            value = str(value).lower() if not isinstance(value, bool) else None
        if value is None or not isinstance(value, str) or not _CHOICE.match(value):
            c.fail(
                (*key, index, "value"),
                "a choice `value` must be lower-case letters, digits and _ (quote yes/no)",
            )
            continue
        label = c.field(item, (*key, index), "label", c.text)
        if value in seen:
            c.fail((*key, index, "value"), f"choice value {value!r} is used twice")
            continue
        seen.add(value)
        if label is not None:
            found.append(Choice(value=value, label=label))
    return tuple(found)


def _read_constraints(
    c: Checker,
    key: Key,
    raw: object,
    kind: str,
    fields: dict[str, tuple[Field, Key]],
    name: str | None,
    choices: Sequence[Choice],
) -> tuple[Constraint, ...]:
    found: list[Constraint] = []
    allowed = CONSTRAINTS_FOR[kind]
    for index, entry in enumerate(c.sequence(key, raw, min_items=1) or []):
        item_key = (*key, index)
        if not isinstance(entry, dict):
            c.mapping(item_key, entry, required=("message",))
            continue
        kinds = [k for k in entry if k in CONSTRAINT_KINDS]
        if len(kinds) != 1:
            c.fail(
                item_key, f"each constraint has exactly one of {', '.join(CONSTRAINT_KINDS)}, and a `message`"
            )
            continue
        rule = kinds[0]
        item = c.mapping(item_key, entry, required=(rule, "message"))
        if item is None:
            continue
        message = c.field(item, item_key, "message", c.text)
        if rule not in allowed:
            shown = ", ".join(allowed) or "none"
            c.fail((*item_key, rule), f"a {kind} field cannot have a `{rule}` constraint (allowed: {shown})")
            continue
        value = _constraint_value(c, (*item_key, rule), item[rule], rule, kind, fields, name)
        if value is not None and message is not None:
            found.append(Constraint(kind=rule, value=value, message=message))
    return tuple(found)


def _constraint_value(
    c: Checker,
    key: Key,
    raw: object,
    rule: str,
    kind: str,
    fields: dict[str, tuple[Field, Key]],
    name: str | None,
) -> Any:
    if rule in ("min_length", "max_length"):
        return c.integer(key, raw, minimum=0, maximum=DEFAULT_MAX_LENGTH.get(kind, 4000))
    if rule == "pattern":
        if not isinstance(raw, str) or not raw:
            c.fail(key, "`pattern` must be a quoted regular expression")
            return None
        try:
            return re.compile(raw)
        except re.error as exc:
            c.fail(key, f"`pattern` is not a valid regular expression: {exc}")
            return None
    if rule == "expression":
        expression = _read_expression(c, key, raw, fields, current=True, own=name)
        return expression
    if kind == "date":
        return _date_bound(c, key, raw)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        c.fail(key, f"`{rule}` of a {kind} field must be a number")
        return None
    if kind == "multiselect" and (not isinstance(raw, int) or raw < 0):
        c.fail(key, f"`{rule}` of a multiselect counts the chosen options: a whole number")
        return None
    return Decimal(str(raw))


def _date_bound(c: Checker, key: Key, raw: object) -> DateBound | None:
    if isinstance(raw, datetime):
        return DateBound(fixed=raw.date())
    if isinstance(raw, date):
        return DateBound(fixed=raw)
    if isinstance(raw, str):
        text = raw.strip()
        try:
            return DateBound(fixed=date.fromisoformat(text))
        except ValueError:
            pass
        match = _RELATIVE_DATE.match(text)
        if match:
            sign, amount, unit = match.groups()
            if not sign:
                return DateBound()
            return DateBound(sign=1 if sign == "+" else -1, amount=int(amount), unit=unit)
    c.fail(
        key,
        "a date limit is a date (2026-01-31), `today`, or today moved, "
        "e.g. `today-18y`, `today+30d`, `today-6m`",
    )
    return None


def _read_expression(
    c: Checker,
    key: Key,
    raw: object,
    fields: dict[str, tuple[Field, Key]],
    *,
    current: bool,
    own: str | None = None,
) -> Expression | None:
    """Parse an expression and check that it reads only fields above it (and `.` only in constraints)."""
    if not isinstance(raw, str):
        c.fail(key, "an expression must be quoted text")
        return None
    try:
        expression = parse(raw)
    except ExpressionError as exc:
        c.fail(key, f"{exc.message} at column {exc.column} of {raw.strip()!r}")
        return None
    valid = True
    if expression.uses_current and not current:
        c.fail(key, "`.` (this field's answer) is only allowed in a constraint's `expression`")
        valid = False
    for name in sorted(expression.fields):
        if name == own:
            c.fail(key, f"write this field's own answer as `.`, not ${{{name}}}")
            valid = False
        elif name not in fields:
            c.fail(
                key, f"${{{name}}} is not a field above this one; an expression may only read earlier answers"
            )
            valid = False
    if not valid:
        return None
    problems: list[str] = []

    def visit(node: Node) -> None:
        if node[0] == "call" and node[1] in ("selected", "count-selected"):
            target = node[2][0]
            if target[0] != "field":
                problems.append(f"the first argument of {node[1]}() must be a field, ${{name}}")
                return
            found = fields.get(target[1])
            if found and found[0].type not in CHOICE_TYPES:
                problems.append(
                    f"{node[1]}() needs a select or multiselect field; ${{{target[1]}}} is {found[0].type}"
                )
            elif found and node[1] == "selected" and node[2][1][0] == "lit":
                _check_choice(found[0], str(node[2][1][1]), problems)
        if node[0] == "cmp" and node[1] in ("=", "!="):
            for side, other in ((node[2], node[3]), (node[3], node[2])):
                if side[0] == "field" and other[0] == "lit" and isinstance(other[1], str):
                    found = fields.get(side[1])
                    if (
                        found
                        and (found[0].type in CHOICE_TYPES or found[0].type == "yesno")
                        and other[1] != ""
                    ):
                        _check_choice(found[0], other[1], problems)

    expression.walk(visit)
    for problem in problems:
        c.fail(key, problem)
    return None if problems else expression


def _check_choice(f: Field, value: str, problems: list[str]) -> None:
    options = list(YES_NO_LABELS) if f.type == "yesno" else [choice.value for choice in f.choices]
    if value not in options:
        problems.append(f"{value!r} is not a choice of ${{{f.name}}} (choices: {', '.join(options)})")


def _read_category_rule(
    c: Checker, raw: object, fields: dict[str, tuple[Field, Key]], categories: frozenset[str] | None
) -> CategoryRule | None:
    key: Key = ("category_by_answer",)
    item = c.mapping(key, raw, required=("field", "map"))
    if item is None:
        return None
    name = c.field(item, key, "field", c.text)
    found = fields.get(name or "")
    if name is not None and (found is None or found[0].type != "select"):
        c.fail((*key, "field"), f"`field` must name a select field of this form, not {name!r}")
        return None
    mapping = item.get("map")
    if not isinstance(mapping, dict) or not mapping:
        c.fail((*key, "map"), "`map` must map choices of the field to case categories")
        return None
    if found is None:
        return None
    options = [choice.value for choice in found[0].choices]
    result: dict[str, str] = {}
    for value, category in mapping.items():
        if str(value) not in options:
            c.fail(
                (*key, "map", value), f"{value!r} is not a choice of {name} (choices: {', '.join(options)})"
            )
        elif not isinstance(category, str) or (categories is not None and category not in categories):
            c.fail((*key, "map", value), f"{category!r} is not a case category")
        else:
            result[str(value)] = category
    return CategoryRule(field=found[0].name, by_choice=result)


def _read_client(c: Checker, raw: object, fields: dict[str, tuple[Field, Key]]) -> dict[str, tuple[str, ...]]:
    key: Key = ("client",)
    item = c.mapping(key, raw, required=("name",), optional=tuple(k for k in CLIENT_KEYS if k != "name"))
    if item is None:
        return {}
    wanted = {"email": ("email",), "phone": ("phone",), "district": ("select",)}
    result: dict[str, tuple[str, ...]] = {}
    for target, value in item.items():
        if target not in CLIENT_KEYS:
            continue
        names = value if isinstance(value, list) else [value]
        if not names or not all(isinstance(n, str) for n in names) or (target != "name" and len(names) != 1):
            c.fail(
                (*key, target),
                f"`{target}` names {'one field' if target != 'name' else 'one or more fields'} of this form",
            )
            continue
        bad = [n for n in names if n not in fields]
        if bad:
            c.fail((*key, target), f"{', '.join(bad)} is not a field of this form")
            continue
        if target in wanted and fields[names[0]][0].type not in wanted[target]:
            c.fail((*key, target), f"`{target}` must name a field of type {' or '.join(wanted[target])}")
            continue
        if target == "district" and fields[names[0]][0].choices_from != "districts":
            c.fail((*key, target), "`district` must name a select with `choices_from: districts`")
            continue
        result[target] = tuple(names)
    return result
