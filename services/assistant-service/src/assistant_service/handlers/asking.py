"""Questions and answers: from a chat thread (chat.events.v1) or over HTTP, the plan decides, the rate limit
protects, the knowledge base answers, and the turn is stored (and, for a thread, its answer published)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from assistant_service.adapters import conversations as db
from assistant_service.adapters.metrics import COMPOSE_SECONDS, FEEDBACK, QUESTIONS
from assistant_service.domain import replies
from assistant_service.domain.answer import Answer
from assistant_service.domain.conversation import Turn
from assistant_service.domain.exchanges import Exchange, absolute, answered_event
from assistant_service.domain.text import Language, detect_language
from assistant_service.handlers.deps import Deps
from care_schemas.events.chat import MAX_EARLIER, ChatFeedbackGiven, ChatOutcome, ChatQuestionAsked
from care_schemas.topics import CHAT_EVENTS
from carekit.identity import Identity
from carekit.outbox import enqueue
from carekit.projection import current_plan
from carekit.refusals import NotEntitled, NotFound, TooManyRequests


@dataclass(frozen=True)
class Reply:
    """What the asker gets over HTTP: the answer and the conversation to continue."""

    answer: Answer
    conversation_id: str


async def _compose(deps: Deps, question: str, earlier: list[str]) -> Answer:
    started = time.perf_counter()
    answer = await deps.assistant.ask(question, [Turn(q) for q in earlier])
    COMPOSE_SECONDS.observe(time.perf_counter() - started)
    return absolute(answer, deps.docs_base_url)


def _line(text: str, language: Language) -> Answer:
    return Answer(answer=text, confidence=0.0, could_help=False, language=language)


async def ask(deps: Deps, identity: Identity, question: str, conversation_id: str | None) -> Reply:
    """Answer a question asked over HTTP (the console): any role of an organisation whose plan includes AI chat
    (staff may always ask); `conversation_id` continues an earlier conversation of the same organisation."""
    org = identity.org
    if not identity.is_staff:
        plan = await current_plan(deps.pool, org)
        if not replies.entitled(plan.entitlements):
            needed = replies.plan_needed()
            raise NotEntitled(
                replies.plan_line(plan.plan, Language.EN),
                plan=plan.plan.value,
                plan_needed=needed.value if needed else None,
            )
    earlier: list[str] = []
    if conversation_id is not None:
        if await db.conversation_org(deps.pool, conversation_id) != org:
            raise NotFound(f"no conversation {conversation_id}; leave conversation_id out to start one")
        earlier = await db.recent_questions(deps.pool, conversation_id, MAX_EARLIER)
    decision = deps.limiter.take(org)
    if not decision.allowed:
        raise TooManyRequests(
            replies.rate_line(decision.retry_after_s, Language.EN), retry_after_s=decision.retry_after_s
        )
    asked_at = deps.clock()
    answer = await _compose(deps, question, earlier)
    exchange = Exchange(
        question_id=f"q-{uuid.uuid4().hex[:24]}",
        conversation_id=conversation_id or f"cnv-{uuid.uuid4().hex[:24]}",
        org_id=org,
        asked_by=identity.sub,
        question=question,
        answer=answer,
        outcome=replies.outcome_of(answer),
        asked_at=asked_at,
        answered_at=deps.clock(),
    )
    async with deps.pool.acquire() as conn, conn.transaction():
        await db.save(conn, exchange)
    QUESTIONS.labels("api", exchange.outcome.value).inc()
    return Reply(answer, exchange.conversation_id)


async def answer_in_thread(deps: Deps, event: ChatQuestionAsked) -> bool:
    """Answer a question asked in a chat thread and publish the answer for that thread (through the outbox);
    a question already answered (a redelivery, a platform's retry) is not answered again. False then."""
    q = event.data
    if await db.answered(deps.pool, q.question_id):
        return False
    language = detect_language(q.text)
    plan = await current_plan(deps.pool, q.org_id)
    plan_needed = None
    if not replies.entitled(plan.entitlements):
        # ticket-service checks too; its projection may be ahead of or behind this one
        answer = _line(replies.plan_line(plan.plan, language), language)
        outcome, plan_needed = ChatOutcome.NOT_ENTITLED, replies.plan_needed()
    elif not (decision := deps.limiter.take(q.org_id)).allowed:
        answer, outcome = _line(replies.rate_line(decision.retry_after_s, language), language), ChatOutcome.RATE_LIMITED
    else:
        earlier = await db.questions(deps.pool, q.org_id, q.earlier)
        answer = await _compose(deps, q.text, earlier)
        outcome = replies.outcome_of(answer)
    exchange = Exchange(
        question_id=q.question_id,
        conversation_id=q.conversation_id,
        org_id=q.org_id,
        asked_by=q.user,
        question=q.text,
        answer=answer,
        outcome=outcome,
        asked_at=q.asked_at,
        answered_at=deps.clock(),
        thread=q.thread,
        plan_needed=plan_needed,
    )
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await db.save(conn, exchange):
            return False  # answered meanwhile by another delivery of the same question
        await enqueue(conn, CHAT_EVENTS, q.conversation_id, answered_event(exchange))
    QUESTIONS.labels(exchange.channel, outcome.value).inc()
    return True


async def record_feedback(deps: Deps, event: ChatFeedbackGiven) -> bool:
    """Helpful, not helpful or raise request on an answer, recorded once per button press."""
    f = event.data
    recorded = await db.save_feedback(
        deps.pool, f.feedback_id, f.answer_id, f.conversation_id, f.org_id, f.user, f.kind.value, f.given_at
    )
    if recorded:
        FEEDBACK.labels(f.kind.value).inc()
    return recorded


async def conversation(deps: Deps, identity: Identity, conversation_id: str) -> list[db.StoredTurn]:
    """A conversation's turns with the feedback on each answer: the organisation's members and staff."""
    org = await db.conversation_org(deps.pool, conversation_id)
    if org is None or (org != identity.org and not identity.is_staff):
        raise NotFound(f"no conversation {conversation_id}")
    return await db.turns(deps.pool, conversation_id)
