"""The business-hours calculator: hand-checked cases, then properties over many random inputs."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from care_schemas.catalogue import Clock, ResponseTarget
from ticket_service.domain.business_hours import (
    BusinessCalendar,
    add_business_minutes,
    business_minutes_between,
    due_at,
)

pytestmark = pytest.mark.unit

UTC_CAL = BusinessCalendar.of("UTC")
NEW_YORK = BusinessCalendar.of("America/New_York")
BERLIN = BusinessCalendar.of("Europe/Berlin")


def z(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# (case, calendar, opened at (UTC), business hours, due at (UTC)), each worked out by hand in the comment.
CASES = [
    ("within a day", UTC_CAL, z(2026, 3, 2, 10), 4, z(2026, 3, 2, 14)),  # Mon 10:00 + 4h
    ("ends exactly at closing", UTC_CAL, z(2026, 3, 2, 10), 8, z(2026, 3, 2, 18)),  # Mon 10-18
    ("spills into the next day", UTC_CAL, z(2026, 3, 2, 10), 12, z(2026, 3, 3, 13)),  # 8h Mon + 4h Tue
    ("24 business hours span three days", UTC_CAL, z(2026, 3, 2, 10), 24, z(2026, 3, 4, 16)),  # 8 + 9 + 7
    ("full day from opening", UTC_CAL, z(2026, 3, 5, 9), 9, z(2026, 3, 5, 18)),  # Thu 09-18
    ("friday afternoon runs into monday", UTC_CAL, z(2026, 3, 6, 17), 4, z(2026, 3, 9, 12)),  # 1h Fri + 3h Mon
    ("saturday starts at monday opening", UTC_CAL, z(2026, 3, 7, 11), 4, z(2026, 3, 9, 13)),
    ("late sunday starts at monday opening", UTC_CAL, z(2026, 3, 8, 23, 59), 4, z(2026, 3, 9, 13)),
    ("evening starts next morning", UTC_CAL, z(2026, 3, 3, 19, 30), 4, z(2026, 3, 4, 13)),  # Tue 19:30 -> Wed
    ("early morning waits for opening", UTC_CAL, z(2026, 3, 4, 7), 4, z(2026, 3, 4, 13)),
    ("opened at closing counts from next day", UTC_CAL, z(2026, 3, 4, 18), 4, z(2026, 3, 5, 13)),
    ("one minute before closing", UTC_CAL, z(2026, 3, 4, 17, 59), 4, z(2026, 3, 5, 12, 59)),  # 1m + 3h59m
    # New York: EST (UTC-5) until Sun 2026-03-08 02:00, then EDT (UTC-4).
    ("NY friday before spring forward", NEW_YORK, z(2026, 3, 6, 21), 4, z(2026, 3, 9, 15)),  # Fri 16 EST; Mon 11 EDT
    ("NY on the night of the change", NEW_YORK, z(2026, 3, 8, 6, 30), 4, z(2026, 3, 9, 17)),  # Sun 01:30 EST
    # New York: EDT until Sun 2026-11-01 02:00, then EST.
    ("NY friday before fall back", NEW_YORK, z(2026, 10, 30, 21), 8, z(2026, 11, 2, 21)),  # Fri 17 EDT; Mon 16 EST
    # Berlin: CET (UTC+1) until Sun 2026-03-29 02:00, then CEST (UTC+2); back on Sun 2026-10-25 03:00.
    ("Berlin friday before spring forward", BERLIN, z(2026, 3, 27, 14), 12, z(2026, 3, 30, 16)),  # 3h Fri, 9h Mon
    ("Berlin friday before fall back", BERLIN, z(2026, 10, 23, 15, 30), 4, z(2026, 10, 26, 11, 30)),  # 0.5h + 3.5h
    ("Berlin evening in summer", BERLIN, z(2026, 6, 2, 17, 30), 4, z(2026, 6, 3, 11)),  # Tue 19:30 CEST -> Wed 13:00
    # Holidays (local dates).
    (
        "holiday after a thursday",
        BusinessCalendar.of("UTC", [date(2026, 12, 25)]),
        z(2026, 12, 24, 16),
        8,
        z(2026, 12, 28, 15),  # 2h Thu, Fri holiday, weekend, 6h Mon
    ),
    (
        "holiday on the monday after a DST change",
        BusinessCalendar.of("Europe/Berlin", [date(2026, 10, 26)]),
        z(2026, 10, 23, 15, 30),
        4,
        z(2026, 10, 27, 11, 30),  # 0.5h Fri, Mon holiday, 3.5h Tue (12:30 CET)
    ),
    (
        "two holidays before a weekend",
        BusinessCalendar.of("America/New_York", [date(2026, 11, 26), date(2026, 11, 27)]),
        z(2026, 11, 25, 22),
        4,
        z(2026, 11, 30, 17),  # Wed 17:00 EST: 1h Wed, Thu+Fri holidays, weekend, 3h Mon (12:00 EST)
    ),
    (
        "Tokyo friday 17:30, Premium S3",
        BusinessCalendar.of("Asia/Tokyo"),
        z(2026, 3, 6, 8, 30),  # Fri 17:30 JST
        4,
        z(2026, 3, 9, 3, 30),  # 0.5h Fri, weekend, 3.5h Mon: 12:30 JST
    ),
    (
        "Developer S4 over Christmas in Berlin",
        BusinessCalendar.of("Europe/Berlin", [date(2026, 12, 24), date(2026, 12, 25)]),
        z(2026, 12, 23, 9),  # Wed 10:00 CET
        24,
        z(2026, 12, 29, 15),  # 8h Wed, Thu+Fri holidays, weekend, 9h Mon, 7h Tue: 16:00 CET
    ),
    (
        "opened on a holiday",
        BusinessCalendar.of("UTC", [date(2026, 3, 2)]),
        z(2026, 3, 2, 10),
        4,
        z(2026, 3, 3, 13),
    ),
]


@pytest.mark.parametrize(("case", "calendar", "opened", "hours", "due"), CASES, ids=[c[0] for c in CASES])
def test_business_hour_due_time_matches_the_hand_checked_table(
    case: str, calendar: BusinessCalendar, opened: datetime, hours: int, due: datetime
) -> None:
    target = ResponseTarget(hours=hours, clock=Clock.BUSINESS_HOURS)
    assert due_at(opened, target, calendar) == due, case


def test_wall_clock_targets_count_every_minute_even_on_saturday_night() -> None:
    target = ResponseTarget(hours=0.5, clock=Clock.WALL_CLOCK)
    assert due_at(z(2026, 3, 7, 3), target, UTC_CAL) == z(2026, 3, 7, 3, 30)


def test_wall_clock_target_across_spring_forward_is_one_real_hour() -> None:
    target = ResponseTarget(hours=1, clock=Clock.WALL_CLOCK)
    due = due_at(z(2026, 3, 8, 6, 30), target, NEW_YORK)  # 01:30 EST
    assert due == z(2026, 3, 8, 7, 30)
    assert due.astimezone(NEW_YORK.zone).hour == 3  # the local clock skipped 02:00-03:00


def test_a_calendar_of_only_holidays_is_refused_with_a_reason() -> None:
    start = date(2026, 1, 1)
    every_day = BusinessCalendar.of("UTC", [start + timedelta(days=i) for i in range(1200)])
    with pytest.raises(ValueError, match="holiday list"):
        add_business_minutes(z(2026, 1, 1), 60, every_day)


ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"]
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
holiday_sets = st.frozensets(st.dates(min_value=date(2025, 1, 1), max_value=date(2029, 3, 31)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    holidays=holiday_sets,
    start=instants,
    minutes=st.integers(min_value=1, max_value=24 * 60),
)
def test_business_hour_due_time_is_always_inside_business_hours(
    zone: str, holidays: frozenset[date], start: datetime, minutes: int
) -> None:
    calendar = BusinessCalendar.of(zone, holidays)
    due = add_business_minutes(start, minutes, calendar)
    local = due.astimezone(calendar.zone)
    assert calendar.is_open(due), local
    assert local.weekday() < 5
    assert local.date() not in holidays
    assert time(9, 0) < local.time() <= time(18, 0)
    assert business_minutes_between(start, due, calendar) == minutes


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    holidays=holiday_sets,
    first=instants,
    gap=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    minutes=st.sampled_from([240, 480, 720, 1440]),
)
def test_due_time_is_monotonic_in_the_creation_time(
    zone: str, holidays: frozenset[date], first: datetime, gap: timedelta, minutes: int
) -> None:
    calendar = BusinessCalendar.of(zone, holidays)
    assert add_business_minutes(first, minutes, calendar) <= add_business_minutes(first + gap, minutes, calendar)


def _count_minute_by_minute(start: datetime, minutes: int, zone: ZoneInfo, holidays: frozenset[date]) -> datetime:
    """An independent, naive reference: walk real minutes and count those inside 09:00-18:00 local, Mon-Fri."""
    at = start
    while True:
        local = at.astimezone(zone)
        if local.weekday() < 5 and local.date() not in holidays and 9 <= local.hour < 18:
            minutes -= 1
            if minutes == 0:
                return at + timedelta(minutes=1)
        at += timedelta(minutes=1)


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(["Asia/Tokyo", "Australia/Lord_Howe", "America/Santiago", "Europe/London", "Asia/Kathmandu"]),
    holidays=st.frozensets(st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 2, 28)), max_size=10),
    start=st.integers(min_value=0, max_value=366 * 24 * 60),
    minutes=st.integers(min_value=1, max_value=24 * 60),
)
def test_due_time_agrees_with_counting_minute_by_minute_in_zones_with_odd_dst(
    zone: str, holidays: frozenset[date], start: int, minutes: int
) -> None:
    opened = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=start)
    expected = _count_minute_by_minute(opened, minutes, ZoneInfo(zone), holidays)
    assert add_business_minutes(opened, minutes, BusinessCalendar.of(zone, holidays)) == expected
