"""CloudEvents 1.0 envelope (structured JSON mode) shared by every event.

On the way in nothing is filled in: `specversion`, `id`, `source` and `type` are required (a default id would
give a redelivered record a new id and defeat id-based idempotency). `build()` is how producers make events.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from care_schemas.bounded import Timestamp, bounded

DataT = TypeVar("DataT", bound=BaseModel)


class Frozen(BaseModel):
    """Base for immutable, strictly validated payloads."""

    model_config = ConfigDict(frozen=True, extra="forbid")


ENVELOPE_MAX_BYTES = 16 * 1024
"""At most how many bytes an event's JSON holds beyond its data's: its other fields are bounded (id 256, source 1024,
subject 512 characters, a type of a few dozen, a time), each character at most 6 bytes once escaped (`\\u0001`), with
their names around them (11.5 KiB at most). An event whose data's JSON is D bytes is at most D + this."""


def utcnow() -> datetime:
    """The current instant, time-zone aware in UTC."""
    return datetime.now(UTC)


class CloudEvent(Frozen, Generic[DataT]):
    """A CloudEvents 1.0 document; subclasses pin `type` to a Literal and `data` to a model."""

    TYPE: ClassVar[str]
    specversion: Literal["1.0"]
    id: Annotated[str, bounded(256, min_length=1)]
    source: Annotated[str, bounded(1024, min_length=1)]
    type: str
    time: Timestamp | None = None
    subject: Annotated[str, bounded(512, min_length=1)]
    datacontenttype: Literal["application/json"] = "application/json"
    data: DataT

    @classmethod
    def build(cls, *, source: str, subject: str, data: DataT, **kwargs: Any) -> Self:
        """Create the event with a fresh id and the current time (unless `time` is given)."""
        kwargs.setdefault("time", utcnow())
        return cls(
            specversion="1.0", id=str(uuid.uuid4()), source=source, subject=subject, type=cls.TYPE, data=data, **kwargs
        )

    def to_json_bytes(self) -> bytes:
        """Serialise as the structured-mode JSON document."""
        return self.model_dump_json().encode()
