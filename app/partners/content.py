"""Reads partners/*.yml: the organisations the city refers cases to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.content import ContentError, load_yaml

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")


@dataclass(frozen=True)
class PartnerOrganisation:
    """The part of a partner file that accounts need: slug, name, demo flag."""

    slug: str
    name: str
    is_demo: bool
    path: Path


def read_partner(path: Path) -> PartnerOrganisation:
    """Return the organisation described by path; raise ContentError with file and line."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ContentError(path, 1, "a partner file must be a mapping with an `organization` key")
    org = doc.data.get("organization")
    if not isinstance(org, dict):
        raise doc.error(("organization",), "`organization` must be a mapping with `id` and `name`")
    slug = org.get("id")
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise doc.error(("organization", "id"), "`organization.id` must be a slug of a-z, 0-9 and -")
    if slug != path.stem:
        raise doc.error(("organization", "id"), f"`organization.id` is {slug!r} but the file is named {path.name}")
    name = org.get("name")
    if not isinstance(name, str) or not name.strip():
        raise doc.error(("organization", "name"), "`organization.name` is required")
    demo = doc.data.get("demo", False)
    if not isinstance(demo, bool):
        raise doc.error(("demo",), "`demo` must be true or false")
    return PartnerOrganisation(slug=slug, name=name.strip(), is_demo=demo, path=path)


def read_partners(folder: Path) -> list[PartnerOrganisation]:
    """Return every partner in folder, sorted by slug; raise ContentError on the first broken file."""
    if not folder.is_dir():
        return []
    return [read_partner(path) for path in sorted(folder.glob("*.yml"))]
