"""Notification contacts and the events notices are sent from: contacts set by owners (and their default, the
customer who last made a change), sales requests made, decided or withdrawn, trials about to end."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

import asyncpg

from care_schemas.events.plan import Actor, ContactChat, NoticeKind, SalesRequestStatus
from care_schemas.topics import PLAN_EVENTS
from carekit.db import by_key_connection
from carekit.outbox import enqueue
from carekit.parking import Isolation
from plan_service.adapters import contacts as repo
from plan_service.adapters import postgres as plans_repo
from plan_service.domain import contacts as rules
from plan_service.domain import trial
from plan_service.domain.events import contacts_changed, sales_request_changed, trial_ending
from plan_service.domain.model import Conflict, NotFound

TRIAL_REMINDERS = Isolation("trial-reminders")
BATCH = 100


async def _commit(
    conn: asyncpg.Connection, before: rules.Contacts, after: rules.Contacts, actor: Actor, now: datetime
) -> None:
    await repo.save(conn, after, actor, now)
    if after.published != before.published:  # only what the other services see changing is an event
        await enqueue(conn, PLAN_EVENTS, after.org_id, contacts_changed(after, actor, now))


async def note_actor(conn: asyncpg.Connection, org_id: str, actor: Actor, email: str | None, now: datetime) -> None:
    """A customer made a change: their address becomes the organisation's default contact (in the caller's
    transaction, before the change's own event, so notices about the change already know where to go)."""
    if email is None or actor.role not in rules.CUSTOMER_ROLES:
        return
    current = await repo.lock(conn, org_id)
    after = rules.decide_default(current, actor.role, email)
    if after is not None:
        await _commit(conn, current, after, actor, now)


async def contacts_view(pool: asyncpg.Pool, org_id: str) -> dict[str, Any]:
    contacts, updated_at = await repo.load(pool, org_id)
    return repo.view(contacts, updated_at)


async def set_contacts(
    pool: asyncpg.Pool,
    org_id: str,
    *,
    owner_email: str | None,
    technical_email: str | None,
    chat: ContactChat | None,
    unsubscribed: Iterable[NoticeKind],
    actor: Actor,
    email: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Replace the contacts an owner manages; publishes OrgContactsChanged when what applies changes."""
    wanted = rules.check_unsubscribed(unsubscribed)
    async with pool.acquire() as conn:
        async with conn.transaction():
            await plans_repo.lock(conn, org_id, now)  # org before contacts: the order every writer takes
            await note_actor(conn, org_id, actor, email, now)
            current = await repo.lock(conn, org_id)
            after = rules.decide_set(
                current, owner_email=owner_email, technical_email=technical_email, chat=chat, unsubscribed=wanted
            )
            if after is not None:
                await _commit(conn, current, after, actor, now)
        contacts, updated_at = await repo.load(conn, org_id)
        return repo.view(contacts, updated_at)


async def publish_sales_request(conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> None:
    """SalesRequestChanged for the request as just written (made, approved, declined or withdrawn)."""
    facts = repo.sales_facts(row)
    await enqueue(conn, PLAN_EVENTS, facts.org_id, sales_request_changed(facts, now))


async def withdraw(pool: asyncpg.Pool, org_id: str, request_id: str, actor: Actor, now: datetime) -> dict[str, Any]:
    """The customer withdraws a pending request: it leaves sales' pending list and can no longer be approved."""
    async with pool.acquire() as conn, conn.transaction():
        await plans_repo.lock(conn, org_id, now)
        request = await plans_repo.lock_request(conn, request_id)
        if request is None or request["org_id"] != org_id:
            raise NotFound(f"sales request {request_id} not found; list them with GET /v1/orgs/{org_id}/sales-requests")
        if request["status"] != SalesRequestStatus.PENDING.value:
            raise Conflict(
                f"sales request {request_id} was already {request['status']} at "
                f"{request['decided_at'].isoformat()}; only a pending request can be withdrawn"
            )
        row = await plans_repo.decide_request(conn, request_id, SalesRequestStatus.WITHDRAWN.value, actor, None, now)
        await publish_sales_request(conn, row, now)
        return plans_repo.sales_request_json(row)


async def _remind(conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> bool:
    state = plans_repo.org_of(row)
    t = state.active_trial
    if t is None or not trial.reminder_due(state, now):
        return False
    event = trial_ending(
        state.org_id, t.ends_at, trial.plan_after_trial(t.return_plan, t.ends_at), trial.REMINDER_DAYS, now
    )
    if not await repo.record_reminder(conn, state.org_id, t.started_at, trial.REMINDER_DAYS, event.id, now):
        return False
    await enqueue(conn, PLAN_EVENTS, state.org_id, event)
    return True


async def remind_trials(pool: asyncpg.Pool, clock: Any) -> int:
    """TrialEnding for every active trial ending within three days, once per trial (safe with several instances);
    an organisation that cannot be processed is parked (loop `trial-reminders`) and the others go on."""
    done = 0
    while True:
        async with by_key_connection(pool) as conn, conn.transaction():
            now = clock()
            rows = await repo.lock_trials_to_remind(conn, now, trial.REMINDER_DAYS, BATCH, TRIAL_REMINDERS.loop)
            for row in rows:
                done += bool(await TRIAL_REMINDERS.run(conn, row["org_id"], partial(_remind, conn, row, now)))
        if len(rows) < BATCH:
            return done
