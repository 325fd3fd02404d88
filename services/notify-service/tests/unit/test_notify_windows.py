"""Recurring maintenance windows across DST changes: hand-checked cases and properties (hypothesis) over zones with
odd DST (Lord Howe's 30 minutes, Santiago, Kathmandu's +05:45 without DST, New York, Berlin, Tokyo)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notify_service.domain.windows import Duration, Recurrence, WindowError

pytestmark = pytest.mark.unit
ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kathmandu",
    "UTC",
]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_every_sunday_0200_to_0400_tokyo_is_open_exactly_then() -> None:
    w = Recurrence.build("FREQ=WEEKLY;BYDAY=SU", datetime(2026, 1, 4, 2, 0), "Asia/Tokyo", "PT2H")
    sunday_0300_tokyo = utc(2026, 3, 7, 18, 0)  # Sunday 8 March 03:00 JST
    assert w.active_at(sunday_0300_tokyo) == (utc(2026, 3, 7, 17, 0), utc(2026, 3, 7, 19, 0))
    assert w.active_at(utc(2026, 3, 7, 19, 0)) is None  # the end is not inside
    assert w.active_at(utc(2026, 3, 7, 16, 59)) is None
    assert w.next_change(utc(2026, 3, 7, 16, 0)) == utc(2026, 3, 7, 17, 0)
    assert w.next_change(sunday_0300_tokyo) == utc(2026, 3, 7, 19, 0)


def test_new_york_window_keeps_its_wall_clock_time_across_both_dst_changes() -> None:
    w = Recurrence.build("FREQ=WEEKLY;BYDAY=SU", datetime(2026, 1, 4, 4, 0), "America/New_York", "PT1H")
    starts = [w.upcoming(utc(*d), 1)[0][0] for d in ((2026, 3, 1), (2026, 3, 2), (2026, 11, 2))]
    assert starts[0] == utc(2026, 3, 1, 9, 0)  # 04:00 EST
    assert starts[1] == utc(2026, 3, 8, 8, 0)  # 04:00 EDT (the clocks went forward at 02:00 that morning)
    assert starts[2] == utc(2026, 11, 8, 9, 0)  # 04:00 EST
    first_of_november = w.upcoming(utc(2026, 10, 31), 1)[0][0]
    assert first_of_november == utc(2026, 11, 1, 9, 0)  # fall-back day: 04:00 is after the change, EST


def test_a_start_inside_the_spring_forward_gap_is_read_with_the_offset_before_the_gap() -> None:
    # RFC 5545: TZID=America/New_York:20070311T023000 is 03:30 EDT
    w = Recurrence.build("FREQ=DAILY", datetime(2026, 3, 7, 2, 30), "America/New_York", "PT30M")
    starts = [s for s, _ in w.upcoming(utc(2026, 3, 7), 3)]
    assert starts == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)]
    assert starts[1].astimezone(ZoneInfo("America/New_York")).strftime("%H:%M %Z") == "03:30 EDT"


def test_a_window_a_day_long_whose_last_day_skips_its_hour_ends_later_by_the_gap() -> None:
    # found by hypothesis: from Saturday 02:00 for a day and an hour; 02:00 on Sunday 14 March 2027 does not exist
    w = Recurrence.build("FREQ=DAILY", datetime(2027, 3, 13, 2, 0), "America/New_York", "P1DT1H")
    start, end = w.upcoming(utc(2027, 3, 13), 1)[0]
    assert start == utc(2027, 3, 13, 7, 0)  # 02:00 EST
    assert end == utc(2027, 3, 14, 8, 0)  # 04:00 EDT: 03:00 (02:00 moved forward by the gap) plus the hour


def test_a_repeated_wall_time_on_fall_back_night_is_its_first_occurrence() -> None:
    w = Recurrence.build("FREQ=DAILY", datetime(2026, 10, 31, 1, 30), "America/New_York", "PT15M")
    fall_back = w.upcoming(utc(2026, 11, 1), 1)[0][0]
    assert fall_back == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not 01:30 EST an hour later


def test_hours_are_exact_and_days_nominal_across_the_change() -> None:
    exact = Recurrence.build("FREQ=YEARLY", datetime(2026, 11, 1, 0, 0), "America/New_York", "PT3H")
    nominal = Recurrence.build("FREQ=YEARLY", datetime(2026, 10, 31, 12, 0), "America/New_York", "P1D")
    start, end = exact.upcoming(utc(2026, 10, 1), 1)[0]
    assert end - start == timedelta(hours=3)  # ends 02:00 EST (01:00 happened twice)
    start, end = nominal.upcoming(utc(2026, 10, 1), 1)[0]
    assert end - start == timedelta(hours=25)  # noon to noon, wall clock
    assert end.astimezone(ZoneInfo("America/New_York")).hour == 12


def test_overlapping_occurrences_count_as_one_open_stretch() -> None:
    w = Recurrence.build("FREQ=HOURLY", datetime(2026, 1, 1, 0, 0), "UTC", "PT90M")
    assert w.next_change(utc(2026, 1, 1, 0, 10)) is None  # never closes again


def test_a_rule_that_ends_never_opens_again() -> None:
    w = Recurrence.build("FREQ=DAILY;COUNT=2", datetime(2026, 1, 1, 9, 0), "Europe/Berlin", "PT1H")
    assert w.next_change(utc(2026, 1, 3)) is None
    assert w.active_at(utc(2026, 1, 2, 8, 30)) is not None


@pytest.mark.parametrize(
    ("rule", "starts", "zone", "duration", "field"),
    [
        ("FREQ=SECONDLY", datetime(2026, 1, 1), "UTC", "PT1H", "rrule"),
        ("FREQ=WEEKLY;BYDAY=XX", datetime(2026, 1, 1), "UTC", "PT1H", "rrule"),
        ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", datetime(2026, 1, 1), "UTC", "PT1H", "rrule"),
        ("FREQ=DAILY", datetime(2026, 1, 1), "Mars/Olympus", "PT1H", "timezone"),
        ("FREQ=DAILY", datetime(2026, 1, 1), "localtime", "PT1H", "timezone"),
        ("FREQ=DAILY", datetime(2026, 1, 1), "UTC", "two hours", "duration"),
        ("FREQ=DAILY", datetime(2026, 1, 1), "UTC", "PT0S", "duration"),
        ("FREQ=DAILY", datetime(2026, 1, 1), "UTC", "P32D", "duration"),
        ("FREQ=DAILY", datetime(2026, 1, 1, tzinfo=UTC), "UTC", "PT1H", "starts"),
    ],
)
def test_bad_windows_are_refused_naming_the_field(
    rule: str, starts: datetime, zone: str, duration: str, field: str
) -> None:
    with pytest.raises(WindowError) as refused:
        Recurrence.build(rule, starts, zone, duration)
    assert refused.value.field == field


def test_durations_read_and_write_iso_8601() -> None:
    assert str(Duration.parse("pt90m")) == "PT1H30M"
    assert str(Duration.parse("P2W")) == "P2W"
    assert Duration.parse("P1DT2H") == Duration(1, 7200)


# --- properties -------------------------------------------------------------------------------------------------

rules = st.sampled_from(
    [
        "FREQ=WEEKLY;BYDAY=SU",
        "FREQ=WEEKLY;BYDAY=SA,SU",
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=MONTHLY;BYDAY=1SU",
        "FREQ=MONTHLY;BYMONTHDAY=31",
        "FREQ=HOURLY;INTERVAL=5",
    ]
)
durations = st.sampled_from(["PT15M", "PT1H", "PT2H", "PT3H30M", "P1D", "PT26H"])
wall_times = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0)
)
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


def brute_active(w: Recurrence, t: datetime) -> bool:
    """Every occurrence of the last weeks, checked one by one against `t`."""
    return any(s <= t < e for s, e in w.occurrences(t - timedelta(days=40), t + timedelta(days=1)))


@settings(max_examples=120, deadline=None)
@given(zone=st.sampled_from(ZONES), rule=rules, starts=wall_times, duration=durations, t=instants)
def test_a_window_is_open_exactly_when_some_occurrence_covers_the_instant(
    zone: str, rule: str, starts: datetime, duration: str, t: datetime
) -> None:
    w = Recurrence.build(rule, starts, zone, duration)
    assert (w.active_at(t) is not None) == brute_active(w, t)


@settings(max_examples=100, deadline=None)
@given(zone=st.sampled_from(ZONES), rule=rules, starts=wall_times, duration=durations, t=instants)
def test_the_state_holds_until_the_next_change_and_flips_there(
    zone: str, rule: str, starts: datetime, duration: str, t: datetime
) -> None:
    w = Recurrence.build(rule, starts, zone, duration)
    now_open = w.active_at(t) is not None
    change = w.next_change(t)
    if change is None:
        assert now_open  # only an endless open stretch (overlapping occurrences) never changes
        return
    assert change > t
    step = (change - t) / 7
    for i in range(7):
        assert (w.active_at(t + step * i) is not None) == now_open
    assert (w.active_at(change) is not None) != now_open


@settings(max_examples=120, deadline=None)
@given(zone=st.sampled_from(ZONES), rule=rules, starts=wall_times, duration=durations, t=instants)
def test_occurrences_keep_their_wall_clock_time_or_move_forward_by_the_gap(
    zone: str, rule: str, starts: datetime, duration: str, t: datetime
) -> None:
    w = Recurrence.build(rule, starts, zone, duration)
    tz = ZoneInfo(zone)
    d = Duration.parse(duration)
    parsed = w._parsed()
    for wall in parsed.between(
        t.astimezone(tz).replace(tzinfo=None), t.astimezone(tz).replace(tzinfo=None) + timedelta(days=60)
    ):
        start, end = w._span(wall)
        assert start.astimezone(tz).replace(tzinfo=None) == wall + gap_skipped(wall, tz)
        # the days of the duration are calendar days (same wall-clock time, or later by the gap when that time
        # does not exist on the last day), then the hours and minutes are exact
        last_day = wall + timedelta(days=d.days)
        shown_end = (end - timedelta(seconds=d.seconds)).astimezone(tz).replace(tzinfo=None)
        assert shown_end == last_day + gap_skipped(last_day, tz)


def gap_skipped(wall: datetime, tz: ZoneInfo) -> timedelta:
    """How far a wall-clock time moves forward to exist: the spring-forward gap it falls in, else nothing."""
    if wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:
        return timedelta(0)
    before, after = (wall - timedelta(hours=3)).replace(tzinfo=tz), (wall + timedelta(hours=3)).replace(tzinfo=tz)
    return after.utcoffset() - before.utcoffset()  # type: ignore[operator]
