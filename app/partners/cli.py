"""`witaj partners ...`: check the partner directory in partners/ against cases/."""

from __future__ import annotations

import click

from app.cases.content import load_case_content
from app.cli_helpers import exit_with, settings_or_exit
from app.content import ContentErrors
from app.partners.content import load_directory


@click.group("partners")
def partners() -> None:
    """The partner directory: one partners/<organization id>.yml per partner organisation."""


@partners.command("validate")
def validate() -> None:
    """Check partners/*.yml against the categories and districts of cases/; print every problem."""
    settings = settings_or_exit()
    cases_folder = settings.content_dir / "cases"
    try:
        content = load_case_content(cases_folder)
    except ContentErrors as exc:
        # Categories and districts come from cases/: partner files cannot be checked without them.
        exit_with(exc, f"{cases_folder} (needed to check partners/)")
    folder = settings.content_dir / "partners"
    try:
        directory = load_directory(
            folder,
            categories=set(content.categories),
            districts=set(content.districts),
            office_slug=settings.office_slug,
            city=settings.city_name,
        )
    except ContentErrors as exc:
        exit_with(exc, str(folder))
    locations = sum(len(org.locations) for org in directory.organisations.values())
    click.echo(
        f"ok: {len(directory.organisations)} organisations, {len(directory.services)} services, "
        f"{locations} locations"
    )
