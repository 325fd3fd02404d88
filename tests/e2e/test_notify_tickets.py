"""Ticket updates to IM and TAM emails, from ticket.events.v1: engineer comments and resolved/closed go to the
ticket's Slack thread or Lark group; internal comments and echoes never do; a Premium TAM hears of S1/S2 and
breaches. Every event is applied once, however often it is delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from care_schemas.catalogue import PlanCode, Severity
from care_schemas.events.plan import Tam
from care_schemas.events.ticket import (
    AuthorKind,
    ImMode,
    ImPlatform,
    ImThread,
    TicketChannel,
    TicketCommented,
    TicketCommentedData,
    TicketKind,
    TicketOpened,
    TicketOpenedData,
    TicketResponseBreached,
    TicketResponseBreachedData,
    TicketSeverityChanged,
    TicketSeverityChangedData,
    TicketStatus,
    TicketStatusChanged,
    TicketStatusChangedData,
    Visibility,
)
from care_schemas.topics import TICKET_EVENTS
from carekit_testing import eventually
from tests.receivers import Notify, publish

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def slack_thread(unique: str) -> ImThread:
    return ImThread(platform=ImPlatform.SLACK, workspace="T0TEST", channel=f"C{unique}", thread_ts="1764000000.000100")


def comment(
    unique: str,
    body: str,
    *,
    thread: ImThread | None,
    visibility: Visibility = Visibility.PUBLIC,
    author_kind: AuthorKind = AuthorKind.ENGINEER,
    origin: ImThread | None = None,
    mode: ImMode | None = ImMode.UPDATES,
) -> TicketCommented:
    return TicketCommented.build(
        source="/ticket-service",
        subject=f"t-{unique}",
        data=TicketCommentedData(
            ticket_id=f"t-{unique}",
            org_id=f"org-{unique}",
            comment_id=f"c-{body}",
            author="Sam (support)",
            author_kind=author_kind,
            visibility=visibility,
            body=body if visibility is Visibility.PUBLIC else None,
            summary="TiKV keeps restarting",
            link=f"https://console.example/tickets/t-{unique}",
            origin=origin,
            im_thread=thread,
            im_mode=mode,
            commented_at=NOW,
        ),
    )


async def marker_posted(notify: Notify, channel: str) -> list[dict[str, object]]:
    """Every post to `channel` once the one saying "marker" arrived."""

    async def found() -> list[dict[str, object]]:
        calls = [c.payload for c in notify.slack_api.calls if c.method == "chat.postMessage"]
        mine = [p for p in calls if p["channel"] == channel]
        return mine if any("marker" in str(p["text"]) for p in mine) else []

    result: list[dict[str, object]] = await eventually(found, timeout_s=20)
    return result


async def test_engineer_comment_is_posted_once_in_the_slack_thread_and_nothing_else_is(
    notify: Notify, unique: str
) -> None:
    thread = slack_thread(unique)
    posted = comment(unique, "We restarted the store; please check", thread=thread)
    await publish(
        notify.kafka,
        TICKET_EVENTS.name,
        f"t-{unique}",
        posted,
        posted,  # delivered twice
        comment(unique, "internal note", thread=thread, visibility=Visibility.INTERNAL),
        comment(unique, "customer says hi", thread=thread, author_kind=AuthorKind.CUSTOMER),
        comment(unique, "came from the thread", thread=thread, origin=thread),
        comment(unique, "no binding", thread=None, mode=None),
        comment(unique, "marker", thread=thread),
    )
    # the marker is the last event of the same ticket (same partition, read in order); a thread's updates are sent
    # one after another in the order they were queued, so anything posted for the events before it came first
    posts = await marker_posted(notify, thread.channel)
    assert len(posts) == 2
    first, marker = posts
    assert first["thread_ts"] == "1764000000.000100"
    assert "We restarted the store; please check" in str(first["text"])
    assert f"https://console.example/tickets/t-{unique}" in str(first["text"])
    assert "marker" in str(marker["text"])


async def test_resolved_ticket_is_replied_in_the_lark_thread_and_closed_sent_to_the_group(
    notify: Notify, unique: str
) -> None:
    def status(to: TicketStatus, thread: ImThread) -> TicketStatusChanged:
        return TicketStatusChanged.build(
            source="/ticket-service",
            subject=f"t-{unique}",
            data=TicketStatusChangedData(
                ticket_id=f"t-{unique}",
                org_id=f"org-{unique}",
                previous_status=TicketStatus.IN_PROGRESS,
                status=to,
                summary="Changefeed lagging",
                link=f"https://console.example/tickets/t-{unique}",
                im_thread=thread,
                im_mode=ImMode.TWO_WAY,
                latest_public_comment="Fixed by raising the sink's memory",
                changed_at=NOW,
            ),
        )

    root = f"om_root_{unique}"
    in_thread = ImThread(platform=ImPlatform.LARK, workspace="tenant-test", channel=f"oc_{unique}", thread_ts=root)
    group = ImThread(platform=ImPlatform.LARK, workspace="tenant-test", channel=f"oc_{unique}")
    await publish(
        notify.kafka,
        TICKET_EVENTS.name,
        f"t-{unique}",
        status(TicketStatus.WAITING_ON_CUSTOMER, in_thread),
        status(TicketStatus.RESOLVED, in_thread),
        status(TicketStatus.CLOSED, group),
    )

    async def calls() -> list[object]:
        mine = [c for c in notify.lark_api.calls if root in c.path or c.payload.get("receive_id") == f"oc_{unique}"]
        return mine if len(mine) >= 2 else []

    reply, sent = await eventually(calls, timeout_s=20)
    assert reply.path == f"/open-apis/im/v1/messages/{root}/reply"
    assert "is now resolved" in reply.payload["content"]
    assert "Fixed by raising the sink's memory" in reply.payload["content"]
    assert sent.query == {"receive_id_type": "chat_id"}
    assert "is now closed" in sent.payload["content"]


async def test_premium_tam_is_emailed_of_s1_and_s2_tickets_and_breaches_only(notify: Notify, unique: str) -> None:
    tam = Tam(name="Terry", email=f"tam-{unique}@vendor.example")

    def opened(severity: Severity, n: int) -> TicketOpened:
        return TicketOpened.build(
            source="/ticket-service",
            subject=f"t{n}-{unique}",
            data=TicketOpenedData(
                ticket_id=f"t{n}-{unique}",
                org_id=f"org-{unique}",
                kind=TicketKind.TECHNICAL,
                severity=severity,
                summary=f"{severity.value} trouble",
                channel=TicketChannel.CONSOLE,
                plan=PlanCode.PREMIUM,
                response_due_at=NOW + timedelta(minutes=30),
                opened_at=NOW,
                link=f"https://console.example/tickets/t{n}",
                tam=tam,
            ),
        )

    breached = TicketResponseBreached.build(
        source="/ticket-service",
        subject=f"t3-{unique}",
        data=TicketResponseBreachedData(
            ticket_id=f"t3-{unique}",
            org_id=f"org-{unique}",
            severity=Severity.S3,
            summary="slow answer",
            link="https://console.example/tickets/t3",
            response_due_at=NOW,
            detected_at=NOW + timedelta(minutes=1),
            tam=tam,
        ),
    )

    def changed(n: int, before: Severity, after: Severity) -> TicketSeverityChanged:
        return TicketSeverityChanged.build(
            source="/ticket-service",
            subject=f"t{n}-{unique}",
            data=TicketSeverityChangedData(
                ticket_id=f"t{n}-{unique}",
                org_id=f"org-{unique}",
                previous_severity=before,
                severity=after,
                response_due_at=NOW + timedelta(minutes=30),
                changed_at=NOW,
                summary="getting worse",
                link=f"https://console.example/tickets/t{n}",
                tam=tam,
            ),
        )

    await publish(
        notify.kafka,
        TICKET_EVENTS.name,
        f"org-{unique}",
        opened(Severity.S1, 1),
        opened(Severity.S3, 3),
        breached,
        changed(3, Severity.S3, Severity.S2),  # raised into S2: told
        changed(1, Severity.S1, Severity.S2),  # lowered: not told
        changed(4, Severity.S4, Severity.S3),  # raised, but not to S1/S2: not told
        opened(Severity.S2, 5),  # the marker: told, and last; one TAM's mails are sent in the order queued
    )

    async def mails() -> list[object]:
        mine = [m for m in notify.mail if m["To"] == tam.email]
        return mine if any("S2 trouble" in m["Subject"] for m in mine) else []

    got = await eventually(mails, timeout_s=20)
    assert "S2 trouble" in got[-1]["Subject"], "the marker's mail comes last"
    subjects = sorted(m["Subject"] for m in got[:-1])
    assert len(subjects) == 3, subjects
    assert any(s.startswith("[Connected Care] S1 ticket opened") for s in subjects)
    assert any("response target breached: S3" in s for s in subjects)
    assert any(s.startswith(f"[Connected Care] ticket raised to S2 for org-{unique}: t3-{unique}") for s in subjects)
    assert len(got) == 4
