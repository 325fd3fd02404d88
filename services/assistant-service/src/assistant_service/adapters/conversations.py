"""Postgres access for conversations, their turns (question + answer) and the feedback on answers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from assistant_service.domain.exchanges import CONTEXT_OUTCOMES, Exchange


@dataclass(frozen=True)
class StoredTurn:
    question_id: str
    answer_id: str
    asked_by: str
    question: str
    answer: str
    sources: list[dict[str, Any]]
    confidence: float
    could_help: bool
    outcome: str
    asked_at: datetime
    feedback: list[dict[str, Any]]


async def answered(conn: asyncpg.Connection | asyncpg.Pool, question_id: str) -> bool:
    """Whether this question already has its answer (a redelivered question is not answered again)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM turns WHERE question_id = $1)", question_id))


async def conversation_org(conn: asyncpg.Connection | asyncpg.Pool, conversation_id: str) -> str | None:
    org: str | None = await conn.fetchval("SELECT org_id FROM conversations WHERE id = $1", conversation_id)
    return org


async def questions(conn: asyncpg.Connection | asyncpg.Pool, org_id: str, question_ids: Sequence[str]) -> list[str]:
    """The earlier questions with these ids (of this organisation, answered or declined), oldest first."""
    if not question_ids:
        return []
    rows = await conn.fetch(
        "SELECT question FROM turns WHERE question_id = ANY($1::text[]) AND org_id = $2 AND outcome = ANY($3::text[])"
        " ORDER BY asked_at, question_id",
        list(question_ids),
        org_id,
        list(CONTEXT_OUTCOMES),
    )
    return [r["question"] for r in rows]


async def recent_questions(conn: asyncpg.Connection | asyncpg.Pool, conversation_id: str, limit: int) -> list[str]:
    """The conversation's last `limit` questions that were answered or declined, oldest first."""
    rows = await conn.fetch(
        "SELECT question FROM (SELECT question, asked_at FROM turns WHERE conversation_id = $1"
        " AND outcome = ANY($3::text[]) ORDER BY asked_at DESC LIMIT $2) t ORDER BY asked_at",
        conversation_id,
        limit,
        list(CONTEXT_OUTCOMES),
    )
    return [r["question"] for r in rows]


async def save(conn: asyncpg.Connection, exchange: Exchange) -> bool:
    """Store the turn (and its conversation); False when the question was already answered."""
    e = exchange
    await conn.execute(
        "INSERT INTO conversations (id, org_id, channel, thread, started_by) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (id) DO UPDATE SET updated_at = now()",
        e.conversation_id,
        e.org_id,
        e.channel,
        e.thread.model_dump(mode="json") if e.thread else None,
        e.asked_by,
    )
    row = await conn.fetchrow(
        """
        INSERT INTO turns (question_id, answer_id, conversation_id, org_id, asked_by, question, answer, sources,
                           confidence, could_help, outcome, language, composer, asked_at, answered_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        ON CONFLICT (question_id) DO NOTHING RETURNING 1
        """,
        e.question_id,
        e.answer_id,
        e.conversation_id,
        e.org_id,
        e.asked_by,
        e.question,
        e.answer.answer,
        e.sources_json(),
        e.answer.confidence,
        e.answer.could_help,
        e.outcome.value,
        e.answer.language.value,
        e.answer.composer.value,
        e.asked_at,
        e.answered_at,
    )
    return row is not None


async def save_feedback(
    conn: asyncpg.Connection | asyncpg.Pool,
    feedback_id: str,
    answer_id: str,
    conversation_id: str,
    org_id: str,
    given_by: str,
    kind: str,
    given_at: datetime,
) -> bool:
    """Record one button press; False when it was already recorded."""
    row = await conn.fetchrow(
        "INSERT INTO feedback (id, answer_id, conversation_id, org_id, given_by, kind, given_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING 1",
        feedback_id,
        answer_id,
        conversation_id,
        org_id,
        given_by,
        kind,
        given_at,
    )
    return row is not None


async def turns(conn: asyncpg.Connection | asyncpg.Pool, conversation_id: str) -> list[StoredTurn]:
    """The conversation's turns, oldest first, each with the feedback on its answer."""
    rows = await conn.fetch(
        """
        SELECT t.*, coalesce(
            (SELECT json_agg(json_build_object('kind', f.kind, 'given_by', f.given_by, 'given_at', f.given_at)
                             ORDER BY f.given_at)
             FROM feedback f WHERE f.answer_id = t.answer_id), '[]') AS fb
        FROM turns t WHERE t.conversation_id = $1 ORDER BY t.asked_at, t.question_id
        """,
        conversation_id,
    )
    return [
        StoredTurn(
            r["question_id"],
            r["answer_id"],
            r["asked_by"],
            r["question"],
            r["answer"],
            list(r["sources"]),
            r["confidence"],
            r["could_help"],
            r["outcome"],
            r["asked_at"],
            json.loads(r["fb"]) if isinstance(r["fb"], str) else list(r["fb"]),
        )
        for r in rows
    ]
