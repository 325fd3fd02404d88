"""Questions from chat threads on real Kafka and Postgres: each answered once (a redelivered question is not
answered twice), follow-ups in the same thread use the earlier turn, feedback is recorded, and an organisation
whose plan lacks AI chat gets the one line naming the plan that has it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from assistant_harness import Running, fresh_settings, in_process, slack_thread

from care_schemas.catalogue import PlanCode
from care_schemas.envelope import utcnow
from care_schemas.events.chat import (
    ChatAnswered,
    ChatFeedbackGiven,
    ChatFeedbackGivenData,
    ChatOutcome,
    ChatQuestionAsked,
    FeedbackKind,
)
from care_schemas.topics import CHAT_EVENTS
from carekit.kafka import Publishers
from carekit_testing import (
    TEST_JWT_SECRET,
    ChatTopicReader,
    bearer,
    eventually,
    publishing,
)
from carekit_testing import question_asked as question

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def assistant(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Running]:
    async with in_process(await fresh_settings(kafka_bootstrap, database_url, "assistant-chat")) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def chat(kafka_bootstrap: str) -> AsyncIterator[Publishers]:
    async with publishing(kafka_bootstrap, CHAT_EVENTS) as publishers:
        yield publishers


async def new_org(assistant: Running, plan: PlanCode) -> str:
    """A fresh organisation on `plan`, as the assistant knows it from plan events."""
    org = f"org-{uuid.uuid4().hex[:8]}"
    await assistant.set_plan(org, plan)
    return org


async def ask(chat: Publishers, *events: ChatQuestionAsked) -> None:
    """Publish on chat.events.v1 keyed by conversation, as ticket-service does."""
    for event in events:
        await chat[CHAT_EVENTS].publish(event, event.data.conversation_id)


async def test_a_question_delivered_twice_is_answered_once_in_its_thread(
    assistant: Running, chat: Publishers, chat_topic: ChatTopicReader
) -> None:
    org = await new_org(assistant, PlanCode.ENTERPRISE)
    thread = slack_thread()
    asked = question(org, "How do I subscribe a Slack channel to alerts?", thread)
    redelivered = asked.model_copy(update={"id": str(uuid.uuid4())})  # the same message, carried by another event
    marker = question(org, "What is Clinic?", thread, message_id="marker")
    await ask(chat, asked, asked, redelivered, marker)  # delivered twice, then again in another event

    found = await chat_topic.of_kind(thread.conversation_id, ChatAnswered, 2)
    assert [a.data.question_id for a in found] == [asked.data.question_id, marker.data.question_id]
    first = found[0].data
    assert first.thread == thread
    assert (first.outcome, first.could_help, first.question) == (ChatOutcome.ANSWERED, True, asked.data.text)
    assert any("alerts-slack" in s.url for s in first.sources)
    assert all(s.url.startswith("https://docs.test/") and s.quote for s in first.sources)


async def test_a_follow_up_in_the_same_thread_is_answered_with_the_earlier_turn_in_mind(
    assistant: Running, chat: Publishers, chat_topic: ChatTopicReader
) -> None:
    org = await new_org(assistant, PlanCode.PREMIUM)
    thread = slack_thread()
    first = question(org, "How do I send our alerts to PagerDuty?", thread)
    follow = question(org, "and for Lark?", thread, message_id="2", earlier=[first.data.question_id])
    alone = question(org, "and for Lark?", slack_thread())  # the same words with no earlier turn
    await ask(chat, first, follow, alone)
    _, second = await chat_topic.of_kind(thread.conversation_id, ChatAnswered, 2)
    assert second.data.question_id == follow.data.question_id
    assert "/docs/support/alerts-lark" in second.data.sources[0].url
    [lone] = await chat_topic.of_kind(alone.data.conversation_id, ChatAnswered, 1)
    assert "alerts-lark" not in (lone.data.sources[0].url if lone.data.sources else ""), (
        "without the earlier turn the same words are not about alerts"
    )


async def test_an_organisation_without_ai_chat_gets_one_line_naming_the_plan(
    assistant: Running, chat: Publishers, chat_topic: ChatTopicReader
) -> None:
    org = await new_org(assistant, PlanCode.BASIC)
    thread = slack_thread()
    await ask(chat, question(org, "How do I open a ticket from Slack?", thread))
    [line] = await chat_topic.of_kind(thread.conversation_id, ChatAnswered, 1)
    assert line.data.outcome is ChatOutcome.NOT_ENTITLED
    assert line.data.text == "AI chat needs the Enterprise plan or higher; this organisation is on Basic."
    assert (line.data.sources, line.data.could_help, line.data.plan_needed) == ([], False, PlanCode.ENTERPRISE)


async def test_feedback_on_an_answer_is_recorded_once(
    assistant: Running, chat: Publishers, chat_topic: ChatTopicReader
) -> None:
    org = await new_org(assistant, PlanCode.ENTERPRISE)
    thread = slack_thread()
    await ask(chat, question(org, "What is the free trial?", thread))
    [answer] = await chat_topic.of_kind(thread.conversation_id, ChatAnswered, 1)
    feedback = ChatFeedbackGiven.build(
        source="/tests",
        subject=thread.conversation_id,
        data=ChatFeedbackGivenData(
            feedback_id=f"fb-{uuid.uuid4().hex[:12]}",
            answer_id=answer.data.answer_id,
            conversation_id=thread.conversation_id,
            org_id=org,
            thread=thread,
            user="UCUSTOMER",
            kind=FeedbackKind.HELPFUL,
            given_at=utcnow(),
        ),
    )
    for _ in range(2):
        await chat[CHAT_EVENTS].publish(feedback, thread.conversation_id)
    headers = bearer(TEST_JWT_SECRET, org, "member")

    async def recorded() -> list[dict[str, str]] | None:
        turns = await assistant.client.get(f"/v1/assistant/conversations/{thread.conversation_id}", headers=headers)
        given = turns.json()["turns"][0]["feedback"]
        return list(given) if given else None

    await eventually(recorded, timeout_s=20)
    await ask(chat, question(org, "What is Clinic?", thread, message_id="marker"))
    await chat_topic.of_kind(thread.conversation_id, ChatAnswered, 2)  # everything before the marker has been handled
    given = await recorded()
    assert given is not None
    assert [(f["kind"], f["given_by"]) for f in given] == [("helpful", "UCUSTOMER")]
