"""Events on `alert.events.v1` (key: org id)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, TypeAdapter, model_validator

from care_schemas.bounded import Annotations, Id, Labels, Timestamp, bounded
from care_schemas.envelope import CloudEvent, Frozen


class AlertSeverity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class ClusterPlan(StrEnum):
    DEDICATED = "dedicated"
    ESSENTIAL = "essential"
    PREMIUM = "premium"


class Alert(Frozen):
    fingerprint: Annotated[str, bounded(128, min_length=1)]
    org_id: Id
    project_id: Id
    cluster_id: Annotated[str, bounded(128)] | None = None
    cluster_plan: ClusterPlan | None = None
    rule: Annotated[str, bounded(255, min_length=1)]
    severity: AlertSeverity
    status: AlertStatus
    starts_at: Timestamp
    ends_at: Timestamp | None = None
    summary: Annotated[str, bounded(1024, min_length=1)]
    description: Annotated[str, bounded(8192)] = ""
    labels: Labels = Field(default_factory=dict)
    annotations: Annotations = Field(
        default_factory=dict,
        description="every annotation the sender gave besides summary and description (runbook_url, dashboard...)",
    )
    source: Annotated[str, bounded(64, min_length=1)] = "platform"
    link: Annotated[str, bounded(2048)] | None = None


class AlertRef(Frozen):
    """One firing of an alert: its organisation, fingerprint and start (a re-fired alert has a new start)."""

    org_id: Id
    fingerprint: Annotated[str, bounded(128, min_length=1)]
    starts_at: Timestamp


class AlertFiring(CloudEvent[Alert]):
    TYPE: ClassVar[str] = "care.alert.firing.v1"
    type: Literal["care.alert.firing.v1"]

    @model_validator(mode="after")
    def _status_is_firing(self) -> AlertFiring:
        if self.data.status is not AlertStatus.FIRING:
            raise ValueError("data.status must be 'firing' in care.alert.firing.v1")
        return self


class AlertResolved(CloudEvent[Alert]):
    TYPE: ClassVar[str] = "care.alert.resolved.v1"
    type: Literal["care.alert.resolved.v1"]

    @model_validator(mode="after")
    def _status_is_resolved(self) -> AlertResolved:
        if self.data.status is not AlertStatus.RESOLVED:
            raise ValueError("data.status must be 'resolved' in care.alert.resolved.v1")
        return self


AlertEvent = Annotated[AlertFiring | AlertResolved, Field(discriminator="type")]
alert_event_adapter: TypeAdapter[AlertEvent] = TypeAdapter(AlertEvent)


def alert_event(alert: Alert, *, source: str) -> AlertFiring | AlertResolved:
    """Wrap an alert in the event that matches its status."""
    cls = AlertFiring if alert.status is AlertStatus.FIRING else AlertResolved
    return cls.build(source=source, subject=alert.fingerprint, data=alert)
