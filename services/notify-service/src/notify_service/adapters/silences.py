"""Postgres access for silences and maintenance windows (one organisation's at a time)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from notify_service.domain.matchers import Matcher, MatcherError
from notify_service.domain.silences import Silence, Window
from notify_service.domain.windows import Recurrence, WindowError

log = logging.getLogger(__name__)
_SILENCE = "id::text AS id, org_id, matchers, starts_at, ends_at, created_by, comment, annotations, updated_at"
_WINDOW = "id, org_id, name, rrule, starts, timezone, duration, matchers, comment, created_by, created_at, updated_at"


def matchers_of(stored: Sequence[dict[str, Any]]) -> tuple[Matcher, ...]:
    return tuple(Matcher.from_api(m["name"], m["value"], m["isRegex"], m.get("isEqual", True)) for m in stored)


def _silence(r: asyncpg.Record) -> Silence:
    return Silence(
        id=r["id"],
        org_id=r["org_id"],
        matchers=matchers_of(r["matchers"]),
        starts_at=r["starts_at"],
        ends_at=r["ends_at"],
        created_by=r["created_by"],
        comment=r["comment"],
        updated_at=r["updated_at"],
        annotations=r["annotations"] or {},
    )


def window_of(r: asyncpg.Record) -> Window:
    return Window(
        id=r["id"],
        org_id=r["org_id"],
        name=r["name"],
        recurrence=Recurrence.build(r["rrule"], r["starts"], r["timezone"], r["duration"]),
        matchers=matchers_of(r["matchers"]),
    )


async def silences(conn: asyncpg.Connection | asyncpg.Pool, org: str, *, current_only: bool) -> list[Silence]:
    """The organisation's silences (only those not over yet, or all of them)."""
    rows = await conn.fetch(
        f"SELECT {_SILENCE} FROM silences WHERE org_id = $1 AND (NOT $2 OR ends_at > now())"  # noqa: S608
        " ORDER BY ends_at DESC LIMIT 10000",
        org,
        current_only,
    )
    found = []
    for r in rows:
        try:
            found.append(_silence(r))
        except MatcherError as exc:  # stored before a rule change: it cannot mute, say so and go on
            log.error("silence %s of %s cannot be read and is ignored: %s", r["id"], org, exc)
    return found


async def silence(conn: asyncpg.Connection | asyncpg.Pool, org: str, silence_id: str) -> Silence | None:
    row = await conn.fetchrow(
        f"SELECT {_SILENCE} FROM silences WHERE org_id = $1 AND id::text = $2",  # noqa: S608
        org,
        silence_id,
    )
    return _silence(row) if row is not None else None


async def insert_silence(
    conn: asyncpg.Connection,
    silence_id: str,
    org: str,
    matchers: Sequence[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
    annotations: dict[str, str],
    author: str,
) -> None:
    await conn.execute(
        "INSERT INTO silences (id, org_id, matchers, starts_at, ends_at, created_by, comment, annotations,"
        " author_sub) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9)",
        silence_id,
        org,
        [m.to_api() for m in matchers],
        starts_at,
        ends_at,
        created_by,
        comment,
        annotations,
        author,
    )


async def update_silence(
    conn: asyncpg.Connection,
    org: str,
    silence_id: str,
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
    annotations: dict[str, str],
) -> None:
    await conn.execute(
        "UPDATE silences SET starts_at = $3, ends_at = $4, created_by = $5, comment = $6, annotations = $7,"
        " updated_at = now() WHERE org_id = $1 AND id::text = $2",
        org,
        silence_id,
        starts_at,
        ends_at,
        created_by,
        comment,
        annotations,
    )


async def expire_silence(conn: asyncpg.Connection, org: str, silence_id: str, now: datetime) -> bool:
    """End the silence now (a pending one ends before it started); True if it existed. An expired one stays."""
    found = await conn.fetchval(
        """
        UPDATE silences SET starts_at = CASE WHEN starts_at > $3 THEN $3 ELSE starts_at END,
                            ends_at = CASE WHEN ends_at > $3 THEN $3 ELSE ends_at END,
                            updated_at = CASE WHEN ends_at > $3 THEN $3 ELSE updated_at END
        WHERE org_id = $1 AND id::text = $2 RETURNING 1
        """,
        org,
        silence_id,
        now,
    )
    return found is not None


async def windows(conn: asyncpg.Connection | asyncpg.Pool, org: str) -> list[Window]:
    rows = await conn.fetch(f"SELECT {_WINDOW} FROM maintenance_windows WHERE org_id = $1 ORDER BY name", org)  # noqa: S608
    found = []
    for r in rows:
        try:
            found.append(window_of(r))
        except (MatcherError, WindowError) as exc:
            log.error("maintenance window %s of %s cannot be read and is ignored: %s", r["id"], org, exc)
    return found


async def window_rows(conn: asyncpg.Connection | asyncpg.Pool, org: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {_WINDOW} FROM maintenance_windows WHERE org_id = $1 ORDER BY name",  # noqa: S608
        org,
    )
    return rows


async def window_row(conn: asyncpg.Connection | asyncpg.Pool, org: str, window_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_WINDOW} FROM maintenance_windows WHERE org_id = $1 AND id = $2",  # noqa: S608
        org,
        window_id,
    )
    return row


async def save_window(conn: asyncpg.Connection, window_id: str, org: str, fields: dict[str, Any], by: str) -> bool:
    """Insert or replace (by id); False when another window of the organisation already has the name."""
    try:
        async with conn.transaction():
            await conn.execute(
                """
                INSERT INTO maintenance_windows (id, org_id, name, rrule, starts, timezone, duration, matchers, comment,
                                                 created_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, rrule = EXCLUDED.rrule, starts = EXCLUDED.starts,
                    timezone = EXCLUDED.timezone, duration = EXCLUDED.duration, matchers = EXCLUDED.matchers,
                    comment = EXCLUDED.comment, updated_at = now()
                WHERE maintenance_windows.org_id = EXCLUDED.org_id
                """,
                window_id,
                org,
                fields["name"],
                fields["rrule"],
                fields["starts"],
                fields["timezone"],
                fields["duration"],
                fields["matchers"],
                fields["comment"],
                by,
            )
    except asyncpg.UniqueViolationError:
        return False
    return True


async def delete_window(conn: asyncpg.Connection, org: str, window_id: str) -> bool:
    found = await conn.fetchval(
        "DELETE FROM maintenance_windows WHERE org_id = $1 AND id = $2 RETURNING 1", org, window_id
    )
    return found is not None
