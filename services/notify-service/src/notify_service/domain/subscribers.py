"""Subscriber types, their configuration, and how their secrets are shown (masked)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from care_schemas.catalogue import ChannelType

EMAIL = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")


def _one_word(value: str) -> str:
    """Tokens, keys and signing secrets go into headers and signatures: no spaces, line breaks or control chars."""
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("must not contain spaces, line breaks or control characters")
    return value


Token = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(_one_word)]


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmailConfig(_Config):
    address: str = Field(pattern=EMAIL.pattern, max_length=254)


class SlackConfig(_Config):
    webhook_url: str = Field(min_length=1)
    interactive: bool = Field(
        default=False,
        description="the webhook belongs to the Connected Care Slack app (whose interactivity URL is ticket-service's "
        "/slack/interactivity): alert messages carry Acknowledge and Open ticket buttons",
    )


class ZoomConfig(_Config):
    endpoint_url: str = Field(min_length=1)
    verification_token: Token


class LarkConfig(_Config):
    webhook_url: str | None = Field(default=None, min_length=1, description="a custom bot's webhook (not interactive)")
    signing_secret: Token | None = Field(default=None, description="the custom bot's signing secret")
    interactive: bool = Field(
        default=False,
        description="post through the Connected Care Lark app (whose card callback URL is ticket-service's "
        "/lark/card) into `chat_id`: alert cards carry Acknowledge and Open ticket buttons",
    )
    chat_id: Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_one_word)] | None = Field(
        default=None, description="the Lark group chat the app posts to (interactive only)"
    )

    @model_validator(mode="after")
    def _one_way(self) -> LarkConfig:
        if self.interactive:
            if not self.chat_id:
                raise ValueError("an interactive Lark subscriber needs chat_id (the group the Lark app posts to)")
            if self.webhook_url or self.signing_secret:
                raise ValueError("an interactive Lark subscriber posts through the app: no webhook_url/signing_secret")
        elif not (self.webhook_url and self.signing_secret):
            raise ValueError("a Lark subscriber needs webhook_url and signing_secret (or interactive and chat_id)")
        elif self.chat_id:
            raise ValueError("chat_id is for an interactive Lark subscriber")
        return self


class PagerDutyConfig(_Config):
    integration_key: Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_one_word)]


class FlashdutyConfig(_Config):
    webhook_url: str = Field(min_length=1)


class WebhookConfig(_Config):
    url: str = Field(min_length=1)


CONFIGS: dict[ChannelType, type[_Config]] = {
    ChannelType.EMAIL: EmailConfig,
    ChannelType.SLACK: SlackConfig,
    ChannelType.ZOOM: ZoomConfig,
    ChannelType.LARK: LarkConfig,
    ChannelType.PAGERDUTY: PagerDutyConfig,
    ChannelType.FLASHDUTY: FlashdutyConfig,
    ChannelType.WEBHOOK: WebhookConfig,
}
URL_FIELDS = {"webhook_url", "endpoint_url", "url"}
SECRET_FIELDS = URL_FIELDS | {"verification_token", "signing_secret", "integration_key"}


def secrets_of(config: dict[str, Any]) -> list[str]:
    """The values that must never appear in a log, an error or an API answer."""
    values = [str(v) for k, v in config.items() if k in SECRET_FIELDS and v]
    for k, v in config.items():
        if k in URL_FIELDS and v:  # the path of a webhook URL is the secret part
            path = urlsplit(str(v)).path
            if len(path) > 1:
                values.append(path)
    return values


def mask_value(field: str, value: str) -> str:
    """A URL keeps scheme and host; a token keeps its last four characters."""
    if field in URL_FIELDS:
        parts = urlsplit(value)
        tail = value[-4:] if len(parts.path) >= 16 else ""  # a short path would be shown almost whole
        return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/****{tail}"
    return "****" + (value[-4:] if len(value) >= 12 else "")


def masked(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as the API shows it."""
    return {k: mask_value(k, str(v)) if k in SECRET_FIELDS else v for k, v in config.items()}


def target_label(channel: ChannelType, config: dict[str, Any]) -> str:
    """What identifies the rate-limited target (one webhook, one bot, one integration key)."""
    key = {
        ChannelType.EMAIL: "address",
        ChannelType.PAGERDUTY: "integration_key",
    }.get(channel)
    if key is not None:
        return f"{channel.value}:{config[key]}"
    url = config.get("webhook_url") or config.get("endpoint_url") or config.get("url")
    if url is None and config.get("chat_id"):  # an interactive Lark subscriber: the app's messages to that chat
        return f"{channel.value}:chat:{config['chat_id']}"
    return f"{channel.value}:{url}"


PARTITIONS = 64
"""Delivery partitions: each target belongs to one; each partition is leased by one instance at a time."""


def target_key(channel: ChannelType, config: dict[str, Any]) -> str:
    """The target as a hash (the label holds the secret URL or key): subscribers sharing it share its limits."""
    return hashlib.sha256(target_label(channel, config).encode()).hexdigest()[:32]


def partition_of(key: str) -> int:
    """The delivery partition of a target key."""
    return int(key[:8], 16) % PARTITIONS


@dataclass(frozen=True)
class Draft:
    """What an owner sets for a subscriber: checked against the plan and tested before it is saved."""

    org_id: str
    project_id: str
    cluster_id: str | None
    type: ChannelType
    name: str
    severities: list[str] | None
    rules: list[str] | None
    config: dict[str, Any]
    group_by: list[str] | None = None
    max_alerts: int | None = None
