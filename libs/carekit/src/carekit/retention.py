"""Retention: history that no longer serves anyone is purged after `RETENTION_DAYS` (30 by default), in small
batches, so that the tables every loop reads stay the size of what is live, not of everything that ever happened.

Each `Purge` names a table and one statement that deletes at most `$2` rows older than `$1` (a timestamptz) and
returns the deleted count; the kit's own (sent outbox rows, processed-event ids, parked records already re-driven)
run in every service, a service adds its own. Batches are small and each its own transaction, so a purge never
holds locks for long; an outage is waited out by the next pass.

A batch reads about the rows it deletes whatever the statistics: its rows are chosen first, oldest first by an
index, then deleted by key (`key = ANY(ARRAY(...))`, a probe for each), on a connection planned by key
(`carekit.db.by_key_connection`). As `DELETE ... WHERE key IN (SELECT ...)`, planned once for all after an ANALYZE
that found the tables empty, a batch read whole indexes of the table, twice or for every row it deleted (an audit
found 19.5 M index entries read by notify-service's alerts purge at 20,000 rows; its test, ten passes of a few
rows each after 20,000 kept: 600,060, now 66). A table whose rows are written in the order of their age
(`in_id_order`: the outbox, intake rejections) needs no index on it: a batch reads in id order below the first row
young enough to keep, found by the same order (only rows the cut-off passed and the purge keeps come before it);
read on through every row kept, the last batch of each pass read the whole table (200,030-200,105 in ten passes
after 20,000 kept, now under 100: notify-service's test_notify_scale.py,
`test_retention_batches_read_about_what_they_delete_...`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from prometheus_client import Counter

from carekit.db import by_key_connection
from carekit.polling import poll_forever

log = logging.getLogger(__name__)
PURGED = Counter("care_retention_purged", "Rows the retention job deleted, by table", ["table"])


@dataclass(frozen=True)
class Purge:
    """One table's purge: `sql` deletes at most $2 rows older than $1 and answers `DELETE n`."""

    table: str
    sql: str


def batched(table: str, where: str, order: str | None, key: str = "id") -> Purge:
    """Delete the first `$2` rows (in `order`; None: as found) that `where` (which compares an age with `$1`) names,
    each by `key`: the batch is chosen first (an InitPlan), then each row deleted by a probe of `key` (`id`; `ctid`,
    a direct read of the row, where the primary key has several columns). As with `key IN (...)`, the rows are
    chosen from the statement's snapshot: the delete does not test their age again."""
    ordered = f" ORDER BY {order}" if order else ""
    return Purge(
        table,
        f"DELETE FROM {table} WHERE {key} = ANY(ARRAY(SELECT {key} FROM {table} WHERE {where}{ordered}"  # noqa: S608
        " LIMIT $2))",
    )


def in_id_order(table: str, age_column: str, where: str = "TRUE") -> Purge:
    """For a table whose rows are written in the order of their age (`age_column` is when the row was written,
    its `id` from a sequence): oldest first in id order, below the first row young enough to keep. Rows the purge
    keeps though the cut-off passed them (`where` false) are read each pass; the rows kept as young are not. A row
    written out of order (ids are taken some microseconds before a transaction commits) waits for the next pass."""
    first_kept = f"(SELECT k.id FROM {table} k WHERE k.{age_column} >= $1 ORDER BY k.id LIMIT 1)"  # noqa: S608 (constant SQL)
    return batched(table, f"{where} AND {age_column} < $1 AND id < COALESCE({first_kept}, 9223372036854775807)", "id")


def by_age(table: str, age_column: str, where: str = "TRUE", key: str = "id") -> Purge:
    """Oldest first by an index on `age_column` (partial on `where`, if at all): a batch reads the entries of the
    rows it deletes, and the last of a pass stops at the cut-off instead of reading every younger row kept."""
    return batched(table, f"{where} AND {age_column} < $1", age_column, key)


KIT = (
    in_id_order("outbox", "created_at", "sent_at IS NOT NULL"),
    by_age("processed_events", "processed_at", key="ctid"),  # processed_events_age
    by_age("parked", "redriven_at", "redriven_at IS NOT NULL"),  # parked_redriven: not in the order written
)


async def purge_once(pool: asyncpg.Pool, purges: Sequence[Purge], older_than: datetime, batch: int) -> dict[str, int]:
    """One pass: every table down to its cut-off, a batch at a time; rows deleted per table."""
    done: dict[str, int] = {}
    async with by_key_connection(pool) as conn:  # each batch a statement of its own, its own transaction
        for purge in purges:
            while True:
                status: str = await conn.execute(purge.sql, older_than, batch)
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
