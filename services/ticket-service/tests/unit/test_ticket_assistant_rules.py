"""Which mentions ask the assistant a question and which ask for a ticket, the plan line, and the conversation as
the ticket form shows it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from care_schemas.catalogue import PlanCode, catalogue
from ticket_service.domain.assistant import ChatTurn, clean, entitled, plan_line, prefill, transcript, wants_a_ticket

pytestmark = pytest.mark.unit
AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "<@UBOT>",
        "<@UBOT> help",
        "<@UBOT> Help!",
        "@_user_1 we need help",
        "<@UBOT> please help",
        "<@UBOT> raise a request",
        "<@UBOT> open a ticket: cluster down since 8:00",
        "<@UBOT> create a support ticket",
        "<@UBOT> talk to a human",
        "@_user_1 提工单",
        "@_user_1 帮我创建一个工单，集群连不上",
        "@_user_1 转人工",
        "@_user_1 求助",
    ],
)
def test_a_request_for_a_person_or_a_ticket_is_not_a_question(text: str) -> None:
    assert wants_a_ticket(text)


@pytest.mark.parametrize(
    "text",
    [
        "<@UBOT> How do I send alerts to PagerDuty?",
        "<@UBOT> can you help me understand the S1 response target?",
        "<@UBOT> PD is flapping",
        "<@UBOT> what does a ticket cost on Basic?",
        "@_user_1 如何配置 PagerDuty 告警？",
        "@_user_1 工单的响应时间是多少",
    ],
)
def test_anything_else_is_a_question_for_the_assistant(text: str) -> None:
    assert not wants_a_ticket(text)


def test_mentions_are_removed_from_the_question() -> None:
    assert clean("<@UBOT>  How do I <#C1|ops> scale?") == "How do I scale?"
    assert clean("@_user_1 如何扩容 @_user_2") == "如何扩容"


def test_ai_chat_is_the_plans_flag_and_the_line_names_the_cheapest_plan() -> None:
    assert [p.code for p in catalogue().plans if entitled(p.entitlements)] == [PlanCode.ENTERPRISE, PlanCode.PREMIUM]
    assert plan_line(PlanCode.DEVELOPER, "How do I scale?") == (
        "AI chat needs the Enterprise plan or higher; this organisation is on Developer."
    )
    assert (
        plan_line(PlanCode.BASIC, "如何扩容？")
        == "AI 智能问答包含在 Enterprise 及以上方案中；本组织当前为 Basic 方案。"
    )


def turn(n: int, answer: str | None = "Use the console.") -> ChatTurn:
    sources = [{"title": "Scaling", "url": "https://docs.test/scaling", "quote": "q"}] if answer else []
    return ChatTurn(f"q-{n}", f"Question {n}?", "U1", AT, f"a-{n}" if answer else None, answer, sources, True)


def test_the_form_starts_with_the_pressed_answers_question_and_the_whole_conversation() -> None:
    turns = [turn(1), turn(2), turn(3, answer=None)]
    values = prefill(turns, "slack", "q-1", 3000)
    assert values["summary"] == "Question 1?"
    assert values["description"].splitlines()[0] == "Asked the support assistant in Slack first:"
    assert "Q: Question 1?\nA: Use the console.\nSources: Scaling <https://docs.test/scaling>" in values["description"]
    assert values["description"].endswith("Q: Question 3?")
    assert prefill(turns, "lark", None, 3000)["summary"] == "Question 3?"
    assert prefill(turns, "lark", "q-3", 3000)["summary"] == "Question 3?"  # its answer is not here yet
    assert prefill([], "slack", None, 3000) == {}


def test_a_long_conversation_keeps_its_latest_turns_within_the_limit() -> None:
    turns = [turn(n, answer="x" * 2000) for n in range(10)]
    text = transcript(turns, "slack", 3000)
    assert len(text) <= 3000
    assert "Question 9?" in text
    assert "Question 0?" not in text
    assert "x" * 600 + " …" in text, "each answer is quoted up to 600 characters"
