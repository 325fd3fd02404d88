"""Settings and targets for unit tests: no broker, no database."""

from __future__ import annotations

from typing import Any

from care_schemas.catalogue import ChannelType
from carekit_testing import TEST_JWT_SECRET
from notify_service.adapters.channels.base import Target
from notify_service.config import Settings
from notify_service.domain.subscribers import secrets_of

KEY = "x2nKu2yV5cS9Y2b0R8f8tq0m9m3f2c8W6c1kQm4zJ7Y="


def settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": "127.0.0.1:9",
        "database_url": "postgresql://x@127.0.0.1:9/x",
        "jwt_secret": TEST_JWT_SECRET,
        "http_port": 0,
        "notify_secret_key": KEY,
        "notify_url_allowlist": "127.0.0.1",
    }
    values.update(changes)
    return Settings(**values)


def target(channel: ChannelType, config: dict[str, Any]) -> Target:
    return Target("sub-1", "org-1", "ops", channel, config, tuple(secrets_of(config)))
