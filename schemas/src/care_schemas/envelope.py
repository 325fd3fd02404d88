"""CloudEvents 1.0 envelope (structured JSON mode) shared by every event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

DataT = TypeVar("DataT", bound=BaseModel)


class Frozen(BaseModel):
    """Base for immutable, strictly validated payloads."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def utcnow() -> datetime:
    """The current instant, time-zone aware in UTC."""
    return datetime.now(UTC)


class CloudEvent(Frozen, Generic[DataT]):
    """A CloudEvents 1.0 document; subclasses pin `type` to a Literal and `data` to a model."""

    TYPE: ClassVar[str]
    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1)
    source: str = Field(min_length=1)
    type: str
    time: AwareDatetime = Field(default_factory=utcnow)
    subject: str = Field(min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    data: DataT

    @classmethod
    def build(cls, *, source: str, subject: str, data: DataT, **kwargs: Any) -> Self:
        """Create the event with a fresh id and time."""
        return cls(source=source, subject=subject, type=cls.TYPE, data=data, **kwargs)

    def to_json_bytes(self) -> bytes:
        """Serialise as the structured-mode JSON document."""
        return self.model_dump_json().encode()
