"""`witaj reports ...`: fold the case history into the statistics and publish a month's open data."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli_helpers import checked_engine, fail, settings_or_exit
from app.db import session_factory
from app.reports import facts, publish, stats
from app.reports.tables import is_month


@click.group("reports")
def reports() -> None:
    """Statistics and open data (app/reports/)."""


@reports.command("refresh")
def refresh() -> None:
    """Fold what happened since the last refresh into the statistics (the jobs runner does it too)."""
    settings = settings_or_exit()
    with session_factory(checked_engine(settings), write=True)() as db:
        done = facts.refresh(db=db, settings=settings)
        db.commit()
    click.echo(f"ok: {done['cases']} cases folded, {done['chat_rows']} chat rows counted")


@reports.command("rebuild")
def rebuild() -> None:
    """Fold the whole case history into the statistics again."""
    settings = settings_or_exit()
    with session_factory(checked_engine(settings), write=True)() as db:
        done = facts.rebuild(db=db, settings=settings)
        db.commit()
    click.echo(f"ok: {done['cases']} cases folded")


@reports.command("publish")
@click.option("--period", required=True, help="the month, YYYY-MM")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="the folder to write")
def publish_period(period: str, out: Path) -> None:
    """Write a month's open data (CSV, JSON, datapackage.json, catalog.rdf) into OUT; the same month
    gives byte-identical files."""
    if not is_month(period):
        fail(f"--period must be a month such as 2026-11, not {period!r}")
    settings = settings_or_exit()
    with session_factory(checked_engine(settings), write=True)() as db:
        facts.refresh(db=db, settings=settings)
        db.commit()
        datasets = stats.release(db=db, settings=settings, period=period)
    written = publish.write(datasets=datasets, period=period, settings=settings, out=out)
    problems = publish.validate_package(out / "datapackage.json")
    if problems:
        fail("the Data Package does not validate:\n  " + "\n  ".join(problems), status=1)
    click.echo(f"ok: {len(written)} files in {out}")
