"""Alertmanager API v2 shapes (v0.35's openapi.yaml) from what notify-service keeps: gettable alerts and groups,
receivers (an organisation's subscribers), silences, and the status document. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from care_schemas.events.alert import Alert
from notify_service.domain.alertmanager import labels_of
from notify_service.domain.matchers import Matcher, filter_matches
from notify_service.domain.silences import Muting, Silence

ZERO = datetime(1, 1, 1, tzinfo=UTC)
VERSION = "0.35.0"  # the Alertmanager API this one follows (amtool compares major.minor)


def ts(value: datetime) -> str:
    """Alertmanager's date-time: RFC 3339 in UTC with milliseconds."""
    if value.year == 1:
        return "0001-01-01T00:00:00.000Z"
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Receiver:
    """A subscriber seen as an Alertmanager receiver."""

    id: str
    name: str
    type: str
    project_id: str
    cluster_id: str | None
    severities: Sequence[str] | None
    rules: Sequence[str] | None
    active: bool

    @property
    def labels(self) -> dict[str, str]:
        labels = {"type": self.type, "project_id": self.project_id, "subscriber_id": self.id}
        if self.cluster_id:
            labels["cluster_id"] = self.cluster_id
        return labels

    def takes(self, alert: Alert, channels: frozenset[str]) -> bool:
        """Whether this subscriber gets the alert (its scope and filters, active, and the plan includes it)."""
        return (
            self.active
            and self.type in channels
            and self.project_id == alert.project_id
            and (self.cluster_id is None or self.cluster_id == alert.cluster_id)
            and (self.severities is None or alert.severity.value in self.severities)
            and (self.rules is None or alert.rule in self.rules)
        )


def annotations_of(alert: Alert) -> dict[str, str]:
    found = {**alert.annotations, "summary": alert.summary}
    if alert.description:
        found["description"] = alert.description
    return found


def gettable_alert(
    alert: Alert, *, updated_at: datetime, ends_at: datetime | None, receivers: Sequence[str], muting: Muting
) -> dict[str, Any]:
    """`gettableAlert`: suppressed while a silence (`silencedBy`) or a maintenance window (`mutedBy`) mutes it."""
    state = "suppressed" if muting else "active"
    return {
        "labels": labels_of(alert),
        "annotations": annotations_of(alert),
        "startsAt": ts(alert.starts_at),
        "endsAt": ts(ends_at or alert.ends_at or ZERO),
        "updatedAt": ts(updated_at),
        "generatorURL": alert.link or "",
        "fingerprint": alert.fingerprint,
        "receivers": [{"name": name} for name in receivers],
        "status": {
            "state": state,
            "silencedBy": list(muting.silenced_by),
            "inhibitedBy": [],
            "mutedBy": list(muting.muted_by),
        },
    }


@dataclass(frozen=True)
class AlertQuery:
    """GET /api/v2/alerts and /alerts/groups parameters."""

    filters: Sequence[Matcher] = ()
    active: bool = True
    silenced: bool = True
    inhibited: bool = True
    unprocessed: bool = True
    receiver: Any = None  # a compiled RE2 pattern, anchored
    receiver_matchers: Sequence[Matcher] = ()

    def keeps(self, labels: Mapping[str, str], muting: Muting) -> bool:
        """Alertmanager's alert filter; a maintenance window counts as a silence here (muted, not active)."""
        if not filter_matches(self.filters, labels):
            return False
        if not self.active and not muting:
            return False
        return self.silenced or not muting

    def routes_to(self, receiver: Receiver) -> bool:
        if self.receiver is not None and self.receiver.match(receiver.name) is None:
            return False
        return not self.receiver_matchers or filter_matches(self.receiver_matchers, receiver.labels)


def gettable_silence(s: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": s.id,
        "status": {"state": s.state(now).value},
        "updatedAt": ts(s.updated_at),
        "matchers": [m.to_api() for m in s.matchers],
        "startsAt": ts(s.starts_at),
        "endsAt": ts(s.ends_at),
        "createdBy": s.created_by,
        "comment": s.comment,
        "annotations": dict(s.annotations),
    }


def go_duration(seconds: float) -> str:
    """A duration as Alertmanager's configuration writes it (integer units: 300ms, 2s, 5m, 3h)."""
    ms = max(0, round(seconds * 1000))
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def config_yaml(org: str, receivers: Sequence[Receiver], *, group_wait_s: float, repeat_s: float) -> str:
    """A read-only picture of the organisation's routing in Alertmanager's configuration format (no secrets)."""
    names = sorted({r.name for r in receivers})
    lines = [
        f"# Connected Care notify-service: routing of organisation {json.dumps(org)} (read-only;",
        "# subscribers: /v1/subscribers; silences: this API; maintenance windows: /v1/maintenance-windows)",
        "global:",
        "  resolve_timeout: 5m",
        "route:",
        f"  receiver: {json.dumps(names[0]) if names else '__none__'}",
        "  group_by: [cluster_id]",
        f"  group_wait: {go_duration(group_wait_s)}",
        f"  repeat_interval: {go_duration(repeat_s)}",
        "receivers:",
    ]
    lines += [f"- name: {json.dumps(n)}" for n in names] or ["- name: __none__"]
    return "\n".join(lines) + "\n"
