"""AI chat: a question from a chat thread goes to the assistant (through the outbox), its answer is kept with it,
a button under an answer becomes feedback, and the ticket form opens with the conversation so far."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable

from care_schemas.events.chat import (
    MAX_EARLIER,
    ChatAnswered,
    ChatButton,
    ChatFeedbackGiven,
    ChatFeedbackGivenData,
    ChatQuestionAsked,
    ChatQuestionAskedData,
    ChatThread,
    question_id_of,
    question_id_of_answer,
)
from care_schemas.events.ticket import ImPlatform
from care_schemas.topics import CHAT_EVENTS
from carekit.consumer import first_time
from carekit.db import by_key_connection
from carekit.outbox import enqueue
from carekit.projection import ProjectedPlan, current_plan
from ticket_service.adapters import chat_turns as db
from ticket_service.adapters import postgres
from ticket_service.domain import assistant as rules
from ticket_service.domain.assistant import ChatTurn
from ticket_service.domain.bindings import Binding
from ticket_service.handlers.chat import binding_at
from ticket_service.handlers.deps import SOURCE, Deps


async def plan_of(deps: Deps, org_id: str) -> ProjectedPlan:
    return await current_plan(deps.pool, org_id)


async def direct_binding(deps: Deps, platform: ImPlatform, workspace: str) -> Binding | None:
    """Whose direct message it is: the one organisation with a place bound in this workspace (several: nobody's,
    the bot cannot tell them apart; it says so)."""
    orgs = await db.workspace_orgs(deps.pool, platform, workspace)
    if len(orgs) != 1:
        return None
    bindings = [b for b in await postgres.org_bindings(deps.pool, orgs[0]) if b.platform is platform]
    return next((b for b in bindings if b.workspace == workspace and b.active), None) or next(
        (b for b in bindings if b.workspace == workspace), None
    )


async def place_binding(
    deps: Deps, platform: ImPlatform, workspace: str, channel: str, *, direct: bool
) -> Binding | None:
    """The binding behind a place: the bound channel or group, or for a direct (one-to-one) chat the workspace's
    organisation."""
    binding = await binding_at(deps, platform, workspace, channel)
    if binding is None and direct:
        binding = await direct_binding(deps, platform, workspace)
    return binding


async def question(
    deps: Deps,
    binding: Binding,
    place: ChatThread,
    message_id: str,
    user: str,
    text: str,
    *,
    direct: bool,
    plan_line: Callable[[str], Awaitable[None]],
) -> bool:
    """A message that asks a question: to the assistant when the plan includes AI chat, else `plan_line` says in
    the thread which plan does. False when it asks for a ticket instead (the caller offers the ticket form)."""
    if rules.wants_a_ticket(text):
        return False
    words = rules.question_text(text)
    plan = await plan_of(deps, binding.org_id)
    if not rules.entitled(plan.entitlements):
        await plan_line(rules.plan_line(plan.plan, words))
        return True
    await ask(deps, binding.org_id, place, message_id, user, words, direct=direct)
    return True


async def ask(
    deps: Deps, org_id: str, thread: ChatThread, message_id: str, user: str, text: str, *, direct: bool = False
) -> bool:
    """Pass a question to the assistant: recorded, and its event written to the outbox in one transaction, once
    per chat message (a platform's retry adds nothing). The answer arrives in the thread from notify-service.

    Questions and answers find their turns by key whatever the statistics (`carekit.db.by_key_connection`, here and
    in `record_answer`): chat_turns keeps every question ever asked, and planned after an ANALYZE that found it
    empty, ten questions and their answers after 20,000 other turns read 400,310 rows and index entries (the whole
    table for each); now 174 (test_ticket_scale.py)."""
    question_id = question_id_of(thread, message_id)
    async with by_key_connection(deps.pool) as conn, conn.transaction():
        now = deps.clock()
        if not await db.insert_question(conn, question_id, org_id, thread, user, text, now):
            return False
        earlier = await db.earlier_questions(conn, thread.conversation_id, question_id, MAX_EARLIER)
        event = ChatQuestionAsked.build(
            source=SOURCE,
            subject=thread.conversation_id,
            data=ChatQuestionAskedData(
                question_id=question_id,
                conversation_id=thread.conversation_id,
                org_id=org_id,
                thread=thread,
                message_id=message_id,
                user=user,
                text=text,
                earlier=earlier,
                direct=direct,
                asked_at=now,
            ),
            time=now,
        )
        await enqueue(conn, CHAT_EVENTS, thread.conversation_id, event)
    return True


async def record_answer(deps: Deps, event: ChatAnswered) -> bool:
    """Keep the assistant's answer with the question, for the ticket form and the ticket (idempotent)."""
    async with by_key_connection(deps.pool) as conn:
        return await db.record_answer(conn, event.data)


async def press(deps: Deps, button: ChatButton, user: str, press_id: str) -> ChatThread | None:
    """A button under an answer (Helpful, Not helpful, Raise request) becomes feedback, once per press; the
    answer's thread, or None for an answer to no question this service asked in that conversation. The answer
    itself may not have reached this service yet (notify-service posts it as soon as it reads it, while this
    service's consumer may still be on its way): the answer id names its question, which this service recorded."""
    async with by_key_connection(deps.pool) as conn:
        found = await db.question_place(conn, question_id_of_answer(button.answer_id))
    if found is None or found[1].conversation_id != button.conversation_id:
        return None
    org_id, thread = found
    feedback_id = "fb-" + hashlib.sha256(press_id.encode()).hexdigest()[:24]
    async with deps.pool.acquire() as conn, conn.transaction():
        if await first_time(conn, "chat-feedback", feedback_id):
            now = deps.clock()
            event = ChatFeedbackGiven.build(
                source=SOURCE,
                subject=thread.conversation_id,
                data=ChatFeedbackGivenData(
                    feedback_id=feedback_id,
                    answer_id=button.answer_id,
                    conversation_id=thread.conversation_id,
                    org_id=org_id,
                    thread=thread,
                    user=user[:256] or "unknown",
                    kind=button.kind,
                    given_at=now,
                ),
                time=now,
            )
            await enqueue(conn, CHAT_EVENTS, thread.conversation_id, event)
    return thread


async def form_prefill(
    deps: Deps, thread: ChatThread, answer_id: str | None, limit: int, wait_s: float = 0.0
) -> rules.Prefill:
    """The summary and description a ticket form opens with: the question and the conversation so far. Opened from
    an answer's button, the answer is waited for up to `wait_s` (it may still be on its way to this service; the
    platform's trigger to open the form lasts three seconds)."""
    question_id = question_id_of_answer(answer_id) if answer_id else None
    deadline = time.monotonic() + wait_s
    # the answer arrives in another consumer's transaction, maybe on another instance: look again briefly
    while question_id and time.monotonic() < deadline and not await db.answered(deps.pool, question_id):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    turns = await db.turns(deps.pool, thread.conversation_id)
    return rules.prefill(turns, thread.platform.value, question_id, limit)


async def ticket_conversation(deps: Deps, ticket_id: str) -> list[ChatTurn] | None:
    """The assistant conversation a ticket was raised from, if it was."""
    return await db.ticket_conversation(deps.pool, ticket_id)
