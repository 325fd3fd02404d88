"""Delivery attempts counted by outcome over time, in fixed buckets (the console's chart of a subscriber's log)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Window:
    """`count` buckets of `size` ending with the one `now` is in; aligned, so that a refresh keeps the same edges."""

    since: datetime
    size: timedelta
    count: int

    @classmethod
    def ending_at(cls, now: datetime, hours: int, count: int) -> Window:
        size_s = max(hours * 3600 // count, 60)
        epoch = int(now.timestamp())
        last_start = epoch - epoch % size_s
        return cls(datetime.fromtimestamp(last_start - (count - 1) * size_s, UTC), timedelta(seconds=size_s), count)


@dataclass(frozen=True)
class Bucket:
    start: datetime
    counts: dict[str, int] = field(default_factory=dict)


def fill(window: Window, counted: Iterable[tuple[int, str, int]]) -> list[Bucket]:
    """Every bucket of the window (empty ones too), from (bucket index, outcome, count) rows."""
    buckets = [Bucket(window.since + i * window.size) for i in range(window.count)]
    for index, outcome, n in counted:
        if 0 <= index < window.count:
            buckets[index].counts[outcome] = buckets[index].counts.get(outcome, 0) + n
    return buckets
