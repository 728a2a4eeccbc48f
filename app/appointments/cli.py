"""`witaj appointments ...`: check the places and services of appointments/ against cases/ and partners/."""

from __future__ import annotations

import click

from app.appointments.content import load_catalogue
from app.cases.content import load_case_content
from app.cli_helpers import exit_with, settings_or_exit
from app.content import ContentErrors
from app.partners.content import load_directory


@click.group("appointments")
def appointments() -> None:
    """Visits: appointments/places.yml and appointments/services.yml."""


@appointments.command("validate")
def validate() -> None:
    """Check appointments/*.yml (categories and districts from cases/, partners from partners/);
    print every problem as file:line."""
    settings = settings_or_exit()
    try:
        cases = load_case_content(settings.content_dir / "cases")
        directory = load_directory(
            settings.content_dir / "partners", categories=set(cases.categories), districts=set(cases.districts),
            office_slug=settings.office_slug, city=settings.city_name,
        )
    except ContentErrors as exc:
        exit_with(exc, "cases/ and partners/ (needed to check appointments/)")
    folder = settings.content_dir / "appointments"
    try:
        cat = load_catalogue(folder, categories=list(cases.categories), districts=list(cases.districts), partners=set(directory.organisations))
    except ContentErrors as exc:
        exit_with(exc, str(folder))
    evenings = sum(1 for place in cat.places.values() if place.has_evenings)
    weekends = sum(1 for place in cat.places.values() if place.has_weekends)
    click.echo(
        f"ok: {len(cat.services)} services, {len(cat.places)} places "
        f"({evenings} open in the evening, {weekends} at the weekend)"
    )
