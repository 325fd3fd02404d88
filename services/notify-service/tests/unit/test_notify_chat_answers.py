"""The assistant's answers as posted: buttons by outcome, Slack blocks within Slack's limits with the sources as
links, a Lark card whose buttons call back with what ticket-service needs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from care_schemas.events.chat import (
    ChatAnswered,
    ChatAnsweredData,
    ChatButton,
    ChatOutcome,
    ChatSource,
    ChatThread,
    FeedbackKind,
)
from care_schemas.events.ticket import ImPlatform
from notify_service.adapters.channels.answers import lark_card, slack_blocks
from notify_service.domain.chat_answers import outgoing_answer

pytestmark = pytest.mark.unit
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def answered(
    outcome: ChatOutcome = ChatOutcome.ANSWERED,
    text: str = "Add a custom bot <to the group> & paste its webhook.",
    platform: ImPlatform = ImPlatform.SLACK,
    language: str = "en",
) -> ChatAnswered:
    thread = ChatThread(platform=platform, workspace="T1", channel="C1", thread_ts="1700000000.000100")
    sources = [
        ChatSource(title="Lark alerts | Steps", url="https://docs.test/docs/support/alerts-lark#steps", quote="q")
    ]
    return ChatAnswered.build(
        source="/assistant-service",
        subject=thread.conversation_id,
        data=ChatAnsweredData(
            answer_id="a-1",
            question_id="q-1",
            conversation_id=thread.conversation_id,
            org_id="org-1",
            thread=thread,
            question="How do I send alerts to Lark?",
            text=text,
            sources=sources if outcome is ChatOutcome.ANSWERED else [],
            confidence=0.6,
            could_help=outcome is ChatOutcome.ANSWERED,
            outcome=outcome,
            language=language,  # type: ignore[arg-type]
            answered_at=AT,
        ),
    )


def kinds(blocks: list[dict[str, object]]) -> list[str]:
    actions = [b for b in blocks if b["type"] == "actions"]
    if not actions:
        return []
    elements = actions[0]["elements"]
    assert isinstance(elements, list)
    return [ChatButton.model_validate_json(e["value"]).kind.value for e in elements]


def test_each_answer_goes_to_its_own_thread_with_the_buttons_its_outcome_calls_for() -> None:
    post = outgoing_answer(answered())
    assert (post.kind, post.org_id) == ("slack_answer", "org-1")
    assert post.target == {"workspace": "T1", "channel": "C1", "thread_ts": "1700000000.000100"}
    assert kinds(slack_blocks(post.body)) == ["helpful", "not_helpful", "raise_request"]
    assert kinds(slack_blocks(outgoing_answer(answered(ChatOutcome.DECLINED)).body)) == ["raise_request"]
    assert kinds(slack_blocks(outgoing_answer(answered(ChatOutcome.RATE_LIMITED)).body)) == ["raise_request"]
    line = slack_blocks(outgoing_answer(answered(ChatOutcome.NOT_ENTITLED, text="AI chat needs ...")).body)
    assert [b["type"] for b in line] == ["section"], "the plan line is one line and nothing more"
    assert outgoing_answer(answered(platform=ImPlatform.LARK)).kind == "lark_answer"


def test_slack_blocks_escape_the_text_link_the_sources_and_carry_the_answer_in_each_button() -> None:
    blocks = slack_blocks(outgoing_answer(answered()).body)
    assert blocks[0]["text"]["text"] == "Add a custom bot &lt;to the group&gt; &amp; paste its webhook."
    sources = blocks[1]["elements"][0]["text"]
    assert sources == "*Sources:* <https://docs.test/docs/support/alerts-lark#steps|Lark alerts / Steps>"
    buttons = blocks[2]["elements"]
    assert [b["action_id"] for b in buttons] == [
        "assistant_helpful",
        "assistant_not_helpful",
        "assistant_raise_request",
    ]
    assert {ChatButton.model_validate_json(b["value"]).answer_id for b in buttons} == {"a-1"}
    assert all(len(b["value"]) <= 2000 for b in buttons), "Slack's limit for a button value"


def test_a_long_answer_is_split_into_sections_slack_accepts() -> None:
    blocks = slack_blocks(outgoing_answer(answered(text="x" * 8000)).body)
    sections = [b for b in blocks if b["type"] == "section"]
    assert [len(s["text"]["text"]) for s in sections] == [3000, 3000, 2000]
    assert len(blocks) <= 50


def test_the_lark_card_links_the_sources_and_its_buttons_call_back_for_ticket_service() -> None:
    card = lark_card(outgoing_answer(answered(platform=ImPlatform.LARK, language="zh", text="添加自定义机器人。")).body)
    assert card["schema"] == "2.0"
    assert card["header"]["title"]["content"] == "Connected Care 智能助手"
    elements = card["body"]["elements"]
    assert elements[0] == {"tag": "markdown", "content": "添加自定义机器人。"}
    assert "[Lark alerts | Steps](https://docs.test/docs/support/alerts-lark#steps)" in elements[1]["content"]
    buttons = [e for e in elements if e["tag"] == "button"]
    assert [b["text"]["content"] for b in buttons] == ["有帮助", "没有帮助", "Raise request"]
    values = [b["behaviors"][0]["value"] for b in buttons]
    assert all(v["action"] == "assistant" and v["answer_id"] == "a-1" for v in values)
    assert [FeedbackKind(v["kind"]) for v in values] == list(FeedbackKind)


def test_a_long_chinese_answer_fits_a_lark_card() -> None:
    card = lark_card(outgoing_answer(answered(platform=ImPlatform.LARK, text="答" * 8000)).body)
    assert len(json.dumps(card, ensure_ascii=False).encode()) < 30_000
