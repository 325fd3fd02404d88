"""Subscriber use cases: validate, gate by plan, test the endpoint, then save or update."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import ValidationError

from care_schemas.catalogue import ChannelType, catalogue
from carekit.projection import current_plan
from carekit.refusals import Invalid, NotEntitled, NotFound
from notify_service.adapters import subscribers
from notify_service.adapters.channels import REGISTRY
from notify_service.adapters.channels.base import SendContext, Target, test_alert
from notify_service.adapters.resolve import url_refusal
from notify_service.adapters.secrets import SecretBox
from notify_service.adapters.subscribers import Subscriber
from notify_service.config import Settings
from notify_service.domain.classify import Outcome
from notify_service.domain.grouping import group_by_problem
from notify_service.domain.plans import refusal
from notify_service.domain.subscribers import CONFIGS, Draft, secrets_of


def _checked_grouping(group_by: list[str] | None) -> list[str] | None:
    problem = group_by_problem(group_by)
    if problem is not None:
        raise Invalid(f"group_by: {problem}")
    return group_by


def _validated_config(channel: ChannelType, raw: dict[str, Any]) -> dict[str, Any]:
    try:
        return CONFIGS[channel].model_validate(raw).model_dump(exclude_none=True)
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
    draft = replace(
        draft, config=_validated_config(draft.type, draft.config), group_by=_checked_grouping(draft.group_by)
    )
    await _check(pool, ctx.settings, draft)
    subscriber_id = f"sub_{uuid.uuid4().hex[:16]}"
    await _test(ctx, subscriber_id, draft, secrets_of(draft.config))
    now = datetime.now(UTC)
    return await subscribers.insert(
        pool,
        box,
        Subscriber(
            **vars(draft),
            id=subscriber_id,
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
        group_by=_checked_grouping(changes["group_by"]) if "group_by" in changes else current.group_by,
        max_alerts=changes.get("max_alerts", current.max_alerts),
    )
    if config != current.config:  # a saved subscriber is checked and tested like the draft it was
        await _check(pool, ctx.settings, updated)
        await _test(ctx, updated.id, updated, secrets_of(config))
    saved = await subscribers.update(pool, box, updated)
    if saved is None:
        raise NotFound(f"no subscriber {current.id}")
    return saved
