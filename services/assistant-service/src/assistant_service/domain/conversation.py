"""Follow-up questions: a short or referential question is searched together with the previous one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant_service.domain.masking import EMAIL, SECRET, mask
from assistant_service.domain.text import Language, detect_language, tokenize

# A question this short (in index terms) rarely stands alone: "and on Premium?", "S2 呢？".
SHORT_TERMS = 3
_EN_REFERENCE = re.compile(
    r"\b(it|its|it's|that|this|these|those|they|them|there|then|same|above|also|instead|what about|how about|and)\b",
    re.IGNORECASE,
)
_ZH_REFERENCE = re.compile(r"(它|它们|这个|那个|这样|那样|这些|那些|上面|刚才|同样|呢[？?]?\s*$|那么|那)")


@dataclass(frozen=True, slots=True)
class Turn:
    """An earlier question in the same conversation (thread), oldest first."""

    question: str


@dataclass(frozen=True, slots=True)
class Query:
    """What is searched for a question: its text, the previous question for a follow-up, the answer language."""

    text: str
    language: Language
    context: str = ""

    @property
    def follow_up(self) -> bool:
        return bool(self.context)


def is_follow_up(question: str, language: Language) -> bool:
    """A question of few terms, or one that points back ("what about it", "那 Premium 呢")."""
    if len(tokenize(question)) <= SHORT_TERMS:
        return True
    pattern = _ZH_REFERENCE if language is Language.ZH else _EN_REFERENCE
    return bool(pattern.search(question))


def searchable(text: str) -> str:
    """The text without secrets and e-mail addresses: they are never searched for (nor logged with a query)."""
    return mask(text).replace(SECRET, " ").replace(EMAIL, " ")


def build_query(question: str, earlier: Sequence[Turn] = ()) -> Query:
    """The query for `question`; a follow-up is searched together with the previous question."""
    question = searchable(question)
    previous = searchable(earlier[-1].question) if earlier else None
    fallback = detect_language(previous) if previous else Language.EN
    language = detect_language(question, default=fallback)
    if previous and is_follow_up(question, language):
        return Query(question, language, context=previous)
    return Query(question, language)
