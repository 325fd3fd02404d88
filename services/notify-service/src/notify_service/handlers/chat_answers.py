"""The assistant's answers from chat.events.v1, queued to be posted into the thread they answer."""

from __future__ import annotations

import asyncpg

from care_schemas.events.chat import ChatAnswered, ChatEvent
from notify_service.adapters import im_queue
from notify_service.domain.chat_answers import outgoing_answer


async def take_in_chat_event(pool: asyncpg.Pool, event: ChatEvent) -> int:
    """Queue the post that puts an assistant's answer into its thread (idempotent by event id); questions and
    feedback are not notify-service's."""
    if not isinstance(event, ChatAnswered):
        return 0
    return await im_queue.enqueue(pool, event.id, [outgoing_answer(event)])
