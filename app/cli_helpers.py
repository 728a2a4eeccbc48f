"""What every `witaj ...` command shares: settings or a clear exit, content errors as file:line, and a
database that answers."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy import Engine

from app.config import ConfigError, Settings, load_settings
from app.content import ContentErrors
from app.db import check_connection, get_engine


def fail(message: str, *, status: int = 2) -> NoReturn:
    """Print `witaj: message` on stderr and exit with status (2: the command cannot run)."""
    click.echo(f"witaj: {message}", err=True)
    sys.exit(status)


def settings_or_exit() -> Settings:
    """Return the settings, or print the configuration error and exit with status 2."""
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc))


def clear_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn configuration and database errors into one clear line and exit status 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            fail(str(exc))

    return wrapper


def shown_path(path: str) -> str:
    """Return path relative to the working directory when possible, so editors and terminals open it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def exit_with(problems: ContentErrors, what: str) -> NoReturn:
    """Print every problem as `file:line: message` and a count on stderr, then exit with status 1."""
    for error in problems.errors:
        click.echo(f"{shown_path(error.path)}:{error.line}: {error.message}", err=True)
    click.echo(f"{len(problems.errors)} problem(s) in {what}", err=True)
    sys.exit(1)


def checked_engine(settings: Settings) -> Engine:
    """Return the database engine of settings after checking it answers (ConfigError otherwise)."""
    engine = get_engine(settings)
    check_connection(engine)
    return engine
