"""assistant-service test fixtures: the shipped knowledge base indexed once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assistant_service.adapters.kb_files import shipped_articles
from assistant_service.domain.articles import Article
from assistant_service.domain.index import KnowledgeIndex

# chat_completions_server sits next to this file
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def articles() -> list[Article]:
    return shipped_articles()


@pytest.fixture(scope="session")
def index(articles: list[Article]) -> KnowledgeIndex:
    """Shared and read-only: tests that change articles build their own index."""
    return KnowledgeIndex(articles)
