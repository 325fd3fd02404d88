"""Events on `alert.events.v1` (key: org id)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, TypeAdapter, field_validator, model_validator

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
    fingerprint: str = Field(min_length=1, max_length=128)
    org_id: str = Field(min_length=1, max_length=128)
    project_id: str = Field(min_length=1, max_length=128)
    cluster_id: str | None = Field(default=None, max_length=128)
    cluster_plan: ClusterPlan | None = None
    rule: str = Field(min_length=1, max_length=255)
    severity: AlertSeverity
    status: AlertStatus
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    summary: str = Field(min_length=1, max_length=1024)
    description: str = Field(default="", max_length=8192)
    labels: dict[str, str] = Field(default_factory=dict)
    source: str = Field(default="platform", min_length=1, max_length=64)
    link: str | None = Field(default=None, max_length=2048)

    @field_validator(
        "fingerprint",
        "org_id",
        "project_id",
        "cluster_id",
        "rule",
        "summary",
        "description",
        "labels",
        "source",
        "link",
    )
    @classmethod
    def _no_nul(cls, value: object) -> object:
        """No text may carry NUL: Postgres cannot store it, and one such alert must not stall every consumer."""
        texts = [*value.keys(), *value.values()] if isinstance(value, dict) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value


class AlertFiring(CloudEvent[Alert]):
    TYPE: ClassVar[str] = "care.alert.firing.v1"
    type: Literal["care.alert.firing.v1"] = "care.alert.firing.v1"

    @model_validator(mode="after")
    def _status_is_firing(self) -> AlertFiring:
        if self.data.status is not AlertStatus.FIRING:
            raise ValueError("data.status must be 'firing' in care.alert.firing.v1")
        return self


class AlertResolved(CloudEvent[Alert]):
    TYPE: ClassVar[str] = "care.alert.resolved.v1"
    type: Literal["care.alert.resolved.v1"] = "care.alert.resolved.v1"

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
