"""Free slots: the visits a place can still take, computed from its weekly hours (closed on Polish
public holidays and its own closed days), the service's length, its desks, the visits already
booked and the time staff blocked. Pure computation on plain values; service.py loads them."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.appointments.content import EVENING, Place, Service
from app.cases.calendar import polish_public_holidays

#: Visits start at least this long after now (people need time to get there; staff to prepare).
MIN_NOTICE = timedelta(hours=1)
#: How far ahead visits can be booked.
HORIZON = timedelta(days=62)


@dataclass(frozen=True)
class Slot:
    """A visit a place can take: its start and end (UTC) and how many desks are free then."""

    place_id: str
    starts_at: datetime
    ends_at: datetime
    free_desks: int


@dataclass
class Busy:
    """What is taken at one place: booked intervals per desk (sorted, POSIX seconds) and blocks."""

    desks: dict[int, tuple[list[float], list[float]]]
    blocks: list[tuple[int | None, float, float]]

    @classmethod
    def of(cls, visits: Iterable[tuple[int, datetime, datetime]], blocks: Iterable[tuple[int | None, datetime, datetime]]) -> Busy:
        """Return the busy time of (desk, start, end) visits and (desk or None, start, end) blocks."""
        by_desk: dict[int, list[tuple[float, float]]] = {}
        for desk, start, end in visits:
            by_desk.setdefault(desk, []).append((start.timestamp(), end.timestamp()))
        desks = {}
        for desk, spans in by_desk.items():
            spans.sort()
            desks[desk] = ([s for s, _ in spans], [e for _, e in spans])
        return cls(desks, [(d, s.timestamp(), e.timestamp()) for d, s, e in blocks])

    def desk_free(self, desk: int, start: float, end: float) -> bool:
        """Return whether desk has no visit and no block overlapping [start, end)."""
        for blocked_desk, b_start, b_end in self.blocks:
            if (blocked_desk is None or blocked_desk == desk) and b_start < end and b_end > start:
                return False
        spans = self.desks.get(desk)
        if spans is None:
            return True
        starts, ends = spans
        # Visits at one desk never overlap (the holds' key), so only the last one starting before
        # end can reach into [start, end).
        index = bisect_left(starts, end) - 1
        return index < 0 or ends[index] <= start


def is_open_day(place: Place, day: date) -> bool:
    """Return whether place takes visits on day at all (not a public holiday, not a closed day)."""
    return day not in polish_public_holidays(day.year) and day not in place.closed and bool(place.hours.get(day.weekday()))


def starts_on(place: Place, service: Service, day: date, zone: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
    """Yield the (start, end) of every visit of service the place's hours allow on day, in UTC: from
    each opening, one after another, the last one ending by closing time."""
    if not is_open_day(place, day):
        return
    length = timedelta(minutes=service.minutes)
    for opens, closes in place.hours.get(day.weekday(), ()):
        # Wall-clock arithmetic in the zone, then to UTC: a visit at 10:00 stays at 10:00 on DST days.
        moment = datetime.combine(day, opens, tzinfo=zone)
        closing = datetime.combine(day, closes, tzinfo=zone)
        while moment + length <= closing:
            yield moment.astimezone(UTC), (moment + length).astimezone(UTC)
            moment += length


def is_evening(start: datetime, zone: ZoneInfo) -> bool:
    """Return whether a visit starting at start is in the evening (17:00 local or later)."""
    return start.astimezone(zone).time() >= EVENING


def is_weekend(start: datetime, zone: ZoneInfo) -> bool:
    """Return whether a visit starting at start is on a Saturday or Sunday (local)."""
    return start.astimezone(zone).weekday() >= 5


def free_slots(
    *,
    place: Place,
    service: Service,
    busy: Busy,
    first_day: date,
    last_day: date,
    zone: ZoneInfo,
    now: datetime,
    evening: bool = False,
    weekend: bool = False,
) -> list[Slot]:
    """Return the free slots of service at place from first_day to last_day (local days), in time
    order; with evening or weekend (or both), only those at such times."""
    earliest = (now + MIN_NOTICE).timestamp()
    latest = (now + HORIZON).timestamp()
    found = []
    day = first_day
    while day <= last_day:
        for start, end in starts_on(place, service, day, zone):
            begin, finish = start.timestamp(), end.timestamp()
            if begin < earliest or begin > latest:
                continue
            if (evening or weekend) and not ((evening and is_evening(start, zone)) or (weekend and is_weekend(start, zone))):
                continue
            free = sum(1 for desk in range(1, place.desks + 1) if busy.desk_free(desk, begin, finish))
            if free:
                found.append(Slot(place.id, start, end, free))
        day += timedelta(days=1)
    return found


def is_offered(place: Place, service: Service, start: datetime, zone: ZoneInfo) -> datetime | None:
    """Return the end of the visit of service starting at start if the place's hours offer it, else None."""
    local_day = start.astimezone(zone).date()
    for begin, end in starts_on(place, service, local_day, zone):
        if begin == start:
            return end
    return None


def units(start: datetime, end: datetime, unit_minutes: int) -> list[datetime]:
    """Return the grid units [start, end) covers: the rows of appointment_hold a visit takes."""
    step = timedelta(minutes=unit_minutes)
    moments = []
    moment = start
    while moment < end:
        moments.append(moment)
        moment += step
    return moments
