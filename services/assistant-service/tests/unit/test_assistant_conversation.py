"""Follow-up questions in a thread use the earlier question."""

from __future__ import annotations

import pytest

from assistant_service.domain.answer import extractive_answer, retrieve
from assistant_service.domain.conversation import Turn, build_query
from assistant_service.domain.index import KnowledgeIndex
from assistant_service.domain.text import Language

pytestmark = pytest.mark.unit


def test_short_follow_up_is_searched_with_the_previous_question(index: KnowledgeIndex) -> None:
    earlier = [Turn("How do I send our alerts to PagerDuty?")]
    alone = retrieve(index, "and for Lark?")
    follow = retrieve(index, "and for Lark?", earlier)
    assert follow.query.follow_up
    assert "PagerDuty" in follow.query.context
    assert follow.hits[0].passage.article_id == "alerts-lark"
    assert alone.hits[0].passage.article_id != "alerts-lark"  # alone, "Lark" is as much about tickets
    assert extractive_answer(follow).could_help


def test_referential_follow_up_in_chinese_uses_the_earlier_turn(index: KnowledgeIndex) -> None:
    earlier = [Turn("企业版 S1 工单多久响应？")]
    answer = extractive_answer(retrieve(index, "那 Premium 呢？", earlier))
    assert answer.could_help
    assert answer.language is Language.ZH
    assert "30 分钟" in answer.answer


def test_a_new_full_question_is_not_mixed_with_the_previous_one() -> None:
    query = build_query("How do I restore a backup into a new cluster?", [Turn("How do I subscribe Slack to alerts?")])
    assert not query.follow_up
    assert query.context == ""


def test_follow_up_without_words_answers_in_the_language_of_the_conversation() -> None:
    assert build_query("S2?", [Turn("企业版的响应时间是多少")]).language is Language.ZH
    assert build_query("S2?", [Turn("What are Enterprise's response targets?")]).language is Language.EN


def test_only_the_latest_earlier_question_joins_the_query() -> None:
    earlier = [Turn("How do I set up Zoom alerts?"), Turn("How do I set up PagerDuty alerts?")]
    query = build_query("and Lark?", earlier)
    assert "PagerDuty" in query.context
    assert "Zoom" not in query.context
