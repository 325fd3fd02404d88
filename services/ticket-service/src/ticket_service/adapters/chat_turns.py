"""Postgres access for AI chat: the questions passed to the assistant, their answers, the conversation a ticket
was raised from, and which organisation a direct message to the bot belongs to."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

import asyncpg

from care_schemas.events.chat import ChatAnsweredData, ChatThread
from care_schemas.events.ticket import ImPlatform
from ticket_service.domain.assistant import ChatTurn

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool
TURN_COLUMNS = "question_id, question, asked_by, asked_at, answer_id, answer, sources, could_help"
MAX_TURNS = 50


def _turn(row: asyncpg.Record) -> ChatTurn:
    return ChatTurn(
        question_id=row["question_id"],
        question=row["question"],
        asked_by=row["asked_by"],
        asked_at=row["asked_at"],
        answer_id=row["answer_id"],
        answer=row["answer"],
        sources=list(row["sources"] or []),
        could_help=row["could_help"],
    )


async def insert_question(
    conn: asyncpg.Connection,
    question_id: str,
    org_id: str,
    thread: ChatThread,
    asked_by: str,
    question: str,
    asked_at: datetime,
) -> bool:
    """Record a question; False when this chat message was already asked (a platform's retry)."""
    row = await conn.fetchrow(
        "INSERT INTO chat_turns (question_id, conversation_id, org_id, platform, workspace, channel, thread_ts,"
        " asked_by, question, asked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (question_id) DO NOTHING RETURNING 1",
        question_id,
        thread.conversation_id,
        org_id,
        thread.platform.value,
        thread.workspace,
        thread.channel,
        thread.thread_ts,
        asked_by,
        question,
        asked_at,
    )
    return row is not None


async def earlier_questions(conn: Conn, conversation_id: str, before: str, limit: int) -> list[str]:
    """The ids of the conversation's questions asked before `before`, oldest first (at most `limit`)."""
    rows = await conn.fetch(
        "SELECT question_id FROM (SELECT question_id, asked_at FROM chat_turns WHERE conversation_id = $1"
        " AND question_id <> $2 ORDER BY asked_at DESC LIMIT $3) t ORDER BY asked_at",
        conversation_id,
        before,
        limit,
    )
    return [r["question_id"] for r in rows]


async def record_answer(conn: Conn, a: ChatAnsweredData) -> bool:
    """Keep the answer with its question; False for a question this service did not ask (or already answered)."""
    row = await conn.fetchrow(
        "UPDATE chat_turns SET answer_id = $2, answer = $3, sources = $4, could_help = $5, answered_at = $6"
        " WHERE question_id = $1 AND answer_id IS NULL RETURNING 1",
        a.question_id,
        a.answer_id,
        a.text,
        [s.model_dump() for s in a.sources],
        a.could_help,
        a.answered_at,
    )
    return row is not None


async def turns(conn: Conn, conversation_id: str) -> list[ChatTurn]:
    """The conversation so far, oldest first (the latest MAX_TURNS)."""
    rows = await conn.fetch(
        f"SELECT * FROM (SELECT {TURN_COLUMNS} FROM chat_turns WHERE conversation_id = $1"  # noqa: S608
        " ORDER BY asked_at DESC LIMIT $2) t ORDER BY asked_at",
        conversation_id,
        MAX_TURNS,
    )
    return [_turn(r) for r in rows]


async def answered(conn: Conn, question_id: str) -> bool:
    """Whether this question's answer has reached this service (notify-service may post it a moment earlier)."""
    return bool(await conn.fetchval("SELECT answer_id IS NOT NULL FROM chat_turns WHERE question_id = $1", question_id))


async def question_place(conn: Conn, question_id: str) -> tuple[str, ChatThread] | None:
    """The organisation and thread of a question this service passed to the assistant."""
    row = await conn.fetchrow(
        "SELECT org_id, platform, workspace, channel, thread_ts FROM chat_turns WHERE question_id = $1", question_id
    )
    if row is None:
        return None
    thread = ChatThread(
        platform=ImPlatform(row["platform"]),
        workspace=row["workspace"],
        channel=row["channel"],
        thread_ts=row["thread_ts"],
    )
    return row["org_id"], thread


async def attach_conversation(conn: asyncpg.Connection, ticket_id: str, conversation_id: str) -> bool:
    """A ticket raised from a thread the assistant answered in carries that conversation."""
    row = await conn.fetchrow(
        "INSERT INTO ticket_conversations (ticket_id, conversation_id)"
        " SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM chat_turns WHERE conversation_id = $2)"
        " ON CONFLICT (ticket_id) DO NOTHING RETURNING 1",
        ticket_id,
        conversation_id,
    )
    return row is not None


async def ticket_conversation(conn: Conn, ticket_id: str) -> list[ChatTurn] | None:
    conversation_id = await conn.fetchval(
        "SELECT conversation_id FROM ticket_conversations WHERE ticket_id = $1", ticket_id
    )
    return await turns(conn, conversation_id) if conversation_id else None


async def workspace_orgs(conn: Conn, platform: ImPlatform, workspace: str) -> list[str]:
    """The organisations with a chat place bound in this Slack workspace or Lark tenant."""
    rows = await conn.fetch(
        "SELECT DISTINCT org_id FROM im_bindings WHERE platform = $1 AND workspace = $2 ORDER BY org_id",
        platform.value,
        workspace,
    )
    return [r["org_id"] for r in rows]
