"""Clinic alerts (`source` = `clinic`) reach only organisations whose plan includes Clinic (the catalogue's
`clinic` entitlement). Over HTTP the intake refuses them with the reason; from Kafka the alert is recorded (its
state is kept) but nothing is queued, and the reason is kept in the organisation's intake rejections."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from care_schemas.catalogue import catalogue
from care_schemas.events.alert import Alert, AlertFiring, AlertResolved
from carekit.projection import current_plan
from carekit.refusals import NotEntitled
from notify_service.domain.plans import CLINIC_SOURCE, clinic_refusal

KAFKA_SOURCE = "kafka"


async def refusal_for(conn: asyncpg.Connection | asyncpg.Pool, alert: Alert) -> str | None:
    """Why this alert may not be taken for its organisation (None: it may)."""
    if alert.source != CLINIC_SOURCE:
        return None
    plan = await current_plan(conn, alert.org_id)
    return clinic_refusal(alert.source, plan.plan, plan.entitlements)


async def refuse_not_entitled(conn: asyncpg.Connection | asyncpg.Pool, alerts: Sequence[Alert]) -> None:
    """HTTP intake of native alerts: 403 naming the plan when one of them is a Clinic alert the plan excludes."""
    for i, alert in enumerate(alerts):
        if alert.source != CLINIC_SOURCE:
            continue
        plan = await current_plan(conn, alert.org_id)
        why = clinic_refusal(alert.source, plan.plan, plan.entitlements)
        if why is not None:
            needed = catalogue().cheapest_with("clinic")
            raise NotEntitled(
                f"alerts[{i}]: {why}", plan=plan.plan.value, plan_needed=needed.code.value if needed else None
            )


def involved(events: Sequence[AlertFiring | AlertResolved]) -> bool:
    """Whether any of the events is a Clinic alert (`deliverable` reads the plan for those)."""
    return any(e.data.source == CLINIC_SOURCE for e in events)


async def deliverable(
    conn: asyncpg.Connection, events: Sequence[AlertFiring | AlertResolved]
) -> Sequence[AlertFiring | AlertResolved]:
    """Kafka intake (its transaction): the events whose notifications may be queued. A Clinic alert of an
    organisation without Clinic is left out, and the reason kept once per alert start."""
    if not involved(events):
        return events
    kept: list[AlertFiring | AlertResolved] = []
    said: dict[str, str | None] = {}  # one plan read per organisation
    for event in events:
        if event.data.source != CLINIC_SOURCE:
            kept.append(event)
            continue
        if event.data.org_id not in said:
            said[event.data.org_id] = await refusal_for(conn, event.data)
        why = said[event.data.org_id]
        if why is None:
            kept.append(event)
            continue
        a = event.data
        await conn.execute(
            "INSERT INTO intake_rejections (org_id, source, alert_index, fingerprint, alertname, reason)"
            " SELECT $1, $2, 0, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM intake_rejections"
            " WHERE org_id = $1 AND source = $2 AND fingerprint = $3 AND reason = $5)",
            a.org_id,
            KAFKA_SOURCE,
            a.fingerprint,
            a.rule,
            f"{a.status.value} alert starting {a.starts_at.isoformat()} recorded, not delivered: {why}",
        )
    return kept
