"""The language-model composer against a local chat-completions server: grounded answers, masking, fallbacks."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from chat_completions_server import API_KEY, MODEL, ChatCompletionsServer, Scripted, chat_completions_server

from assistant_service.adapters.llm import ChatCompletionsClient, LlmError
from assistant_service.domain.answer import Composer
from assistant_service.domain.conversation import Turn
from assistant_service.domain.index import KnowledgeIndex
from assistant_service.domain.text import Language
from assistant_service.handlers.compose import Assistant

pytestmark = [pytest.mark.unit, pytest.mark.asyncio(loop_scope="session")]

QUESTION = "How quickly is an S1 ticket answered on the Enterprise plan?"


@pytest_asyncio.fixture(loop_scope="session")
async def server() -> AsyncIterator[ChatCompletionsServer]:
    async with chat_completions_server() as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _assistant(
    index: KnowledgeIndex,
    server: ChatCompletionsServer,
    session: aiohttp.ClientSession,
    *,
    key: str = API_KEY,
    model: str = MODEL,
    timeout_s: float = 5.0,
) -> Assistant:
    return Assistant(index, ChatCompletionsClient(session, server.base_url, key, model, timeout_s))


async def test_model_writes_the_answer_from_the_passages_it_cites(
    index: KnowledgeIndex, server: ChatCompletionsServer, session: aiohttp.ClientSession
) -> None:
    server.reply = lambda _body: "On Enterprise an S1 ticket gets a first answer within 1 hour, day and night [1]."
    answer = await _assistant(index, server, session).ask(QUESTION)
    assert answer.composer is Composer.LLM
    assert answer.could_help
    assert answer.answer.startswith("On Enterprise an S1 ticket")
    assert len(answer.sources) == 1
    sent = server.requests[-1]
    assert sent["model"] == MODEL
    assert server.headers[-1]["Authorization"] == f"Bearer {API_KEY}"
    system, user = sent["messages"]
    assert "ONLY the numbered passages" in system["content"]
    assert "English" in system["content"]
    assert "[1] " in user["content"]
    assert answer.sources[0].quote.split("\n")[0][:30] in user["content"]
    assert QUESTION in user["content"]


async def test_model_is_asked_to_answer_in_chinese_for_a_chinese_question(
    index: KnowledgeIndex, server: ChatCompletionsServer, session: aiohttp.ClientSession
) -> None:
    server.reply = lambda _body: "企业版 S1 工单 1 小时内响应 [1]。"
    answer = await _assistant(index, server, session).ask("企业版 S1 工单多久响应")
    assert answer.language is Language.ZH
    assert "Simplified Chinese" in server.requests[-1]["messages"][0]["content"]
    assert all(s.url.startswith("/zh/") for s in answer.sources)


async def test_model_that_finds_no_answer_in_the_passages_gives_a_decline(
    index: KnowledgeIndex, server: ChatCompletionsServer, session: aiohttp.ClientSession
) -> None:
    server.reply = lambda _body: "CANNOT_ANSWER"
    answer = await _assistant(index, server, session).ask(QUESTION)
    assert not answer.could_help
    assert answer.sources == ()
    assert "Raise request" in answer.answer


async def test_question_outside_the_knowledge_base_is_declined_without_calling_the_model(
    index: KnowledgeIndex, server: ChatCompletionsServer, session: aiohttp.ClientSession
) -> None:
    before = len(server.requests)
    answer = await _assistant(index, server, session).ask("What's the weather in Berlin tomorrow?")
    assert not answer.could_help
    assert len(server.requests) == before


async def test_secrets_and_emails_never_reach_the_model(
    index: KnowledgeIndex, server: ChatCompletionsServer, session: aiohttp.ClientSession
) -> None:
    secrets = [
        "hunter2-Pa55",
        "s3cretDbPw",
        "T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx",
        "xoxb-1111111111-2222222222-AbCdEfGhIjKl",
        "0123456789abcdef0123456789abcdef",
        "ops.lead@customer.example.com",
        "mallory@corp.example.org",
    ]
    question = (
        "Our app gets 'too many connections' on mysql://app:s3cretDbPw@gateway.example.com:4000/shop "
        "(password hunter2-Pa55), how should we size the connection pool? Reply to ops.lead@customer.example.com"
    )
    earlier = [
        Turn(
            "I'm mallory@corp.example.org; our alerts go to https://hooks.slack.com/services/"
            "T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx, bot token xoxb-1111111111-2222222222-AbCdEfGhIjKl, "
            "pagerduty integration key 0123456789abcdef0123456789abcdef"
        )
    ]
    server.reply = lambda _body: "Lower the pool size per instance [1]."
    answer = await _assistant(index, server, session).ask(question, earlier)
    assert answer.composer is Composer.LLM
    sent = server.sent_text()
    for secret in secrets:
        assert secret not in sent
    assert "too many connections" in sent  # the question itself still reaches the model
    assert "[secret]" in sent
    assert "[email]" in sent


@pytest.mark.parametrize(
    ("scripted", "reason"),
    [
        (
            Scripted(500, json.dumps({"error": {"message": "The server had an error"}})),
            "HTTP 500: The server had an error",
        ),
        (Scripted(429, json.dumps({"error": {"message": "Rate limit reached"}})), "HTTP 429: Rate limit reached"),
        (Scripted(503, "<html>Service Unavailable</html>"), "HTTP 503: <html>Service Unavailable</html>"),
        (Scripted(200, "not json at all"), "reply is not JSON"),
        (Scripted(200, json.dumps({"choices": []})), "no choices[0].message.content"),
        (Scripted(200, json.dumps({"choices": [{"message": {"content": None}}]})), "not text"),
    ],
)
async def test_model_failure_falls_back_to_the_extractive_answer(
    index: KnowledgeIndex,
    server: ChatCompletionsServer,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    scripted: Scripted,
    reason: str,
) -> None:
    server.scripted.append(scripted)
    with caplog.at_level(logging.WARNING, logger="assistant_service.assistant"):
        answer = await _assistant(index, server, session).ask(QUESTION)
    assert answer.composer is Composer.EXTRACTIVE_FALLBACK
    assert answer.could_help
    assert answer.sources
    assert "1 hour" in answer.answer
    assert reason in caplog.text


async def test_wrong_key_and_unknown_model_fall_back_and_say_why(
    index: KnowledgeIndex,
    server: ChatCompletionsServer,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="assistant_service.assistant"):
        wrong_key = await _assistant(index, server, session, key="sk-wrong-key-000000000000000").ask(QUESTION)
        wrong_model = await _assistant(index, server, session, model="no-such-model").ask(QUESTION)
    assert wrong_key.composer is wrong_model.composer is Composer.EXTRACTIVE_FALLBACK
    assert "HTTP 401: Incorrect API key provided." in caplog.text
    assert "HTTP 404: The model `no-such-model` does not exist." in caplog.text
    assert "sk-wrong-key" not in caplog.text


async def test_slow_model_times_out_and_the_extractive_answer_is_given(
    index: KnowledgeIndex, server: ChatCompletionsServer, session: aiohttp.ClientSession
) -> None:
    server.scripted.append(Scripted(delay_s=2.0))
    answer = await _assistant(index, server, session, timeout_s=0.3).ask(QUESTION)
    assert answer.composer is Composer.EXTRACTIVE_FALLBACK
    assert answer.could_help


async def test_unreachable_model_is_a_network_error(session: aiohttp.ClientSession) -> None:
    client = ChatCompletionsClient(session, "http://127.0.0.1:9/v1", API_KEY, MODEL, 2.0)
    with pytest.raises(LlmError, match="network error"):
        await client.complete([{"role": "user", "content": "hi"}])


async def test_reply_that_cites_no_passage_lists_every_passage_it_was_given(
    index: KnowledgeIndex, server: ChatCompletionsServer, session: aiohttp.ClientSession
) -> None:
    server.reply = lambda _body: "An S1 ticket on Enterprise gets a first answer within an hour."
    answer = await _assistant(index, server, session).ask(QUESTION)
    given = len(re.findall(r"^\[\d+\] ", server.requests[-1]["messages"][1]["content"], re.MULTILINE))
    assert given >= 2
    assert len(answer.sources) == given


async def test_citations_beyond_the_passages_given_are_ignored(
    index: KnowledgeIndex, server: ChatCompletionsServer, session: aiohttp.ClientSession
) -> None:
    server.reply = lambda _body: "Within 1 hour [1] [7]."
    answer = await _assistant(index, server, session).ask(QUESTION)
    assert len(answer.sources) == 1
