"""Which assistant answers become chat posts and what they carry (pure): every `ChatAnswered` is posted into the
thread it answers, platform-neutral here; the channel adapter renders Slack blocks or a Lark card."""

from __future__ import annotations

from typing import Any

from care_schemas.events.chat import ChatAnswered, ChatButton, ChatOutcome, FeedbackKind
from notify_service.domain.ticket_updates import Outgoing

ANSWER_KINDS = ("slack_answer", "lark_answer")
# What the asker may press under each kind of answer: the plan line is one line and nothing more.
BUTTONS: dict[ChatOutcome, tuple[FeedbackKind, ...]] = {
    ChatOutcome.ANSWERED: (FeedbackKind.HELPFUL, FeedbackKind.NOT_HELPFUL, FeedbackKind.RAISE_REQUEST),
    ChatOutcome.DECLINED: (FeedbackKind.RAISE_REQUEST,),
    ChatOutcome.RATE_LIMITED: (FeedbackKind.RAISE_REQUEST,),
    ChatOutcome.NOT_ENTITLED: (),
}


def outgoing_answer(event: ChatAnswered) -> Outgoing:
    """The post that puts the answer in its thread, with its sources and buttons."""
    a = event.data
    buttons = [
        ChatButton(kind=kind, answer_id=a.answer_id, conversation_id=a.conversation_id).model_dump(mode="json")
        for kind in BUTTONS[a.outcome]
    ]
    body: dict[str, Any] = {
        "answer_id": a.answer_id,
        "text": a.text,
        "language": a.language,
        "outcome": a.outcome.value,
        "sources": [{"title": s.title, "url": s.url} for s in a.sources],
        "buttons": buttons,
    }
    target = {"workspace": a.thread.workspace, "channel": a.thread.channel, "thread_ts": a.thread.thread_ts}
    return Outgoing(f"{a.thread.platform.value}_answer", a.org_id, target, body)
