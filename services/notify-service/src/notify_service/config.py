"""notify-service settings, validated at start-up."""

from __future__ import annotations

from pydantic import Field

from carekit.settings import ServiceSettings


class Settings(ServiceSettings):
    http_port: int = Field(default=8083, ge=0, le=65535)
    consumer_group_prefix: str = "notify-service"
    delivery_poll_interval_s: float = Field(default=0.2, gt=0)
    delivery_timeout_s: float = Field(default=15.0, gt=0)
    delivery_concurrency: int = Field(default=32, ge=1)
    external_url: str = "http://127.0.0.1:8083"
