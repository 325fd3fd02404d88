"""A ticket's first-response clock as a person reads it: the due time in the organisation's zone, and how long is
left, how late it is, or that it stopped because support answered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

State = Literal["none", "running", "overdue", "met", "missed"]


@dataclass(frozen=True)
class Due:
    state: State
    due_at: datetime | None  # UTC, for the live countdown in the page
    due_local: str  # "Tue 3 Nov 2026 14:00 Europe/Berlin"
    text: str  # "3 h 12 min left", "overdue by 10 min", "answered 2 h 1 min before the due time"

    @property
    def live(self) -> bool:
        """The countdown still moves (the page's script updates it every second)."""
        return self.state in ("running", "overdue")


def zone(name: str | None) -> ZoneInfo:
    """The organisation's zone; an unknown name falls back to UTC (as ticket-service does)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local(at: datetime, zone_name: str | None) -> str:
    """An instant in the organisation's zone, e.g. `Tue 3 Nov 2026 14:00 Europe/Berlin`."""
    tz = zone(zone_name)
    return f"{at.astimezone(tz):%a %-d %b %Y %H:%M} {tz.key}"


def span(seconds: float) -> str:
    """`2 d 3 h` beyond a day, else down to the second (`3 h 12 min 5 s`, `12 min 0 s`, `45 s`): a live countdown
    visibly moves."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min {secs} s"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def due_status(
    due_at: datetime | None, first_response_at: datetime | None, breached: bool, zone_name: str | None, now: datetime
) -> Due:
    """Where the first-response clock stands at `now`."""
    if due_at is None:
        return Due("none", None, "", "no response target (billing and account tickets have none)")
    shown = local(due_at, zone_name)
    if first_response_at is not None:
        late = first_response_at - due_at
        if late.total_seconds() > 0:
            return Due("missed", due_at, shown, f"answered {span(late.total_seconds())} after the due time")
        return Due("met", due_at, shown, f"answered {span(-late.total_seconds())} before the due time")
    left = (due_at - now).total_seconds()
    if left > 0 and not breached:
        return Due("running", due_at, shown, f"{span(left)} left")
    return Due("overdue", due_at, shown, f"overdue by {span(left)}")
