"""ticket-service settings, validated at start-up."""

from __future__ import annotations

from pydantic import Field

from carekit.settings import ServiceSettings


class Settings(ServiceSettings):
    http_port: int = Field(default=8082, ge=0, le=65535)
    consumer_group_prefix: str = "ticket-service"
