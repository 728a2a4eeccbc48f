"""The shape every statistic is published in: a Dataset of typed columns and rows.

Counts of people are published after suppression (app/reports/suppress.py): a count below the
threshold is the string "<5" (for threshold 5), a count hidden so that a small one cannot be worked
out from the totals is "c". Both are declared as missing values in the Data Package's schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: A value in a row: text, a whole number, a decimal figure, None (no figure), or a suppression mark.
Value = str | int | float | None

#: The mark of a count hidden to protect another (secondary suppression).
HIDDEN = "c"


def below(threshold: int) -> str:
    """Return the mark of a count below threshold (primary suppression): '<5' for 5."""
    return f"<{threshold}"


@dataclass(frozen=True)
class Column:
    """One column: its name in files (snake_case), Frictionless type, English title and description
    (msgids: translated where shown), and whether it counts people (then it may be suppressed)."""

    name: str
    type: Literal["string", "integer", "number"]
    title: str
    description: str
    count: bool = False


@dataclass(frozen=True)
class Dataset:
    """One data set of one period: name (a slug, also the file name), English title and description
    (msgids), the columns and the rows (sorted; each row's values in column order)."""

    name: str
    title: str
    description: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Value, ...], ...] = field(default_factory=tuple)

    def records(self) -> list[dict[str, Value]]:
        """Return the rows as {column name: value}."""
        names = [c.name for c in self.columns]
        return [dict(zip(names, row, strict=True)) for row in self.rows]
