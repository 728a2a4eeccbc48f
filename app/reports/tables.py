"""The shape every statistic is published in: a Dataset of typed columns and rows.

Counts of people are published after suppression (app/reports/suppress.py): a count below the
threshold is the string "<5" (for threshold 5), a count hidden so that a small one cannot be worked
out from the totals is "c". Both are declared as missing values in the Data Package's schema.

Also the month every figure is filed under ('YYYY-MM'), and Kept, the small memo the dashboard and
the open-data downloads keep figures in.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

#: A value in a row: text, a whole number, a decimal figure, None (no figure), or a suppression mark.
Value = str | int | float | None

#: The mark of a count hidden to protect another (secondary suppression).
HIDDEN = "c"
#: A month as every figure and file names it: 'YYYY-MM'.
MONTH = re.compile(r"^(19|20)\d{2}-(0[1-9]|1[0-2])$")


def is_month(text: str | None) -> bool:
    """Return whether text is a month 'YYYY-MM'."""
    return bool(text and MONTH.match(text))


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


T_ = TypeVar("T_")


class Kept(Generic[T_]):
    """A thread-safe memo of at most `size` values, the least recently used dropped first: figures
    that cannot change under their key (a settled month, a release of one refresh)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, T_] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T_]) -> T_:
        """Return the value kept under key, or make it (outside the lock) and keep it."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._data.clear()
