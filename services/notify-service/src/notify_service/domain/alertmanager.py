"""Render alerts as the Prometheus Alertmanager webhook payload (version 4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from care_schemas.events.alert import Alert, AlertStatus
from notify_service.domain.grouping import group_labels

ZERO_TIME = "0001-01-01T00:00:00Z"


def _ts(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else ZERO_TIME


def labels_of(alert: Alert) -> dict[str, str]:
    """Alertmanager labels: the alert's own, plus its identity fields."""
    labels = {
        "severity": alert.severity.value,  # the sender's own spelling, when it had one, is kept in alert.labels
        **alert.labels,
        "alertname": alert.rule,
        "org_id": alert.org_id,
        "project_id": alert.project_id,
        "source": alert.source,
    }
    if alert.cluster_id:
        labels["cluster_id"] = alert.cluster_id
    return labels


def render_alert(alert: Alert) -> dict[str, Any]:
    return {
        "status": alert.status.value,
        "labels": labels_of(alert),
        "annotations": {**alert.annotations, "summary": alert.summary, "description": alert.description},
        "startsAt": _ts(alert.starts_at),
        "endsAt": _ts(alert.ends_at) if alert.status is AlertStatus.RESOLVED else ZERO_TIME,
        "generatorURL": alert.link or "",
        "fingerprint": alert.fingerprint,
    }


def _common(maps: Sequence[dict[str, str]]) -> dict[str, str]:
    """The pairs every map has (Alertmanager's commonLabels and commonAnnotations)."""
    first, rest = maps[0], maps[1:]
    if not rest:  # one alert (every alert its own group): all of its pairs
        return dict(first)
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in rest)}


def render_webhook(
    alerts: Sequence[Alert],
    *,
    receiver: str,
    external_url: str,
    group_by: Sequence[str] | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """The alerts of one group in one request, as Alertmanager's webhook receiver sends them."""
    rendered = [render_alert(a) for a in alerts]
    labels = [r["labels"] for r in rendered]
    grouped = group_labels(group_by, labels[0])
    key = ", ".join(f'{k}="{v}"' for k, v in grouped.items())
    body: dict[str, Any] = {
        "version": "4",
        "groupKey": f"{{}}:{{{key}}}",
        "truncatedAlerts": 0,
        "status": "firing" if any(a.status is AlertStatus.FIRING for a in alerts) else "resolved",
        "receiver": receiver,
        "groupLabels": grouped,
        "commonLabels": _common(labels),
        "commonAnnotations": _common([r["annotations"] for r in rendered]),
        "externalURL": external_url,
        "alerts": rendered,
    }
    if dry_run:
        body["dryRun"] = True
    return body
