"""Events on `notify.deadletter.v1` (key: subscriber id, or the failed record's key)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, TypeAdapter

from care_schemas.envelope import CloudEvent, Frozen


class NotificationDeadLetteredData(Frozen):
    notification_id: str = Field(min_length=1)
    subscriber_id: str = Field(min_length=1)
    org_id: str = Field(min_length=1)
    channel: str
    fingerprint: str | None = None
    attempts: int = Field(ge=0)
    reason: str
    dead_lettered_at: AwareDatetime


class NotificationDeadLettered(CloudEvent[NotificationDeadLetteredData]):
    TYPE: ClassVar[str] = "care.notify.dead_lettered.v1"
    type: Literal["care.notify.dead_lettered.v1"] = "care.notify.dead_lettered.v1"


class EventRejectedData(Frozen):
    """A record a consumer could never process (it does not validate), kept with the reason."""

    consumer: str
    topic: str
    partition: int
    offset: int
    key: str | None = None
    reason: str
    payload: str = Field(description="the record's value, decoded as UTF-8 with replacement, at most 64 KiB")


class EventRejected(CloudEvent[EventRejectedData]):
    TYPE: ClassVar[str] = "care.notify.event_rejected.v1"
    type: Literal["care.notify.event_rejected.v1"] = "care.notify.event_rejected.v1"


DeadLetterEvent = Annotated[NotificationDeadLettered | EventRejected, Field(discriminator="type")]
deadletter_event_adapter: TypeAdapter[DeadLetterEvent] = TypeAdapter(DeadLetterEvent)
