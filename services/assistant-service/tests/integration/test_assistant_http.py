"""POST /v1/assistant/ask and the conversation API, on real Postgres (and Kafka for the skeleton): the plan
decides, the rate limit answers 429 with Retry-After, follow-ups continue a conversation, organisations never
see each other's conversations."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from assistant_harness import Running, fresh_settings, in_process

from care_schemas.catalogue import PlanCode
from carekit_testing import TEST_JWT_SECRET, bearer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def assistant(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Running]:
    settings = await fresh_settings(
        kafka_bootstrap, database_url, "assistant-it", assistant_rate_per_s=0.05, assistant_burst=3
    )
    async with in_process(settings) as running:
        yield running


def org() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


async def test_an_enterprise_member_gets_an_answer_with_linked_sources(assistant: Running) -> None:
    customer = org()
    await assistant.set_plan(customer, PlanCode.ENTERPRISE)
    answer = await assistant.client.post(
        "/v1/assistant/ask",
        json={"question": "How do I send our alerts to PagerDuty?"},
        headers=bearer(TEST_JWT_SECRET, customer, "member"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["could_help"] is True
    assert 0 < body["confidence"] <= 1
    assert body["conversation_id"].startswith("cnv-")
    assert body["sources"], "an answer names its sources"
    assert all(s["url"].startswith("https://docs.test/docs/support/") for s in body["sources"])
    assert any("pagerduty" in s["url"] for s in body["sources"])
    assert all(s["quote"] and s["title"] for s in body["sources"])


async def test_a_basic_organisation_is_told_which_plan_includes_ai_chat(assistant: Running) -> None:
    for plan in (PlanCode.BASIC, PlanCode.DEVELOPER, PlanCode.LEGACY_ENTERPRISE):
        customer = org()
        await assistant.set_plan(customer, plan)
        refused = await assistant.client.post(
            "/v1/assistant/ask",
            json={"question": "What does the Premium plan include?"},
            headers=bearer(TEST_JWT_SECRET, customer, "org_owner"),
        )
        assert refused.status_code == 403
        body = refused.json()
        assert (body["plan"], body["plan_needed"]) == (plan.value, "enterprise")
        assert body["detail"].startswith("AI chat needs the Enterprise plan or higher; this organisation is on ")


async def test_an_unknown_question_is_declined_without_sources(assistant: Running) -> None:
    customer = org()
    await assistant.set_plan(customer, PlanCode.PREMIUM)
    body = (
        await assistant.client.post(
            "/v1/assistant/ask",
            json={"question": "What is a good recipe for sourdough bread?"},
            headers=bearer(TEST_JWT_SECRET, customer, "member"),
        )
    ).json()
    assert body["could_help"] is False
    assert body["sources"] == []
    assert "Raise request" in body["answer"]


async def test_a_follow_up_continues_the_conversation_and_uses_the_earlier_question(assistant: Running) -> None:
    customer = org()
    await assistant.set_plan(customer, PlanCode.ENTERPRISE)
    headers = bearer(TEST_JWT_SECRET, customer, "member")
    first = (
        await assistant.client.post(
            "/v1/assistant/ask", json={"question": "How do I send our alerts to PagerDuty?"}, headers=headers
        )
    ).json()
    follow = (
        await assistant.client.post(
            "/v1/assistant/ask",
            json={"question": "and for Lark?", "conversation_id": first["conversation_id"]},
            headers=headers,
        )
    ).json()
    assert follow["conversation_id"] == first["conversation_id"]
    assert follow["could_help"] is True
    assert "alerts-lark" in follow["sources"][0]["url"], follow["sources"]
    turns = await assistant.client.get(f"/v1/assistant/conversations/{first['conversation_id']}", headers=headers)
    assert [t["question"] for t in turns.json()["turns"]] == ["How do I send our alerts to PagerDuty?", "and for Lark?"]


async def test_another_organisations_conversation_is_not_found(assistant: Running) -> None:
    mine, theirs = org(), org()
    for o in (mine, theirs):
        await assistant.set_plan(o, PlanCode.ENTERPRISE)
    started = (
        await assistant.client.post(
            "/v1/assistant/ask",
            json={"question": "What is Clinic?"},
            headers=bearer(TEST_JWT_SECRET, theirs, "member"),
        )
    ).json()
    mine_headers = bearer(TEST_JWT_SECRET, mine, "org_owner")
    cid = started["conversation_id"]
    assert (await assistant.client.get(f"/v1/assistant/conversations/{cid}", headers=mine_headers)).status_code == 404
    continued = await assistant.client.post(
        "/v1/assistant/ask", json={"question": "and Premium?", "conversation_id": cid}, headers=mine_headers
    )
    assert continued.status_code == 404
    staff = bearer(TEST_JWT_SECRET, "vendor", "support_engineer")
    assert (await assistant.client.get(f"/v1/assistant/conversations/{cid}", headers=staff)).status_code == 200


async def test_past_the_rate_limit_the_organisation_gets_429_with_retry_after(assistant: Running) -> None:
    customer, other = org(), org()
    for o in (customer, other):
        await assistant.set_plan(o, PlanCode.ENTERPRISE)
    headers = bearer(TEST_JWT_SECRET, customer, "member")
    answers = [
        await assistant.client.post("/v1/assistant/ask", json={"question": "What is Clinic?"}, headers=headers)
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert "ask again in" in answers[-1].json()["detail"]
    elsewhere = await assistant.client.post(
        "/v1/assistant/ask", json={"question": "What is Clinic?"}, headers=bearer(TEST_JWT_SECRET, other, "member")
    )
    assert elsewhere.status_code == 200, "one organisation's questions never slow another down"


async def test_bad_questions_are_422_naming_the_field_and_a_missing_token_401(assistant: Running) -> None:
    headers = bearer(TEST_JWT_SECRET, org(), "member")
    for body, field in (
        ({"question": "   "}, "body.question"),
        ({"question": "a\u0000b"}, "body.question"),
        ({}, "body.question"),
        ({"question": "x", "extra": 1}, "body.extra"),
    ):
        answer = await assistant.client.post("/v1/assistant/ask", json=body, headers=headers)
        assert answer.status_code == 422, body
        assert field in [e["field"] for e in answer.json()["errors"]]
    assert (await assistant.client.post("/v1/assistant/ask", json={"question": "x"})).status_code == 401
