"""Failures a background loop outlives: the database or the broker away for a while.

Loops catch these, log, and try again on their next tick; state stays in Postgres, so nothing is lost.
Anything else is a bug: it ends the loop, which `/healthz` and `/readyz` then report.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError

TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    # asyncpg's protocol state breaks this way when the server goes away mid-statement (seen in a restart test)
    asyncpg.InternalClientError,
    KafkaError,
)
