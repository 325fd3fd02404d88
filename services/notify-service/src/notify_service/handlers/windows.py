"""Recurring maintenance windows of an organisation: create, replace, delete, read. A change takes effect in its
own transaction (what the window now mutes is held back, what it no longer mutes is released)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from carekit.refusals import Conflict, Invalid, NotFound
from notify_service.adapters import mutes, silences
from notify_service.domain.matchers import Matcher, MatcherError, parse_matcher
from notify_service.domain.windows import Recurrence, WindowError, zone_of
from notify_service.handlers import mutes as muting

MAX_WINDOWS = 100
UPCOMING = 5


def _matchers(texts: Sequence[str]) -> list[Matcher]:
    found = []
    for i, text in enumerate(texts):
        try:
            found.append(parse_matcher(text))
        except MatcherError as exc:
            raise Invalid(f"matchers[{i}]: {exc}", field=f"body.matchers[{i}]") from None
    if found and all(m.matches_empty() for m in found):
        raise Invalid("matchers: at least one matcher must not match the empty string", field="body.matchers")
    return found


def _recurrence(draft: dict[str, Any]) -> Recurrence:
    try:
        return Recurrence.build(draft["rrule"], draft["starts"], draft["timezone"], draft["duration"])
    except WindowError as exc:
        raise Invalid(str(exc), field=f"body.{exc.field}") from None


def view(row: asyncpg.Record, at: datetime) -> dict[str, Any]:
    """A window with whether it is open now, and its next occurrences (UTC and local)."""
    recurrence = Recurrence.build(row["rrule"], row["starts"], row["timezone"], row["duration"])
    current = recurrence.active_at(at)
    tz = zone_of(row["timezone"])

    def span(s: tuple[datetime, datetime]) -> dict[str, str]:
        return {
            "starts_at": s[0].isoformat(),
            "ends_at": s[1].isoformat(),
            "local": f"{s[0].astimezone(tz):%Y-%m-%d %H:%M %Z} - {s[1].astimezone(tz):%Y-%m-%d %H:%M %Z}",
        }

    return {
        "id": row["id"],
        "name": row["name"],
        "rrule": row["rrule"],
        "starts": row["starts"].isoformat(),
        "timezone": row["timezone"],
        "duration": str(recurrence.duration),
        "matchers": [str(m) for m in silences.matchers_of(row["matchers"])],
        "comment": row["comment"],
        "created_by": row["created_by"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "open": current is not None,
        "current": span(current) if current else None,
        "upcoming": [span(s) for s in recurrence.upcoming(at, UPCOMING)],
    }


async def save(pool: asyncpg.Pool, org: str, by: str, draft: dict[str, Any], window_id: str | None = None) -> str:
    """Create (no id) or replace a window; Invalid names the field, Conflict a name already taken."""
    matchers = _matchers(draft["matchers"])
    recurrence = _recurrence(draft)
    fields = {
        "name": draft["name"],
        "rrule": recurrence.rule,
        "starts": recurrence.starts,
        "timezone": recurrence.zone,
        "duration": str(recurrence.duration),
        "matchers": [m.to_api() for m in matchers],
        "comment": draft.get("comment") or "",
    }
    async with pool.acquire() as conn, conn.transaction():
        await mutes.lock(conn, [org])
        if window_id is None:
            if len(await silences.window_rows(conn, org)) >= MAX_WINDOWS:
                raise Conflict(f"at most {MAX_WINDOWS} maintenance windows per organisation; delete one first")
            window_id = f"mw-{uuid.uuid4().hex[:12]}"
        elif await silences.window_row(conn, org, window_id) is None:
            raise NotFound(f"no maintenance window {window_id}")
        if not await silences.save_window(conn, window_id, org, fields, by):
            raise Conflict(f"a maintenance window named {draft['name']!r} exists already", field="body.name")
        await muting.reconcile(conn, org)
    return window_id


async def remove(pool: asyncpg.Pool, org: str, window_id: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await mutes.lock(conn, [org])
        if not await silences.delete_window(conn, org, window_id):
            raise NotFound(f"no maintenance window {window_id}")
        await muting.reconcile(conn, org)


async def one(pool: asyncpg.Pool, org: str, window_id: str) -> dict[str, Any]:
    row = await silences.window_row(pool, org, window_id)
    if row is None:
        raise NotFound(f"no maintenance window {window_id}")
    return view(row, datetime.now(UTC))


async def every(pool: asyncpg.Pool, org: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [view(r, now) for r in await silences.window_rows(pool, org)]
