"""Use cases behind the Alertmanager API v2, all within the caller's organisation: post alerts (through the same
alert-by-alert intake as the webhook), list alerts, groups and receivers, the status, and silences."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from care_schemas.events.alert import Alert, AlertStatus
from carekit.identity import Identity
from carekit.projection import current_plan
from carekit.refusals import Invalid, NotFound
from notify_service.adapters import am_api, mutes, silences
from notify_service.config import Settings
from notify_service.domain import am_api as shapes
from notify_service.domain.alertmanager import labels_of
from notify_service.domain.alertmanager_in import FieldError, Intake, Refusal, read_alert
from notify_service.domain.matchers import Matcher, MatcherError, filter_matches
from notify_service.domain.silences import SilenceRefused, SilenceState, can_update, check_new, sort_key
from notify_service.handlers import mutes as muting
from notify_service.handlers.intake import AlertIntake, accept_alertmanager

RESOLVE_TIMEOUT = timedelta(minutes=5)  # Alertmanager's default `resolve_timeout`
SOURCE = "alertmanager-api"


def _now() -> datetime:
    return datetime.now(UTC)


def _set(value: datetime | None) -> datetime | None:
    """Go's zero time (what amtool sends for an unset time) is no time."""
    return value if value is not None and value.year > 1 else None


async def post_alerts(intake: AlertIntake, identity: Identity, posted: Sequence[Mapping[str, Any]]) -> list[str]:
    """Take each postable alert on its own (as Alertmanager does): a missing start is now, a missing end is now +
    resolve_timeout and the alert resolves then unless posted again; an end in the past is a resolved alert.
    The good alerts are taken; the reasons of the refused ones are returned (and kept for the organisation)."""
    now = _now()
    accepted: list[tuple[int, Alert]] = []
    refused: list[Refusal] = []
    ends: dict[int, datetime] = {}
    for i, p in enumerate(posted):
        starts, end = _set(p.get("startsAt")), _set(p.get("endsAt"))
        starts = starts or end or now
        end = end or now + RESOLVE_TIMEOUT
        ends[i] = end
        raw = {
            "status": (AlertStatus.FIRING if end > now else AlertStatus.RESOLVED).value,
            "labels": {k: v for k, v in p.get("labels", {}).items() if v != ""},
            "annotations": p.get("annotations") or {},
            "startsAt": starts,
            "endsAt": end,
            "generatorURL": p.get("generatorURL") or "",
        }
        try:
            accepted.append((i, read_alert(i, raw, None if identity.is_staff else identity.org)))
        except FieldError as exc:
            labels = p.get("labels", {})
            refused.append(Refusal(i, str(exc), None, labels.get("alertname"), labels.get("org_id") or identity.org))
    if not accepted and not refused:
        raise Invalid("(body): no alerts")
    try:  # each alert's time-out is noted with it: a crash between the two would leave it firing for good
        _ids, refused = await accept_alertmanager(intake, identity, Intake(accepted, refused), SOURCE, ends)
    except Invalid as exc:
        return [exc.message]
    return [r.reason for r in refused]


async def _alerts(
    pool: asyncpg.Pool, org: str, query: shapes.AlertQuery
) -> list[tuple[dict[str, Any], Alert, list[shapes.Receiver]]]:
    """The organisation's alerts the query keeps: (gettable alert, alert, its receivers)."""
    now = _now()
    rules = await muting.rules_of(pool, org, now)
    plan = await current_plan(pool, org)
    channels = frozenset(c.value for c in plan.entitlements.alert_channels)
    every = [_receiver(r) for r in await am_api.receivers(pool, org)]
    found = []
    for row in await am_api.firing(pool, org):
        if row["ends_at"] is not None and row["ends_at"] < now:
            continue  # timed out: resolved (Alertmanager shows it no more)
        try:
            alert = Alert.model_validate(row["alert"])
        except ValueError:
            continue
        taking = [r for r in every if r.takes(alert, channels) and query.routes_to(r)]
        if (query.receiver is not None or query.receiver_matchers) and not taking:
            continue
        labels = labels_of(alert)
        muted = rules.muting(labels)
        if not query.keeps(labels, muted):
            continue
        names = list(dict.fromkeys(r.name for r in taking))
        view = shapes.gettable_alert(
            alert, updated_at=row["updated_at"], ends_at=row["ends_at"], receivers=names, muting=muted
        )
        found.append((view, alert, taking))
    return found


def _receiver(r: asyncpg.Record) -> shapes.Receiver:
    return shapes.Receiver(
        r["id"],
        r["name"],
        r["type"],
        r["project_id"],
        r["cluster_id"],
        r["severities"],
        r["rules"],
        r["state"] == "active",
    )


async def list_alerts(pool: asyncpg.Pool, org: str, query: shapes.AlertQuery) -> list[dict[str, Any]]:
    return [view for view, _, _ in await _alerts(pool, org, query)]


async def alert_groups(pool: asyncpg.Pool, org: str, query: shapes.AlertQuery, muted: bool) -> list[dict[str, Any]]:
    """One group per receiver and cluster (notify-service's grouping); `muted=false` leaves out groups whose every
    alert a maintenance window mutes."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for view, alert, taking in await _alerts(pool, org, query):
        for r in taking:
            key = (r.name, alert.cluster_id or "")
            group = groups.setdefault(
                key,
                {
                    "labels": {"cluster_id": alert.cluster_id} if alert.cluster_id else {},
                    "routeLabels": {k: v for k, v in r.labels.items() if k in ("project_id", "cluster_id")},
                    "receiver": {"name": r.name},
                    "alerts": [],
                },
            )
            group["alerts"].append(view)
    found = [groups[k] for k in sorted(groups)]
    if not muted:
        found = [g for g in found if not all(a["status"]["mutedBy"] for a in g["alerts"])]
    return found


async def receivers(pool: asyncpg.Pool, org: str, matchers: Sequence[Matcher]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for r in (_receiver(row) for row in await am_api.receivers(pool, org)):
        if r.name not in seen and (not matchers or filter_matches(matchers, r.labels)):
            seen[r.name] = {"name": r.name, "labels": r.labels}
    return list(seen.values())


async def status(pool: asyncpg.Pool, org: str, settings: Settings, started: datetime) -> dict[str, Any]:
    every = [_receiver(row) for row in await am_api.receivers(pool, org)]
    return {
        "cluster": {"name": "notify-service", "status": "ready", "peers": []},
        "versionInfo": {
            "version": shapes.VERSION,
            "revision": "connected-care",
            "branch": "notify-service",
            "buildUser": "connected-care",
            "buildDate": started.strftime("%Y%m%d-%H:%M:%S"),
            "goVersion": "n/a (Python notify-service speaking Alertmanager API v2)",
        },
        "config": {
            "original": shapes.config_yaml(
                org, every, group_wait_s=settings.grouping_window_s, repeat_s=settings.repeat_interval_s
            )
        },
        "uptime": shapes.ts(started),
    }


async def list_silences(
    pool: asyncpg.Pool, org: str, filters: Sequence[Matcher], states: set[SilenceState]
) -> list[dict[str, Any]]:
    now = _now()
    found = [
        s
        for s in await silences.silences(pool, org, current_only=False)
        if s.state(now) in states and s.has_matchers(filters)
    ]
    return [shapes.gettable_silence(s, now) for s in sorted(found, key=lambda s: sort_key(s, now))]


async def get_silence(pool: asyncpg.Pool, org: str, silence_id: str) -> dict[str, Any]:
    found = await silences.silence(pool, org, silence_id)
    if found is None:
        raise NotFound(f"silence {silence_id} not found")
    return shapes.gettable_silence(found, _now())


async def post_silence(pool: asyncpg.Pool, identity: Identity, body: Mapping[str, Any]) -> str:
    """Create a silence, or change one (in place when Alertmanager would; otherwise the old one expires and a new
    one with a new id replaces it). Its effect is immediate: what it matches is held back before this returns."""
    now = _now()
    try:
        matchers = [
            Matcher.from_api(m["name"], m["value"], m["isRegex"], m.get("isEqual", True)) for m in body["matchers"]
        ]
        check_new(matchers, body["startsAt"], body["endsAt"], now)
    except (MatcherError, SilenceRefused) as exc:
        raise Invalid(str(exc)) from None
    org = identity.org
    async with pool.acquire() as conn, conn.transaction():
        await mutes.lock(conn, [org])
        old = await silences.silence(conn, org, body["id"]) if body.get("id") else None
        if body.get("id") and old is None:
            raise NotFound(f"silence {body['id']} not found")
        fields = (body["createdBy"], body["comment"], dict(body.get("annotations") or {}))
        if old is not None and can_update(old, matchers, body["startsAt"], body["endsAt"], now):
            await silences.update_silence(conn, org, old.id, body["startsAt"], body["endsAt"], *fields)
            silence_id = old.id
        else:
            if old is not None and old.state(now) is not SilenceState.EXPIRED:
                await silences.expire_silence(conn, org, old.id, now)
            silence_id = str(uuid.uuid4())
            starts = max(body["startsAt"], now)
            await silences.insert_silence(
                conn, silence_id, org, matchers, starts, body["endsAt"], *fields, author=identity.sub
            )
        await muting.reconcile(conn, org)
    return silence_id


async def expire_silence(pool: asyncpg.Pool, org: str, silence_id: str) -> None:
    """End a silence now; what it held back and is still firing is sent at once."""
    async with pool.acquire() as conn, conn.transaction():
        await mutes.lock(conn, [org])
        if not await silences.expire_silence(conn, org, silence_id, _now()):
            raise NotFound(f"silence {silence_id} not found")
        await muting.reconcile(conn, org)
