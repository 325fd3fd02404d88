"""ticket-service settings, validated at start-up."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from carekit.settings import ServiceSettings


class Settings(ServiceSettings):
    http_port: int = Field(default=8082, ge=0, le=65535)
    consumer_group_prefix: str = "ticket-service"
    breach_scan_interval_s: float = Field(default=15.0, gt=0, le=3600)
    http_max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="largest request body (413 beyond)")

    # Slack is disabled (its endpoints answer 503) unless both secrets are set.
    slack_signing_secret: str | None = Field(default=None, min_length=8)
    slack_bot_token: str | None = Field(default=None, min_length=8)
    slack_api_url: str = "https://slack.com/api/"
    slack_bot_user_id: str | None = None

    # Lark is disabled (its endpoints answer 503) unless app id, app secret and verification token are set.
    lark_app_id: str | None = Field(default=None, min_length=1)
    lark_app_secret: str | None = Field(default=None, min_length=8)
    lark_verification_token: str | None = Field(default=None, min_length=8)
    lark_encrypt_key: str | None = Field(default=None, min_length=1)
    lark_api_url: str = "https://open.larksuite.com"

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_signing_secret and self.slack_bot_token)

    @property
    def lark_enabled(self) -> bool:
        return bool(self.lark_app_id and self.lark_app_secret and self.lark_verification_token)

    @model_validator(mode="after")
    def _complete_integrations(self) -> Self:
        slack = {"slack_signing_secret": self.slack_signing_secret, "slack_bot_token": self.slack_bot_token}
        if any(slack.values()) and not all(slack.values()):
            missing = ", ".join(k.upper() for k, v in slack.items() if not v)
            raise ValueError(f"Slack is half configured: also set {missing} (or unset both to disable Slack)")
        lark = {
            "lark_app_id": self.lark_app_id,
            "lark_app_secret": self.lark_app_secret,
            "lark_verification_token": self.lark_verification_token,
        }
        if any(lark.values()) and not all(lark.values()):
            missing = ", ".join(k.upper() for k, v in lark.items() if not v)
            raise ValueError(f"Lark is half configured: also set {missing} (or unset all to disable Lark)")
        return self
