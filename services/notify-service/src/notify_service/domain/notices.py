"""Which plan and ticket events become notices, to whom, and what they say (pure).

Plan, trial, sales and retirement notices go to the organisation's owner address (retirement also to the
technical one) and, where its plan includes chat and a chat place is set, there too; ticket notices go to the
ticket's reporter (else the technical address) by e-mail only, since chat already gets ticket updates. A sales
request made or withdrawn goes to the sales team's address and channel. An unsubscribed kind is not sent, except
retirement, which an organisation must receive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.events.plan import (
    MANDATORY_NOTICES,
    ChangeReason,
    NoticeKind,
    PlanEvent,
    PlanRetirementNotice,
    SalesRequestChanged,
    SalesRequestStatus,
    SupportPlanChanged,
    TrialEnding,
)
from care_schemas.events.ticket import (
    AuthorKind,
    TicketCommented,
    TicketEvent,
    TicketStatusChanged,
    Visibility,
)
from notify_service.domain.notice_text import Notice
from notify_service.domain.ticket_updates import Outgoing

MANAGE = "Manage who receives these notices on the support page (notification contacts)."
QUOTE_CHARS = 2000


@dataclass(frozen=True)
class Contacts:
    """An organisation's contacts as notify-service last heard of them (OrgContactsChanged)."""

    owner_email: str | None = None
    technical_email: str | None = None
    chat: dict[str, str] | None = None
    unsubscribed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Audience:
    """Where links point and where the sales team is told (from settings)."""

    console_url: str
    sales_email: str = ""
    sales_chat: dict[str, str] | None = None  # {"platform": "slack"|"lark", "channel": ...}


@dataclass(frozen=True)
class Addressed:
    """A notice and where it goes; `org_id` is whose delivery log lists it (None: the vendor's own)."""

    notice: Notice
    kind: NoticeKind | None
    org_id: str
    emails: tuple[str, ...]
    chat: dict[str, str] | None
    customer: bool = True


def _name(code: PlanCode) -> str:
    return catalogue().get(code).name


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def plan_notice(event: PlanEvent, contacts: Contacts, audience: Audience) -> Addressed | None:
    """The notice a plan event causes, if any."""
    support = f"{audience.console_url}/support"
    owner = tuple(a for a in (contacts.owner_email,) if a)
    both = tuple(dict.fromkeys(a for a in (contacts.owner_email, contacts.technical_email) if a))
    if isinstance(event, PlanRetirementNotice):
        d = event.data
        notice = Notice(
            "retirement_warning",
            f"[Connected Care] Your {_name(d.legacy_plan)} plan retires in {d.days_before} days",
            (
                f"Organisation {d.org_id} is on the legacy {_name(d.legacy_plan)} plan, which retires on "
                f"{_day(d.retires_at)}.",
                f"At that moment the organisation moves automatically to Connected Care {_name(d.target_plan)}. "
                "Compare the Connected Care plans and choose one before then to keep what you need.",
            ),
            support,
            "Compare plans",
            "Retirement notices are sent to every organisation on a retiring plan; they cannot be unsubscribed.",
        )
        return Addressed(notice, NoticeKind.RETIREMENT, d.org_id, both, contacts.chat)
    if isinstance(event, SupportPlanChanged):
        c = event.data
        if c.reason is ChangeReason.LEGACY_RETIREMENT and c.previous_plan is not None:
            notice = Notice(
                "retirement_moved",
                f"[Connected Care] {c.org_id} moved from {_name(c.previous_plan)} to {_name(c.plan)}",
                (
                    f"The legacy {_name(c.previous_plan)} plan has retired. Organisation {c.org_id} moved "
                    f"automatically to Connected Care {_name(c.plan)} on {_day(c.effective_at)}.",
                    "Open tickets keep their response targets. Choose another plan on the support page at any time.",
                ),
                support,
                "Your support plan",
                "Retirement notices are sent to every organisation on a retiring plan; they cannot be unsubscribed.",
            )
            return Addressed(notice, NoticeKind.RETIREMENT, c.org_id, both, contacts.chat)
        if c.reason is ChangeReason.TRIAL_START and c.previous_plan is not None:
            ends = _day(c.trial_ends_at) if c.trial_ends_at else "in 30 days"
            notice = Notice(
                "trial_started",
                f"[Connected Care] Your Developer trial has started ({c.org_id})",
                (
                    f"Organisation {c.org_id} is on the Developer plan for free until {ends}: technical tickets "
                    "with business-hours response targets.",
                    f"Then it returns to {_name(c.previous_plan)}, unless you change to the paid Developer plan.",
                ),
                support,
                "Your support plan",
                MANAGE,
            )
            return Addressed(notice, NoticeKind.TRIAL, c.org_id, owner, contacts.chat)
        return None
    if isinstance(event, TrialEnding):
        t = event.data
        notice = Notice(
            "trial_ending",
            f"[Connected Care] Your Developer trial ends in {t.days_before} days ({t.org_id})",
            (
                f"The Developer trial of organisation {t.org_id} ends on {_day(t.ends_at)}.",
                f"The organisation then returns to {_name(t.returns_to)}. To keep technical tickets, change to "
                "the paid Developer plan before then.",
            ),
            support,
            "Keep Developer",
            MANAGE,
        )
        return Addressed(notice, NoticeKind.TRIAL, t.org_id, owner, contacts.chat)
    if isinstance(event, SalesRequestChanged):
        return _sales(event, owner, contacts, audience)
    return None


def _sales(event: SalesRequestChanged, owner: tuple[str, ...], contacts: Contacts, audience: Audience) -> Addressed:
    s = event.data
    plan = _name(s.plan)
    if s.status in (SalesRequestStatus.PENDING, SalesRequestStatus.WITHDRAWN):
        made = s.status is SalesRequestStatus.PENDING
        who = s.requested_by_email or s.requested_by.sub
        lines = [
            f"Organisation {s.org_id} asked for {plan} ({s.request_id}), requested by {who}."
            if made
            else f"Organisation {s.org_id} withdrew its request for {plan} ({s.request_id}); nothing to decide."
        ]
        if made and s.note:
            lines.append(f"Their note: {s.note[:QUOTE_CHARS]}")
        notice = Notice(
            "sales_request_received" if made else "sales_request_withdrawn",
            f"[Connected Care] {plan} request {'from' if made else 'withdrawn by'} {s.org_id}",
            tuple(lines),
            f"{audience.console_url}/staff/sales-requests",
            "Pending requests",
        )
        emails = (audience.sales_email,) if audience.sales_email else ()
        return Addressed(notice, None, s.org_id, emails, audience.sales_chat, customer=False)
    approved = s.status is SalesRequestStatus.APPROVED
    lines = (
        [f"Your request for {plan} ({s.request_id}) was approved: organisation {s.org_id} is now on {plan}."]
        if approved
        else [
            f"Your request for {plan} ({s.request_id}) was declined.",
            f"Reason: {(s.reason or 'no reason given')[:QUOTE_CHARS]}",
            "Reply to your account team or ask again on the support page.",
        ]
    )
    notice = Notice(
        "sales_request_approved" if approved else "sales_request_declined",
        f"[Connected Care] Your {plan} request was {'approved' if approved else 'declined'}",
        tuple(lines),
        f"{audience.console_url}/support",
        "Your support plan",
        MANAGE,
    )
    return Addressed(notice, NoticeKind.SALES_REQUEST, s.org_id, owner, contacts.chat)


def ticket_notice(event: TicketEvent, contacts: Contacts, audience: Audience) -> Addressed | None:
    """A support engineer's public reply, or a status change support made, told to the ticket's reporter."""
    if isinstance(event, TicketCommented):
        d = event.data
        if d.visibility is not Visibility.PUBLIC or d.author_kind is not AuthorKind.ENGINEER or not d.body:
            return None
        topic, subject = "ticket_reply", f"[Connected Care] Support replied on {d.ticket_id}: {d.summary}"
        lines: tuple[str, ...] = (f"{d.author} wrote on ticket {d.ticket_id} ({d.summary}):", d.body[:QUOTE_CHARS])
        ticket_id, org_id, reporter = d.ticket_id, d.org_id, d.reporter_email
    elif isinstance(event, TicketStatusChanged):
        sc = event.data
        if sc.changed_by is AuthorKind.CUSTOMER or sc.by_comment:
            return None
        topic, subject = "ticket_status", f"[Connected Care] {sc.ticket_id} is now {sc.status.value}: {sc.summary}"
        lines = (
            f"Support moved ticket {sc.ticket_id} ({sc.summary}) from {sc.previous_status.value} to {sc.status.value}.",
        )
        if sc.latest_public_comment:
            lines += (f"Latest comment: {sc.latest_public_comment[:QUOTE_CHARS]}",)
        ticket_id, org_id, reporter = sc.ticket_id, sc.org_id, sc.reporter_email
    else:
        return None
    to = reporter or contacts.technical_email
    notice = Notice(topic, subject, lines, f"{audience.console_url}/tickets/{ticket_id}", "Open the ticket", MANAGE)
    return Addressed(notice, NoticeKind.TICKET, org_id, (to,) if to else (), None)


def wanted(addressed: Addressed, contacts: Contacts) -> bool:
    """An organisation that unsubscribed from this kind does not get it (retirement always goes)."""
    kind = addressed.kind
    return kind is None or kind in MANDATORY_NOTICES or kind.value not in contacts.unsubscribed


def outgoing(addressed: Addressed, chat_allowed: bool) -> list[Outgoing]:
    """The messages to queue: one e-mail (every address in To), and one chat post where a place applies."""
    n = addressed.notice
    out: list[Outgoing] = []
    if addressed.emails:
        body = {"notice": n.topic, "subject": n.subject[:250], "text": n.text(), "html": n.html()}
        out.append(Outgoing("notice_email", addressed.org_id, {"to": list(addressed.emails)}, body))
    place = addressed.chat
    if place and (chat_allowed or not addressed.customer) and place.get("platform") in ("slack", "lark"):
        body = {"notice": n.topic, "title": n.subject[:250], "text": n.chat()}
        out.append(Outgoing(f"notice_{place['platform']}", addressed.org_id, dict(place), body))
    return out
