"""Ticket rules: entitlements decide, the lifecycle holds, updates go where the bindings allow."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from care_schemas.catalogue import PlanCode, Severity, catalogue
from care_schemas.events.ticket import AuthorKind, ImMode, ImPlatform, ImThread, TicketKind, TicketStatus
from ticket_service.domain import tickets as rules
from ticket_service.domain.bindings import Binding, BindingState, Features, features_for, state_for, update_target
from ticket_service.domain.business_hours import BusinessCalendar
from ticket_service.domain.errors import Conflict, Forbidden, NotEntitled, Refused

pytestmark = pytest.mark.unit


def ent(code: PlanCode):  # type: ignore[no-untyped-def]
    return catalogue().get(code).entitlements


def test_basic_refuses_technical_tickets_naming_the_plan_that_allows_them() -> None:
    with pytest.raises(NotEntitled) as err:
        rules.check_can_open(TicketKind.TECHNICAL, Severity.S3, PlanCode.BASIC, ent(PlanCode.BASIC))
    assert err.value.message == "technical tickets need the Developer plan or higher; this organisation is on Basic"


@pytest.mark.parametrize("plan", [PlanCode.DEVELOPER, PlanCode.ENTERPRISE, PlanCode.PREMIUM, PlanCode.LEGACY_STANDARD])
def test_developer_and_up_open_technical_s1(plan: PlanCode) -> None:
    rules.check_can_open(TicketKind.TECHNICAL, Severity.S1, plan, ent(plan))


def test_billing_tickets_are_open_to_every_plan_but_never_s1() -> None:
    for plan in catalogue().plans:
        rules.check_can_open(TicketKind.BILLING, Severity.S2, plan.code, plan.entitlements)
    with pytest.raises(Refused, match="S2, S3 or S4"):
        rules.check_can_open(TicketKind.BILLING, Severity.S1, PlanCode.PREMIUM, ent(PlanCode.PREMIUM))


def test_billing_tickets_have_no_response_target() -> None:
    opened = datetime(2026, 3, 2, 10, tzinfo=UTC)
    targets = dict(ent(PlanCode.PREMIUM).response_targets)
    cal = BusinessCalendar.of("UTC")
    assert rules.response_due(opened, TicketKind.BILLING, Severity.S2, targets, cal) is None
    assert rules.response_due(opened, TicketKind.TECHNICAL, Severity.S1, targets, cal) == datetime(
        2026, 3, 2, 10, 30, tzinfo=UTC
    )


def test_lifecycle_allows_the_documented_path_and_reopen() -> None:
    path = [
        TicketStatus.OPEN,
        TicketStatus.IN_PROGRESS,
        TicketStatus.WAITING_ON_CUSTOMER,
        TicketStatus.IN_PROGRESS,
        TicketStatus.RESOLVED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.RESOLVED,
        TicketStatus.CLOSED,
    ]
    for current, new in itertools.pairwise(path):
        rules.check_transition(current, new, by_engineer=True)


def test_lifecycle_refuses_skipping_steps_and_names_the_allowed_next() -> None:
    with pytest.raises(Conflict, match="from open to closed; allowed next: in_progress"):
        rules.check_transition(TicketStatus.OPEN, TicketStatus.CLOSED, by_engineer=True)
    with pytest.raises(Conflict, match=r"none \(the ticket is closed\)"):
        rules.check_transition(TicketStatus.CLOSED, TicketStatus.IN_PROGRESS, by_engineer=True)


def test_customers_may_only_close_or_reopen_a_resolved_ticket() -> None:
    rules.check_transition(TicketStatus.RESOLVED, TicketStatus.CLOSED, by_engineer=False)
    with pytest.raises(Forbidden, match="support engineers"):
        rules.check_transition(TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, by_engineer=False)


def test_customer_reply_reopens_resolved_and_engineer_reply_starts_work() -> None:
    assert (
        rules.status_after_comment(TicketStatus.RESOLVED, AuthorKind.CUSTOMER, public=True) is TicketStatus.IN_PROGRESS
    )
    assert rules.status_after_comment(TicketStatus.OPEN, AuthorKind.ENGINEER, public=True) is TicketStatus.IN_PROGRESS
    assert rules.status_after_comment(TicketStatus.OPEN, AuthorKind.ENGINEER, public=False) is TicketStatus.OPEN
    with pytest.raises(Conflict, match="closed"):
        rules.check_can_comment(TicketStatus.CLOSED)


def test_binding_features_follow_the_plan_entitlements() -> None:
    assert features_for(ent(PlanCode.BASIC)) == Features(updates=False, two_way=False)
    assert features_for(ent(PlanCode.ENTERPRISE)) == Features(updates=True, two_way=False)
    assert features_for(ent(PlanCode.PREMIUM)) == Features(updates=True, two_way=True)
    state, reason = state_for(ent(PlanCode.BASIC), PlanCode.BASIC)
    assert state is BindingState.SUSPENDED
    assert reason == "IM ticket bindings need the Enterprise plan or higher; this organisation is on Basic"


def _binding(channel: str, features: Features, state: BindingState = BindingState.ACTIVE) -> Binding:
    return Binding("b-" + channel, "org-1", ImPlatform.SLACK, "T1", channel, features, state)


def test_updates_go_to_the_ticket_thread_when_its_binding_allows_them() -> None:
    thread = ImThread(platform=ImPlatform.SLACK, workspace="T1", channel="C2", thread_ts="1.2")
    bindings = [_binding("C1", Features(True, False)), _binding("C2", Features(True, True))]
    assert update_target(thread, bindings) == (thread, ImMode.TWO_WAY)


def test_updates_fall_back_to_the_org_support_channel_then_nowhere() -> None:
    thread = ImThread(platform=ImPlatform.SLACK, workspace="T1", channel="C2", thread_ts="1.2")
    suspended = _binding("C2", Features(True, True), BindingState.SUSPENDED)
    channel = _binding("C1", Features(True, False))
    target, mode = update_target(thread, [suspended, channel])
    assert target == ImThread(platform=ImPlatform.SLACK, workspace="T1", channel="C1", thread_ts=None)
    assert mode is ImMode.UPDATES
    assert update_target(None, [suspended]) == (None, None)
