"""Babel extraction of the human text of forms/*.yml, with the message context "form".

Form text is the official Polish wording, so its source language is Polish (app/i18n_tools.py
fills the Polish catalog with it); every other locale translates it. Proper names (the office, the
districts) and expressions are not extracted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import yaml

from app.forms.content import YES_NO_LABELS

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
CONTEXT = "form"

#: (line, keyword, (context, message), translator comments): "pgettext" makes Babel keep the context.
Extracted = tuple[int, str, tuple[str, str], list[str]]


def extract_form(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Mapping[str, Any]
) -> Iterator[Extracted]:
    """Yield every translatable text of a form with where it comes from."""
    root = yaml.compose(fileobj.read().decode("utf-8"), Loader=_Loader)
    if not isinstance(root, yaml.MappingNode):
        return
    name = Path(getattr(fileobj, "name", "form.yml")).name
    top = _fields(root)
    form_id = _scalar(top.get("id"))
    where = f"forms/{name} ({form_id})"
    yield from _texts(top, ("title", "description", "legal_basis"), where)
    for section in _items(top.get("sections")):
        here = f"{where} section {_scalar(section.get('id'))}"
        yield from _texts(section, ("title", "description"), here)
        for field in _items(section.get("fields")):
            at = f"{where} field {_scalar(field.get('name'))}"
            yield from _texts(field, ("label", "help", "placeholder"), at)
            for choice in _items(field.get("choices")):
                yield from _texts(choice, ("label",), f"{at} choice {_scalar(choice.get('value'))}")
            for constraint in _items(field.get("constraints")):
                yield from _texts(constraint, ("message",), f"{at} constraint message")
            kind = field.get("type")
            if isinstance(kind, yaml.ScalarNode) and kind.value == "yesno":
                for label in YES_NO_LABELS.values():
                    yield kind.start_mark.line + 1, "pgettext", (CONTEXT, label), [f"{at}: yes/no answer"]


def _texts(item: dict[str, yaml.Node], names: tuple[str, ...], context: str) -> Iterator[Extracted]:
    for field in names:
        node = item.get(field)
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR and node.value.strip():
            yield node.start_mark.line + 1, "pgettext", (CONTEXT, node.value.strip()), [f"{context}: {field}"]


def _fields(node: yaml.Node | None) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}


def _items(node: yaml.Node | None) -> Iterator[dict[str, yaml.Node]]:
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield _fields(item)


def _scalar(node: yaml.Node | None) -> str:
    return node.value if isinstance(node, yaml.ScalarNode) else "?"
