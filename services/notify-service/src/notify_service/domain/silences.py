"""Silences and maintenance windows as mute rules: which are in force at an instant, what they mute, and when the
answer next changes. Silence rules (states, updates in place, ordering) are Alertmanager's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from notify_service.domain.matchers import Matcher, matches_all
from notify_service.domain.windows import Recurrence


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


class SilenceRefused(ValueError):
    """A silence Alertmanager would refuse (400), with its words."""


@dataclass(frozen=True)
class Silence:
    id: str
    org_id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    updated_at: datetime
    annotations: Mapping[str, str] = field(default_factory=dict)

    def state(self, now: datetime) -> SilenceState:
        if self.ends_at <= now:
            return SilenceState.EXPIRED
        if self.starts_at > now:
            return SilenceState.PENDING
        return SilenceState.ACTIVE

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.state(now) is SilenceState.ACTIVE and matches_all(self.matchers, labels)

    def next_change(self, now: datetime) -> datetime | None:
        state = self.state(now)
        return (
            self.starts_at if state is SilenceState.PENDING else self.ends_at if state is SilenceState.ACTIVE else None
        )

    def has_matchers(self, wanted: Sequence[Matcher]) -> bool:
        """Alertmanager's silence filter: the silence carries every requested matcher (same name, type, value)."""
        return all(w in self.matchers for w in wanted)


def check_new(matchers: Sequence[Matcher], starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    """Alertmanager's checks on a posted silence (its messages)."""
    if not matchers:
        raise SilenceRefused("invalid silence: at least one matcher set required")
    if all(m.matches_empty() for m in matchers):
        raise SilenceRefused("invalid silence: matcher set 0: at least one matcher must not match the empty string")
    if starts_at >= ends_at:
        raise SilenceRefused("Failed to create silence: start time must be before end time")
    if ends_at < now:
        raise SilenceRefused("Failed to create silence: end time can't be in the past")


def can_update(
    old: Silence, matchers: Sequence[Matcher], starts_at: datetime, ends_at: datetime, now: datetime
) -> bool:
    """Whether a posted silence may change `old` in place (Alertmanager's `canUpdate`); otherwise the old one
    expires and a new one (new id) takes its place, so the history of what was silenced stays true."""
    if tuple(matchers) != old.matchers:
        return False
    state = old.state(now)
    if state is SilenceState.ACTIVE:
        return int(old.starts_at.timestamp()) == int(starts_at.timestamp()) and ends_at >= now
    if state is SilenceState.PENDING:
        return starts_at >= now
    return False


def sort_key(s: Silence, now: datetime) -> tuple[int, float]:
    """Active first (the next to end first), then pending (the next to start), then expired (the latest first)."""
    state = s.state(now)
    if state is SilenceState.ACTIVE:
        return (1, s.ends_at.timestamp())
    if state is SilenceState.PENDING:
        return (2, s.starts_at.timestamp())
    return (3, -s.ends_at.timestamp())


@dataclass(frozen=True)
class Window:
    """A recurring maintenance window of an organisation."""

    id: str
    org_id: str
    name: str
    recurrence: Recurrence
    matchers: tuple[Matcher, ...]

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.recurrence.active_at(now) is not None and matches_all(self.matchers, labels)


@dataclass(frozen=True)
class Muting:
    """What mutes one alert right now: silence ids and maintenance window names (Alertmanager's `silencedBy` and
    `mutedBy`)."""

    silenced_by: tuple[str, ...] = ()
    muted_by: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.silenced_by or self.muted_by)

    def reason(self, silences: Mapping[str, Silence]) -> str:
        parts = []
        for sid in self.silenced_by:
            s = silences.get(sid)
            said = f" ({s.comment[:120]}, by {s.created_by[:60]}, until {s.ends_at:%Y-%m-%d %H:%M}Z)" if s else ""
            parts.append(f"silence {sid}{said}")
        parts += [f"maintenance window {name}" for name in self.muted_by]
        return "muted by " + "; ".join(parts)


@dataclass(frozen=True)
class Rules:
    """An organisation's silences and windows, as read at one instant."""

    silences: Sequence[Silence]
    windows: Sequence[Window]
    now: datetime

    def muting(self, labels: Mapping[str, str]) -> Muting:
        return Muting(
            tuple(s.id for s in self.silences if s.mutes(labels, self.now)),
            tuple(w.name for w in self.windows if w.mutes(labels, self.now)),
        )

    @property
    def any_in_force(self) -> bool:
        return any(s.state(self.now) is SilenceState.ACTIVE for s in self.silences) or any(
            w.recurrence.active_at(self.now) is not None for w in self.windows
        )

    def next_change(self) -> datetime | None:
        """The next instant a silence or window starts or ends."""
        times: Iterable[datetime | None] = [s.next_change(self.now) for s in self.silences] + [
            w.recurrence.next_change(self.now) for w in self.windows
        ]
        found = [t for t in times if t is not None]
        return min(found) if found else None
