"""Reads and validates cases/ (categories.yml, workflow.yml, routing.yml) as cases/README.md specifies.

One reader per file on the shared Checker of app/content.py: categories.py, workflow.py and
routing.py, with the contract of cases/README.md in contract.py. This module composes them. Every
problem in the folder is reported at once, each as `file:line: message`, so a city administrator
fixes a file in one pass instead of one error per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from app.cases.content.categories import Category, read_categories
from app.cases.content.routing import Routing, read_routing
from app.cases.content.workflow import Workflow, read_workflow
from app.config import Settings
from app.content import Checker, ContentError, ContentErrors, load_yaml


@dataclass(frozen=True)
class CaseContent:
    """Everything in cases/: categories (in UI order), workflow, routing and the city's districts."""

    categories: dict[str, Category]
    workflow: Workflow
    routing: Routing
    districts: tuple[str, ...]


def load_case_content(folder: Path) -> CaseContent:
    """Return the validated content of the cases/ folder; raise ContentErrors listing every problem."""
    errors: list[ContentError] = []
    checkers: dict[str, Checker] = {}
    for name in ("categories.yml", "workflow.yml", "routing.yml"):
        try:
            checkers[name] = Checker(load_yaml(folder / name), errors)
        except ContentError as exc:
            errors.append(exc)
    categories = read_categories(checkers["categories.yml"]) if "categories.yml" in checkers else None
    workflow = read_workflow(checkers["workflow.yml"]) if "workflow.yml" in checkers else None
    routing = read_routing(checkers["routing.yml"]) if "routing.yml" in checkers else None
    if errors or categories is None or workflow is None or routing is None:
        raise ContentErrors(errors)
    return CaseContent(
        categories=categories,
        workflow=workflow,
        routing=routing,
        districts=tuple(district.name for district in routing.districts),
    )


@lru_cache(maxsize=4)
def _cached(folder: str) -> CaseContent:
    return load_case_content(Path(folder))


def case_content(settings: Settings) -> CaseContent:
    """Return the validated case content of settings' content folder (cases/*.yml), loaded once."""
    return _cached(str(settings.content_dir / "cases"))


def check_time_zone(settings: Settings) -> None:
    """Raise ContentError (file:line) when cases/workflow.yml's office time zone is not WITAJ_TIME_ZONE:
    deadlines would be counted in one zone and the pages' dates shown in another."""
    zone = case_content(settings).workflow.calendar.zone.key
    if zone == settings.time_zone:
        return
    doc = load_yaml(settings.content_dir / "cases" / "workflow.yml")
    raise doc.error(
        ("business_hours", "time_zone"),
        f"the office time zone {zone} differs from WITAJ_TIME_ZONE={settings.time_zone}; "
        "deadlines and the dates on the pages would disagree: set both to the same zone",
    )
