"""What a language model is sent (masked) and how its reply becomes an answer (grounded in the passages)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant_service.domain.answer import Answer, Composer, Retrieval, chosen, decline, source_of
from assistant_service.domain.conversation import Turn
from assistant_service.domain.masking import mask
from assistant_service.domain.text import Language

CANNOT_ANSWER = "CANNOT_ANSWER"
MAX_ANSWER_CHARS = 4000
_LANGUAGE_NAME = {Language.EN: "English", Language.ZH: "Simplified Chinese"}
_CITATION = re.compile(r"\[(\d{1,2})\]")

SYSTEM = (
    "You are the support assistant of a cloud database service. Answer the customer's question using ONLY the "
    "numbered passages from the knowledge base below. Do not use any other knowledge, do not guess, and do not "
    "invent product behaviour, numbers, links or commands. Cite the passages you use as [1], [2] after the "
    "sentences they support. If the passages do not answer the question, reply with exactly "
    f"{CANNOT_ANSWER} and nothing else. Reply in {{language}}, in at most 150 words, plainly, without a greeting."
)

Message = dict[str, str]


def build_messages(question: str, earlier: Sequence[Turn], retrieval: Retrieval) -> list[Message]:
    """The chat-completions messages for a question; every text is masked (secrets, tokens, e-mails)."""
    passages = "\n\n".join(
        f"[{i}] {h.passage.title}{' - ' + h.passage.heading if h.passage.heading else ''}\n{h.passage.text}"
        for i, h in enumerate(chosen(retrieval), start=1)
    )
    history = "".join(f"Earlier question in this conversation: {t.question}\n" for t in earlier[-3:])
    system = SYSTEM.format(language=_LANGUAGE_NAME[retrieval.query.language])
    user = f"Knowledge base passages:\n\n{passages}\n\n{history}Question: {question}"
    return [{"role": "system", "content": mask(system)}, {"role": "user", "content": mask(user)}]


def answer_from_reply(reply: str, retrieval: Retrieval) -> Answer:
    """The model's reply as an answer: a decline when it says it cannot answer; sources are the cited passages."""
    text = reply.strip()
    language = retrieval.query.language
    if not text or CANNOT_ANSWER in text:
        return decline(language, retrieval.confidence)
    hits = chosen(retrieval)
    cited = sorted({int(n) for n in _CITATION.findall(text) if 1 <= int(n) <= len(hits)})
    used = [hits[n - 1] for n in cited] or hits
    return Answer(
        answer=text[:MAX_ANSWER_CHARS],
        sources=tuple(source_of(h) for h in used),
        confidence=retrieval.confidence,
        could_help=True,
        language=language,
        composer=Composer.LLM,
    )
