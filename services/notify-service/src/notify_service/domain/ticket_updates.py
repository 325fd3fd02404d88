"""Which ticket events become chat posts or TAM emails, and what they say (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from care_schemas.catalogue import Severity
from care_schemas.events.ticket import (
    AuthorKind,
    ImThread,
    TicketCommented,
    TicketEvent,
    TicketOpened,
    TicketSeverityChanged,
    TicketStatus,
    TicketStatusChanged,
    Visibility,
)

URGENT = {Severity.S1, Severity.S2}
DONE = {TicketStatus.RESOLVED, TicketStatus.CLOSED}
TEXT_CHARS = 3500


@dataclass(frozen=True)
class Outgoing:
    """One message to send: `kind` is slack_update, lark_update or tam_email."""

    kind: str
    org_id: str
    target: dict[str, Any]
    body: dict[str, Any]


def _same_place(a: ImThread, b: ImThread) -> bool:
    return (a.platform, a.workspace, a.channel, a.thread_ts) == (b.platform, b.workspace, b.channel, b.thread_ts)


def _post(org_id: str, thread: ImThread, ticket: tuple[str, str, str], headline: str, lines: list[str]) -> Outgoing:
    """A chat post, platform-neutral: the channel adapter renders it in Slack's or Lark's own format."""
    target = {"workspace": thread.workspace, "channel": thread.channel, "thread_ts": thread.thread_ts}
    ticket_id, summary, link = ticket
    body = {
        "ticket_id": ticket_id,
        "summary": summary[:500],
        "link": link,
        "headline": headline,
        "lines": [line[:TEXT_CHARS] for line in lines],
    }
    return Outgoing(f"{thread.platform.value}_update", org_id, target, body)


def _mail(org_id: str, to: str, subject: str, text: str) -> Outgoing:
    return Outgoing("tam_email", org_id, {"address": to}, {"subject": subject[:250], "text": text})


def outgoing(event: TicketEvent) -> list[Outgoing]:
    """Engineer public comments and resolved/closed go to the ticket's chat place (never back where a comment
    came from, never internal ones); a Premium TAM is emailed of S1/S2 tickets (opened so, or raised to it) and of
    every breach."""
    if isinstance(event, TicketCommented):
        d = event.data
        if d.visibility is not Visibility.PUBLIC or d.author_kind is not AuthorKind.ENGINEER or not d.body:
            return []
        if d.im_thread is None or d.im_mode is None or (d.origin is not None and _same_place(d.origin, d.im_thread)):
            return []
        return [_post(d.org_id, d.im_thread, (d.ticket_id, d.summary, d.link), "", [f"{d.author}: {d.body}"])]
    if isinstance(event, TicketStatusChanged):
        sc = event.data
        if sc.status not in DONE or sc.im_thread is None or sc.im_mode is None:
            return []
        lines = [f"Latest comment: {sc.latest_public_comment}"] if sc.latest_public_comment else []
        ticket = (sc.ticket_id, sc.summary, sc.link)
        return [_post(sc.org_id, sc.im_thread, ticket, f" is now {sc.status.value}", lines)]
    if isinstance(event, TicketOpened):
        o = event.data
        if o.tam is None or o.severity not in URGENT:
            return []
        subject = f"[Connected Care] {o.severity.value} ticket opened for {o.org_id}: {o.summary}"
        due = o.response_due_at.isoformat() if o.response_due_at else "none"
        text = f"{o.severity.value} {o.kind.value} ticket {o.ticket_id}: {o.summary}\nResponse due: {due}\n{o.link}\n"
        return [_mail(o.org_id, o.tam.email, subject, text)]
    if isinstance(event, TicketSeverityChanged):
        sv = event.data
        # raised into S1/S2 (S3 -> S2, S2 -> S1...): the TAM hears of it as of a ticket opened at that severity
        if sv.tam is None or sv.severity not in URGENT or sv.severity.value >= sv.previous_severity.value:
            return []
        what = f"{sv.ticket_id}: {sv.summary}" if sv.summary else sv.ticket_id
        subject = f"[Connected Care] ticket raised to {sv.severity.value} for {sv.org_id}: {what}"
        due = sv.response_due_at.isoformat() if sv.response_due_at else "none"
        text = (
            f"ticket {what} was raised from {sv.previous_severity.value} to {sv.severity.value}\n"
            f"Response due: {due}\n{sv.link or ''}\n"
        )
        return [_mail(sv.org_id, sv.tam.email, subject, text)]
    b = event.data  # TicketResponseBreached, the last of the union
    if b.tam is None:
        return []
    subject = f"[Connected Care] response target breached: {b.severity.value} {b.ticket_id} ({b.org_id})"
    text = f"{b.severity.value} ticket {b.ticket_id}: {b.summary}\nWas due {b.response_due_at.isoformat()}\n{b.link}\n"
    return [_mail(b.org_id, b.tam.email, subject, text)]
