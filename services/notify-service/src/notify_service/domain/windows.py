"""Recurring maintenance windows: an RFC 5545 recurrence rule in a named IANA time zone, with a duration.

Times follow RFC 5545 exactly:
* occurrences are wall-clock times in the zone (DTSTART with TZID): "every Sunday 02:00" stays 02:00 local
  across DST changes;
* a wall time that occurs twice (clocks go back) is its first occurrence; one that does not occur (clocks go
  forward) is read with the UTC offset before the gap, i.e. shifted forward by the gap (02:30 on the night New York
  springs forward is 03:30 EDT);
* the duration's weeks and days are nominal (added in wall-clock time: P1D from 02:00 ends at 02:00 the next day
  even across a DST change), its hours, minutes and seconds exact (PT2H is two real hours).

Pure: no I/O. The rule is read by python-dateutil's `rrule`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

MAX_DURATION = timedelta(days=31)
MAX_RULE = 512
ALLOWED_FREQ = {"HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
_DURATION = re.compile(r"^P(?:(\d{1,3})W|(?:(\d{1,3})D)?(?:T(?:(\d{1,4})H)?(?:(\d{1,6})M)?(?:(\d{1,7})S)?)?)$")
HORIZON = timedelta(days=400)  # open longer than this: "open until the rule changes"
_MARGIN = timedelta(days=2)  # more than any UTC offset change, so a wall-clock search window never misses


class WindowError(ValueError):
    """A rule, zone, start or duration that cannot define a window, with the field and reason."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class Duration:
    """An RFC 5545 duration: nominal days (weeks are 7) and exact seconds."""

    days: int
    seconds: int

    @staticmethod
    def parse(text: str) -> Duration:
        found = _DURATION.match(text.strip().upper())
        if found is None or text.strip().upper() in ("P", "PT"):
            raise WindowError("duration", f"must be an ISO 8601 duration such as PT2H, PT90M, P1D or P1W; got {text!r}")
        weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in found.groups())
        duration = Duration(weeks * 7 + days, hours * 3600 + minutes * 60 + seconds)
        if duration.days == 0 and duration.seconds == 0:
            raise WindowError("duration", "must be longer than zero")
        if timedelta(days=duration.days, seconds=duration.seconds) > MAX_DURATION:
            raise WindowError("duration", "must be at most 31 days (P31D)")
        return duration

    def __str__(self) -> str:
        if self.seconds == 0 and self.days % 7 == 0:
            return f"P{self.days // 7}W"
        hours, rest = divmod(self.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
        return f"P{f'{self.days}D' if self.days else ''}{'T' + time if time else ''}"

    @property
    def longest(self) -> timedelta:
        """An upper bound of the real length (a nominal day is at most 25 hours)."""
        return timedelta(hours=25 * self.days, seconds=self.seconds)


def zone_of(name: str) -> ZoneInfo:
    """An IANA zone by name; `localtime`, `posixrules`, `Factory` and paths are refused."""
    if not name or name.startswith(("/", ".")) or name in ("localtime", "posixrules", "Factory") or ".." in name:
        raise WindowError("timezone", f"must be an IANA time zone name such as Asia/Tokyo; got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WindowError("timezone", f"unknown IANA time zone {name!r}") from None


def localize(wall: datetime, zone: ZoneInfo) -> datetime:
    """Wall-clock time in the zone -> UTC, as RFC 5545 reads it (first of a repeated time; the offset before a
    gap for a time that does not exist). Python's fold=0 is exactly that."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


@lru_cache(maxsize=1024)
def _rule(text: str, starts: datetime) -> rrule:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if "\n" in body or ":" in body or "DTSTART" in body.upper():
        raise WindowError("rrule", "one RRULE value only (e.g. FREQ=WEEKLY;BYDAY=SU); the start goes in `starts`")
    try:
        parsed = rrulestr(body, dtstart=starts, cache=True)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise WindowError("rrule", f"not an RFC 5545 recurrence rule ({exc})") from None
    if not isinstance(parsed, rrule):
        raise WindowError("rrule", "one RRULE value only")
    parts = dict(p.split("=", 1) for p in body.upper().split(";") if "=" in p)
    if parts.get("FREQ") not in ALLOWED_FREQ:
        raise WindowError("rrule", "FREQ must be HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY")
    if parts.get("UNTIL", "").endswith("Z"):
        raise WindowError("rrule", "UNTIL must be a local time (no Z) in the window's time zone")
    return parsed


@dataclass(frozen=True)
class Recurrence:
    """A recurring window: `rule` (RRULE), first occurrence `starts` (wall-clock time in `zone`), `duration`."""

    rule: str
    starts: datetime
    zone: str
    duration: Duration

    @staticmethod
    def build(rule: str, starts: datetime, zone: str, duration: str) -> Recurrence:
        """Validate every part (WindowError names the field at fault)."""
        if len(rule) > MAX_RULE:
            raise WindowError("rrule", f"at most {MAX_RULE} characters")
        if starts.tzinfo is not None:
            raise WindowError("starts", "a wall-clock time in the window's time zone, without an offset")
        if not 1970 <= starts.year <= 9998:
            raise WindowError("starts", "must be between 1970 and 9998")
        zone_of(zone)
        recurrence = Recurrence(rule, starts.replace(microsecond=0), zone, Duration.parse(duration))
        recurrence._parsed()
        return recurrence

    def _parsed(self) -> rrule:
        return _rule(self.rule, self.starts)

    def _span(self, wall: datetime) -> tuple[datetime, datetime]:
        """One occurrence's real start and end (UTC)."""
        zone = zone_of(self.zone)
        start = localize(wall, zone)
        end_wall = localize(wall + timedelta(days=self.duration.days), zone)
        return start, end_wall + timedelta(seconds=self.duration.seconds)

    def _wall(self, t: datetime) -> datetime:
        return t.astimezone(zone_of(self.zone)).replace(tzinfo=None)

    def occurrences(self, after: datetime, before: datetime) -> list[tuple[datetime, datetime]]:
        """Occurrences (UTC start, end) that overlap [after, before), in order."""
        lo = self._wall(after) - self.duration.longest - _MARGIN
        hi = self._wall(before) + _MARGIN
        spans = {self._span(w) for w in self._parsed().between(lo, hi, inc=True)}
        return sorted(s for s in spans if s[0] < before and s[1] > after)

    def active_at(self, t: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence that covers `t` (the latest-starting one when several overlap), or None."""
        covering = [s for s in self.occurrences(t, t + timedelta(microseconds=1)) if s[0] <= t < s[1]]
        return covering[-1] if covering else None

    def next_change(self, t: datetime) -> datetime | None:
        """When the window next opens (if closed at `t`) or closes (if open): overlapping and back-to-back
        occurrences count as one open stretch. None when it never opens again, or stays open past `HORIZON`."""
        covering = [s for s in self.occurrences(t, t + timedelta(microseconds=1)) if s[0] <= t < s[1]]
        if not covering:
            for wall in self._walk(self._wall(t) - _MARGIN):
                start, _ = self._span(wall)
                if start > t:
                    return start
            return None
        end = max(e for _, e in covering)
        for wall in self._walk(self._wall(t) - self.duration.longest - _MARGIN):
            start, stop = self._span(wall)
            if start > end:
                return end  # a gap: the stretch closes at `end`
            end = max(end, stop)
            if end - t > HORIZON:
                return None
        return end

    def _walk(self, wall: datetime) -> Iterator[datetime]:
        """Wall-clock occurrences from `wall` on, in order (bounded)."""
        yield from itertools.islice(self._parsed().xafter(wall, inc=True), 100_000)

    def upcoming(self, t: datetime, count: int) -> list[tuple[datetime, datetime]]:
        """The next `count` occurrences that end after `t` (for people to check a rule)."""
        out: list[tuple[datetime, datetime]] = []
        wall = self._wall(t) - self.duration.longest - _MARGIN
        parsed = self._parsed()
        inclusive = True
        while len(out) < count:
            nxt = parsed.after(wall, inc=inclusive)
            inclusive = False
            if nxt is None:
                break
            wall = nxt
            span = self._span(nxt)
            if span[1] > t and span not in out:
                out.append(span)
        return out
