"""A small chart of delivery attempts by outcome over time, drawn as stacked bars in server-rendered SVG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

# Outcomes in stacking order, with colours that keep 3:1 contrast against white (WCAG non-text contrast).
OUTCOMES = (
    ("delivered", "#1b7a3a"),
    ("retry", "#a15c00"),
    ("dead", "#b3261e"),
    ("cancelled", "#5f6368"),
    ("resplit", "#3949ab"),
)
WIDTH, HEIGHT, AXIS = 600, 160, 20


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    width: int
    height: int
    peak: int
    first: str
    last: str
    totals: dict[str, int]

    @property
    def empty(self) -> bool:
        return not any(self.totals.values())


def chart(buckets: Sequence[tuple[datetime, Mapping[str, int]]], label: str = "%H:%M") -> Chart:
    """Stacked bars, one per bucket (oldest left), scaled to the busiest bucket."""
    peak = max((sum(counts.values()) for _, counts in buckets), default=0)
    totals = {name: sum(counts.get(name, 0) for _, counts in buckets) for name, _ in OUTCOMES}
    slot = WIDTH / max(len(buckets), 1)
    bars: list[Bar] = []
    plot = HEIGHT - AXIS
    for i, (start, counts) in enumerate(buckets):
        top = float(plot)
        for name, colour in OUTCOMES:
            n = counts.get(name, 0)
            if not n:
                continue
            h = plot * n / peak
            top -= h
            bars.append(Bar(i * slot + 1, top, max(slot - 2, 1), h, colour, f"{start:{label}}: {n} {name}"))
    first = f"{buckets[0][0]:{label}}" if buckets else ""
    last = f"{buckets[-1][0]:{label}}" if buckets else ""
    return Chart(bars, WIDTH, HEIGHT, peak, first, last, totals)
