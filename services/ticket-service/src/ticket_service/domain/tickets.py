"""Ticket rules: who may open what, response targets, the lifecycle."""

from __future__ import annotations

from datetime import datetime

from care_schemas.catalogue import Entitlements, PlanCode, ResponseTarget, Severity, catalogue
from care_schemas.events.ticket import AuthorKind, TicketKind, TicketStatus
from ticket_service.domain.business_hours import BusinessCalendar, due_at
from ticket_service.domain.errors import Conflict, Forbidden, Invalid, NotEntitled

BILLING_SEVERITIES = frozenset({Severity.S2, Severity.S3, Severity.S4})

# open -> in_progress -> waiting_on_customer <-> in_progress -> resolved -> closed; resolved -> in_progress reopens.
LIFECYCLE: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.OPEN: frozenset({TicketStatus.IN_PROGRESS}),
    TicketStatus.IN_PROGRESS: frozenset({TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.RESOLVED}),
    TicketStatus.WAITING_ON_CUSTOMER: frozenset({TicketStatus.IN_PROGRESS}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED, TicketStatus.IN_PROGRESS}),
    TicketStatus.CLOSED: frozenset(),
}
# Customers may confirm a resolution (close) or reopen a resolved ticket; engineers drive the rest.
CUSTOMER_TRANSITIONS = frozenset(
    {(TicketStatus.RESOLVED, TicketStatus.CLOSED), (TicketStatus.RESOLVED, TicketStatus.IN_PROGRESS)}
)


def plan_name(plan: PlanCode) -> str:
    return catalogue().get(plan).name


def needs(flag: str, what: str, plan: PlanCode) -> NotEntitled:
    """The refusal for a missing entitlement, naming the cheapest plan that has it."""
    cheapest = catalogue().cheapest_with(flag)
    where = f"the {cheapest.name} plan or higher" if cheapest else "a plan that includes them"
    return NotEntitled(
        f"{what} need {where}; this organisation is on {plan_name(plan)}",
        plan=plan.value,
        plan_needed=cheapest.code.value if cheapest else None,
    )


def check_can_open(kind: TicketKind, severity: Severity, plan: PlanCode, entitlements: Entitlements) -> None:
    """Raise unless this plan may open a ticket of this kind and severity."""
    if kind is TicketKind.BILLING:
        if not entitlements.billing_tickets:
            raise needs("billing_tickets", "billing and account tickets", plan)
        if severity not in BILLING_SEVERITIES:
            raise Invalid(
                "billing and account tickets take severity S2, S3 or S4; S1 is for a complete loss of production"
            )
        return
    if not entitlements.technical_tickets:
        raise needs("technical_tickets", "technical tickets", plan)


def response_target(
    kind: TicketKind, severity: Severity, targets: dict[Severity, ResponseTarget]
) -> ResponseTarget | None:
    """The initial-response target in force; billing tickets have none."""
    if kind is TicketKind.BILLING:
        return None
    return targets.get(severity)


def response_due(
    opened_at: datetime,
    kind: TicketKind,
    severity: Severity,
    targets: dict[Severity, ResponseTarget],
    calendar: BusinessCalendar,
) -> datetime | None:
    """Due time of the initial response, always computed from the creation time."""
    target = response_target(kind, severity, targets)
    return None if target is None else due_at(opened_at, target, calendar)


def check_transition(current: TicketStatus, new: TicketStatus, *, by_engineer: bool) -> None:
    """Raise unless the lifecycle allows `current -> new` for this kind of author."""
    if new not in LIFECYCLE[current]:
        allowed = ", ".join(sorted(s.value for s in LIFECYCLE[current])) or "none (the ticket is closed)"
        raise Conflict(f"a ticket cannot move from {current.value} to {new.value}; allowed next: {allowed}")
    if not by_engineer and (current, new) not in CUSTOMER_TRANSITIONS:
        raise Forbidden(
            f"customers may close or reopen a resolved ticket; moving {current.value} to {new.value} "
            "is for support engineers"
        )


def check_can_comment(status: TicketStatus) -> None:
    if status is TicketStatus.CLOSED:
        raise Conflict("the ticket is closed and takes no more comments; open a new ticket and mention this one")


def status_after_comment(status: TicketStatus, author: AuthorKind, public: bool) -> TicketStatus:
    """A customer's reply reopens a resolved ticket or answers a wait; an engineer's public reply starts work."""
    if author is AuthorKind.CUSTOMER and status in (TicketStatus.RESOLVED, TicketStatus.WAITING_ON_CUSTOMER):
        return TicketStatus.IN_PROGRESS
    if author is AuthorKind.ENGINEER and public and status is TicketStatus.OPEN:
        return TicketStatus.IN_PROGRESS
    return status


def check_severity(kind: TicketKind, severity: Severity) -> None:
    if kind is TicketKind.BILLING and severity not in BILLING_SEVERITIES:
        raise Invalid("billing and account tickets take severity S2, S3 or S4")
