"""Read a Prometheus Alertmanager webhook payload (version 4) as native alerts, alert by alert.

Alertmanager does not retry a 4xx, so one bad alert must not cost the group its good ones: each alert is taken or
refused on its own, with the reason (`Refusal`), and only a payload that is not a v4 webhook at all is refused
whole. Severities in other spellings are mapped (domain/severity.py) and the sender's label is kept; every
annotation is kept (summary and description become the alert's own fields).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from care_schemas.bounded import bounded, location, message
from care_schemas.events.alert import Alert, AlertStatus
from notify_service.domain.severity import severity_of

MAPPED = ("org_id", "project_id", "cluster_id", "alertname")
OWN_FIELDS = ("summary", "description")
MAX_ALERTS = 1000


class FieldError(ValueError):
    """A payload field at fault, named as a path (`alerts[0].labels.project_id`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class Refusal:
    """One alert of the group that was not taken, and why."""

    index: int
    reason: str
    fingerprint: str | None = None
    alertname: str | None = None
    org_id: str | None = None  # the organisation the alert named (or the caller's), to record the refusal under

    def view(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "fingerprint": self.fingerprint,
            "alertname": self.alertname,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Intake:
    accepted: list[tuple[int, Alert]]
    refused: list[Refusal]


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
    """The webhook payload; its other fields (receiver, groupLabels, externalURL...) are read by nobody here."""

    model_config = ConfigDict(extra="ignore")

    version: Annotated[str, bounded(8)]
    status: AlertStatus | None = None
    alerts: list[Any] = Field(min_length=1, max_length=MAX_ALERTS, description="each alert is taken or refused alone")


def _fingerprint(labels: dict[str, str]) -> str:
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_alertmanager(body: Any, *, default_org: str | None) -> Intake:
    """Each alert taken or refused on its own; FieldError when the payload itself is not a v4 webhook."""
    try:
        payload = AmPayload.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise FieldError(location(tuple(err["loc"])) if err["loc"] else "(body)", message(err)) from None
    if payload.version != "4":
        raise FieldError("version", f"must be '4' (Alertmanager webhook payload v4), got {payload.version!r}")
    accepted: list[tuple[int, Alert]] = []
    refused: list[Refusal] = []
    for i, raw in enumerate(payload.alerts):
        try:
            accepted.append((i, read_alert(i, raw, default_org)))
        except FieldError as exc:
            labels = raw.get("labels") if isinstance(raw, dict) else None
            labels = labels if isinstance(labels, dict) else {}
            name, org = labels.get("alertname"), labels.get("org_id")
            fp = raw.get("fingerprint") if isinstance(raw, dict) else None
            refused.append(
                Refusal(
                    i,
                    str(exc),
                    fp[:128] if isinstance(fp, str) else None,
                    name[:255] if isinstance(name, str) else None,
                    org if isinstance(org, str) and org else default_org,
                )
            )
    return Intake(accepted, refused)


def read_alert(i: int, raw: Any, default_org: str | None) -> Alert:
    """One Alertmanager alert (webhook v4 shape) as a native alert; FieldError names the field at fault."""
    try:
        am = AmAlert.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise FieldError(
            f"alerts[{i}]" + (f".{location(tuple(err['loc']))}" if err["loc"] else ""), message(err)
        ) from None
    where = f"alerts[{i}].labels"
    labels = am.labels
    org = labels.get("org_id") or default_org
    if not org:
        raise FieldError(f"{where}.org_id", "required for staff callers (organisation callers default to their own)")
    for required in ("project_id", "alertname"):
        if not labels.get(required):
            raise FieldError(f"{where}.{required}", "required label is missing")
    ends = am.endsAt if am.endsAt is not None and am.endsAt.year > 1 else None
    try:
        return Alert(
            fingerprint=am.fingerprint or _fingerprint(labels),
            org_id=org,
            project_id=labels["project_id"],
            cluster_id=labels.get("cluster_id"),
            rule=labels["alertname"],
            severity=severity_of(labels.get("severity")),
            status=am.status,
            starts_at=am.startsAt,
            ends_at=ends if am.status is AlertStatus.RESOLVED else None,
            summary=am.annotations.get("summary") or am.annotations.get("message") or labels["alertname"],
            description=am.annotations.get("description", ""),
            labels={k: v for k, v in labels.items() if k not in MAPPED},
            annotations={k: v for k, v in am.annotations.items() if k not in OWN_FIELDS},
            source=labels.get("source", "prometheus"),
            link=am.generatorURL or None,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _AM_NAMES.get(str(err["loc"][0]), str(err["loc"][0])) if err["loc"] else ""
        rest = location(tuple(err["loc"][1:]))
        path = f"alerts[{i}].{field}" + (f".{rest}" if err["loc"][1:] else "")
        raise FieldError(path, message(err)) from None


# where an Alert field came from in the Alertmanager payload, to name it as the sender wrote it
_AM_NAMES = {
    "starts_at": "startsAt",
    "ends_at": "endsAt",
    "rule": "labels.alertname",
    "project_id": "labels.project_id",
    "org_id": "labels.org_id",
    "cluster_id": "labels.cluster_id",
    "source": "labels.source",
    "summary": "annotations.summary",
    "description": "annotations.description",
    "link": "generatorURL",
}
