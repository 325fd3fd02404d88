"""Render alerts as the Prometheus Alertmanager webhook payload (version 4)."""

from __future__ import annotations

from typing import Any

from care_schemas.events.alert import Alert, AlertStatus

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


def render_webhook(alert: Alert, *, receiver: str, external_url: str, dry_run: bool = False) -> dict[str, Any]:
    """One alert per request, as Alertmanager's webhook receiver sends it."""
    labels = labels_of(alert)
    body: dict[str, Any] = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alert.rule}", fingerprint="{alert.fingerprint}"}}',
        "truncatedAlerts": 0,
        "status": alert.status.value,
        "receiver": receiver,
        "groupLabels": {"alertname": alert.rule},
        "commonLabels": labels,
        "commonAnnotations": {**alert.annotations, "summary": alert.summary, "description": alert.description},
        "externalURL": external_url,
        "alerts": [render_alert(alert)],
    }
    if dry_run:
        body["dryRun"] = True
    return body
