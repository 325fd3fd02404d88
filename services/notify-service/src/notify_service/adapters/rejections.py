"""Postgres access for intake rejections: alerts refused one by one, readable by their organisation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from carekit.faults import storable
from notify_service.domain.alertmanager_in import Refusal


async def record(pool: asyncpg.Pool, source: str, refused: Sequence[tuple[str, Refusal]]) -> None:
    """Keep each refusal (organisation, refusal) with its reason."""
    await pool.executemany(
        "INSERT INTO intake_rejections (org_id, source, alert_index, fingerprint, alertname, reason)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (
                storable(org)[:128],
                source,
                r.index,
                storable(r.fingerprint)[:128] if r.fingerprint else None,
                storable(r.alertname)[:255] if r.alertname else None,
                storable(r.reason)[:2000],
            )
            for org, r in refused
        ],
    )


async def recent(pool: asyncpg.Pool, org_id: str, limit: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT id, source, alert_index, fingerprint, alertname, reason, received_at FROM intake_rejections"
        " WHERE org_id = $1 ORDER BY id DESC LIMIT $2",
        org_id,
        limit,
    )
    return [
        {
            "id": r["id"],
            "source": r["source"],
            "index": r["alert_index"],
            "fingerprint": r["fingerprint"],
            "alertname": r["alertname"],
            "reason": r["reason"],
            "received_at": r["received_at"].isoformat(),
        }
        for r in rows
    ]
