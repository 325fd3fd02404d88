"""AI chat end to end: ticket-, assistant- and notify-service as processes on real Kafka and Postgres, with local
Slack- and Lark-compatible servers. A customer mentions the bot in Slack or Lark and the answer, with its sources,
arrives in the thread; Helpful is recorded; Raise request opens the form pre-filled with the conversation, which
the ticket carries; a Basic organisation gets the one plan line; a question the knowledge base cannot answer is
declined with Raise request offered; a follow-up in the thread uses the earlier turn."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from care_schemas.catalogue import PlanCode
from carekit_testing import TEST_JWT_SECRET, bearer, eventually
from tests.assistant_stack import DOCS, TICKETS, AssistantStack, running_stack
from tests.fakes.slack_server import ApiCall

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
FORM = {"severity": "S3", "kind": "technical", "reporter_email": "dba@customer.example"}


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def stack(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AssistantStack]:
    async with running_stack(kafka_bootstrap, database_url, tmp_path_factory.mktemp("assistant-e2e")) as running:
        yield running


def mention(channel: str, text: str, thread_ts: str | None = None) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    event = {"type": "app_mention", "user": "UCUSTOMER", "text": f"<@UBOT> {text}", "ts": ts, "channel": channel}
    return event | ({"thread_ts": thread_ts} if thread_ts else {})


async def ask_in_slack(
    stack: AssistantStack, channel: str, text: str, thread_ts: str | None = None
) -> tuple[str, ApiCall]:
    """Mention the bot; return the thread and the bot's next post in it (the answer)."""
    slack = stack.slack
    event = mention(channel, text, thread_ts)
    thread = thread_ts or event["ts"]

    def in_thread() -> list[ApiCall]:
        posts = slack.of("chat.postMessage")
        return [c for c in posts if (c.payload.get("channel"), c.payload.get("thread_ts")) == (channel, thread)]

    before = len(in_thread())
    answered = await slack.post_event(stack.http, stack.ticket.url, event, f"Ev{event['ts'].replace('.', '')}")
    assert answered.status_code == 200

    async def posted() -> ApiCall | None:
        found = in_thread()
        return found[before] if len(found) > before else None

    post: ApiCall = await eventually(posted, timeout_s=30)
    return thread, post


def blocks_of(post: ApiCall) -> list[dict[str, Any]]:
    blocks = post.payload.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def buttons(post: ApiCall) -> list[str]:
    return [e["action_id"] for b in blocks_of(post) if b["type"] == "actions" for e in b["elements"]]


def links(post: ApiCall) -> str:
    return " ".join(e["text"] for b in blocks_of(post) if b["type"] == "context" for e in b["elements"])


async def test_a_slack_question_is_answered_in_the_thread_with_sources_and_helpful_is_recorded(
    stack: AssistantStack,
) -> None:
    org, channel = await stack.enterprise_channel("slack")
    thread, post = await ask_in_slack(stack, channel, "How do I send our alerts to PagerDuty?")
    assert post.payload["thread_ts"] == thread
    assert f"<{DOCS}/docs/support/alerts-pagerduty" in links(post)
    assert "PagerDuty" in blocks_of(post)[0]["text"]["text"]
    assert buttons(post) == ["assistant_helpful", "assistant_not_helpful", "assistant_raise_request"]

    _, follow = await ask_in_slack(stack, channel, "and for Lark?", thread_ts=thread)
    assert f"<{DOCS}/docs/support/alerts-lark" in links(follow), "the follow-up is read with the earlier question"

    pressed = await stack.slack.post_interaction(
        stack.http, stack.ticket.url, stack.slack.press(post, "assistant_helpful")
    )
    assert pressed.status_code == 200
    value = json.loads(next(e["value"] for b in blocks_of(post) if b["type"] == "actions" for e in b["elements"]))
    member = bearer(TEST_JWT_SECRET, org, "member")

    async def recorded() -> list[dict[str, Any]] | None:
        answer = await stack.http.get(
            f"{stack.assistant.url}/v1/assistant/conversations/{value['conversation_id']}", headers=member
        )
        turns = answer.json()["turns"] if answer.status_code == 200 else []
        return turns if turns and turns[0]["feedback"] else None

    turns = await eventually(recorded, timeout_s=30)
    assert [(f["kind"], f["given_by"]) for f in turns[0]["feedback"]] == [("helpful", "UCUSTOMER")]
    assert [t["question"] for t in turns] == ["How do I send our alerts to PagerDuty?", "and for Lark?"]


async def test_raise_request_on_an_answer_opens_the_prefilled_form_and_the_ticket_carries_the_conversation(
    stack: AssistantStack,
) -> None:
    org, channel = await stack.enterprise_channel("slack")
    question = "How do I find slow queries?"
    thread, post = await ask_in_slack(stack, channel, question)
    views = len(stack.slack.of("views.open"))
    pressed = stack.slack.press(post, "assistant_raise_request")
    assert (await stack.slack.post_interaction(stack.http, stack.ticket.url, pressed)).status_code == 200
    modal = (await stack.slack.wait_for("views.open", views + 1))[-1]
    fields = {b["block_id"]: b["element"] for b in modal.payload["view"]["blocks"] if b["type"] == "input"}
    assert fields["summary"]["initial_value"] == question
    description = fields["description"]["initial_value"]
    assert f"Q: {question}" in description
    assert "A: " in description
    assert f"<{DOCS}/docs/support/" in description

    values = FORM | {"summary": question, "description": description}
    created = await stack.slack.post_interaction(stack.http, stack.ticket.url, stack.slack.submit(modal, values))
    assert created.status_code == 200

    async def confirmed() -> ApiCall | None:
        found = [
            c
            for c in stack.slack.of("chat.postMessage")
            if c.payload.get("thread_ts") == thread and f"{TICKETS}/tickets/" in c.payload.get("text", "")
        ]
        return found[0] if found else None

    await eventually(confirmed, timeout_s=30)
    member = bearer(TEST_JWT_SECRET, org, "member")
    [listed] = (await stack.http.get(f"{stack.ticket.url}/v1/tickets", headers=member)).json()
    ticket = (await stack.http.get(f"{stack.ticket.url}/v1/tickets/{listed['id']}", headers=member)).json()
    assert (ticket["summary"], ticket["channel"]) == (question, "slack")
    [turn] = ticket["conversation"]
    assert turn["question"] == question
    assert turn["answer"], "the assistant's answer came with the ticket"
    assert turn["sources"], "and its sources"


async def test_a_lark_question_is_answered_by_a_card_in_the_thread_with_sources(stack: AssistantStack) -> None:
    _, group = await stack.enterprise_channel("lark", PlanCode.PREMIUM)
    lark = stack.lark
    replies = len([c for c in lark.calls if c.path.endswith("/reply")])
    doc, message_id = lark.message_event(group, "如何把告警发送到飞书群？")
    assert (await lark.post(stack.http, f"{stack.ticket.url}/lark/events", doc)).status_code == 200
    reply = (await lark.wait_for("/reply", replies + 1, timeout_s=30))[-1]
    assert reply.path == f"/open-apis/im/v1/messages/{message_id}/reply"
    assert (reply.payload["msg_type"], reply.payload["reply_in_thread"]) == ("interactive", True)
    card = json.loads(reply.payload["content"])
    text = json.dumps(card, ensure_ascii=False)
    assert f"({DOCS}/zh/docs/support/alerts-lark" in text
    assert [v["kind"] for v in lark.buttons(card)] == ["helpful", "not_helpful", "raise_request"]


async def test_a_basic_organisations_question_gets_the_one_line_naming_the_plan(stack: AssistantStack) -> None:
    org, channel = await stack.enterprise_channel("slack")
    await stack.set_plan(org, PlanCode.BASIC, 2)

    async def suspended() -> bool:
        rows = (
            await stack.http.get(
                f"{stack.ticket.url}/v1/im-bindings",
                params={"org_id": org},
                headers=bearer(TEST_JWT_SECRET, "vendor", "support_engineer"),
            )
        ).json()
        return bool(rows) and rows[0]["state"] == "suspended"

    await eventually(suspended, timeout_s=30, interval_s=0.3)
    _, line = await ask_in_slack(stack, channel, "How do I open a ticket from Slack?")
    assert line.payload["text"] == "AI chat needs the Enterprise plan or higher; this organisation is on Basic."
    assert not blocks_of(line), "one line and nothing more"


async def test_a_question_the_knowledge_base_cannot_answer_is_declined_with_raise_request(
    stack: AssistantStack,
) -> None:
    _, channel = await stack.enterprise_channel("slack")
    _, post = await ask_in_slack(stack, channel, "What is a good recipe for sourdough bread?")
    assert "can't answer that from the knowledge base" in blocks_of(post)[0]["text"]["text"]
    assert links(post) == "", "a decline quotes no sources"
    assert buttons(post) == ["assistant_raise_request"]
