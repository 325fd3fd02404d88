"""Intake use cases: alerts from Kafka and from HTTP, plan changes, ticket events that become chat posts.

Alerts taken over HTTP are stored before the answer, in the transaction the Kafka intake runs for alert events from
other producers; only when that transaction fails (Postgres unreachable, or a value it refuses) do they go to
alert.events.v1, where the Kafka intake waits out the outage or isolates the one record with its reason. Either way
nothing acknowledged is lost (docs/decisions.md, "notify-service's HTTP intake stores alerts before it answers")."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

import asyncpg

from care_schemas.catalogue import catalogue
from care_schemas.envelope import ENVELOPE_MAX_BYTES
from care_schemas.events.alert import Alert, AlertFiring, AlertResolved, alert_event
from care_schemas.events.plan import SupportPlanChanged
from care_schemas.events.ticket import TicketEvent
from care_schemas.topics import ALERT_EVENTS
from carekit.db import acquired, by_key_connection
from carekit.faults import reason
from carekit.identity import Identity
from carekit.kafka import Publishers, encode
from carekit.projection import ProjectedPlan
from carekit.refusals import Forbidden, Invalid, TooLarge
from carekit.turns import take_turns
from notify_service.adapters import am_api, im_queue, metrics, rejections, repository, subscribers
from notify_service.adapters import mutes as mute_locks
from notify_service.adapters.queue import Claimed
from notify_service.config import Settings
from notify_service.domain.alertmanager_in import Intake, Refusal
from notify_service.domain.ticket_updates import outgoing
from notify_service.handlers import alert_actions, clinic, mutes
from notify_service.handlers.delivery.dispatcher import Hands, Local, hand_over

log = logging.getLogger(__name__)
BASIC_CHANNELS = sorted(c.value for c in catalogue().get("basic").entitlements.alert_channels)
T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
Also = Callable[[asyncpg.Connection], Awaitable[None]]  # more writes that belong with the alerts (one transaction)


async def store_alerts(
    pool: asyncpg.Pool,
    events: Sequence[AlertFiring | AlertResolved],
    settings: Settings,
    local: Hands | None = None,
    also: Also | None = None,
    texts: Mapping[str, str] | None = None,
) -> tuple[int, list[Claimed]]:
    """Store the alerts and queue one notification per matching, entitled subscriber, in one transaction that holds
    their organisations' intake locks (HTTP requests and Kafka batches of one organisation take turns), with `also`:
    usually one call of `notify_take_by_partition` (`repository.take_alone`), else a transaction of several statements.
    With dispatchers to hand to (`local`: this process's, one in another process, or both) and no grouping window,
    the first notices of their partitions' targets are inserted as being sent by the one that holds each and
    returned, to be handed over after the commit. `texts`: each
    alert's JSON by event id, when the caller has it (`stored_text`)."""
    handing = local.handing() if local is not None and settings.grouping_window_s == 0 else []
    firing = [e for e in events if isinstance(e, AlertFiring)]
    if also is None and len(firing) == len(events) and not clinic.involved(events):
        # the usual intake, in one round trip that is its whole transaction (`repository.take_alone`)
        async with acquired(pool) as conn:
            alone = await repository.take_alone(
                conn, firing, basic=BASIC_CHANNELS, window_s=settings.grouping_window_s, handing=handing, texts=texts
            )
        if alone is not None:
            metrics.QUEUED.inc(alone.queued)
            return alone.queued, alone.handed
    # handed back without waiting for the pool's reset: an HTTP request waits for every round trip
    async with acquired(pool) as conn, conn.transaction():
        # the locks' statement also makes the statements below find alerts, subscribers and notifications by key:
        # planned once for all while the alerts table was small, the store read the whole table on every run as it
        # grew (`carekit.db.BY_KEY_LOCAL`)
        await mute_locks.lock_for_intake(conn, {e.data.org_id for e in events})
        deliverable = {e.id for e in await clinic.deliverable(conn, events)}  # Clinic only where the plan has it
        store_only = {e.id for e in events if e.id not in deliverable}
        taken = await repository.take_in(
            conn,
            events,
            basic=BASIC_CHANNELS,
            window_s=settings.grouping_window_s,
            store_only=store_only,
            handing=handing,
            texts=texts,
        )
        handed = await mutes.at_intake(conn, events, taken)  # silences and windows hold back what they match
        if also is not None:
            await also(conn)
    metrics.QUEUED.inc(taken.queued)
    return taken.queued, handed


async def take_in_alerts(
    pool: asyncpg.Pool,
    events: Sequence[AlertFiring | AlertResolved],
    settings: Settings,
    local: Hands | None = None,
) -> int:
    """Kafka intake: store a batch (`store_alerts`), then hand this process's dispatcher what it may send at once,
    instead of waiting for a claim to find it."""
    queued, handed = await store_alerts(pool, events, settings, local)
    metrics.RECEIVED.labels("kafka").inc(len(events))
    if handed and local is not None:
        await hand_over(local, handed)
    return queued


@dataclass(frozen=True)
class AlertIntake:
    """Where alerts taken over HTTP go: stored at once (`store_alerts`), or, when that fails, published to
    alert.events.v1 for the Kafka intake."""

    pool: asyncpg.Pool
    publishers: Publishers
    settings: Settings
    local: Local

    async def accept(
        self,
        events: Sequence[AlertFiring | AlertResolved],
        texts: Mapping[str, str],
        source: str,
        also: Also | None = None,
    ) -> None:
        """Store or publish the alerts (each one's JSON in `texts` by event id, `stored_text`), to the end even when
        the request is cancelled (its client went away): rows inserted as being sent by this process's dispatcher
        must reach it. `also` is written in the alerts' transaction; when they go through the topic instead, on its
        own after them (an error then is the answer's).

        The rows are handed to the dispatcher by the request itself, after the store, in the same turn of the event
        loop as its answer is written: senders started by the store took their first turn before the answer, and the
        caller waited for them to render and send (bench/README.md, "the answer before the senders")."""
        storing = _to_the_end(self._accept(events, texts, source, also))
        try:
            dispatcher, handed = await asyncio.shield(storing)
        except asyncio.CancelledError:  # the client went away: the store goes on, and its rows reach the senders
            storing.add_done_callback(_hand_when_stored)
            raise
        # `hand_over` in two steps: the hand-off without a turn of the loop, so that the answer is written before
        # the senders run; the release of what it will not send shielded as the store is (cut off, it would leave
        # them being sent by a dispatcher that will not send them)
        if dispatcher is not None and handed and (left := dispatcher.hand(handed)):
            await asyncio.shield(_to_the_end(dispatcher.release(left)))

    async def _accept(
        self,
        events: Sequence[AlertFiring | AlertResolved],
        texts: Mapping[str, str],
        source: str,
        also: Also | None,
    ) -> tuple[Hands | None, list[Claimed]]:
        """Store the alerts (`store_alerts`), or publish them when that fails. Returns the dispatcher that rows were
        inserted as being sent by, and those rows, for the caller to hand over."""
        dispatcher = self.local.dispatcher
        handed: list[Claimed] = []
        try:
            _queued, handed = await store_alerts(self.pool, events, self.settings, dispatcher, also, texts)
        except Exception as exc:  # an outage or a refusal: the Kafka intake waits out the one, isolates the other
            log.warning(
                "could not store %d alerts at intake (%s); published to %s for the Kafka intake",
                len(events),
                reason(exc, 300),
                ALERT_EVENTS.name,
            )
            # each fits the topic: `stored_text` refused those that would not
            payloads = [(e.data.org_id, encode(e, ALERT_EVENTS)) for e in events]
            await self.publishers[ALERT_EVENTS].publish_all(payloads)
            metrics.DEFERRED.inc(len(events))
            if also is not None:  # by key, as in the alerts' transaction (`am_api.note_ends` needs it)
                async with by_key_connection(self.pool) as conn:
                    await also(conn)
        metrics.RECEIVED.labels(source).inc(len(events))
        return dispatcher, handed


_HELD: set[asyncio.Future[Any]] = set()


def _to_the_end(work: Awaitable[T]) -> asyncio.Future[T]:
    """`work` as a task held until done: it finishes though the request that started it is cancelled (the event
    loop keeps only weak references to tasks)."""
    task = asyncio.ensure_future(work)
    _HELD.add(task)
    task.add_done_callback(_HELD.discard)
    return task


def _hand_when_stored(storing: asyncio.Future[tuple[Hands | None, list[Claimed]]]) -> None:
    """A cancelled request's store finished: its rows go to the dispatcher all the same."""
    if storing.cancelled():
        return
    if (exc := storing.exception()) is not None:  # nobody is left to answer: said here
        log.warning("the alerts of a request whose client went away were not taken: %s", reason(exc, 300))
        return
    dispatcher, handed = storing.result()
    if dispatcher is not None and handed:
        _to_the_end(hand_over(dispatcher, handed))


MAX_ALERTS = 1000


def stored_text(event: AlertFiring | AlertResolved) -> str:
    """The alert's JSON, as the store takes it. TooLarge (413) when its event would not fit alert.events.v1, where
    the intake falls back when Postgres cannot take it: the event is encoded to be measured only when the alert is
    near that limit (at most 4 bytes a character, and the envelope's `ENVELOPE_MAX_BYTES`)."""
    text = event.data.model_dump_json()
    if 4 * len(text) + ENVELOPE_MAX_BYTES > ALERT_EVENTS.max_message_bytes:
        encode(event, ALERT_EVENTS)
    return text


IntakeHandler = Callable[Concatenate["AlertIntake", P], Awaitable[R]]


def _foreground(handler: IntakeHandler[P, R]) -> IntakeHandler[P, R]:
    """An HTTP intake handler, under way in this process's `Foreground` from its first step to its store's end: the
    recorder's writes that no sender waits for let it store first (carekit.foreground)."""

    @functools.wraps(handler)
    async def under_way(intake: AlertIntake, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with intake.local.foreground.under_way():
            return await handler(intake, *args, **kwargs)

    return under_way


@_foreground
async def accept_alerts(intake: AlertIntake, identity: Identity, alerts: Sequence[Alert], source: str) -> list[str]:
    """HTTP intake: the caller's own organisation's alerts (staff: any) are taken (`AlertIntake`); their event ids.
    Clinic alerts of an organisation whose plan lacks Clinic are refused (403 naming the plan), and so is an alert
    too large for an event (413 naming it), whichever way it goes."""
    if not alerts:
        raise Invalid("(body): no alerts")
    if len(alerts) > MAX_ALERTS:
        raise TooLarge(f"at most {MAX_ALERTS} alerts per request; send the rest in another")
    if not identity.is_staff:
        for i, alert in enumerate(alerts):
            if alert.org_id != identity.org:
                raise Forbidden(f"alerts[{i}].org_id: {alert.org_id!r} is not your organisation")
    await clinic.refuse_not_entitled(intake.pool, alerts)
    events: list[AlertFiring | AlertResolved] = []
    texts: dict[str, str] = {}
    for i, alert in enumerate(alerts):
        await take_turns(i)  # the process's senders run meanwhile (carekit.turns)
        event = alert_event(alert, source="/notify-service/http")
        try:
            texts[event.id] = stored_text(event)
        except TooLarge as exc:
            raise TooLarge(f"alerts[{i}]: {exc.reason}; shorten its labels, annotations or texts") from None
        events.append(event)
    await intake.accept(events, texts, source)
    return [e.id for e in events]


@_foreground
async def accept_alertmanager(
    intake: AlertIntake,
    identity: Identity,
    group: Intake,
    source: str = "alertmanager",
    ends: Mapping[int, datetime] | None = None,
) -> tuple[list[str], list[Refusal]]:
    """An Alertmanager group, alert by alert: the good alerts are taken (`AlertIntake`), each bad one is refused with
    its reason and recorded for its organisation (Alertmanager does not retry a 4xx: one bad alert must not cost the
    group its good ones). Raises Invalid, naming the reasons, when none of the group could be taken. `ends` (the
    Alertmanager API: when each alert times out, by its index) is noted for the alerts taken, with them."""
    refused = list(group.refused)
    texts: dict[str, str] = {}
    events: list[AlertFiring | AlertResolved] = []
    taken: list[tuple[Alert, datetime]] = []
    for done, (i, alert) in enumerate(group.accepted):
        await take_turns(done)  # the process's senders run meanwhile (carekit.turns)
        if not identity.is_staff and alert.org_id != identity.org:
            why = f"alerts[{i}].labels.org_id: {alert.org_id!r} is not your organisation"
            refused.append(Refusal(i, why, alert.fingerprint, alert.rule, identity.org))
            continue
        if (not_entitled := await clinic.refusal_for(intake.pool, alert)) is not None:
            refused.append(
                Refusal(i, f"alerts[{i}].labels.source: {not_entitled}", alert.fingerprint, alert.rule, alert.org_id)
            )
            continue
        event = alert_event(alert, source="/notify-service/http")
        try:
            texts[event.id] = stored_text(event)
        except TooLarge as exc:
            refused.append(Refusal(i, f"alerts[{i}]: {exc.reason}", alert.fingerprint, alert.rule, alert.org_id))
            continue
        events.append(event)
        if ends is not None:
            taken.append((alert, ends[i]))
    refused.sort(key=lambda r: r.index)
    if refused:
        await rejections.record(intake.pool, source, [(r.org_id or identity.org, r) for r in refused])
    if not events:
        reasons = "; ".join(r.reason for r in refused[:5])
        raise Invalid(f"{reasons} (no alert of the group was accepted; each refusal is in GET /v1/intake-rejections)")

    async def note_ends(conn: asyncpg.Connection) -> None:
        await am_api.note_ends(conn, taken)

    await intake.accept(events, texts, source, note_ends if taken else None)
    return [e.id for e in events], refused


async def on_plan_change(conn: asyncpg.Connection, event: SupportPlanChanged, previous: ProjectedPlan | None) -> None:
    """Projection hook (same transaction): suspend subscribers the new plan excludes, resume the ones it includes."""
    d = event.data
    await subscribers.apply_plan(conn, d.org_id, d.plan, sorted(c.value for c in d.entitlements.alert_channels))


async def take_in_ticket_event(pool: asyncpg.Pool, event: TicketEvent) -> int:
    """Queue the chat posts and TAM emails a ticket event causes (idempotent by event id)."""
    await alert_actions.take_in_ticket(pool, event)  # a ticket opened from an alert's message links the two
    messages = outgoing(event)
    return await im_queue.enqueue(pool, event.id, messages) if messages else 0
