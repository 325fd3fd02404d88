"""Plan gating: which subscriber types an organisation's plan includes, and which plan would."""

from __future__ import annotations

from care_schemas.catalogue import ChannelType, Entitlements, PlanCode, catalogue


def refusal(channel: ChannelType, plan: PlanCode, entitlements: Entitlements) -> str | None:
    """None when the plan includes the channel; otherwise a sentence naming the plan that would."""
    if channel in entitlements.alert_channels:
        return None
    current = catalogue().get(plan).name
    cheapest = catalogue().cheapest_with_channel(channel)
    needs = f"; the {cheapest.name} plan and above include it" if cheapest else ""
    return f"{channel.value} alert subscribers are not included in the {current} plan{needs}"


def suspension_reason(channel: ChannelType, plan: PlanCode) -> str:
    """Why a subscriber is suspended after a plan change."""
    cheapest = catalogue().cheapest_with_channel(channel)
    name = catalogue().get(plan).name
    then = f"; it resumes on an upgrade to {cheapest.name} or above" if cheapest else ""
    return f"suspended: the {name} plan does not include {channel.value} alerts{then}"


CLINIC_SOURCE = "clinic"


def clinic_refusal(source: str, plan: PlanCode, entitlements: Entitlements) -> str | None:
    """None unless the alert comes from Clinic and the plan does not include Clinic: then why, naming the plans."""
    if source != CLINIC_SOURCE or entitlements.clinic:
        return None
    current = catalogue().get(plan).name
    cheapest = catalogue().cheapest_with("clinic")
    needs = f"; the {cheapest.name} plan and above include it" if cheapest else ""
    return (
        f"clinic alerts are delivered only on plans that include Clinic; this organisation is on the {current} plan"
        + needs
    )
