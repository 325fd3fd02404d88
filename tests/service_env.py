"""The environment each service needs to start in tests (settings without safe defaults)."""

from __future__ import annotations

import base64
import hashlib

from carekit_testing import TEST_JWT_SECRET
from tests.fakes.lark_server import FakeLark
from tests.fakes.slack_server import FakeSlack


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


def chat_env(slack: FakeSlack, lark: FakeLark) -> dict[str, str]:
    """ticket-service's settings for a local Slack and Lark: their secrets, API addresses and the bot's user."""
    env = {
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_API_URL": slack.api_url,
        "SLACK_BOT_USER_ID": slack.bot_user_id,
        "LARK_APP_ID": lark.app_id,
        "LARK_APP_SECRET": lark.app_secret,
        "LARK_VERIFICATION_TOKEN": lark.verification_token,
        "LARK_API_URL": lark.api_url,
    }
    if lark.encrypt_key:
        env["LARK_ENCRYPT_KEY"] = lark.encrypt_key
    return env
