"""AI chat inbound in ticket-service (in-process, real Kafka and Postgres, local Slack and Lark): a question in a
bound channel of an organisation with AI chat becomes one question event (earlier turns named, platform retries
absorbed), a request for help still gets the Raise request button, a plan without AI chat gets one line naming the
plan that has it, the answer's buttons become feedback, and Raise request opens the form with the conversation,
which the ticket then carries."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from ticket_harness import ENGINEER, Service
from ticket_harness import bind as bind_channel

from care_schemas.catalogue import PlanCode
from care_schemas.envelope import utcnow
from care_schemas.events.chat import (
    ChatAnswered,
    ChatAnsweredData,
    ChatButton,
    ChatFeedbackGiven,
    ChatOutcome,
    ChatQuestionAsked,
    ChatSource,
    ChatThread,
    FeedbackKind,
    answer_id_of,
)
from care_schemas.events.ticket import ImPlatform
from care_schemas.topics import CHAT_EVENTS
from carekit.kafka import Publishers
from carekit_testing import TEST_JWT_SECRET, ChatTopicReader, bearer, eventually, publishing

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
FORM = {"severity": "S3", "kind": "technical", "reporter_email": "ops@customer.example"}


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def assistant(kafka_bootstrap: str) -> AsyncIterator[Publishers]:
    """Plays assistant-service: publishes answers on chat.events.v1."""
    async with publishing(kafka_bootstrap, CHAT_EVENTS) as publishers:
        yield publishers


async def bind(service: Service, org: str, plan: PlanCode, platform: str = "slack") -> str:
    """Bind a channel while the org is on Enterprise, then move the org to `plan` (which may not allow binding)."""
    place = await bind_channel(service, org, PlanCode.ENTERPRISE, platform)
    if plan is not PlanCode.ENTERPRISE:
        await service.set_plan(org, plan, 2)
    return place


def mention(channel: str, text: str, thread_ts: str | None = None) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    event = {"type": "app_mention", "user": "UCUSTOMER", "text": f"<@UBOT> {text}", "ts": ts, "channel": channel}
    return event | ({"thread_ts": thread_ts} if thread_ts else {})


async def answer(service: Service, assistant: Publishers, question: ChatQuestionAsked, text: str) -> ChatAnswered:
    """Publish what assistant-service would for the question; return once ticket-service has recorded the answer."""
    q = question.data
    event = ChatAnswered.build(
        source="/tests",
        subject=q.conversation_id,
        data=ChatAnsweredData(
            answer_id="a-" + q.question_id.removeprefix("q-"),
            question_id=q.question_id,
            conversation_id=q.conversation_id,
            org_id=q.org_id,
            thread=q.thread,
            question=q.text,
            text=text,
            sources=[ChatSource(title="Plans - Enterprise", url="https://docs.test/docs/support/plans", quote="q")],
            confidence=0.7,
            could_help=True,
            outcome=ChatOutcome.ANSWERED,
            language="en",
            answered_at=utcnow(),
        ),
    )
    await assistant[CHAT_EVENTS].publish(event, q.conversation_id)

    async def recorded() -> bool:
        return await service.count("SELECT count(*) FROM chat_turns WHERE answer_id = $1", event.data.answer_id) == 1

    await eventually(recorded)
    return event


async def ask_in_slack(
    service: Service, chat_topic: ChatTopicReader, org: str, text: str, event_id: str
) -> tuple[str, ChatThread, ChatQuestionAsked]:
    """Bind a Slack channel for the org on Enterprise and ask the bot a question there; return the channel, the thread
    and the question ticket-service published."""
    channel = await bind(service, org, PlanCode.ENTERPRISE)
    first = mention(channel, text)
    await service.slack.post_event(service.client, "", first, event_id)
    thread = thread_of(service, channel, first["ts"])
    [asked] = await chat_topic.of_kind(thread.conversation_id, ChatQuestionAsked, 1)
    return channel, thread, asked


def thread_of(service: Service, channel: str, ts: str) -> ChatThread:
    return ChatThread(platform=ImPlatform.SLACK, workspace=service.slack.team_id, channel=channel, thread_ts=ts)


async def test_a_question_mention_goes_to_the_assistant_once_with_the_earlier_turns_named(
    service: Service, chat_topic: ChatTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    channel = await bind(service, org, PlanCode.ENTERPRISE)
    slack, client = service.slack, service.client
    posts = len(slack.of("chat.postMessage"))
    first = mention(channel, "How do I send alerts to PagerDuty?")
    started = time.monotonic()
    for retry in (None, 1):
        answered = await slack.post_event(client, "", first, f"Ev{unique}a", retry_num=retry)
        assert answered.status_code == 200
    assert time.monotonic() - started < 3, "Slack gets its answer within its 3-second window"
    follow = mention(channel, "and for Lark?", thread_ts=first["ts"])
    await slack.post_event(client, "", follow, f"Ev{unique}b")
    thread = thread_of(service, channel, first["ts"])
    asked = await chat_topic.of_kind(thread.conversation_id, ChatQuestionAsked, 2)
    assert [(q.data.text, q.data.org_id, q.data.user) for q in asked] == [
        ("How do I send alerts to PagerDuty?", org, "UCUSTOMER"),
        ("and for Lark?", org, "UCUSTOMER"),
    ]
    assert asked[0].data.thread == thread
    assert (asked[0].data.earlier, asked[1].data.earlier) == ([], [asked[0].data.question_id])
    assert asked[1].data.message_id == follow["ts"]
    assert len(slack.of("chat.postMessage")) == posts, "ticket-service posts nothing: the answer comes from notify"


async def test_asking_for_help_still_offers_the_raise_request_button(service: Service, unique: str) -> None:
    channel = await bind(service, f"org-{unique}", PlanCode.PREMIUM)
    slack = service.slack
    posts = len(slack.of("chat.postMessage"))
    for i, text in enumerate(("help", "raise a request", "we need help", "提工单")):
        await slack.post_event(service.client, "", mention(channel, text), f"Ev{unique}{i}")
        button = (await slack.wait_for("chat.postMessage", posts + i + 1))[-1]
        assert button.payload["blocks"][-1]["elements"][0]["action_id"] == "raise_request", text


async def test_without_ai_chat_a_question_gets_one_line_naming_the_plan(
    service: Service, chat_topic: ChatTopicReader, unique: str
) -> None:
    channel = await bind(service, f"org-{unique}", PlanCode.BASIC)
    slack = service.slack
    posts = len(slack.of("chat.postMessage"))
    event = mention(channel, "What does the Premium plan include?")
    await slack.post_event(service.client, "", event, f"Ev{unique}")
    line = (await slack.wait_for("chat.postMessage", posts + 1))[-1]
    assert line.payload["text"] == "AI chat needs the Enterprise plan or higher; this organisation is on Basic."
    assert line.payload["thread_ts"] == event["ts"]
    assert not line.payload.get("blocks"), "one line and nothing more"
    assert await chat_topic.events(thread_of(service, channel, event["ts"]).conversation_id, 1, timeout_s=1) == []


async def test_buttons_become_feedback_and_raise_request_opens_the_form_with_the_conversation_the_ticket_keeps(
    service: Service, chat_topic: ChatTopicReader, assistant: Publishers, unique: str
) -> None:
    org = f"org-{unique}"
    channel, thread, asked = await ask_in_slack(service, chat_topic, org, "How do I scale out TiKV?", f"Ev{unique}a")
    slack, client = service.slack, service.client
    answered = await answer(service, assistant, asked, "Add TiKV nodes from the console; data rebalances by itself.")
    helpful = ChatButton(
        kind=FeedbackKind.HELPFUL, answer_id=answered.data.answer_id, conversation_id=thread.conversation_id
    )
    payload = slack.action(channel, helpful.action_id, helpful.model_dump_json())
    assert (await slack.post_interaction(client, "", payload)).status_code == 200
    await slack.post_interaction(client, "", payload)  # pressed twice: Slack resends, the same press
    raise_it = helpful.model_copy(update={"kind": FeedbackKind.RAISE_REQUEST})
    views = len(slack.of("views.open"))
    await slack.post_interaction(client, "", slack.action(channel, raise_it.action_id, raise_it.model_dump_json()))
    modal = (await slack.wait_for("views.open", views + 1))[-1]
    blocks = {b["block_id"]: b for b in modal.payload["view"]["blocks"]}
    assert blocks["summary"]["element"]["initial_value"] == "How do I scale out TiKV?"
    description = blocks["description"]["element"]["initial_value"]
    assert "Q: How do I scale out TiKV?" in description
    assert "A: Add TiKV nodes from the console" in description
    assert "<https://docs.test/docs/support/plans>" in description

    # one outbox publishes a thread's feedback in order: a duplicate of the first press would come before the second
    given = await chat_topic.of_kind(thread.conversation_id, ChatFeedbackGiven, 2)
    assert [(f.data.kind, f.data.answer_id, f.data.org_id) for f in given] == [
        (FeedbackKind.HELPFUL, answered.data.answer_id, org),
        (FeedbackKind.RAISE_REQUEST, answered.data.answer_id, org),
    ]

    values = FORM | {"summary": blocks["summary"]["element"]["initial_value"], "description": description}
    created = await slack.post_interaction(client, "", slack.submit(modal, values))
    assert created.status_code == 200, created.text
    [listed] = (await client.get("/v1/tickets", params={"org_id": org}, headers=ENGINEER)).json()
    ticket = (await client.get(f"/v1/tickets/{listed['id']}", headers=bearer(TEST_JWT_SECRET, org, "member"))).json()
    assert ticket["summary"] == "How do I scale out TiKV?"
    assert "Q: How do I scale out TiKV?" in ticket["description"]
    assert [(t["question"], t["answer"]) for t in ticket["conversation"]] == [
        ("How do I scale out TiKV?", "Add TiKV nodes from the console; data rebalances by itself.")
    ]
    assert ticket["conversation"][0]["sources"][0]["url"] == "https://docs.test/docs/support/plans"


async def test_a_direct_message_is_a_question_of_the_workspaces_organisation(
    service: Service, chat_topic: ChatTopicReader, unique: str
) -> None:
    slack = service.slack
    slack.team_id = f"T{unique.upper()}"  # a workspace bound to this organisation only
    try:
        org = f"org-{unique}"
        await bind(service, org, PlanCode.ENTERPRISE)
        ts = f"{time.time():.6f}"
        dm = {"type": "message", "channel_type": "im", "user": "UCUSTOMER", "text": "What is Clinic?", "ts": ts}
        await slack.post_event(service.client, "", dm | {"channel": f"D{unique.upper()}"}, f"Ev{unique}")
        thread = thread_of(service, f"D{unique.upper()}", ts)
        [asked] = await chat_topic.of_kind(thread.conversation_id, ChatQuestionAsked, 1)
        assert (asked.data.org_id, asked.data.direct, asked.data.text) == (org, True, "What is Clinic?")
    finally:
        slack.team_id = "T0TEST"


async def test_a_lark_mention_question_goes_to_the_assistant_and_its_card_buttons_become_feedback(
    service: Service, chat_topic: ChatTopicReader, assistant: Publishers, unique: str
) -> None:
    org = f"org-{unique}"
    group = await bind(service, org, PlanCode.PREMIUM, platform="lark")
    lark, client = service.lark, service.client
    doc, message_id = lark.message_event(group, "如何配置 PagerDuty 告警？")
    assert (await lark.post(client, "/lark/events", doc)).status_code == 200
    thread = ChatThread(platform=ImPlatform.LARK, workspace=lark.tenant_key, channel=group, thread_ts=message_id)
    [asked] = await chat_topic.of_kind(thread.conversation_id, ChatQuestionAsked, 1)
    assert asked.data.text == "如何配置 PagerDuty 告警？"
    answered = await answer(service, assistant, asked, "在控制台添加 PagerDuty 订阅。")
    pressed = ChatButton(
        kind=FeedbackKind.NOT_HELPFUL, answer_id=answered.data.answer_id, conversation_id=thread.conversation_id
    )
    toast = await lark.post(client, "/lark/card", lark.card_action({"action": "assistant", **pressed.model_dump()}))
    assert toast.json()["toast"]["type"] == "success"
    cards = len([c for c in lark.calls if c.path.endswith("/ephemeral/v1/send")])
    raise_it = pressed.model_copy(update={"kind": FeedbackKind.RAISE_REQUEST})
    await lark.post(client, "/lark/card", lark.card_action({"action": "assistant", **raise_it.model_dump()}))
    card = (await lark.wait_for("/ephemeral/v1/send", cards + 1))[-1].payload["card"]
    fields = {e["name"]: e for e in card["body"]["elements"][0]["elements"] if e.get("tag") == "input"}
    assert fields["summary"]["default_value"] == "如何配置 PagerDuty 告警？"
    assert "A: 在控制台添加 PagerDuty 订阅。" in fields["description"]["default_value"]
    kinds = [e.data.kind for e in await chat_topic.of_kind(thread.conversation_id, ChatFeedbackGiven, 2)]
    assert kinds == [FeedbackKind.NOT_HELPFUL, FeedbackKind.RAISE_REQUEST]
    json.dumps(card)  # the card Lark gets is plain JSON


async def test_raise_request_pressed_before_the_answer_reached_ticket_service_still_opens_the_form(
    service: Service, chat_topic: ChatTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    text = "How do I rotate a TLS certificate?"
    channel, thread, asked = await ask_in_slack(service, chat_topic, org, text, f"Ev{unique}")
    slack, client = service.slack, service.client
    answer_id = answer_id_of(asked.data.question_id)  # notify-service posted it; it has not reached ticket-service
    elsewhere = ChatButton(kind=FeedbackKind.HELPFUL, answer_id=answer_id, conversation_id="cnv-" + "0" * 24)
    await slack.post_interaction(client, "", slack.action(channel, elsewhere.action_id, elsewhere.model_dump_json()))
    pressed = ChatButton(kind=FeedbackKind.RAISE_REQUEST, answer_id=answer_id, conversation_id=thread.conversation_id)
    views = len(slack.of("views.open"))
    await slack.post_interaction(client, "", slack.action(channel, pressed.action_id, pressed.model_dump_json()))
    modal = (await slack.wait_for("views.open", views + 1))[-1]
    blocks = {b["block_id"]: b for b in modal.payload["view"]["blocks"]}
    assert blocks["summary"]["element"]["initial_value"] == "How do I rotate a TLS certificate?"
    assert blocks["description"]["element"]["initial_value"].endswith("Q: How do I rotate a TLS certificate?")
    # the press naming another conversation recorded nothing: had it, its feedback would come first (one outbox)
    [_, given] = await chat_topic.events(thread.conversation_id, 2)
    assert isinstance(given, ChatFeedbackGiven)
    assert (given.data.kind, given.data.org_id, given.data.answer_id) == (
        FeedbackKind.RAISE_REQUEST,
        org,
        answer_id,
    )
