"""Small-cell suppression of published counts of people.

Primary suppression: a count from 1 to threshold-1 is published as "<threshold" ("<5").
Secondary suppression: within one group (the cells of one month of one table, which add up to a
total a reader may know from another table), further cells are hidden as "c", smallest first, until
no "<5" cell can be narrowed down from the total: whatever values the other hidden cells take, every
"<5" cell can still be anything from 1 to threshold-1. A reader is assumed to know the group's total,
that a "<5" cell lies in 1..threshold-1 and that a "c" cell is at least threshold.

When even hiding every cell of a group leaves a "<5" cell determined by the total (a month with very
few cases), the same group is hidden in every table of the family that shares that total, so the
total itself is published nowhere.

Differential privacy (e.g. OpenDP's Laplace mechanism) was considered and not chosen for now: the
published counts must be exact sums a city can reconcile with its own reports, the same period must
give the same files, and with the few hundred cases a month of one city noise large enough to matter
would hide most breakdowns. reports/README.md says how to revisit this.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import inf

from app.reports.tables import HIDDEN, Value, below


def _primary(value: int, threshold: int) -> bool:
    return 0 < value < threshold


def exposed(values: Sequence[int], hidden: set[int], threshold: int) -> bool:
    """Return whether some hidden small cell of values can be narrowed down from their total."""
    total = sum(values[i] for i in hidden)
    for i in hidden:
        if not _primary(values[i], threshold):
            continue
        others = [j for j in hidden if j != i]
        least = sum(1 if _primary(values[j], threshold) else threshold for j in others)
        most = (
            inf if any(not _primary(values[j], threshold) for j in others)
            else sum(threshold - 1 for _ in others)
        )
        if max(1, total - most) > 1 or min(threshold - 1, total - least) < threshold - 1:
            return True
    return False


def hide(values: Sequence[int], threshold: int) -> tuple[set[int], bool]:
    """Return the positions to hide in one group and whether that protects every small cell."""
    hidden = {i for i, value in enumerate(values) if _primary(value, threshold)}
    if not hidden:
        return hidden, True
    while exposed(values, hidden, threshold):
        rest = sorted((value, i) for i, value in enumerate(values) if i not in hidden)
        if not rest:
            return hidden, False
        hidden.add(rest[0][1])
    return hidden, True


def publish(values: Sequence[int], hidden: set[int], threshold: int) -> list[Value]:
    """Return values as published: '<threshold' for small hidden cells, 'c' for the others hidden."""
    return [
        (below(threshold) if _primary(value, threshold) else HIDDEN) if i in hidden else value
        for i, value in enumerate(values)
    ]


def protect_family(groups: Sequence[Sequence[int]], threshold: int) -> list[list[Value]]:
    """Return the published values of one group (one month) in each table of a family of tables
    that share its total (e.g. the month's new cases by category, by language, by source)."""
    plans = [hide(values, threshold) for values in groups]
    if all(safe for _hidden, safe in plans):
        return [publish(values, hidden, threshold) for values, (hidden, _safe) in zip(groups, plans, strict=True)]
    return [publish(values, set(range(len(values))), threshold) for values in groups]
