"""The evaluation set as a guard: an article edit that breaks retrieval or declines fails here, not in a thread.

The figures themselves (and how the threshold was chosen) come from bench/bench_assistant_retrieval.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from assistant_service.domain.answer import DEFAULT_MIN_CONFIDENCE, retrieve
from assistant_service.domain.index import KnowledgeIndex
from assistant_service.domain.text import Language

pytestmark = pytest.mark.unit
EVAL = Path(__file__).resolve().parents[2] / "eval" / "questions.yaml"


@pytest.fixture(scope="module")
def questions() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    return rows


def test_evaluation_set_is_big_enough_and_balanced(questions: list[dict[str, Any]]) -> None:
    assert len(questions) >= 60
    en = sum(1 for q in questions if q["lang"] == "en")
    assert abs(en - (len(questions) - en)) <= len(questions) // 10
    assert sum(1 for q in questions if not q["expect"]) >= 12


def test_every_expected_article_exists(questions: list[dict[str, Any]], index: KnowledgeIndex) -> None:
    for q in questions:
        for article_id in q["expect"]:
            assert index.get(Language(q["lang"]), article_id) is not None, (q["q"], article_id)


@pytest.mark.parametrize("language", list(Language))
def test_answering_article_is_in_the_top_three_for_nine_questions_in_ten(
    questions: list[dict[str, Any]], index: KnowledgeIndex, language: Language
) -> None:
    inside = [q for q in questions if q["expect"] and q["lang"] == language.value]
    found = 0
    for q in inside:
        ranked: list[str] = []
        for hit in retrieve(index, q["q"]).hits:
            if hit.passage.article_id not in ranked:
                ranked.append(hit.passage.article_id)
        found += any(a in q["expect"] for a in ranked[:3])
    assert found / len(inside) >= 0.9


def test_out_of_scope_questions_are_declined_and_in_scope_ones_answered(
    questions: list[dict[str, Any]], index: KnowledgeIndex
) -> None:
    outside = [q for q in questions if not q["expect"]]
    inside = [q for q in questions if q["expect"]]
    declined = sum(1 for q in outside if retrieve(index, q["q"]).confidence < DEFAULT_MIN_CONFIDENCE)
    wrongly = sum(1 for q in inside if retrieve(index, q["q"]).confidence < DEFAULT_MIN_CONFIDENCE)
    assert declined / len(outside) >= 0.9
    assert wrongly / len(inside) <= 0.1
