"""The support-plan catalogue (domain.md section 2) loaded from `data/plans.json`."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from functools import cache
from importlib import resources

from pydantic import AwareDatetime, Field, field_serializer

from care_schemas.envelope import Frozen


class PlanCode(StrEnum):
    BASIC = "basic"
    DEVELOPER = "developer"
    ENTERPRISE = "enterprise"
    PREMIUM = "premium"
    LEGACY_BASIC = "legacy_basic"
    LEGACY_STANDARD = "legacy_standard"
    LEGACY_ENTERPRISE = "legacy_enterprise"
    LEGACY_PREMIUM = "legacy_premium"


class Severity(StrEnum):
    S1 = "S1"
    S2 = "S2"
    S3 = "S3"
    S4 = "S4"


class Clock(StrEnum):
    BUSINESS_HOURS = "business_hours"
    WALL_CLOCK = "wall_clock"


class ChannelType(StrEnum):
    EMAIL = "email"
    SLACK = "slack"
    ZOOM = "zoom"
    LARK = "lark"
    PAGERDUTY = "pagerduty"
    FLASHDUTY = "flashduty"
    WEBHOOK = "webhook"


class ResponseTarget(Frozen):
    hours: float = Field(gt=0)
    clock: Clock

    @property
    def minutes(self) -> int:
        return round(self.hours * 60)


class Entitlements(Frozen):
    """What a plan includes; services decide from these flags, never from the plan's name."""

    billing_tickets: bool
    technical_tickets: bool
    clinic: bool
    ai_chat: bool
    im_alert_subscription: bool
    im_ticket_creation: bool
    im_ticket_interaction: bool
    tam: bool
    alert_channels: frozenset[ChannelType]
    response_targets: dict[Severity, ResponseTarget]

    @field_serializer("alert_channels")
    def _sorted_channels(self, channels: frozenset[ChannelType]) -> list[str]:
        return sorted(c.value for c in channels)


class Plan(Frozen):
    code: PlanCode
    name: str
    family: str  # "connected_care" or "legacy"
    meant_for: str
    purchasable: bool
    self_service: bool
    rank: int
    entitlements: Entitlements
    retires_at: AwareDatetime | None = None


class Catalogue(Frozen):
    plans: tuple[Plan, ...]
    retirement_target: PlanCode
    retirement_warning_days: tuple[int, ...]
    legacy_not_purchasable_from: AwareDatetime

    def get(self, code: PlanCode | str) -> Plan:
        """The plan with this code; KeyError names the known codes."""
        for plan in self.plans:
            if plan.code == code:
                return plan
        known = ", ".join(p.code for p in self.plans)
        raise KeyError(f"unknown plan {code!r}; known plans: {known}")

    def connected_care(self) -> tuple[Plan, ...]:
        return tuple(p for p in self.plans if p.family == "connected_care")

    def legacy(self) -> tuple[Plan, ...]:
        return tuple(p for p in self.plans if p.family == "legacy")

    def cheapest_with(self, flag: str) -> Plan | None:
        """The lowest-ranked purchasable plan whose entitlement `flag` is true."""
        for plan in sorted(self.connected_care(), key=lambda p: p.rank):
            if getattr(plan.entitlements, flag):
                return plan
        return None

    def cheapest_with_channel(self, channel: ChannelType) -> Plan | None:
        """The lowest-ranked Connected Care plan that includes alert channel `channel`."""
        for plan in sorted(self.connected_care(), key=lambda p: p.rank):
            if channel in plan.entitlements.alert_channels:
                return plan
        return None

    def retiring_between(self, start: datetime, end: datetime) -> tuple[Plan, ...]:
        return tuple(p for p in self.legacy() if p.retires_at is not None and start < p.retires_at <= end)


@cache
def catalogue() -> Catalogue:
    """The one plan catalogue every service reads."""
    raw = resources.files("care_schemas").joinpath("data/plans.json").read_text(encoding="utf-8")
    return Catalogue.model_validate(json.loads(raw))


DEFAULT_PLAN = PlanCode.BASIC
