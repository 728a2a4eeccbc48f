"""Office opening hours: the calendar in which every case deadline is counted (cases/README.md)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from app.content import Schedule

#: Holiday sets the calendar knows (workflow.yml `business_hours.holidays`).
HOLIDAY_SETS = frozenset({"PL"})


# Far more than any run of closed days a real schedule can have (holidays last at most a few days);
# it only stops a loop on a schedule that never opens.
_MAX_CLOSED_DAYS = 3700


def easter_sunday(year: int) -> date:
    """Return the date of (Western) Easter Sunday, by the anonymous Gregorian algorithm."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def polish_public_holidays(year: int) -> frozenset[date]:
    """Return the statutory days off work in Poland in year (Act of 18 January 1951, as amended)."""
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1),  # New Year
        easter,
        easter + timedelta(days=1),  # Easter Monday
        date(year, 5, 1),  # Labour Day
        date(year, 5, 3),  # Constitution Day
        easter + timedelta(days=49),  # Pentecost Sunday
        easter + timedelta(days=60),  # Corpus Christi
        date(year, 8, 15),  # Assumption
        date(year, 11, 1),  # All Saints
        date(year, 11, 11),  # Independence Day
        date(year, 12, 25),
        date(year, 12, 26),
    }
    if year >= 2011:
        days.add(date(year, 1, 6))  # Epiphany, a day off again since 2011
    if year >= 2025:
        days.add(date(year, 12, 24))  # Christmas Eve, a day off since 2025
    return frozenset(days)


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekly opening hours in a time zone, closed on public holidays; all results are aware datetimes."""

    zone: ZoneInfo
    schedule: Schedule
    holidays: str | None = "PL"

    def __post_init__(self) -> None:
        if self.holidays is not None and self.holidays not in HOLIDAY_SETS:
            raise ValueError(
                f"unknown holiday set {self.holidays!r}; known: {', '.join(sorted(HOLIDAY_SETS))}"
            )

    def is_holiday(self, day: date) -> bool:
        """Return whether day is a public holiday on which the office is closed."""
        return self.holidays == "PL" and day in polish_public_holidays(day.year)

    def is_open(self, at: datetime) -> bool:
        """Return whether the office is open at the aware datetime at."""
        moment = _timestamp(at)
        local_day = at.astimezone(self.zone).date()
        return any(start <= moment < end for start, end in self._spans(local_day))

    def next_opening(self, at: datetime) -> datetime:
        """Return the first moment at or after at when the office is open, in UTC."""
        moment = _timestamp(at)
        for start, end in self._spans_from(at):
            if end > moment:
                return _utc(max(start, moment))
        raise AssertionError("unreachable: _spans_from never ends")  # pragma: no cover

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Return the opening seconds in [start, end) (0 when end <= start)."""
        begin, finish = _timestamp(start), _timestamp(end)
        if finish <= begin:
            return 0.0
        total = 0.0
        day = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            for span_start, span_end in self._spans(day):
                total += max(0.0, min(span_end, finish) - max(span_start, begin))
            day += timedelta(days=1)
        return total

    def business_hours_between(self, start: datetime, end: datetime) -> float:
        """Return the opening hours in [start, end) (0 when end <= start)."""
        return self.business_seconds_between(start, end) / 3600

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """Return, in UTC, the moment when `hours` opening hours have elapsed since start."""
        remaining = hours * 3600
        moment = _timestamp(start)
        if remaining <= 0:
            return _utc(moment)
        for span_start, span_end in self._spans_from(start):
            begin = max(span_start, moment)
            available = span_end - begin
            if available <= 0:
                continue
            # `<=`: a deadline that uses up a span ends at closing time, not at the next opening.
            if remaining <= available:
                return _utc(begin + remaining)
            remaining -= available
        raise AssertionError("unreachable: _spans_from never ends")  # pragma: no cover

    def _spans(self, day: date) -> list[tuple[float, float]]:
        """Return the day's opening spans as POSIX timestamps (so DST days have their true length)."""
        if self.is_holiday(day):
            return []
        return [
            (
                datetime.combine(day, opens, tzinfo=self.zone).timestamp(),
                datetime.combine(day, closes, tzinfo=self.zone).timestamp(),
            )
            for opens, closes in self.schedule.get(day.weekday(), ())
        ]

    def _spans_from(self, at: datetime) -> Iterator[tuple[float, float]]:
        """Yield the opening spans of at's local day and every day after it, in order."""
        day = at.astimezone(self.zone).date()
        closed_days = 0
        while True:
            spans = self._spans(day)
            if spans:
                closed_days = 0
                yield from spans
            else:
                closed_days += 1
                if closed_days > _MAX_CLOSED_DAYS:
                    raise ValueError("the calendar never opens: its schedule has no opening hours")
            day += timedelta(days=1)


def _timestamp(at: datetime) -> float:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"an aware datetime is required, got naive {at.isoformat()}")
    return at.timestamp()


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
