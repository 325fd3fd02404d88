"""Which events become notices, to whom, in which words (pure rules, no broker or database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from care_schemas.catalogue import PlanCode
from care_schemas.events.plan import (
    Actor,
    PlanRetirementNotice,
    PlanRetirementNoticeData,
    SalesRequestChanged,
    SalesRequestChangedData,
    SalesRequestStatus,
)
from care_schemas.events.ticket import AuthorKind, TicketStatus, TicketStatusChanged, TicketStatusChangedData
from notify_service.domain.notices import Audience, Contacts, outgoing, plan_notice, ticket_notice, wanted

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
AUDIENCE = Audience("https://console.example", "sales@vendor.example", {"platform": "slack", "channel": "C-sales"})
CONTACTS = Contacts(
    "owner@c.example",
    "dba@c.example",
    {"platform": "lark", "workspace": "t", "channel": "oc_1"},
    frozenset({"retirement", "ticket"}),
)


def warning() -> PlanRetirementNotice:
    return PlanRetirementNotice.build(
        source="/plan-service",
        subject="org-1",
        data=PlanRetirementNoticeData(
            org_id="org-1",
            legacy_plan=PlanCode.LEGACY_ENTERPRISE,
            retires_at=NOW + timedelta(days=7),
            days_before=7,
            target_plan=PlanCode.BASIC,
        ),
    )


def sales(status: SalesRequestStatus, reason: str | None = None) -> SalesRequestChanged:
    return SalesRequestChanged.build(
        source="/plan-service",
        subject="org-1",
        data=SalesRequestChangedData(
            request_id="sr-1",
            org_id="org-1",
            plan=PlanCode.PREMIUM,
            status=status,
            requested_by=Actor(sub="alice", role="org_owner"),
            requested_by_email="alice@c.example",
            reason=reason,
            changed_at=NOW,
        ),
    )


def status_change(by: AuthorKind | None, by_comment: bool = False) -> TicketStatusChanged:
    return TicketStatusChanged.build(
        source="/ticket-service",
        subject="t-1",
        data=TicketStatusChangedData(
            ticket_id="t-1",
            org_id="org-1",
            previous_status=TicketStatus.IN_PROGRESS,
            status=TicketStatus.RESOLVED,
            summary="slow <queries> & more",
            link="https://ticket.example/t-1",
            changed_at=NOW,
            reporter_email="rita@c.example",
            changed_by=by,
            by_comment=by_comment,
        ),
    )


def test_retirement_warning_goes_to_both_addresses_and_chat_and_cannot_be_unsubscribed() -> None:
    addressed = plan_notice(warning(), CONTACTS, AUDIENCE)
    assert addressed is not None
    assert wanted(addressed, CONTACTS)  # "retirement" is listed as unsubscribed, and still goes
    email, chat = outgoing(addressed, chat_allowed=True)
    assert email.target == {"to": ["owner@c.example", "dba@c.example"]}
    assert "retires in 7 days" in email.body["subject"]
    assert "https://console.example/support" in email.body["text"]
    assert 'href="https://console.example/support"' in email.body["html"]
    assert (chat.kind, chat.target["channel"]) == ("notice_lark", "oc_1")
    assert [m.kind for m in outgoing(addressed, chat_allowed=False)] == ["notice_email"]  # plan without chat


def test_declined_request_tells_the_owner_the_reason_and_a_new_one_tells_sales() -> None:
    declined = plan_notice(sales(SalesRequestStatus.DECLINED, "sign the contract first"), CONTACTS, AUDIENCE)
    assert declined is not None
    [email, _chat] = outgoing(declined, chat_allowed=True)
    assert email.target == {"to": ["owner@c.example"]}
    assert "Reason: sign the contract first" in email.body["text"]
    received = plan_notice(sales(SalesRequestStatus.PENDING), CONTACTS, AUDIENCE)
    assert received is not None
    [to_sales, sales_chat] = outgoing(received, chat_allowed=False)  # the vendor's channel, whatever the plan
    assert to_sales.target == {"to": ["sales@vendor.example"]}
    assert "https://console.example/staff/sales-requests" in to_sales.body["text"]
    assert "alice@c.example" in to_sales.body["text"]
    assert (sales_chat.kind, sales_chat.target["channel"]) == ("notice_slack", "C-sales")


def test_status_change_by_support_is_told_to_the_reporter_escaped_in_html_unless_unsubscribed() -> None:
    addressed = ticket_notice(status_change(AuthorKind.ENGINEER), Contacts(), AUDIENCE)
    assert addressed is not None
    [email] = outgoing(addressed, chat_allowed=True)  # ticket notices: e-mail only, chat has ticket updates
    assert email.target == {"to": ["rita@c.example"]}
    assert "slow &lt;queries&gt; &amp; more" in email.body["html"]
    assert "https://console.example/tickets/t-1" in email.body["text"]
    assert not wanted(addressed, CONTACTS)  # this organisation unsubscribed from ticket notices
    assert ticket_notice(status_change(AuthorKind.CUSTOMER), Contacts(), AUDIENCE) is None
    assert ticket_notice(status_change(AuthorKind.ENGINEER, by_comment=True), Contacts(), AUDIENCE) is None


def test_a_notice_with_no_address_and_no_chat_queues_nothing() -> None:
    addressed = plan_notice(warning(), Contacts(), AUDIENCE)
    assert addressed is not None
    assert outgoing(addressed, chat_allowed=True) == []
