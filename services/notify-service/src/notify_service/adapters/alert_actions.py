"""Postgres access for what people did with an alert from its message: acknowledgements and tickets opened."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
from pydantic import ValidationError

from care_schemas.events.action import AlertAcknowledged, TicketAlertResolved, TicketAlertResolvedData
from care_schemas.events.alert import AlertRef
from care_schemas.topics import ALERT_ACTIONS
from carekit.db import by_key_connection
from carekit.outbox import enqueue
from carekit.parking import park
from notify_service.domain.alert_buttons import Acknowledgement

SOURCE = "/notify-service"


async def acknowledge(conn: asyncpg.Connection | asyncpg.Pool, event: AlertAcknowledged) -> bool:
    """Record the acknowledgement of the alert's current episode of that start; False when that firing was
    acknowledged already (the first one stays)."""
    d = event.data
    found = await conn.fetchval(
        "INSERT INTO alert_acks (org_id, fingerprint, starts_at, episode, acknowledged_by, acknowledged_by_name,"
        " acknowledged_at) SELECT $1, $2, $3, COALESCE((SELECT episode FROM alerts WHERE org_id = $1"
        " AND fingerprint = $2 AND starts_at = $3), 0), $4, $5, $6 ON CONFLICT DO NOTHING RETURNING 1",
        d.alert.org_id,
        d.alert.fingerprint,
        d.alert.starts_at,
        d.acknowledged_by,
        d.acknowledged_by_name,
        d.acknowledged_at,
    )
    return found is not None


async def link_ticket(
    conn: asyncpg.Connection | asyncpg.Pool, alert: AlertRef, ticket_id: str, link: str, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO alert_tickets (org_id, fingerprint, starts_at, ticket_id, link, opened_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        alert.org_id,
        alert.fingerprint,
        alert.starts_at,
        ticket_id,
        link,
        at,
    )


async def acts(
    pool: asyncpg.Pool, org: str, fingerprints: Sequence[str]
) -> tuple[dict[str, Acknowledgement], dict[str, tuple[str, str]]]:
    """Acknowledgements and tickets of the alerts' current firings (by key)."""
    async with by_key_connection(pool) as conn:
        acks = await conn.fetch(
            "SELECT k.fingerprint, k.acknowledged_by, k.acknowledged_by_name, k.acknowledged_at FROM alert_acks k"
            " JOIN alerts a ON a.org_id = k.org_id AND a.fingerprint = k.fingerprint AND a.starts_at = k.starts_at"
            " AND a.episode = k.episode WHERE k.org_id = $1 AND k.fingerprint = ANY($2::text[])",
            org,
            list(fingerprints),
        )
        tickets = await conn.fetch(
            "SELECT t.fingerprint, t.ticket_id, t.link FROM alert_tickets t"
            " JOIN alerts a ON a.org_id = t.org_id AND a.fingerprint = t.fingerprint AND a.starts_at = t.starts_at"
            " WHERE t.org_id = $1 AND t.fingerprint = ANY($2::text[]) ORDER BY t.opened_at",
            org,
            list(fingerprints),
        )
    return (
        {
            r["fingerprint"]: Acknowledgement(r["acknowledged_by"], r["acknowledged_by_name"], r["acknowledged_at"])
            for r in acks
        },
        {r["fingerprint"]: (r["ticket_id"], r["link"]) for r in tickets},
    )


LOOP = "ticket-links"


async def tell_resolved(pool: asyncpg.Pool, limit: int = 200) -> int:
    """Tickets opened from alerts whose firing has since ended (resolved, or fired again with a new start):
    ticket-service is told (TicketAlertResolved, through the outbox, in the transaction that marks them told).
    A link whose event cannot be built is parked (loop `ticket-links`, re-drivable) and the others go on."""
    # by key whatever the statistics: planned after an ANALYZE that found alerts empty, the join read the whole of
    # alerts for every untold link, every pass (test_notify_scale.py)
    async with by_key_connection(pool) as conn, conn.transaction():
        rows = await conn.fetch(
            """
            SELECT t.ticket_id, t.org_id, t.fingerprint, t.starts_at, a.alert
            FROM alert_tickets t
            CROSS JOIN LATERAL (SELECT a.alert, a.starts_at, a.status FROM alerts a
                                WHERE a.org_id = t.org_id AND a.fingerprint = t.fingerprint OFFSET 0) AS a
            WHERE t.told_at IS NULL
              AND (a.starts_at > t.starts_at OR (a.starts_at = t.starts_at AND a.status = 'resolved'))
              AND NOT EXISTS (SELECT 1 FROM parked p WHERE p.loop = $2 AND p.redriven_at IS NULL
                              AND p.key = t.org_id || '/' || t.fingerprint || '/' || t.ticket_id)
            LIMIT $1
            FOR UPDATE OF t SKIP LOCKED
            """,
            limit,
            LOOP,
        )
        for r in rows:
            try:
                event = _resolved(r)
            except (ValidationError, ValueError, TypeError, AttributeError) as exc:
                await park(conn, LOOP, f"{r['org_id']}/{r['fingerprint']}/{r['ticket_id']}", f"cannot tell: {exc}")
                continue
            await conn.execute(
                "UPDATE alert_tickets SET told_at = now() WHERE org_id = $1 AND fingerprint = $2 AND starts_at = $3"
                " AND ticket_id = $4",
                r["org_id"],
                r["fingerprint"],
                r["starts_at"],
                r["ticket_id"],
            )
            await enqueue(conn, ALERT_ACTIONS, r["org_id"], event)
        return len(rows)


def _resolved(r: asyncpg.Record) -> TicketAlertResolved:
    alert = r["alert"]
    same_firing = datetime.fromisoformat(str(alert.get("starts_at"))) == r["starts_at"]
    ended = alert.get("ends_at") if same_firing else None  # a new firing: the old one ended about now
    return TicketAlertResolved.build(
        source=SOURCE,
        subject=r["ticket_id"],
        data=TicketAlertResolvedData(
            ticket_id=r["ticket_id"],
            alert=AlertRef(org_id=r["org_id"], fingerprint=r["fingerprint"], starts_at=r["starts_at"]),
            rule=str(alert.get("rule", ""))[:255],
            summary=str(alert.get("summary", ""))[:1024],
            resolved_at=ended or datetime.now(UTC),
        ),
    )
