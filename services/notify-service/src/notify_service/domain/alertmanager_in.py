"""Read a Prometheus Alertmanager webhook payload (version 4) as native alerts."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from care_schemas.bounded import message
from care_schemas.events.alert import Alert, AlertSeverity, AlertStatus

MAPPED = ("org_id", "project_id", "cluster_id", "severity", "alertname")
DEFAULT_SEVERITY = AlertSeverity.WARNING


class FieldError(ValueError):
    """A payload field at fault, named as a path (`alerts[0].labels.project_id`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class AmAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str | None = None


class AmPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str
    status: AlertStatus | None = None
    alerts: list[AmAlert] = Field(min_length=1)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _fingerprint(labels: dict[str, str]) -> str:
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_alertmanager(body: Any, *, default_org: str | None) -> list[Alert]:
    """Alerts from the payload; FieldError names the first field at fault."""
    try:
        payload = AmPayload.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise FieldError(_path(tuple(err["loc"])), err["msg"]) from None
    if payload.version != "4":
        raise FieldError("version", f"must be '4' (Alertmanager webhook payload v4), got {payload.version!r}")
    return [_alert(i, a, default_org) for i, a in enumerate(payload.alerts)]


def _alert(i: int, am: AmAlert, default_org: str | None) -> Alert:
    where = f"alerts[{i}].labels"
    labels = am.labels
    org = labels.get("org_id") or default_org
    if not org:
        raise FieldError(f"{where}.org_id", "required for staff callers (organisation callers default to their own)")
    for required in ("project_id", "alertname"):
        if not labels.get(required):
            raise FieldError(f"{where}.{required}", "required label is missing")
    severity_raw = labels.get("severity", DEFAULT_SEVERITY.value).lower()
    try:
        severity = AlertSeverity(severity_raw)
    except ValueError:
        raise FieldError(f"{where}.severity", "must be one of critical, warning, info") from None
    ends = am.endsAt if am.endsAt is not None and am.endsAt.year > 1 else None
    extra = {k: v for k, v in labels.items() if k not in MAPPED}
    try:
        return Alert(
            fingerprint=am.fingerprint or _fingerprint(labels),
            org_id=org,
            project_id=labels["project_id"],
            cluster_id=labels.get("cluster_id"),
            rule=labels["alertname"],
            severity=severity,
            status=am.status,
            starts_at=am.startsAt,
            ends_at=ends if am.status is AlertStatus.RESOLVED else None,
            summary=am.annotations.get("summary") or am.annotations.get("message") or labels["alertname"],
            description=am.annotations.get("description", ""),
            labels=extra,
            source=labels.get("source", "prometheus"),
            link=am.generatorURL or None,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise FieldError(f"alerts[{i}].{_path(tuple(err['loc']))}", message(err)) from None
