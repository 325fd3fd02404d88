"""The environment each service needs to start in tests (settings without safe defaults)."""

from __future__ import annotations

import base64
import hashlib

from carekit_testing import TEST_JWT_SECRET


def service_env(module: str, *, kafka: str, database_url: str, group_prefix: str) -> dict[str, str]:
    """Settings for `python -m <module>`; secrets are fixed test values, never real ones."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "CONSUMER_GROUP_PREFIX": group_prefix,
    }
    if module == "notify_service":
        key = base64.urlsafe_b64encode(hashlib.sha256(b"notify-test-key").digest()).decode()
        env |= {"NOTIFY_SECRET_KEY": key, "NOTIFY_URL_ALLOWLIST": "127.0.0.1,localhost"}
    return env
