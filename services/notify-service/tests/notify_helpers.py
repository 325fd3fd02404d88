"""Settings and targets for unit tests (no broker, no database), and ticket-update messages for integration tests."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from care_schemas.catalogue import ChannelType
from carekit_testing import TEST_JWT_SECRET
from notify_service.adapters.channels.base import SendContext, Target
from notify_service.adapters.im_queue import ImMessage
from notify_service.adapters.secrets import SecretBox
from notify_service.config import Settings
from notify_service.domain.classify import Outcome, Verdict
from notify_service.domain.subscribers import secrets_of
from notify_service.handlers.delivery.dispatcher import Dispatcher
from notify_service.handlers.delivery.targets import Targets
from notify_service.handlers.delivery.ticket_updates import TicketUpdates

KEY = "x2nKu2yV5cS9Y2b0R8f8tq0m9m3f2c8W6c1kQm4zJ7Y="


def settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": "127.0.0.1:9",
        "database_url": "postgresql://x@127.0.0.1:9/x",
        "jwt_secret": TEST_JWT_SECRET,
        "http_port": 0,
        "notify_secret_key": KEY,
        "notify_url_allowlist": "127.0.0.1",
    }
    values.update(changes)
    return Settings(**values)


def dispatcher_on(pool: asyncpg.Pool, me: str | None, ttl_s: float = 10.0, **changes: Any) -> Dispatcher:
    """A dispatcher of real targets on `pool` (not started), named `me` (None: as a process names it), with these
    settings, its leases lasting `ttl_s`; it sends through no Slack or Lark bot."""
    cfg = settings(delivery_lease_ttl_s=ttl_s, **changes)
    box = SecretBox(cfg.notify_secret_key)
    return Dispatcher(pool, Targets(pool, box, cfg), SendContext(None, cfg), cfg, me=me)  # type: ignore[arg-type]


def target(channel: ChannelType, config: dict[str, Any]) -> Target:
    return Target("sub-1", "org-1", "ops", channel, config, tuple(secrets_of(config)))


async def queue_tam_emails(pool: asyncpg.Pool, org: str, event_ids: list[str]) -> None:
    """Queue one TAM e-mail per event, the n-th (from 1) to tam<n>@example.com with subject s<n>."""
    for n, event_id in enumerate(event_ids, start=1):
        await pool.execute(
            "INSERT INTO im_messages (event_id, kind, org_id, target, body) VALUES ($1, 'tam_email', $2, $3, $4)",
            event_id,
            org,
            {"address": f"tam{n}@example.com"},
            {"subject": f"s{n}", "text": "t"},
        )


async def email_subscriber(pool: asyncpg.Pool, org: str, project: str, sub: str, part: int | None = None) -> None:
    """An active email subscriber (entitled on Basic, so no plan is needed) of the organisation's project, in
    delivery partition `part` (None: as a subscriber saved before partitions)."""
    await pool.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by, part)"
        " VALUES ($1, $2, $3, 'email', 'o', '\\x00', '{}', 't', $4)",
        sub,
        org,
        project,
        part,
    )


async def past_notifications(pool: asyncpg.Pool, org: str, sub: str, n: int) -> None:
    """`n` past notifications of the subscriber, delivered a month ago, and a dead letter for the first."""
    await pool.execute(
        """
        INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,
                                   alert, state, part, delivered_at, created_at)
        SELECT $1, $2, 'email', 'g', 'past-' || i, 'firing', 'critical', now() - interval '30 days', '{}'::jsonb,
               'delivered', 0, now() - interval '29 days', now() - interval '29 days'
        FROM generate_series(1, $3) i
        """,
        sub,
        org,
        n,
    )
    await pool.execute(
        "INSERT INTO dead_letters (notification_id, subscriber_id, org_id, channel, fingerprint, attempts, reason)"
        " SELECT id, subscriber_id, org_id, channel, fingerprint, 3, 'gone' FROM notifications"
        " WHERE subscriber_id = $1 ORDER BY id LIMIT 1",
        sub,
    )


def sending_fails_for(monkeypatch: pytest.MonkeyPatch, address: str, error: Exception) -> list[str]:
    """Make TicketUpdates.send raise `error` (a bug inside notify) for `address` and accept every other message;
    return the list of addresses it then sends to."""
    sent: list[str] = []

    async def send(self: TicketUpdates, message: ImMessage) -> Outcome:
        if message.target["address"] == address:
            raise error
        sent.append(message.target["address"])
        return Outcome(Verdict.OK, "SMTP 250 accepted", 250)

    monkeypatch.setattr(TicketUpdates, "send", send)
    return sent
