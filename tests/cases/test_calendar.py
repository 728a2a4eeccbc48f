"""Office opening hours: deadlines counted in business hours, Polish public holidays, DST in Warsaw."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.cases.calendar import BusinessCalendar, easter_sunday, polish_public_holidays

WARSAW = ZoneInfo("Europe/Warsaw")
HOUR = 3600


def office(holidays: str | None = "PL") -> BusinessCalendar:
    """Return the reference office: MO-FR 08:00-16:00 in Warsaw."""
    return BusinessCalendar(
        zone=WARSAW, schedule={day: [(time(8), time(16))] for day in range(5)}, holidays=holidays
    )


def warsaw(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WARSAW)


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (1943, date(1943, 4, 25)),  # the latest possible date
        (2000, date(2000, 4, 23)),
        (2008, date(2008, 3, 23)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2285, date(2285, 3, 22)),  # the earliest possible date
    ],
)
def test_easter_sunday(year, expected):
    assert easter_sunday(year) == expected


def test_polish_public_holidays_2026():
    assert sorted(polish_public_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 1, 6),
        date(2026, 4, 5),  # Easter Sunday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),
        date(2026, 5, 3),
        date(2026, 5, 24),  # Pentecost Sunday
        date(2026, 6, 4),  # Corpus Christi
        date(2026, 8, 15),
        date(2026, 11, 1),
        date(2026, 11, 11),
        date(2026, 12, 24),
        date(2026, 12, 25),
        date(2026, 12, 26),
    ]


def test_christmas_eve_is_a_day_off_only_since_2025():
    assert date(2024, 12, 24) not in polish_public_holidays(2024)
    assert date(2025, 12, 24) in polish_public_holidays(2025)


def test_a_case_opened_friday_afternoon_with_8h_is_due_monday_afternoon():
    due = office().add_business_hours(warsaw(2026, 1, 16, 15), 8)  # Friday
    assert due == warsaw(2026, 1, 19, 15)  # Monday
    assert due.tzinfo is UTC and due == datetime(2026, 1, 19, 14, tzinfo=UTC)


def test_a_deadline_that_uses_up_the_day_ends_at_closing_time():
    assert office().add_business_hours(warsaw(2026, 1, 16, 15), 1) == warsaw(2026, 1, 16, 16)


def test_easter_monday_is_skipped():
    # Good Friday is a working day in Poland; Easter Monday, 6 April 2026, is not.
    due = office().add_business_hours(warsaw(2026, 4, 3, 15), 8)
    assert due == warsaw(2026, 4, 7, 15)
    assert not office().is_open(warsaw(2026, 4, 6, 10))
    assert office(holidays=None).is_open(warsaw(2026, 4, 6, 10))


def test_christmas_eve_2026_is_closed():
    calendar = office()
    assert not calendar.is_open(warsaw(2026, 12, 24, 10))  # a Thursday
    # Wednesday 23 Dec 15:00 + 8h: one hour on Wednesday, then 24-27 December are closed.
    assert calendar.add_business_hours(warsaw(2026, 12, 23, 15), 8) == warsaw(2026, 12, 28, 15)


def test_deadlines_across_the_spring_dst_change():
    calendar = office()
    # Summer time starts on Sunday 29 March 2026: Friday is UTC+1, Monday UTC+2.
    due = calendar.add_business_hours(warsaw(2026, 3, 27, 15), 8)
    assert due == datetime(2026, 3, 30, 13, tzinfo=UTC)  # 15:00 in Warsaw
    assert calendar.business_seconds_between(warsaw(2026, 3, 27, 12), warsaw(2026, 3, 30, 12)) == 8 * HOUR


def test_deadlines_across_the_autumn_dst_change():
    calendar = office()
    # Winter time starts on Sunday 25 October 2026.
    due = calendar.add_business_hours(warsaw(2026, 10, 23, 9), 16)
    assert due == warsaw(2026, 10, 27, 9) == datetime(2026, 10, 27, 8, tzinfo=UTC)


def test_a_day_with_a_dst_change_is_an_hour_shorter_or_longer():
    always = BusinessCalendar(zone=WARSAW, schedule={6: [(time(0), time(23, 59))]}, holidays=None)  # Sundays
    normal = always.business_seconds_between(warsaw(2026, 3, 22), warsaw(2026, 3, 23))
    spring = always.business_seconds_between(warsaw(2026, 3, 29), warsaw(2026, 3, 30))
    autumn = always.business_seconds_between(warsaw(2026, 10, 25), warsaw(2026, 10, 26))
    assert normal == (23 * 60 + 59) * 60
    assert spring == normal - HOUR
    assert autumn == normal + HOUR


def test_business_time_between_two_moments():
    calendar = office()
    monday = warsaw(2026, 1, 19, 10)
    assert calendar.business_seconds_between(monday, monday + timedelta(hours=3)) == 3 * HOUR
    assert calendar.business_seconds_between(monday, warsaw(2026, 1, 19, 20)) == 6 * HOUR
    assert calendar.business_seconds_between(warsaw(2026, 1, 17, 9), warsaw(2026, 1, 18, 20)) == 0  # weekend
    assert calendar.business_seconds_between(monday, monday) == 0
    assert calendar.business_seconds_between(monday, monday - timedelta(days=3)) == 0
    assert calendar.business_hours_between(monday, warsaw(2026, 1, 20, 10)) == 8


def test_a_whole_year_of_office_hours():
    # 2026 has 261 weekdays; 8 holidays fall on one (1 and 6 Jan, Easter Monday, 1 May, Corpus
    # Christi, 11 Nov, 24 and 25 Dec), so the office is open 253 days of 8 hours.
    hours = office().business_hours_between(warsaw(2026, 1, 1), warsaw(2027, 1, 1))
    assert hours == 253 * 8


def test_moments_in_any_zone_are_the_same_moments():
    calendar = office()
    new_york = ZoneInfo("America/New_York")
    start = datetime(2026, 1, 16, 9, tzinfo=new_york)  # 15:00 in Warsaw
    assert calendar.add_business_hours(start, 8) == warsaw(2026, 1, 19, 15)
    assert calendar.is_open(datetime(2026, 1, 19, 7, tzinfo=UTC))  # 08:00 in Warsaw


def test_add_business_hours_agrees_with_business_seconds_between():
    calendar = office()
    for start in (
        warsaw(2026, 1, 16, 15, 30),
        warsaw(2026, 3, 28, 11),
        warsaw(2026, 12, 22, 7),
        warsaw(2026, 4, 30, 17),
    ):
        for hours in (0.5, 4, 8, 40, 160):
            due = calendar.add_business_hours(start, hours)
            assert calendar.business_seconds_between(start, due) == pytest.approx(hours * HOUR)
            assert calendar.is_open(due - timedelta(seconds=1))


def test_hours_start_counting_at_the_next_opening():
    calendar = office()
    assert calendar.add_business_hours(warsaw(2026, 1, 18, 10), 1) == warsaw(2026, 1, 19, 9)  # Sunday
    assert calendar.add_business_hours(warsaw(2026, 1, 19, 6), 1) == warsaw(2026, 1, 19, 9)
    assert calendar.add_business_hours(warsaw(2026, 1, 19, 10), 0) == warsaw(2026, 1, 19, 10)


def test_opening_hours_include_the_opening_minute_and_exclude_the_closing_one():
    calendar = office()
    assert calendar.is_open(warsaw(2026, 1, 19, 8))
    assert calendar.is_open(warsaw(2026, 1, 19, 15, 59))
    assert not calendar.is_open(warsaw(2026, 1, 19, 16))
    assert not calendar.is_open(warsaw(2026, 1, 19, 7, 59))
    assert not calendar.is_open(warsaw(2026, 1, 17, 10))  # Saturday


def test_next_opening():
    calendar = office()
    monday_eight = warsaw(2026, 1, 19, 8)
    assert calendar.next_opening(warsaw(2026, 1, 17, 12)) == monday_eight  # Saturday
    assert calendar.next_opening(warsaw(2026, 1, 16, 16)) == monday_eight  # Friday at closing time
    assert calendar.next_opening(warsaw(2026, 1, 19, 11)) == warsaw(2026, 1, 19, 11)  # already open
    assert calendar.next_opening(warsaw(2026, 4, 3, 18)) == warsaw(2026, 4, 7, 8)  # over Easter
    assert calendar.next_opening(warsaw(2026, 1, 19, 11)).tzinfo is UTC


def test_several_spans_a_day():
    split = BusinessCalendar(
        zone=WARSAW, schedule={0: [(time(8), time(12)), (time(13), time(17))]}, holidays=None
    )
    assert not split.is_open(warsaw(2026, 1, 19, 12, 30))
    assert split.add_business_hours(warsaw(2026, 1, 19, 11), 2) == warsaw(2026, 1, 19, 14)
    assert split.next_opening(warsaw(2026, 1, 19, 12, 30)) == warsaw(2026, 1, 19, 13)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        office().add_business_hours(datetime(2026, 1, 19, 10), 1)


def test_a_calendar_that_never_opens_is_refused():
    with pytest.raises(ValueError, match="never opens"):
        BusinessCalendar(zone=WARSAW, schedule={}, holidays=None).add_business_hours(warsaw(2026, 1, 19), 1)


def test_unknown_holiday_sets_are_refused():
    with pytest.raises(ValueError, match="holiday set"):
        BusinessCalendar(zone=WARSAW, schedule={}, holidays="DE")
