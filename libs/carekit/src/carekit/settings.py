"""Settings shared by every service, validated at start-up."""

from __future__ import annotations

import sys
from typing import TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound="WebSettings")
PLACEHOLDERS = {"changeme", "change-me", "secret", "placeholder", "xxx", "todo"}


class WebSettings(BaseSettings):
    """HTTP and identity settings: what every process that serves people or services needs (the console has only
    these; the services add Kafka and Postgres in ServiceSettings)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    jwt_secret: str = Field(min_length=32, description="HS256 key for bearer tokens")
    jwt_issuer: str = "connected-care"
    jwt_audience: str = "connected-care"
    http_host: str = "127.0.0.1"
    http_port: int = Field(ge=0, le=65535)
    log_level: str = "INFO"
    public_base_url: str = "http://127.0.0.1"
    http_max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="largest request body; bigger ones get 413 before they are read"
    )
    retention_days: float = Field(default=30.0, gt=0, description="history older than this is purged")
    retention_batch: int = Field(default=1000, ge=1, description="rows per purge statement")
    retention_interval_s: float = Field(default=600.0, gt=0, description="seconds between retention passes")

    @field_validator("jwt_secret")
    @classmethod
    def _not_placeholder(cls, value: str) -> str:
        if value.strip().lower() in PLACEHOLDERS or len(set(value)) < 8:
            raise ValueError("is a placeholder; set a real random secret of 32+ characters")
        return value


class ServiceSettings(WebSettings):
    """Connection and identity settings; a service subclasses this with its own fields."""

    kafka_bootstrap_servers: str = Field(min_length=3)
    kafka_request_timeout_ms: int = Field(default=30_000, ge=1_000, description="producer wait for the broker")
    database_url: str = Field(pattern=r"^postgres(ql)?://")


def load_settings(cls: type[S]) -> S:
    """Build settings from the environment or exit naming every variable at fault."""
    try:
        return cls()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "?"
            lines.append(f"  {name}: {err['msg']}")
        print(f"{cls.__name__}: invalid configuration:\n" + "\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
