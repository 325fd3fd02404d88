"""Events on `notify.deadletter.v1` (key: subscriber id, or the failed record's key)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, TypeAdapter

from care_schemas.bounded import Id, Int64, Timestamp, bounded
from care_schemas.envelope import CloudEvent, Frozen

MAX_REASON = 4000
MAX_PAYLOAD = 64 * 1024


class NotificationDeadLetteredData(Frozen):
    notification_id: Id
    subscriber_id: Id
    org_id: Id
    channel: Annotated[str, bounded(32)]
    fingerprint: Annotated[str, bounded(128)] | None = None
    attempts: Int64 = Field(ge=0)
    reason: Annotated[str, bounded(MAX_REASON)]
    dead_lettered_at: Timestamp


class NotificationDeadLettered(CloudEvent[NotificationDeadLetteredData]):
    TYPE: ClassVar[str] = "care.notify.dead_lettered.v1"
    type: Literal["care.notify.dead_lettered.v1"]


class EventRejectedData(Frozen):
    """A record a consumer could never process (it does not validate), kept with the reason."""

    consumer: Annotated[str, bounded(256)]
    topic: Annotated[str, bounded(256)]
    partition: Int64 = Field(ge=0)
    offset: Int64 = Field(ge=0)
    key: Annotated[str, bounded(256)] | None = None
    reason: Annotated[str, bounded(MAX_REASON)]
    payload: Annotated[str, bounded(MAX_PAYLOAD)] = Field(
        description="the record's value, decoded as UTF-8 with replacement, at most 64 KiB"
    )
    headers: (
        Annotated[dict[Annotated[str, bounded(256)], Annotated[str, bounded(1024)]], Field(max_length=32)] | None
    ) = Field(default=None, description="the record's headers (binary-mode CloudEvents carry their attributes there)")


class EventRejected(CloudEvent[EventRejectedData]):
    TYPE: ClassVar[str] = "care.notify.event_rejected.v1"
    type: Literal["care.notify.event_rejected.v1"]


DeadLetterEvent = Annotated[NotificationDeadLettered | EventRejected, Field(discriminator="type")]
deadletter_event_adapter: TypeAdapter[DeadLetterEvent] = TypeAdapter(DeadLetterEvent)
