"""plan-service settings, validated at start-up."""

from __future__ import annotations

from pydantic import Field

from carekit.settings import ServiceSettings


class Settings(ServiceSettings):
    http_port: int = Field(default=8081, ge=0, le=65535)
    consumer_group_prefix: str = "plan-service"
    plan_scheduler_interval_s: float = Field(
        default=30.0, gt=0, description="seconds between scheduler runs (trial expiry, legacy retirement, warnings)"
    )
    plan_scheduler_enabled: bool = Field(default=True, description="run the scheduler loop in this instance")
    http_max_body_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="a 10,000-organisation legacy import fits",
    )
