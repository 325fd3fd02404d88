"""The index: articles added, changed and removed are searchable at once; the shipped articles are sound."""

from __future__ import annotations

import pytest

from assistant_service.domain.articles import Article, ArticleError, parse_markdown, passages
from assistant_service.domain.index import KnowledgeIndex
from assistant_service.domain.text import Language

pytestmark = pytest.mark.unit


def _article(body: str, id: str = "quota-limits", language: Language = Language.EN, title: str = "Quotas") -> Article:
    return Article(id=id, language=language, title=title, url=f"/docs/support/{id}", tags=("quota",), body=body)


def test_added_article_is_found_by_the_next_search(articles: list[Article]) -> None:
    index = KnowledgeIndex(articles)
    assert not any(h.passage.article_id == "quota-limits" for h in index.search("zebra quota", Language.EN))
    assert index.upsert(_article("## Zebra quota\nEach organisation may keep 12 zebras."))
    assert index.search("how many zebras may we keep", Language.EN)[0].passage.article_id == "quota-limits"


def test_updated_article_answers_with_its_new_text_only(articles: list[Article]) -> None:
    index = KnowledgeIndex(articles)
    index.upsert(_article("## Zebra quota\nEach organisation may keep 12 zebras."))
    assert not index.upsert(_article("## Giraffe quota\nEach organisation may keep 3 giraffes."))
    assert index.search("giraffes", Language.EN)[0].passage.article_id == "quota-limits"
    assert all(h.passage.article_id != "quota-limits" for h in index.search("zebras", Language.EN))
    assert len([a for a in index.articles(Language.EN) if a.id == "quota-limits"]) == 1


def test_removed_article_is_no_longer_found(articles: list[Article]) -> None:
    index = KnowledgeIndex(articles)
    index.upsert(_article("## Zebra quota\nEach organisation may keep 12 zebras."))
    assert index.remove(Language.EN, "quota-limits")
    assert index.search("zebras", Language.EN) == []
    assert not index.remove(Language.EN, "quota-limits")
    assert index.get(Language.EN, "quota-limits") is None


def test_a_change_in_one_language_leaves_the_other_alone(articles: list[Article]) -> None:
    index = KnowledgeIndex(articles)
    zh_before = index.passage_count(Language.ZH)
    index.remove(Language.EN, "free-trial")
    assert index.passage_count(Language.ZH) == zh_before
    assert index.search("免费试用多久", Language.ZH)[0].passage.article_id == "free-trial"
    assert all(h.passage.article_id != "free-trial" for h in index.search("free trial", Language.EN))


def test_empty_index_finds_nothing() -> None:
    index = KnowledgeIndex()
    assert index.search("anything", Language.EN) == []
    index.upsert(_article("## Only\nThe only article.", language=Language.ZH))
    assert index.search("only article", Language.EN) == []


def test_sections_become_passages_with_anchors() -> None:
    parts = passages(_article("Intro line.\n\n## First part\nOne.\n\n## Second: part two\nTwo."))
    assert [(p.heading, p.url) for p in parts] == [
        ("", "/docs/support/quota-limits"),
        ("First part", "/docs/support/quota-limits#first-part"),
        ("Second: part two", "/docs/support/quota-limits#second-part-two"),
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("no front matter at all", "missing id, title, language, url"),
        ("---\nid: x\ntitle: T\nlanguage: fr\nurl: /docs/x\n---\nbody", "language"),
        ("---\nid: Bad Id\ntitle: T\nlanguage: en\nurl: /docs/x\n---\nbody", "id"),
        ("---\nid: x\ntitle: T\nlanguage: en\nurl: /docs/x\n---\n", "body"),
        ("---\nid: x\ntitle: [unclosed\n---\nbody", "front matter"),
    ],
)
def test_article_that_cannot_be_stored_is_refused_naming_the_field(source: str, message: str) -> None:
    with pytest.raises(ArticleError, match=message):
        parse_markdown(source)


def test_shipped_knowledge_base_has_every_article_in_both_languages(articles: list[Article]) -> None:
    en = {a.id for a in articles if a.language is Language.EN}
    zh = {a.id for a in articles if a.language is Language.ZH}
    assert en == zh
    assert len(en) >= 25
    assert len({a.url for a in articles}) == len(articles)
    for article in articles:
        assert passages(article), article.id
        assert article.tags, article.id
