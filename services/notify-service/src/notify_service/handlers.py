"""Use cases: take in alerts, apply plan changes, save subscribers (after a passing test)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import ValidationError

from care_schemas.catalogue import ChannelType, catalogue
from care_schemas.events.alert import Alert, AlertFiring, AlertResolved, alert_event
from care_schemas.events.plan import SupportPlanChanged
from care_schemas.events.ticket import TicketEvent
from care_schemas.topics import ALERT_EVENTS
from carekit.identity import Identity
from carekit.kafka import Publishers
from carekit.projection import ProjectedPlan, current_plan
from carekit.refusals import Forbidden, Invalid, NotEntitled, NotFound, TooLarge
from notify_service import metrics
from notify_service.adapters import im_queue, repository, subscribers
from notify_service.adapters.resolve import url_refusal
from notify_service.adapters.secrets import SecretBox
from notify_service.adapters.subscribers import Subscriber
from notify_service.channels import REGISTRY
from notify_service.channels.base import SendContext, Target, test_alert
from notify_service.config import Settings
from notify_service.domain.classify import Outcome
from notify_service.domain.plans import refusal
from notify_service.domain.subscribers import CONFIGS, secrets_of
from notify_service.domain.ticket_updates import outgoing

BASIC_CHANNELS = sorted(c.value for c in catalogue().get("basic").entitlements.alert_channels)


async def take_in_alerts(pool: asyncpg.Pool, events: Sequence[AlertFiring | AlertResolved], settings: Settings) -> int:
    """Store the alerts and queue one notification per matching, entitled subscriber, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await repository.store_alerts(conn, events)
        queued = await repository.enqueue_notifications(
            conn, events, basic=BASIC_CHANNELS, window_s=settings.grouping_window_s
        )
    metrics.RECEIVED.labels("kafka").inc(len(events))
    metrics.QUEUED.inc(queued)
    return queued


MAX_ALERTS = 1000


async def publish_alerts(publishers: Publishers, identity: Identity, alerts: Sequence[Alert], source: str) -> list[str]:
    """HTTP intake: the caller's own organisation's alerts (staff: any) go to alert.events.v1; their event ids."""
    if not alerts:
        raise Invalid("(body): no alerts")
    if len(alerts) > MAX_ALERTS:
        raise TooLarge(f"at most {MAX_ALERTS} alerts per request; send the rest in another")
    if not identity.is_staff:
        for i, alert in enumerate(alerts):
            if alert.org_id != identity.org:
                raise Forbidden(f"alerts[{i}].org_id: {alert.org_id!r} is not your organisation")
    events = [alert_event(a, source="/notify-service/http") for a in alerts]
    await publishers[ALERT_EVENTS].publish_all([(e.data.org_id, e.to_json_bytes()) for e in events])
    metrics.RECEIVED.labels(source).inc(len(alerts))
    return [e.id for e in events]


async def on_plan_change(conn: asyncpg.Connection, event: SupportPlanChanged, previous: ProjectedPlan | None) -> None:
    """Projection hook (same transaction): suspend subscribers the new plan excludes, resume the ones it includes."""
    d = event.data
    await subscribers.apply_plan(conn, d.org_id, d.plan, sorted(c.value for c in d.entitlements.alert_channels))


async def take_in_ticket_event(pool: asyncpg.Pool, event: TicketEvent) -> int:
    """Queue the chat posts and TAM emails a ticket event causes (idempotent by event id)."""
    messages = outgoing(event)
    return await im_queue.enqueue(pool, event.id, messages) if messages else 0


@dataclass(frozen=True)
class Draft:
    org_id: str
    project_id: str
    cluster_id: str | None
    type: ChannelType
    name: str
    severities: list[str] | None
    rules: list[str] | None
    config: dict[str, Any]


def _validated_config(channel: ChannelType, raw: dict[str, Any]) -> dict[str, Any]:
    try:
        return CONFIGS[channel].model_validate(raw).model_dump()
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in ("config", *err["loc"]))
        raise Invalid(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None


async def _check(pool: asyncpg.Pool, settings: Settings, draft: Draft) -> None:
    plan = await current_plan(pool, draft.org_id)
    why = refusal(draft.type, plan.plan, plan.entitlements)
    if why is not None:
        needed = catalogue().cheapest_with_channel(draft.type)
        raise NotEntitled(why, plan=plan.plan.value, plan_needed=needed.code.value if needed else None)
    refused_url = await url_refusal(draft.config, settings.allowlist)
    if refused_url is not None:
        raise Invalid(f"config.{refused_url[0]}: {refused_url[1]}")


async def send_test(ctx: SendContext, target: Target) -> Outcome:
    """Send the channel's test message (webhook: with dryRun true)."""
    channel = REGISTRY[target.channel]
    rendered = channel.render([test_alert(target)], target, ctx.settings, True)
    return await channel.send(ctx, target, rendered)


async def _test(ctx: SendContext, subscriber_id: str, draft: Draft, secrets: Sequence[str]) -> None:
    target = Target(subscriber_id, draft.org_id, draft.name, draft.type, draft.config, tuple(secrets))
    outcome = await send_test(ctx, target)
    if not outcome.ok:
        raise Invalid(
            f"the test message was not accepted, so the subscriber was not saved: {outcome.reason}",
            endpoint_status=outcome.status,
            endpoint_answer=outcome.reason,
        )


async def create_subscriber(
    pool: asyncpg.Pool, box: SecretBox, ctx: SendContext, draft: Draft, created_by: str
) -> Subscriber:
    """Validate, gate by plan, test, then save."""
    draft = replace(draft, config=_validated_config(draft.type, draft.config))
    await _check(pool, ctx.settings, draft)
    subscriber_id = f"sub_{uuid.uuid4().hex[:16]}"
    await _test(ctx, subscriber_id, draft, secrets_of(draft.config))
    now = datetime.now(UTC)
    return await subscribers.insert(
        pool,
        box,
        Subscriber(
            id=subscriber_id,
            org_id=draft.org_id,
            project_id=draft.project_id,
            cluster_id=draft.cluster_id,
            type=draft.type,
            name=draft.name,
            severities=draft.severities,
            rules=draft.rules,
            config=draft.config,
            state="active",
            state_reason=None,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        ),
    )


async def update_subscriber(
    pool: asyncpg.Pool, box: SecretBox, ctx: SendContext, current: Subscriber, changes: dict[str, Any]
) -> Subscriber:
    """Apply changes; a changed configuration is checked and tested again before it is saved."""
    config = current.config
    if "config" in changes and changes["config"] is not None:
        config = _validated_config(current.type, {**current.config, **changes["config"]})
    updated = replace(
        current,
        project_id=changes.get("project_id") or current.project_id,
        cluster_id=changes.get("cluster_id", current.cluster_id),
        name=changes.get("name") or current.name,
        severities=changes.get("severities", current.severities),
        rules=changes.get("rules", current.rules),
        config=config,
    )
    if config != current.config:
        draft = Draft(
            updated.org_id,
            updated.project_id,
            updated.cluster_id,
            updated.type,
            updated.name,
            updated.severities,
            updated.rules,
            config,
        )
        await _check(pool, ctx.settings, draft)
        await _test(ctx, updated.id, draft, secrets_of(config))
    saved = await subscribers.update(pool, box, updated)
    if saved is None:
        raise NotFound(f"no subscriber {current.id}")
    return saved
