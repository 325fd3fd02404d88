"""The assistant's answers (chat.events.v1), kept with the questions ticket-service passed on, so a ticket form
opens with the conversation so far and the ticket carries it."""

from __future__ import annotations

from collections.abc import Callable

from care_schemas.events.chat import ChatAnswered, ChatEvent, chat_event_adapter
from care_schemas.topics import CHAT_EVENTS
from carekit.runtime import Runtime
from ticket_service.handlers import Deps, assistant


def subscribe_answers(runtime: Runtime, group_prefix: str, deps: Callable[[], Deps]) -> None:
    group = f"{group_prefix}.chat"

    async def on_chat(event: ChatEvent) -> None:
        if isinstance(event, ChatAnswered):
            await assistant.record_answer(deps(), event)

    runtime.subscribe(CHAT_EVENTS, group, chat_event_adapter, on_chat)
