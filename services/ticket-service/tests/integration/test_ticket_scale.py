"""On real Postgres: the loops that run every few seconds read what they need however large their tables grew, and
whatever the statistics said when their statements were planned (an ANALYZE that found the tables empty, as on a
new deployment: Postgres plans a prepared statement once for all after five runs, and keeps that plan)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio

from care_schemas.catalogue import PlanCode, Severity
from care_schemas.events.chat import ChatAnswered, ChatAnsweredData, ChatOutcome, ChatThread, question_id_of
from care_schemas.events.plan import ChangeReason
from care_schemas.events.ticket import (
    AuthorKind,
    ImPlatform,
    ImThread,
    TicketChannel,
    TicketKind,
    TicketStatus,
    Visibility,
)
from carekit.projection import project
from carekit_testing import entries_read_by, migrated_pool, plan_changed
from ticket_service.app import MIGRATIONS
from ticket_service.domain.model import Author, NewComment, NewTicket
from ticket_service.handlers import assistant
from ticket_service.handlers.breaches import scan_breaches
from ticket_service.handlers.chat import chat_reply, deliver_chat_replies
from ticket_service.handlers.deps import Deps
from ticket_service.handlers.tickets import add_comment, change_severity, change_status, open_ticket, read_ticket

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
# tickets as the service stores them; $1 names them, $2-$5 say when they were due, answered, resolved, breached
TICKETS = (
    "INSERT INTO tickets (id, org_id, kind, severity, status, summary, channel, created_by, plan, response_targets,"
    " timezone, response_due_at, first_response_at, resolved_at, breached_at, opened_at, updated_at)"
    " SELECT $1 || i, 'org-scale', 'technical', 'S1', 'open', 'down', 'api', 'u', 'premium', '{}', 'UTC',"
    " $2::timestamptz, $3::timestamptz, $4::timestamptz, $5::timestamptz, $2 - interval '1 hour',"
    " $2 - interval '1 hour' FROM generate_series(1, $6) AS i"
)


@pytest_asyncio.fixture(loop_scope="session")
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database_url, MIGRATIONS) as p:
        yield p


async def test_the_breach_scan_reads_only_tickets_still_owed_a_response_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool
) -> None:
    """The scan runs every few seconds for the life of the process, over every ticket ever opened. Planned after an
    ANALYZE that found tickets empty, ten scans after 20,000 tickets not due yet, answered in time or already
    breached read 400,310 rows and index entries of tickets and parked: both whole each time. Planned by key, the
    index it had (every ticket not breached) still held the tickets answered in time: 100,075, their 10,000 entries
    read on every scan; and the parked check as a join read every ticket the scan had parked on every scan (20,000
    here: 200,075 with the new index)."""
    await pool.execute("ANALYZE tickets, parked, plan_projection")
    deps = Deps(pool=one, public_base_url="http://tickets.test", clock=lambda: NOW)
    due, never = NOW - timedelta(minutes=5), None

    async def scans(prefix: str) -> None:
        for n in range(10):
            await pool.execute(TICKETS, f"{prefix}{n}-", due, never, never, never, 1)
            assert await scan_breaches(deps) == 1

    await scans("small-")
    await pool.execute(TICKETS, "answered-", due - timedelta(days=1), due - timedelta(days=2), never, never, 10_000)
    await pool.execute(TICKETS, "later-", NOW + timedelta(days=1), never, never, never, 5_000)
    await pool.execute(TICKETS, "breached-", due - timedelta(days=1), never, never, due, 5_000)
    await pool.execute(
        "INSERT INTO parked (loop, key, reason) SELECT 'breach-scheduler', 'gone-' || i, 'r'"
        " FROM generate_series(1, 20000) AS i"
    )
    read = await entries_read_by(pool, one, ("tickets", "parked"), lambda: scans("grown-"))

    assert read < 1_000
    assert await pool.fetchval("SELECT count(*) FROM tickets WHERE id LIKE 'grown-%' AND breached_at = $1", NOW) == 10


async def test_questions_and_answers_find_their_turns_by_key_on_a_table_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool
) -> None:
    """chat_turns keeps every question ever asked in chat. Planned after an ANALYZE that found it empty, ten
    questions and their answers after 20,000 turns of other conversations read 400,310 rows and index entries: the
    whole table for the question's earlier turns and again for its answer."""
    await pool.execute("ANALYZE chat_turns")
    deps = Deps(pool=one, public_base_url="http://tickets.test", clock=lambda: NOW)
    thread = ChatThread(platform=ImPlatform.SLACK, workspace="T1", channel="C1", thread_ts="1.0")

    async def ask_and_answer(prefix: str) -> None:
        for n in range(10):
            assert await assistant.ask(deps, "org-scale", thread, f"{prefix}{n}", "U1", "is it down?")
            question_id = question_id_of(thread, f"{prefix}{n}")
            answered = ChatAnswered.build(
                source="/tests",
                subject=thread.conversation_id,
                data=ChatAnsweredData(
                    answer_id=f"a-{prefix}{n}", question_id=question_id, conversation_id=thread.conversation_id,
                    org_id="org-scale", thread=thread, question="is it down?", text="no", confidence=0.5,
                    could_help=True, outcome=ChatOutcome.ANSWERED, language="en", answered_at=NOW,
                ),
            )  # fmt: skip
            assert await assistant.record_answer(deps, answered)

    await ask_and_answer("small-")
    await pool.execute(
        "INSERT INTO chat_turns (question_id, conversation_id, org_id, platform, workspace, channel, thread_ts,"
        " asked_by, question, asked_at) SELECT 'other-' || i, 'conversation-' || i, 'org-other', 'slack', 'T2',"
        " 'C2', i::text, 'U2', 'why?', $1 FROM generate_series(1, 20000) AS i",
        NOW,
    )
    read = await entries_read_by(pool, one, ("chat_turns",), lambda: ask_and_answer("grown-"))

    assert read < 1_000


async def test_the_chat_confirmations_find_the_replies_due_by_key_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool
) -> None:
    """The confirmations owed to chat threads are looked for every 2 s. While a platform is away each waits up to two
    hours of retries, and those given up stay parked for good. Planned after an ANALYZE that found the tables empty,
    ten passes after 20,000 replies waiting and 20,000 parked read both tables whole on every pass: 400,039 rows and
    index entries (planned by key, with the parked check a join: 200,039, every parked reply on every pass)."""
    sent: list[str] = []

    async def send(_platform: ImPlatform, _channel: str, _thread: str, text: str) -> None:
        sent.append(text)

    await pool.execute("ANALYZE chat_replies, parked")
    deps = Deps(pool=one, public_base_url="http://tickets.test", clock=lambda: NOW, send=send)
    replies = (
        "INSERT INTO chat_replies (ticket_id, platform, channel, thread, body, next_attempt_at)"
        " SELECT $1 || i, 'slack', 'C1', '1.0', $1 || i, $2 FROM generate_series(1, $3) AS i"
    )

    async def passes(prefix: str) -> None:
        for n in range(10):
            await pool.execute(replies, f"{prefix}{n}-", NOW, 1)
            assert await deliver_chat_replies(deps) == 1

    await passes("small-")
    await pool.execute(replies, "waiting-", NOW + timedelta(minutes=5), 20_000)
    await pool.execute(
        "INSERT INTO parked (loop, key, reason) SELECT 'chat-replies', 'gone-' || i, 'gave up'"
        " FROM generate_series(1, 20000) AS i"
    )
    read = await entries_read_by(pool, one, ("chat_replies", "parked"), lambda: passes("grown-"))

    assert read < 1_000
    assert len(sent) == 20


async def test_a_reply_in_a_tickets_thread_finds_the_ticket_by_key_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool
) -> None:
    """Every message in a ticket's chat thread looks its ticket up by the thread. Planned after an ANALYZE that found
    tickets empty, ten replies after 20,000 other tickets and their threads read 600,485 rows and index entries:
    tickets whole three times for each message."""
    await pool.execute("ANALYZE tickets, comments, im_bindings, processed_events")
    await pool.execute(
        "INSERT INTO im_bindings (id, org_id, platform, workspace, channel, updates, two_way, state, created_by)"
        " VALUES ('b-1', 'org-scale', 'slack', 'T1', 'C1', true, true, 'active', 'u')"
    )
    deps = Deps(pool=one, public_base_url="http://tickets.test", clock=lambda: NOW)
    # $1 names the tickets, $2 || $3 || i (or $2 || $1 || i) is their thread's key
    threaded = (
        "INSERT INTO tickets (id, org_id, kind, severity, status, summary, channel, created_by, plan, response_targets,"
        " timezone, opened_at, updated_at, im_key) SELECT $1 || i, 'org-scale', 'technical', 'S3', 'open', 'slow',"
        " 'slack', 'u', 'premium', '{}', 'UTC', now(), now(), $2 || CASE WHEN $3 = '' THEN $1 || i ELSE $3 END"
        " FROM generate_series(1, $4) AS i"
    )

    async def replies(prefix: str) -> None:
        for n in range(10):
            await pool.execute(threaded, f"{prefix}{n}-", "slack|T1|C1|", f"{prefix}{n}", 1)
            thread = ImThread(platform=ImPlatform.SLACK, workspace="T1", channel="C1", thread_ts=f"{prefix}{n}")
            assert await chat_reply(deps, f"event-{prefix}{n}", thread, "U1", "any news?") is not None

    await replies("small-")
    await pool.execute(threaded, "other-", "slack|T1|C2|", "", 20_000)
    read = await entries_read_by(pool, one, ("tickets", "comments", "im_bindings"), lambda: replies("grown-"))

    assert read < 1_000


async def test_a_ticket_raised_from_chat_looks_its_source_plan_and_thread_up_by_key_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool
) -> None:
    """Every ticket raised from chat looks up its submission's source key, its organisation's plan and its thread.
    Planned after an ANALYZE that found the tables empty, ten tickets after 20,000 other tickets and organisations
    read 400,300 rows and index entries: tickets and plan_projection whole for each."""
    await pool.execute("ANALYZE tickets, plan_projection, chat_replies")
    await project(pool, plan_changed("org-scale", PlanCode.PREMIUM, 1, reason=ChangeReason.SELF_SERVICE))
    deps = Deps(pool=one, public_base_url="http://tickets.test", clock=lambda: NOW)
    author = Author(sub="slack:U1", kind=AuthorKind.CUSTOMER, org_id="org-scale")
    new = NewTicket(summary="down", severity=Severity.S1, kind=TicketKind.TECHNICAL)

    async def raise_tickets(prefix: str) -> None:
        for n in range(10):
            thread = ImThread(platform=ImPlatform.SLACK, workspace="T1", channel="C1", thread_ts=f"{prefix}{n}")
            _, opened = await open_ticket(
                deps, "org-scale", author, new, channel=TicketChannel.SLACK, im_thread=thread,
                source_key=f"view-{prefix}{n}",
            )  # fmt: skip
            assert opened

    await raise_tickets("small-")
    await pool.execute(
        "INSERT INTO tickets (id, org_id, kind, severity, status, summary, channel, created_by, plan,"
        " response_targets, timezone, opened_at, updated_at, im_key, source_key) SELECT 'other-' || i,"
        " 'org-other', 'technical', 'S3', 'open', 'slow', 'slack', 'u', 'premium', '{}', 'UTC', now(), now(),"
        " 'slack|T1|C2|' || i, 'view-other-' || i FROM generate_series(1, 20000) AS i"
    )
    await pool.execute(
        "INSERT INTO plan_projection (org_id, plan, entitlements, version, event_id)"
        " SELECT 'org-' || i, 'basic', '{}', 1, 'e-' || i FROM generate_series(1, 20000) AS i"
    )
    read = await entries_read_by(pool, one, ("tickets", "plan_projection"), lambda: raise_tickets("grown-"))

    assert read < 1_000


@pytest.mark.parametrize("request_", ["read", "comment", "severity", "status"])
async def test_a_tickets_page_and_changes_find_it_by_key_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, request_: str
) -> None:
    """Each request on one ticket (its page, a comment, a change of severity or status) finds it, its comments and
    its organisation's holidays and plan by key. Planned after an ANALYZE that found the tables empty, ten requests
    after 20,000 other tickets and their comments read every ticket for each, some several times: 200,165 (the
    page), 200,360 (a comment), 600,465 (severity), 800,620 (status); now 20-70."""
    await pool.execute("ANALYZE tickets, comments, org_holidays, plan_projection")
    deps = Deps(pool=one, public_base_url="http://tickets.test", clock=lambda: NOW)
    engineer = Author(sub="e-1", kind=AuthorKind.ENGINEER, org_id=None)
    comments = (
        "INSERT INTO comments (id, ticket_id, author, author_kind, visibility, body, created_at)"
        " SELECT 'c-' || $1 || i, $1 || i, 'u', 'customer', 'public', 'hello', now() FROM generate_series(1, $2) AS i"
    )

    async def requests(prefix: str) -> None:
        for n in range(10):
            await pool.execute(TICKETS, f"{prefix}{n}-", NOW + timedelta(hours=4), None, None, None, 1)
            await pool.execute(comments, f"{prefix}{n}-", 1)
            ticket_id = f"{prefix}{n}-1"
            if request_ == "read":
                ticket, said = await read_ticket(deps, ticket_id, engineer)
                assert (ticket.id, len(said)) == (ticket_id, 1)
            elif request_ == "comment":
                await add_comment(deps, ticket_id, engineer, NewComment(body="on it", visibility=Visibility.PUBLIC))
            elif request_ == "severity":
                assert (await change_severity(deps, ticket_id, engineer, Severity.S2)).severity is Severity.S2
            else:
                changed = await change_status(deps, ticket_id, engineer, TicketStatus.IN_PROGRESS)
                assert changed.status is TicketStatus.IN_PROGRESS

    await requests("small-")
    await pool.execute(TICKETS, "other-", NOW + timedelta(hours=4), None, None, None, 20_000)
    # on new connections: the comments' foreign-key check, planned on the small tables by the connection that wrote
    # the first comments, would read every ticket for each of these (15-19 s)
    await pool.expire_connections()
    await pool.execute(comments, "other-", 20_000)
    read = await entries_read_by(
        pool, one, ("tickets", "comments", "org_holidays", "plan_projection"), lambda: requests("grown-")
    )

    assert read < 1_000, "every ticket was read"
