"""Retrieval over the shipped knowledge base, in English and Chinese, and declines outside it."""

from __future__ import annotations

import pytest

from assistant_service.domain.answer import DEFAULT_MIN_CONFIDENCE, extractive_answer, retrieve
from assistant_service.domain.index import KnowledgeIndex
from assistant_service.domain.text import Language, detect_language

pytestmark = pytest.mark.unit

# Phrased differently from the evaluation set (services/assistant-service/eval/questions.yaml).
FOUND = [
    ("What does the Premium plan give us that Enterprise doesn't?", "plan-premium"),
    ("How long do we have until the legacy premium plan is switched off?", "legacy-retirement"),
    ("Is a credit card needed for the developer trial?", "free-trial"),
    ("Which PagerDuty key do I paste into the subscriber form?", "alerts-pagerduty"),
    ("changefeed shows FAILED, how do I resume it", "alert-changefeed-failed"),
    ("Our connection pool hands out dead connections after idle time", "db-connections"),
    ("高级版和企业版有什么不同", "plan-premium"),
    ("传统 Premium 计划什么时候退役", "legacy-retirement"),
    ("开发者版试用需要绑定信用卡付款吗", "free-trial"),
    ("飞书机器人的签名密钥在哪里配置", "alerts-lark"),
    ("变更流失败了怎么恢复", "alert-changefeed-failed"),
    ("存储空间快用完了怎么办", "alert-storage-high"),
]

OUTSIDE = [
    "What time does the sun set in Lisbon in July?",
    "How do I make a sourdough starter?",
    "How much does Google Cloud charge for BigQuery storage?",
    "下周去东京旅游要带什么",
    "用 Go 语言怎么读取文件",
    "华为云的发票怎么开",
]


def _articles(index: KnowledgeIndex, question: str) -> list[str]:
    ranked: list[str] = []
    for hit in retrieve(index, question).hits:
        if hit.passage.article_id not in ranked:
            ranked.append(hit.passage.article_id)
    return ranked


@pytest.mark.parametrize(("question", "article"), FOUND)
def test_question_finds_the_article_that_answers_it(index: KnowledgeIndex, question: str, article: str) -> None:
    assert article in _articles(index, question)[:3]


@pytest.mark.parametrize("question", [q for q, _ in FOUND])
def test_answer_quotes_its_sources_in_the_question_language(index: KnowledgeIndex, question: str) -> None:
    answer = extractive_answer(retrieve(index, question))
    language = detect_language(question)
    assert answer.could_help
    assert answer.language is language
    assert 0 < answer.confidence <= 1
    assert answer.sources
    for source in answer.sources:
        assert source.url.startswith(f"/{'zh/' if language is Language.ZH else ''}docs/support/")
        assert source.quote
        assert source.quote[:20] in answer.answer


@pytest.mark.parametrize("question", OUTSIDE)
def test_question_outside_the_knowledge_base_is_declined(index: KnowledgeIndex, question: str) -> None:
    answer = extractive_answer(retrieve(index, question))
    assert not answer.could_help
    assert answer.sources == ()
    assert answer.confidence < DEFAULT_MIN_CONFIDENCE
    assert "Raise request" in answer.answer
    assert answer.language is detect_language(question)


def test_chinese_question_is_answered_from_chinese_articles(index: KnowledgeIndex) -> None:
    answer = extractive_answer(retrieve(index, "企业版 S2 工单的响应时间是多少"))
    assert answer.language is Language.ZH
    assert all(s.url.startswith("/zh/") for s in answer.sources)
    assert "2 小时" in answer.answer


def test_english_question_with_a_chinese_product_word_stays_english() -> None:
    assert detect_language("How do I send alerts to a 飞书 group?") is Language.EN
    assert detect_language("如何配置 PagerDuty 告警") is Language.ZH
    assert detect_language("???") is Language.EN


def test_empty_or_stopword_question_is_declined(index: KnowledgeIndex) -> None:
    for question in ("", "   ", "how what is the", "的 了 吗"):
        assert not extractive_answer(retrieve(index, question)).could_help
