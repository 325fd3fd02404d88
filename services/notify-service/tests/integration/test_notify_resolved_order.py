"""On real Postgres: a resolved notice never goes before its firing notice, also when the firing notice is
dead-lettered while the resolved one waits; it follows once staff re-drive the firing notice."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from notify_helpers import email_subscriber
from notify_helpers import settings as notify_settings

from care_schemas.events.alert import Alert, AlertStatus, alert_event
from notify_service import handlers
from notify_service.adapters import queue
from notify_service.adapters.queue import Result
from notify_service.adapters.repository import queue_repeats

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def _notice(pool: asyncpg.Pool, alert: Alert) -> None:
    await pool.execute(
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " alert) VALUES ('sub-o', $1, 'webhook', 'sub-o/', $2, $3, $4, $5, $6)",
        alert.org_id,
        alert.fingerprint,
        alert.status.value,
        alert.severity.value,
        alert.starts_at,
        alert.model_dump(mode="json"),
    )


async def test_a_resolved_notice_waiting_when_its_firing_notice_dies_follows_the_redrive(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    await pool.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by)"
        " VALUES ('sub-o', $1, $2, 'webhook', 'o', '\\x00', '{}', 't')",
        alert.org_id,
        alert.project_id,
    )
    await _notice(pool, alert)
    [firing] = await queue.claim(pool, 10)
    await _notice(pool, alert.model_copy(update={"status": AlertStatus.RESOLVED}))
    assert await queue.claim(pool, 10) == [], "the resolved notice waits while the firing one is being sent"

    await queue.record(pool, [Result([firing], "dead", 404, "permanent: HTTP 404", 1.0)])
    assert await queue.claim(pool, 10) == [], "the firing notice was never delivered: no resolved notice either"
    parked = await pool.fetchval("SELECT next_attempt_at = 'infinity' FROM notifications WHERE status = 'resolved'")
    assert parked, "it waits out of the claims' way"

    letter = await pool.fetchval("SELECT id FROM dead_letters WHERE notification_id = $1", firing.id)
    assert await queue.redrive(pool, letter, "staff-1")
    claimed = await queue.claim(pool, 10)
    assert [c.alert.status for c in claimed] == [AlertStatus.FIRING], "the re-driven firing notice goes first"
    await queue.record(pool, [Result(claimed, "delivered", 200, "HTTP 200", 1.0)])
    [resolved] = await queue.claim(pool, 10)
    assert resolved.alert.status is AlertStatus.RESOLVED


@pytest.mark.parametrize("together", [False, True], ids=["separate-batches", "same-batch"])
async def test_a_resolved_event_that_overtook_its_firing_event_still_wins(
    pool: asyncpg.Pool, alert: Alert, together: bool
) -> None:
    """The issue's eighth case: resolved first, then firing (same alert start). Before, the firing notice went out,
    the resolved one never did, and the alert repeated every 3 hours."""
    org_alert = alert.model_copy(update={"org_id": f"org-{together}", "fingerprint": f"fp-overtaken-{together}"})
    await email_subscriber(pool, org_alert.org_id, org_alert.project_id, f"sub-{together}")
    firing = alert_event(org_alert, source="/t")  # happened first, arrives last
    resolved = alert_event(
        org_alert.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": org_alert.starts_at}), source="/t"
    )
    settings = notify_settings(grouping_window_s=0)
    if together:
        await handlers.take_in_alerts(pool, [resolved, firing], settings)
    else:
        await handlers.take_in_alerts(pool, [resolved], settings)
        await handlers.take_in_alerts(pool, [firing], settings)

    state = await pool.fetchval(
        "SELECT status FROM alerts WHERE org_id = $1 AND fingerprint = $2", org_alert.org_id, org_alert.fingerprint
    )
    assert state == "resolved", "a late firing event does not undo the resolution"
    queued = await pool.fetch(
        "SELECT status FROM notifications WHERE subscriber_id = $1 ORDER BY id", f"sub-{together}"
    )
    assert [r["status"] for r in queued] == ["firing", "resolved"], "the subscriber hears both, firing first"
    [first] = await queue.claim(pool, 10)
    assert first.alert.status is AlertStatus.FIRING
    await queue.record(pool, [Result([first], "delivered", 200, "ok", 1.0)])
    [second] = await queue.claim(pool, 10)
    assert second.alert.status is AlertStatus.RESOLVED
    await queue.record(pool, [Result([second], "delivered", 200, "ok", 1.0)])
    await pool.execute("UPDATE notifications SET delivered_at = now() - interval '4 hours'")
    async with pool.acquire() as conn:
        assert await queue_repeats(conn, 3 * 3600.0) == 0, "a resolved alert is not repeated"


@pytest.mark.parametrize("together", [False, True], ids=["separate-batches", "same-batch"])
async def test_an_alert_that_fires_again_with_the_same_start_after_it_resolved_is_notified_at_once(
    pool: asyncpg.Pool, alert: Alert, together: bool
) -> None:
    """Issue 12's leftover: the natural key left out the re-fire, so it waited for the 3-hour repeat."""
    org_alert = alert.model_copy(update={"org_id": f"org-refire-{together}", "fingerprint": f"fp-refire-{together}"})
    sub = f"sub-refire-{together}"
    await email_subscriber(pool, org_alert.org_id, org_alert.project_id, sub)
    settings = notify_settings(grouping_window_s=0)
    first = alert_event(org_alert, source="/t")
    resolved = alert_event(
        org_alert.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": org_alert.starts_at}), source="/t"
    )
    again = alert_event(org_alert, source="/t")  # the same start, after the resolution
    if together:
        await handlers.take_in_alerts(pool, [first, resolved, again], settings)
    else:
        for event in (first, resolved, again):
            await handlers.take_in_alerts(pool, [event], settings)
    await handlers.take_in_alerts(pool, [again], settings)  # a re-sent copy is not a third episode

    queued = await pool.fetch("SELECT status, episode FROM notifications WHERE subscriber_id = $1 ORDER BY id", sub)
    assert [(r["status"], r["episode"]) for r in queued] == [("firing", 0), ("resolved", 0), ("firing", 1)]
    state = await pool.fetchrow(
        "SELECT status, episode FROM alerts WHERE org_id = $1 AND fingerprint = $2",
        org_alert.org_id,
        org_alert.fingerprint,
    )
    assert (state["status"], state["episode"]) == ("firing", 1)
    # delivered in order: the first episode's firing and resolved notices, then the new firing one at once
    delivered = []
    for _ in range(3):
        [row] = await queue.claim(pool, 10)
        delivered.append(row.alert.status)
        await queue.record(pool, [Result([row], "delivered", 200, "ok", 1.0)])
    assert delivered == [AlertStatus.FIRING, AlertStatus.RESOLVED, AlertStatus.FIRING]


async def test_an_alert_that_fires_twice_in_one_batch_is_notified_for_each_start(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """Two firing events of one alert with different starts in one batch (a restart of the rule between two of
    Prometheus's sends): each start is notified, and the later one is the alert's state. The intake takes a batch
    in one statement only when each alert appears once in it."""
    org_alert = alert.model_copy(update={"org_id": "org-twice", "fingerprint": "fp-twice"})
    await email_subscriber(pool, org_alert.org_id, org_alert.project_id, "sub-twice")
    later = org_alert.model_copy(update={"starts_at": org_alert.starts_at + timedelta(minutes=5)})
    events = [alert_event(later, source="/t"), alert_event(org_alert, source="/t")]
    await handlers.take_in_alerts(pool, events, notify_settings(grouping_window_s=0))

    queued = await pool.fetch("SELECT starts_at FROM notifications WHERE subscriber_id = 'sub-twice' ORDER BY id")
    assert sorted(r["starts_at"] for r in queued) == [org_alert.starts_at, later.starts_at]
    state = await pool.fetchval("SELECT starts_at FROM alerts WHERE org_id = 'org-twice' AND fingerprint = 'fp-twice'")
    assert state == later.starts_at


@pytest.mark.parametrize(
    ("group_by", "group"),
    [
        (None, "cl-1"),
        (["alertname", "instance", "severity"], '["node_memory_above_70pct_10m", "tikv-0", "critical"]'),
        (["..."], "=fp-grouped"),
        ([], ""),
    ],
    ids=["by-cluster", "labels", "alone", "one-group"],
)
async def test_a_resolved_notice_joins_its_firing_notices_group(
    pool: asyncpg.Pool, alert: Alert, group_by: list[str] | None, group: str
) -> None:
    """Firing and resolved notices are queued by different statements (the resolved one must see the firing one):
    both put the notice in the subscriber's group by its group_by, so a webhook gets them in the same group."""
    org = f"org-grouped-{group_by}"
    org_alert = alert.model_copy(update={"org_id": org, "fingerprint": "fp-grouped"})
    await pool.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by, group_by)"
        " VALUES ($1, $2, $3, 'email', 'o', '\\x00', '{}', 't', $4)",
        f"sub-{org}",
        org,
        org_alert.project_id,
        group_by,
    )
    resolved = org_alert.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": org_alert.starts_at})
    settings = notify_settings(grouping_window_s=0)
    await handlers.take_in_alerts(pool, [alert_event(org_alert, source="/t")], settings)
    await handlers.take_in_alerts(pool, [alert_event(resolved, source="/t")], settings)

    queued = await pool.fetch("SELECT status, grp FROM notifications WHERE org_id = $1 ORDER BY id", org)
    assert [(r["status"], r["grp"]) for r in queued] == [
        ("firing", f"sub-{org}/{group}"),
        ("resolved", f"sub-{org}/{group}"),
    ]


async def test_the_subscribers_of_a_resolved_notice_are_those_of_its_firing_notice(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """Firing and resolved notices are queued by different statements, each matching subscribers by project,
    cluster, severity and rule: every subscriber that got the firing notice gets the resolved one, and one whose
    filter leaves the alert out gets neither."""
    org_alert = alert.model_copy(update={"org_id": "org-filters", "fingerprint": "fp-filters"})
    filters = {
        "sub-all": ("proj-1", None, None, None),
        "sub-cluster": ("proj-1", "cl-1", None, None),
        "sub-severity": ("proj-1", None, ["critical"], None),
        "sub-rule": ("proj-1", None, None, ["node_memory_above_70pct_10m"]),
        "sub-other-project": ("proj-2", None, None, None),
        "sub-other-cluster": ("proj-1", "cl-2", None, None),
        "sub-other-severity": ("proj-1", None, ["warning"], None),
        "sub-other-rule": ("proj-1", None, None, ["disk_full"]),
    }
    for sub, (project, cluster, severities, rules) in filters.items():
        await pool.execute(
            "INSERT INTO subscribers (id, org_id, project_id, cluster_id, severities, rules, type, name, secret,"
            " display, created_by) VALUES ($1, 'org-filters', $2, $3, $4, $5, 'email', 'o', '\\x00', '{}', 't')",
            sub,
            project,
            cluster,
            severities,
            rules,
        )
    resolved = org_alert.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": org_alert.starts_at})
    settings = notify_settings(grouping_window_s=0)
    await handlers.take_in_alerts(pool, [alert_event(org_alert, source="/t")], settings)
    await handlers.take_in_alerts(pool, [alert_event(resolved, source="/t")], settings)

    rows = await pool.fetch("SELECT subscriber_id, status FROM notifications WHERE org_id = 'org-filters' ORDER BY id")
    got: dict[str, list[str]] = {sub: [] for sub in filters}
    for r in rows:
        got[r["subscriber_id"]].append(r["status"])
    matching = ["sub-all", "sub-cluster", "sub-severity", "sub-rule"]
    assert got == {sub: ["firing", "resolved"] if sub in matching else [] for sub in filters}
