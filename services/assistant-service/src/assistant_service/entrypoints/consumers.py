"""Kafka subscribers: questions and feedback from chat threads (chat.events.v1), and the plan projection."""

from __future__ import annotations

from collections.abc import Callable

from assistant_service.config import Settings
from assistant_service.handlers import asking
from assistant_service.handlers.deps import Deps
from care_schemas.events.chat import ChatEvent, ChatFeedbackGiven, ChatQuestionAsked, chat_event_adapter
from care_schemas.topics import CHAT_EVENTS
from carekit.runtime import Runtime


def register(runtime: Runtime, settings: Settings, deps: Callable[[], Deps]) -> None:
    """Questions are answered (once each) and feedback recorded; the service's own answers are skipped."""
    chat = f"{settings.consumer_group_prefix}.chat"

    async def on_chat(event: ChatEvent) -> None:
        if isinstance(event, ChatQuestionAsked):
            await asking.answer_in_thread(deps(), event)
        elif isinstance(event, ChatFeedbackGiven):
            await asking.record_feedback(deps(), event)

    runtime.subscribe(CHAT_EVENTS, chat, chat_event_adapter, on_chat)
    runtime.project_plans(f"{settings.consumer_group_prefix}.plans")
