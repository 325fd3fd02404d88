"""Events on `chat.events.v1` (key: the conversation id, i.e. platform + workspace + channel + thread).

A customer asks the support bot in a Slack or Lark thread (ticket-service publishes `ChatQuestionAsked`),
assistant-service answers (`ChatAnswered`, posted into the thread by notify-service), and the customer's buttons
under an answer become `ChatFeedbackGiven` (helpful, not helpful, raise request).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, TypeAdapter

from care_schemas.bounded import Id, Timestamp, bounded
from care_schemas.catalogue import PlanCode
from care_schemas.envelope import CloudEvent, Frozen
from care_schemas.events.ticket import ImPlatform

MAX_QUESTION = 4000
MAX_ANSWER = 8000
MAX_EARLIER = 20
MAX_SOURCES = 5

ChatText = Annotated[str, bounded(256, min_length=1)]


class ChatThread(Frozen):
    """The chat thread a conversation lives in: the answer is posted there, follow-ups come from there."""

    platform: ImPlatform
    workspace: ChatText = Field(description="Slack team id or Lark tenant key")
    channel: ChatText = Field(description="Slack channel id (a DM's too) or Lark chat id")
    thread_ts: ChatText = Field(description="Slack thread ts or Lark root message id")

    @property
    def key(self) -> str:
        return f"{self.platform.value}|{self.workspace}|{self.channel}|{self.thread_ts}"

    @property
    def conversation_id(self) -> str:
        """A short, stable id for the thread's conversation (the topic's key)."""
        return conversation_id_of(self.key)


def conversation_id_of(key: str) -> str:
    return "cnv-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def question_id_of(thread: ChatThread, message_id: str) -> str:
    """The question's id from the chat message it was asked in: a platform's retry yields the same id."""
    return "q-" + hashlib.sha256(f"{thread.key}|{message_id}".encode()).hexdigest()[:24]


def answer_id_of(question_id: str) -> str:
    """The id of a question's answer: one answer per question, so a button under it names its question too."""
    return "a-" + question_id.removeprefix("q-")


def question_id_of_answer(answer_id: str) -> str:
    """The question an answer id answers (the inverse of `answer_id_of`)."""
    return "q-" + answer_id.removeprefix("a-")


class ChatQuestionAskedData(Frozen):
    question_id: Id = Field(description="stable per chat message: a redelivery or a platform retry has the same id")
    conversation_id: Id
    org_id: Id
    thread: ChatThread
    message_id: ChatText = Field(description="the question's own message (Slack ts, Lark message id)")
    user: ChatText = Field(description="Slack user id or Lark open id of the asker")
    text: Annotated[str, bounded(MAX_QUESTION, min_length=1)] = Field(description="the question, mentions removed")
    earlier: Annotated[list[Id], Field(max_length=MAX_EARLIER)] = Field(
        default_factory=list, description="question ids of the earlier turns in this thread, oldest first"
    )
    direct: bool = Field(default=False, description="asked in a direct message to the bot")
    asked_at: Timestamp


class ChatQuestionAsked(CloudEvent[ChatQuestionAskedData]):
    TYPE: ClassVar[str] = "care.chat.question_asked.v1"
    type: Literal["care.chat.question_asked.v1"]


class ChatSource(Frozen):
    """A passage an answer is built from: its article (and section), a link, and the words quoted."""

    title: Annotated[str, bounded(300, min_length=1)]
    url: Annotated[str, bounded(2048, min_length=1)]
    quote: Annotated[str, bounded(1000)]


class ChatOutcome(StrEnum):
    """What kind of answer it is: notify-service shows the buttons each one calls for."""

    ANSWERED = "answered"  # from the knowledge base, with sources: Helpful / Not helpful / Raise request
    DECLINED = "declined"  # the knowledge base does not cover it: Raise request
    NOT_ENTITLED = "not_entitled"  # the plan does not include AI chat: one line naming the plan that does
    RATE_LIMITED = "rate_limited"  # too many questions from the organisation: one line saying when to ask again


class ChatAnsweredData(Frozen):
    answer_id: Id
    question_id: Id
    conversation_id: Id
    org_id: Id
    thread: ChatThread
    question: Annotated[str, bounded(MAX_QUESTION)] = Field(description="what was asked (for the conversation)")
    text: Annotated[str, bounded(MAX_ANSWER, min_length=1)]
    sources: Annotated[list[ChatSource], Field(max_length=MAX_SOURCES)] = Field(default_factory=list)
    confidence: float = Field(ge=0, le=1)
    could_help: bool
    outcome: ChatOutcome
    language: Literal["en", "zh"]
    plan_needed: PlanCode | None = Field(default=None, description="the cheapest plan with AI chat (not_entitled)")
    answered_at: Timestamp


class ChatAnswered(CloudEvent[ChatAnsweredData]):
    TYPE: ClassVar[str] = "care.chat.answered.v1"
    type: Literal["care.chat.answered.v1"]


class FeedbackKind(StrEnum):
    HELPFUL = "helpful"
    NOT_HELPFUL = "not_helpful"
    RAISE_REQUEST = "raise_request"


ASSISTANT_ACTION = "assistant"  # Lark: the callback value's `action`; Slack: the prefix of the button's action_id


class ChatButton(Frozen):
    """What a button under an answer carries back when pressed (Slack's action value, Lark's callback value): the
    contract between notify-service, which renders the buttons, and ticket-service, which receives the press."""

    kind: FeedbackKind
    answer_id: Id
    conversation_id: Id

    @property
    def action_id(self) -> str:
        return f"{ASSISTANT_ACTION}_{self.kind.value}"


class ChatFeedbackGivenData(Frozen):
    feedback_id: Id = Field(description="stable per button press: a platform's retry has the same id")
    answer_id: Id
    conversation_id: Id
    org_id: Id
    thread: ChatThread
    user: ChatText
    kind: FeedbackKind
    given_at: Timestamp


class ChatFeedbackGiven(CloudEvent[ChatFeedbackGivenData]):
    TYPE: ClassVar[str] = "care.chat.feedback_given.v1"
    type: Literal["care.chat.feedback_given.v1"]


ChatEvent = Annotated[ChatQuestionAsked | ChatAnswered | ChatFeedbackGiven, Field(discriminator="type")]
chat_event_adapter: TypeAdapter[ChatEvent] = TypeAdapter(ChatEvent)
