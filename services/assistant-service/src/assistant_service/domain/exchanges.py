"""A question and its answer as stored and published: links made absolute, the event that carries it (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assistant_service.domain.answer import Answer, Source
from care_schemas.catalogue import PlanCode
from care_schemas.events.chat import (
    MAX_ANSWER,
    MAX_SOURCES,
    ChatAnswered,
    ChatAnsweredData,
    ChatOutcome,
    ChatSource,
    ChatThread,
    answer_id_of,
)

SOURCE = "/assistant-service"
# Turns that were really answered (or declined) count as context for a follow-up; a plan line does not.
CONTEXT_OUTCOMES = (ChatOutcome.ANSWERED.value, ChatOutcome.DECLINED.value)


def absolute(answer: Answer, docs_base_url: str) -> Answer:
    """The answer with its sources' article paths turned into links a person can open."""
    base = docs_base_url.rstrip("/")
    sources = tuple(s.model_copy(update={"url": base + s.url}) if s.url.startswith("/") else s for s in answer.sources)
    return answer.model_copy(update={"sources": sources})


@dataclass(frozen=True)
class Exchange:
    """One question and its answer in a conversation: what is stored, answered over HTTP and published."""

    question_id: str
    conversation_id: str
    org_id: str
    asked_by: str
    question: str
    answer: Answer
    outcome: ChatOutcome
    asked_at: datetime
    answered_at: datetime
    thread: ChatThread | None = None  # None for a question asked over HTTP
    plan_needed: PlanCode | None = None

    @property
    def answer_id(self) -> str:
        return answer_id_of(self.question_id)

    @property
    def channel(self) -> str:
        return self.thread.platform.value if self.thread is not None else "api"

    def sources_json(self) -> list[dict[str, Any]]:
        return [s.model_dump() for s in self.answer.sources]


def chat_source(source: Source) -> ChatSource:
    return ChatSource(title=source.title[:300], url=source.url[:2048], quote=source.quote[:1000])


def answered_event(exchange: Exchange) -> ChatAnswered:
    """The answer for the thread it was asked in (notify-service posts it there)."""
    assert exchange.thread is not None
    return ChatAnswered.build(
        source=SOURCE,
        subject=exchange.conversation_id,
        data=ChatAnsweredData(
            answer_id=exchange.answer_id,
            question_id=exchange.question_id,
            conversation_id=exchange.conversation_id,
            org_id=exchange.org_id,
            thread=exchange.thread,
            question=exchange.question,
            text=exchange.answer.answer[:MAX_ANSWER],
            sources=[chat_source(s) for s in exchange.answer.sources[:MAX_SOURCES]],
            confidence=exchange.answer.confidence,
            could_help=exchange.answer.could_help,
            outcome=exchange.outcome,
            language=exchange.answer.language.value,
            plan_needed=exchange.plan_needed,
            answered_at=exchange.answered_at,
        ),
        time=exchange.answered_at,
    )
