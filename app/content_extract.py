"""Babel extraction of the English source strings in cases/*.yml, partners/*.yml, appointments/*.yml
(services: name, description, what to bring; places are proper names) and the assistant's knowledge
base (dialogues/knowledge/events.yml).

Which fields are translated is decided by cases/README.md and partners/README.md: labels and
descriptions of categories, statuses, outcomes and transitions; a partner's description, phone
descriptions, its services' name, description, eligibility and fees, and its locations' names
("Main office": a description in English, shown in every language). Proper names (organisations,
districts) are shown as written and are not extracted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import yaml

# Same fast parser as the loader where libyaml is installed; the pure-Python one otherwise.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"

#: (line, function name, message, translator comments), as Babel expects from an extraction method.
Extracted = tuple[int, None, str, list[str]]


def extract_yaml_labels(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Mapping[str, Any]
) -> Iterator[Extracted]:
    """Yield the translatable strings of a cases/ or partners/ YAML file, each with where it comes from."""
    root = yaml.compose(fileobj.read().decode("utf-8"), Loader=_Loader)
    if not isinstance(root, yaml.MappingNode):
        return
    name = Path(getattr(fileobj, "name", "content.yml"))
    where = f"{name.parent.name}/{name.name}" if name.parent.name else name.name
    top = _fields(root)
    if "organization" in top:
        yield from _partner(top, where)
        return
    for section, kind, ident, texts in (
        ("categories", "category", "id", ("label", "description")),
        ("statuses", "status", "id", ("label", "description")),
        ("outcomes", "outcome", "id", ("label",)),
        ("transitions", "transition", "name", ("label",)),
        ("events", "event", "id", ("title", "description")),  # dialogues/knowledge/events.yml
        ("services", "service", "id", ("name", "description")),  # appointments/services.yml
    ):
        for item in _items(top.get(section)):
            yield from _texts(item, texts, f"{where} {kind} {_scalar(item.get(ident))}")
    for service in _items(top.get("services")):  # appointments/services.yml: what to bring
        for line in _list(service.get("bring")):
            yield line.start_mark.line + 1, None, line.value.strip(), [f"{where} service {_scalar(service.get('id'))}: bring"]


def _partner(top: dict[str, yaml.Node], where: str) -> Iterator[Extracted]:
    organization = _fields(top.get("organization"))
    org_id = _scalar(organization.get("id"))
    yield from _texts(organization, ("description",), f"{where} organization {org_id}")
    for phone in _items(organization.get("phones")):
        yield from _texts(phone, ("description",), f"{where} organization {org_id} phone")
    for service in _items(top.get("services")):
        context = f"{where} service {org_id}/{_scalar(service.get('id'))}"
        yield from _texts(service, ("name", "description", "eligibility", "fees"), context)
    for location in _items(top.get("locations")):
        context = f"{where} location {org_id}/{_scalar(location.get('id'))}"
        yield from _texts(location, ("name",), context)


def _texts(item: dict[str, yaml.Node], names: tuple[str, ...], context: str) -> Iterator[Extracted]:
    for field in names:
        node = item.get(field)
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR and node.value.strip():
            yield node.start_mark.line + 1, None, node.value.strip(), [f"{context}: {field}"]


def _fields(node: yaml.Node | None) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}


def _items(node: yaml.Node | None) -> Iterator[dict[str, yaml.Node]]:
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield _fields(item)


def _list(node: yaml.Node | None) -> Iterator[yaml.ScalarNode]:
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if isinstance(item, yaml.ScalarNode) and item.tag == _STR and item.value.strip():
                yield item


def _scalar(node: yaml.Node | None) -> str:
    return node.value if isinstance(node, yaml.ScalarNode) else "?"
