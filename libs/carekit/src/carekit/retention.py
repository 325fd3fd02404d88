"""Retention: history that no longer serves anyone is purged after `RETENTION_DAYS` (30 by default), in small
batches, so that the tables every loop reads stay the size of what is live, not of everything that ever happened.

Each `Purge` names a table and one statement that deletes at most `$2` rows older than `$1` (a timestamptz) and
returns the deleted count; the kit's own (sent outbox rows, processed-event ids, parked records already re-driven)
run in every service, a service adds its own. Batches are small and each its own transaction, so a purge never
holds locks for long; an outage is waited out by the next pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from prometheus_client import Counter

from carekit.polling import poll_forever

log = logging.getLogger(__name__)
PURGED = Counter("care_retention_purged", "Rows the retention job deleted, by table", ["table"])


@dataclass(frozen=True)
class Purge:
    """One table's purge: `sql` deletes at most $2 rows older than $1 and answers `DELETE n`."""

    table: str
    sql: str


def in_id_order(table: str, age_column: str, where: str = "TRUE") -> Purge:
    # rows are appended in id order, so the oldest come first: the scan stops at the batch size
    return Purge(
        table,
        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} AND {age_column} < $1"  # noqa: S608
        " ORDER BY id LIMIT $2)",
    )


KIT = (
    in_id_order("outbox", "created_at", "sent_at IS NOT NULL"),
    Purge(
        "processed_events",
        "DELETE FROM processed_events WHERE (consumer, event_id) IN (SELECT consumer, event_id FROM processed_events"
        " WHERE processed_at < $1 ORDER BY processed_at LIMIT $2)",
    ),
    in_id_order("parked", "redriven_at", "redriven_at IS NOT NULL"),
)


async def purge_once(pool: asyncpg.Pool, purges: Sequence[Purge], older_than: datetime, batch: int) -> dict[str, int]:
    """One pass: every table down to its cut-off, a batch at a time; rows deleted per table."""
    done: dict[str, int] = {}
    for purge in purges:
        while True:
            status: str = await pool.execute(purge.sql, older_than, batch)
            n = int(status.split()[-1])
            if n:
                PURGED.labels(purge.table).inc(n)
                done[purge.table] = done.get(purge.table, 0) + n
            if n < batch:
                break
            await asyncio.sleep(0)  # let the service's other work in between batches
    return done


async def run_retention(pool: asyncpg.Pool, purges: Sequence[Purge], days: float, batch: int, every_s: float) -> None:
    """Purge forever, one pass every `every_s`; an outage is retried on the next pass."""

    async def purge() -> None:
        done = await purge_once(pool, purges, datetime.now(UTC) - timedelta(days=days), batch)
        if done:
            log.info("retention purged %s", ", ".join(f"{n} from {t}" for t, n in sorted(done.items())))

    await poll_forever(purge, every_s=every_s, what="retention pass", log=log, again_when_busy=False)
