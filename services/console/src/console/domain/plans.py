"""The support page's comparison table: every plan side by side, from the entitlements the plan API answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from care_schemas.catalogue import ChannelType, Clock, Entitlements, ResponseTarget, Severity

CHANNEL_NAMES = {
    ChannelType.EMAIL: "E-mail",
    ChannelType.SLACK: "Slack",
    ChannelType.ZOOM: "Zoom",
    ChannelType.LARK: "Lark",
    ChannelType.PAGERDUTY: "PagerDuty",
    ChannelType.FLASHDUTY: "Flashduty",
    ChannelType.WEBHOOK: "Webhook",
}
FLAGS = (
    ("billing_tickets", "Billing and account tickets"),
    ("technical_tickets", "Technical tickets (unlimited)"),
    ("clinic", "Clinic (advanced monitoring and diagnostics)"),
    ("ai_chat", "AI chat in IM"),
    ("im_alert_subscription", "Alerts in Slack, Zoom, Lark, PagerDuty, Flashduty, webhook"),
    ("im_ticket_creation", "Tickets from Slack and Lark, with update subscription"),
    ("im_ticket_interaction", "Two-way ticket threads in IM"),
    ("tam", "Named Technical Account Manager"),
)
SEVERITY_NAMES = {
    Severity.S1: "S1 complete loss of production",
    Severity.S2: "S2 high impact on production",
    Severity.S3: "S3 non-critical issue",
    Severity.S4: "S4 general question",
}


@dataclass(frozen=True)
class Column:
    code: str
    name: str
    meant_for: str
    current: bool
    action: str  # CURRENT | Upgrade | Downgrade | Contact sales


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[str, ...]  # one per column; "yes", "-" or a short text
    group: str


def target_text(target: ResponseTarget | None) -> str:
    """`1 hour`, `30 minutes`, `4 business hours`, or `-` when the plan has no target for that severity."""
    if target is None:
        return "-"
    minutes = target.minutes
    business = "business " if target.clock is Clock.BUSINESS_HOURS else ""
    if minutes % 60:
        return f"{minutes} {business}minutes" + ("" if business else " (7x24)")
    hours = minutes // 60
    return f"{hours} {business}hour{'s' if hours != 1 else ''}" + ("" if business else " (7x24)")


def comparison(entitlements: Sequence[Entitlements]) -> list[Row]:
    """Rows of the table, in the catalogue's words; one cell per plan, in the order given."""
    rows = [
        Row(label, tuple("yes" if getattr(e, flag) else "-" for e in entitlements), "Includes") for flag, label in FLAGS
    ]
    rows.append(
        Row(
            "Alert channels",
            tuple(
                ", ".join(CHANNEL_NAMES[c] for c in ChannelType if c in e.alert_channels) or "-" for e in entitlements
            ),
            "Includes",
        )
    )
    for severity, label in SEVERITY_NAMES.items():
        rows.append(
            Row(label, tuple(target_text(e.response_targets.get(severity)) for e in entitlements), "Initial response")
        )
    return rows


def days_left(ends_at: datetime, now: datetime) -> int:
    """Whole days left of a trial, counting a started day as one (0 once it has ended)."""
    seconds = (ends_at - now).total_seconds()
    if seconds <= 0:
        return 0
    return int(-(-seconds // 86_400))
