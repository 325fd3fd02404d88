"""chat.events.v1: a conversation is one chat thread, and the ids that make redelivery harmless are stable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from care_schemas.events.chat import (
    MAX_EARLIER,
    ChatQuestionAsked,
    ChatThread,
    chat_event_adapter,
    question_id_of,
)
from care_schemas.events.ticket import ImPlatform

pytestmark = pytest.mark.unit
GOLDEN = Path(__file__).parent / "golden"


def thread(channel: str = "C1", ts: str = "1700000000.000100") -> ChatThread:
    return ChatThread(platform=ImPlatform.SLACK, workspace="T1", channel=channel, thread_ts=ts)


def test_a_thread_keeps_one_conversation_id_and_other_threads_get_their_own() -> None:
    assert thread().conversation_id == thread().conversation_id
    assert thread().conversation_id != thread(ts="1700000000.000200").conversation_id
    assert thread().conversation_id != thread(channel="C2").conversation_id
    lark = ChatThread(platform=ImPlatform.LARK, workspace="T1", channel="C1", thread_ts="1700000000.000100")
    assert lark.conversation_id != thread().conversation_id
    assert thread().conversation_id.startswith("cnv-")


def test_the_same_chat_message_is_the_same_question_whatever_event_carried_it() -> None:
    assert question_id_of(thread(), "1700000050.1") == question_id_of(thread(), "1700000050.1")
    assert question_id_of(thread(), "1700000050.1") != question_id_of(thread(), "1700000050.2")


def test_a_question_with_too_many_earlier_turns_or_no_text_does_not_validate() -> None:
    doc = json.loads((GOLDEN / "care.chat.question_asked.v1.json").read_text())
    doc["data"]["earlier"] = [f"q-{i}" for i in range(MAX_EARLIER + 1)]
    with pytest.raises(ValidationError, match="earlier"):
        ChatQuestionAsked.model_validate(doc)
    doc["data"]["earlier"] = []
    doc["data"]["text"] = ""
    with pytest.raises(ValidationError, match="text"):
        chat_event_adapter.validate_python(doc)


def test_an_answer_outcome_outside_the_four_is_refused() -> None:
    doc = json.loads((GOLDEN / "care.chat.answered.v1.json").read_text())
    doc["data"]["outcome"] = "guessed"
    with pytest.raises(ValidationError, match="outcome"):
        chat_event_adapter.validate_python(doc)
