"""The answers that are not from the knowledge base, decided by the plan's flag, and links a person can open."""

from __future__ import annotations

import pytest

from assistant_service.domain import replies
from assistant_service.domain.answer import Answer, Source
from assistant_service.domain.articles import Article
from assistant_service.domain.exchanges import absolute
from assistant_service.domain.index import KnowledgeIndex
from assistant_service.domain.text import Language
from care_schemas.catalogue import PlanCode, catalogue

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("plan", list(PlanCode))
def test_ai_chat_follows_the_catalogue_flag_of_every_plan(plan: PlanCode) -> None:
    entitlements = catalogue().get(plan).entitlements
    assert replies.entitled(entitlements) is (plan in (PlanCode.ENTERPRISE, PlanCode.PREMIUM))


def test_the_plan_line_names_the_cheapest_plan_with_ai_chat_in_the_question_language() -> None:
    assert replies.plan_needed() is PlanCode.ENTERPRISE
    assert replies.plan_line(PlanCode.DEVELOPER, Language.EN) == (
        "AI chat needs the Enterprise plan or higher; this organisation is on Developer."
    )
    assert replies.plan_line(PlanCode.LEGACY_PREMIUM, Language.ZH) == (
        "AI 智能问答包含在 Enterprise 及以上方案中；本组织当前为 Premium (legacy) 方案。"
    )
    assert "\n" not in replies.plan_line(PlanCode.BASIC, Language.EN)


def test_the_rate_line_rounds_the_wait_up_to_whole_seconds() -> None:
    assert replies.rate_line(0.2, Language.EN).endswith("ask again in 1 s.")
    assert "3 秒" in replies.rate_line(2.01, Language.ZH)


def test_source_paths_become_links_and_absolute_links_stay() -> None:
    answer = Answer(
        answer="x",
        sources=(
            Source(title="a", url="/docs/support/alerts-lark#steps", quote="q"),
            Source(title="b", url="https://elsewhere.example/x", quote="q"),
        ),
        confidence=0.5,
        could_help=True,
        language=Language.EN,
    )
    linked = absolute(answer, "https://docs.example/")
    assert [s.url for s in linked.sources] == [
        "https://docs.example/docs/support/alerts-lark#steps",
        "https://elsewhere.example/x",
    ]


def test_several_changes_apply_at_once_and_removals_of_unknown_articles_are_ignored() -> None:
    def article(article_id: str, language: Language, words: str) -> Article:
        return Article(id=article_id, language=language, title=words, url=f"/{article_id}", body=f"{words} body")

    index = KnowledgeIndex([article("one", Language.EN, "gizmotron flux")])
    index.apply(
        upserted=[article("two", Language.EN, "quantum sprocket"), article("san", Language.ZH, "量子 齿轮")],
        removed=[(Language.EN, "one"), (Language.EN, "never-there")],
    )
    assert [a.id for a in index.articles()] == ["two", "san"]
    assert index.search("gizmotron", Language.EN) == []
    assert index.search("sprocket", Language.EN)[0].passage.article_id == "two"
