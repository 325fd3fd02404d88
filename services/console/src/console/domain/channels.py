"""Subscriber forms per channel: which fields each type asks for, which are secrets, which plans include it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from care_schemas.catalogue import ChannelType, catalogue
from console.domain.plans import CHANNEL_NAMES


@dataclass(frozen=True)
class ConfigField:
    name: str  # the key in the subscriber's `config`
    label: str
    input: str  # HTML input type
    secret: bool  # shown masked by the API; left empty on edit keeps the stored value
    hint: str = ""


FIELDS: dict[ChannelType, tuple[ConfigField, ...]] = {
    ChannelType.EMAIL: (ConfigField("address", "E-mail address", "email", False, "ops@example.com"),),
    ChannelType.SLACK: (
        ConfigField("webhook_url", "Incoming-webhook URL", "url", True, "https://hooks.slack.com/services/..."),
    ),
    ChannelType.ZOOM: (
        ConfigField("endpoint_url", "Incoming-webhook endpoint URL", "url", True),
        ConfigField("verification_token", "Verification token", "password", True),
    ),
    ChannelType.LARK: (
        ConfigField("webhook_url", "Custom-bot webhook URL", "url", True),
        ConfigField("signing_secret", "Signing secret", "password", True),
    ),
    ChannelType.PAGERDUTY: (ConfigField("integration_key", "Events API v2 integration key", "password", True),),
    ChannelType.FLASHDUTY: (ConfigField("webhook_url", "Webhook URL (Alertmanager format)", "url", True),),
    ChannelType.WEBHOOK: (
        ConfigField("url", "URL (Alertmanager-compatible JSON, one alert per request)", "url", True),
    ),
}


@dataclass(frozen=True)
class ChannelChoice:
    type: str
    name: str
    allowed: bool
    reason: str  # why not, naming the plan that includes it


def choices(allowed: Iterable[str], plan_name: str) -> list[ChannelChoice]:
    """Every channel type, allowed or not by the organisation's plan, with the reason when not."""
    allowed_set = set(allowed)
    out = []
    for channel in ChannelType:
        ok = channel.value in allowed_set
        needed = catalogue().cheapest_with_channel(channel)
        reason = (
            ""
            if ok
            else f"not included in the {plan_name} plan; the {needed.name if needed else '?'} plan and above include it"
        )
        out.append(ChannelChoice(channel.value, CHANNEL_NAMES[channel], ok, reason))
    return out


def config_from_form(channel: ChannelType, form: Mapping[str, str], editing: bool) -> dict[str, str]:
    """The `config` to send: each field of the type; on edit, an empty secret field keeps the stored value."""
    config: dict[str, str] = {}
    for field in FIELDS[channel]:
        value = form.get(f"config_{field.name}", "").strip()
        if editing and field.secret and not value:
            continue
        config[field.name] = value
    return config


def split_list(text: str) -> list[str] | None:
    """`a, b` or one per line -> ["a", "b"]; empty -> None (no filter)."""
    items = [part.strip() for line in text.splitlines() for part in line.split(",")]
    return [i for i in items if i] or None
