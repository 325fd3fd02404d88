"""Response-target arithmetic: business hours (09:00-18:00 Mon-Fri, local zone, holidays) or wall clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from care_schemas.catalogue import Clock, ResponseTarget

OPENING = time(9, 0)
CLOSING = time(18, 0)
MAX_DAYS = 3 * 366  # a calendar of holidays can never make the search run forever


@dataclass(frozen=True)
class BusinessCalendar:
    """One organisation's business hours: its time zone and its holidays (local dates)."""

    zone: ZoneInfo
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, zone_name: str, holidays: Iterable[date] = ()) -> BusinessCalendar:
        return cls(ZoneInfo(zone_name), frozenset(holidays))

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The opening and closing instants (UTC) of a local day; real elapsed time even across DST."""
        start = datetime.combine(day, OPENING, self.zone).astimezone(UTC)
        end = datetime.combine(day, CLOSING, self.zone).astimezone(UTC)
        return start, end

    def is_open(self, instant: datetime) -> bool:
        """True when `instant` lies in business hours (closing instant included)."""
        local = instant.astimezone(self.zone)
        if not self.is_business_day(local.date()):
            return False
        start, end = self.window(local.date())
        return start <= instant <= end


def add_business_minutes(start: datetime, minutes: int, calendar: BusinessCalendar) -> datetime:
    """The instant when `minutes` business minutes have elapsed since `start` (UTC)."""
    if start.tzinfo is None:
        raise ValueError("start must be time-zone aware")
    if minutes <= 0:
        raise ValueError("minutes must be positive")
    cursor = start.astimezone(UTC)
    remaining = timedelta(minutes=minutes)
    day = cursor.astimezone(calendar.zone).date()
    for _ in range(MAX_DAYS):
        if calendar.is_business_day(day):
            opens, closes = calendar.window(day)
            begin = max(cursor, opens)
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += timedelta(days=1)
    raise ValueError(f"no business hours within {MAX_DAYS} days: check the holiday list")


def business_minutes_between(start: datetime, end: datetime, calendar: BusinessCalendar) -> int:
    """How many whole business minutes lie between two instants (0 when end <= start)."""
    total = timedelta()
    day = start.astimezone(calendar.zone).date()
    last = end.astimezone(calendar.zone).date()
    while day <= last:
        if calendar.is_business_day(day):
            opens, closes = calendar.window(day)
            lo, hi = max(start, opens), min(end, closes)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return int(total.total_seconds() // 60)


def due_at(opened_at: datetime, target: ResponseTarget, calendar: BusinessCalendar) -> datetime:
    """The initial-response due time of a ticket opened at `opened_at` under `target`."""
    if target.clock is Clock.WALL_CLOCK:
        return opened_at.astimezone(UTC) + timedelta(minutes=target.minutes)
    return add_business_minutes(opened_at, target.minutes, calendar)
