"""The search index: BM25 (bm25s) over passages, one shard per language, updated article by article."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import bm25s
import numpy as np

from assistant_service.domain.articles import Article, Passage, passages
from assistant_service.domain.text import Language, tokenize

Key = tuple[Language, str]
# A follow-up's own words decide what it is about; the previous question only narrows it down.
CONTEXT_WEIGHT = 0.3


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage found for a query: its BM25 score, how much of the query it covers (0..1), and whether the
    query names something in its article's title or tags (`anchored`)."""

    passage: Passage
    score: float
    coverage: float
    anchored: bool


@dataclass(frozen=True, slots=True)
class _Tokenized:
    passage: Passage
    tokens: tuple[str, ...]
    terms: frozenset[str]
    anchors: frozenset[str]  # terms of the article's title and tags


class _Shard:
    """One language's passages, frozen: a change builds a new shard and swaps it in."""

    def __init__(self, items: list[_Tokenized]) -> None:
        self.items = items
        self.n = len(items)
        self.df: Counter[str] = Counter()
        for item in items:
            self.df.update(item.terms)
        self.bm25: bm25s.BM25 | None = None
        if items:
            self.bm25 = bm25s.BM25()
            self.bm25.index([list(i.tokens) for i in items], show_progress=False)

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def search(self, tokens: list[str], k: int, context: list[str] | None = None) -> list[Hit]:
        """BM25 for `tokens`; `context` tokens add `CONTEXT_WEIGHT` times their score to passages that the
        tokens themselves match (or to every passage when the tokens match none)."""
        if self.bm25 is None or not (tokens or context):
            return []
        scores = np.asarray(self.bm25.get_scores(tokens), dtype=np.float64) if tokens else np.zeros(self.n)
        weights = {t: self.idf(t) for t in set(tokens)}
        if context:
            extra = np.asarray(self.bm25.get_scores(context), dtype=np.float64)
            scores = scores + CONTEXT_WEIGHT * (extra * (scores > 0) if scores.any() else extra)
            for t in set(context) - weights.keys():
                weights[t] = CONTEXT_WEIGHT * self.idf(t)
        total = sum(weights.values()) or 1.0
        order = np.argsort(-scores, kind="stable")[:k]
        hits = []
        for i in order:
            if scores[i] <= 0:
                break
            item = self.items[int(i)]
            covered = sum(w for t, w in weights.items() if t in item.terms)
            anchored = not item.anchors.isdisjoint(weights)
            hits.append(Hit(item.passage, float(scores[i]), covered / total, anchored))
        return hits


class KnowledgeIndex:
    """Articles by `(language, id)`; add, update and remove are searchable as soon as the call returns.

    Passages are tokenized once per article change and kept; a change rebuilds only its language's BM25
    matrix from those tokens (about a millisecond per hundred passages, see the benchmark).
    """

    def __init__(self, articles: Iterable[Article] = (), tokenizer: Callable[[str], list[str]] = tokenize) -> None:
        self._tokenize = tokenizer
        self._articles: dict[Key, Article] = {}
        self._tokens: dict[Key, list[_Tokenized]] = {}
        self._shards: dict[Language, _Shard] = {}
        for article in articles:
            self._put(article)
        for language in Language:
            self._rebuild(language)

    def _put(self, article: Article) -> None:
        self._articles[article.key] = article
        items = []
        anchors = frozenset(self._tokenize(" ".join([article.title, *article.tags])))
        for p in passages(article):
            tokens = tuple(self._tokenize(p.searchable))
            items.append(_Tokenized(p, tokens, frozenset(tokens), anchors))
        self._tokens[article.key] = items

    def _rebuild(self, language: Language) -> None:
        items = [item for key, its in sorted(self._tokens.items()) if key[0] is language for item in its]
        self._shards[language] = _Shard(items)

    def upsert(self, article: Article) -> bool:
        """Add or replace an article; True when it was new."""
        new = article.key not in self._articles
        self._put(article)
        self._rebuild(article.language)
        return new

    def remove(self, language: Language, article_id: str) -> bool:
        """Remove an article; False when there was none."""
        key = (language, article_id)
        if key not in self._articles:
            return False
        del self._articles[key]
        del self._tokens[key]
        self._rebuild(language)
        return True

    def apply(self, upserted: Iterable[Article] = (), removed: Iterable[Key] = ()) -> None:
        """Several changes at once (an instance catching up): each touched language is rebuilt once."""
        touched: set[Language] = set()
        for article in upserted:
            self._put(article)
            touched.add(article.language)
        for key in removed:
            if self._articles.pop(key, None) is not None:
                del self._tokens[key]
                touched.add(key[0])
        for language in touched:
            self._rebuild(language)

    def get(self, language: Language, article_id: str) -> Article | None:
        return self._articles.get((language, article_id))

    def articles(self, language: Language | None = None) -> list[Article]:
        return [a for k, a in sorted(self._articles.items()) if language is None or k[0] is language]

    def passage_count(self, language: Language) -> int:
        return self._shards[language].n

    def search(self, query: str, language: Language, k: int = 5, context: str = "") -> list[Hit]:
        """The `k` best passages of `language` for `query`, best first; empty when nothing matches.

        `context` (the previous question, for a follow-up) is searched too, at `CONTEXT_WEIGHT`.
        """
        return self._shards[language].search(self._tokenize(query), k, self._tokenize(context) if context else None)
