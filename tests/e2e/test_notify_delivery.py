"""Delivery under trouble: Retry-After holds one target while others go on; permanent failures become dead
letters (table, API and NotificationDeadLettered event) that staff can re-drive; repeats and resolved notices."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer

from care_schemas.events.alert import AlertStatus
from care_schemas.events.deadletter import NotificationDeadLettered, deadletter_event_adapter
from care_schemas.topics import NOTIFY_DEADLETTER
from carekit_testing import eventually
from tests.fakes.slack_webhook_server import running_slack_webhook
from tests.fakes.webhook_server import alerts_received, running_webhook_receiver
from tests.receivers import Answer, Notify, Receiver, on_plan, sample_alert, start_notify, token

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


def hook(url: str, project: str = "proj-1") -> dict[str, object]:
    # every alert alone (group_by ['...']): these tests count requests to see rates, pauses and retries
    return {"type": "webhook", "name": "hook", "project_id": project, "config": {"url": url}, "group_by": ["..."]}


async def arrived(receiver: Receiver, fingerprint: str, times: int = 1) -> None:
    """Wait until the receiver got the alert `fingerprint` `times` times: the marker of a "nothing more arrives"
    check. A subscriber's notifications are claimed by when they are due and sent in that order by its one worker,
    so whatever was queued for it before the marker became due has reached it before the marker, or with it."""

    async def got() -> bool:
        return [a["fingerprint"] for a in alerts_received(receiver)].count(fingerprint) >= times

    await eventually(got, timeout_s=20)


async def test_retry_after_holds_that_target_while_other_targets_keep_receiving(
    notify: Notify, org: str, unique: str
) -> None:
    async with running_webhook_receiver() as slow, running_webhook_receiver() as busy:
        await notify.subscribe(org, hook(f"{slow.url}/limited", project="p-limited"))
        await notify.subscribe(org, hook(f"{busy.url}/fine", project="p-fine"))
        slow.script("/limited", Answer(429, {"Retry-After": "4"}, "slow down"))
        await notify.alerts(sample_alert(org, f"lim-0-{unique}", project_id="p-limited"))
        [_test, limited] = await slow.wait_for(2)
        for i in range(1, 6):  # more for the limited target, and a steady flow to the other one
            await notify.alerts(
                sample_alert(org, f"lim-{i}-{unique}", project_id="p-limited"),
                sample_alert(org, f"fine-{i}-{unique}", project_id="p-fine"),
            )
            await asyncio.sleep(0.25)
        await slow.wait_for(2 + 6, timeout_s=20)
    after = slow.requests[2:]
    assert min(r.at for r in after) - limited.at >= 4.0, "nothing reaches the target before Retry-After passed"
    fine = busy.requests[1:]
    assert len(fine) == 5
    # the other target's alerts all arrive while the limited one is still held (before its first retry)
    assert max(r.at for r in fine) < min(r.at for r in after), "the other target was held up by Retry-After"
    assert {a["fingerprint"] for a in alerts_received(slow)} == {f"lim-{i}-{unique}" for i in range(6)}


async def test_a_target_with_a_long_backlog_does_not_hold_up_other_targets(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, unique: str
) -> None:
    service = await start_notify(
        kafka_bootstrap,
        database_url,
        tmp_path,
        DELIVERY_CLAIM_BATCH="20",
        DELIVERY_TARGET_BACKLOG="20",
        WEBHOOK_RATE_PER_S="2",
        WEBHOOK_BURST="1",
        GROUPING_WINDOW_S="0",
    )
    org = f"backlog-{unique}"
    try:
        await on_plan(service.url, kafka_bootstrap, org, "enterprise")
        async with running_webhook_receiver() as slow, running_webhook_receiver() as other:
            await service.subscribe(org, hook(f"{slow.url}/slow", project="p-slow"))
            await service.subscribe(org, hook(f"{other.url}/other", project="p-other"))
            await service.alerts(*(sample_alert(org, f"s-{i}-{unique}", project_id="p-slow") for i in range(400)))
            await slow.wait_for(2)
            await service.alerts(*(sample_alert(org, f"o-{i}-{unique}", project_id="p-other") for i in range(3)))
            await other.wait_for(1 + 3, timeout_s=120)
            # the slow target's own requests are the clock: held to 2/s, it would have taken about 400 of them
            # (200 s) before the other target's turn if the backlog held it up
            slow_meanwhile = len(slow.requests)
        assert slow_meanwhile < 100, f"the other target waited behind {slow_meanwhile} of the slow target's sends"
        assert {a["fingerprint"] for a in alerts_received(other)} == {f"o-{i}-{unique}" for i in range(3)}
    finally:
        service.service.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def deadletters(kafka_bootstrap: str, unique: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        NOTIFY_DEADLETTER.name, bootstrap_servers=kafka_bootstrap, auto_offset_reset="latest", group_id=f"dl-{unique}"
    )
    await consumer.start()
    deadline = time.monotonic() + 20
    while not consumer.assignment() and time.monotonic() < deadline:
        await consumer.getmany(timeout_ms=200)
    yield consumer
    await consumer.stop()


async def test_permanent_failure_is_dead_lettered_published_and_redriven_by_staff(
    notify: Notify, org: str, unique: str, deadletters: AIOKafkaConsumer
) -> None:
    async with running_webhook_receiver() as receiver:
        saved = await notify.subscribe(org, hook(f"{receiver.url}/gone"))
        receiver.script("/gone", Answer(404, body="no such hook"))
        await notify.alerts(sample_alert(org, f"dl-{unique}"))
        await receiver.wait_for(2)

        events: list[NotificationDeadLettered] = []

        async def published() -> bool:
            for records in (await deadletters.getmany(timeout_ms=300)).values():
                for r in records:
                    event = deadletter_event_adapter.validate_json(r.value)
                    if isinstance(event, NotificationDeadLettered) and event.data.subscriber_id == saved["id"]:
                        events.append(event)
            return bool(events)

        await eventually(published, timeout_s=20)
        assert events[0].data.reason == "permanent: HTTP 404: no such hook"
        assert events[0].data.channel == "webhook"
        assert events[0].data.fingerprint == f"dl-{unique}"

        async with notify.client() as client:
            owner = await client.get("/v1/dead-letters", headers=token(org))
            listed = await client.get("/v1/dead-letters", headers=token("vendor", "admin"), params={"org_id": org})
            [letter] = listed.json()["dead_letters"]
            assert letter["reason"] == "permanent: HTTP 404: no such hook"
            redrive = await client.post(f"/v1/dead-letters/{letter['id']}/redrive", headers=token("vendor", "admin"))
            again = await client.post(f"/v1/dead-letters/{letter['id']}/redrive", headers=token("vendor", "admin"))
        assert owner.status_code == 403
        assert redrive.status_code == 202
        assert again.status_code == 404
        await receiver.wait_for(3)
        assert [a["fingerprint"] for a in alerts_received(receiver)] == [f"dl-{unique}", f"dl-{unique}"]
        rows = await notify.fetch("SELECT state FROM notifications WHERE subscriber_id = $1", saved["id"])
        await eventually(lambda: _delivered(notify, saved["id"]), timeout_s=10)
        assert len(rows) == 1


async def test_a_deleted_subscribers_dead_letters_go_after_it(notify: Notify, org: str, unique: str) -> None:
    """Deleting a subscriber answers once it is gone; its notifications and their dead letters follow at once (the
    service's purge, woken by the delete), and the other subscriber's stay."""
    async with running_webhook_receiver() as receiver, notify.client() as client:
        gone = await notify.subscribe(org, hook(f"{receiver.url}/gone"))
        kept = await notify.subscribe(org, hook(f"{receiver.url}/kept"))
        receiver.script("/gone", Answer(404, body="no such hook"))
        await notify.alerts(sample_alert(org, f"del-{unique}"))
        staff = token("vendor", "admin")

        async def letters() -> list[str]:
            listed = await client.get("/v1/dead-letters", headers=staff, params={"org_id": org})
            return [letter["subscriber_id"] for letter in listed.json()["dead_letters"]]

        assert await eventually(letters, timeout_s=20) == [gone["id"]]
        await eventually(lambda: _delivered(notify, kept["id"]), timeout_s=10)
        assert (await client.delete(f"/v1/subscribers/{gone['id']}", headers=token(org))).status_code == 204

        async def purged() -> bool:
            left = await notify.fetch("SELECT 1 FROM notifications WHERE subscriber_id = $1", gone["id"])
            return not left and not await letters()

        await eventually(purged, timeout_s=10)
        assert await _delivered(notify, kept["id"]), "the other subscriber's notification stays"


async def _delivered(notify: Notify, subscriber_id: str) -> bool:
    rows = await notify.fetch("SELECT state FROM notifications WHERE subscriber_id = $1", subscriber_id)
    return [r["state"] for r in rows] == ["delivered"]


async def test_a_grouped_message_refused_as_too_large_is_resent_in_smaller_messages(
    notify: Notify, org: str, unique: str
) -> None:
    async with running_slack_webhook() as slack:
        path = f"/services/T/B/{unique}"
        body = {"type": "slack", "name": "s", "project_id": "p-413", "config": {"webhook_url": slack.url + path}}
        await notify.subscribe(org, body)
        slack.script(path, Answer(413, body="request_too_large"))
        await notify.alerts(*(sample_alert(org, f"big-{unique}-{i}", project_id="p-413") for i in range(10)))
        await slack.wait_for(4, timeout_s=20)
        # the marker: one more alert for the same webhook, queued once both halves arrived; the halves (and anything
        # sent again after the 413) went back to the front of the subscriber's queue at once, so any further message
        # about them goes out before the marker's (Slack's 1/s rate keeps the webhook's messages in order)
        await notify.alerts(sample_alert(org, f"mark-{unique}", project_id="p-413"))
        await eventually(lambda: _named(slack, f"mark-{unique}"), timeout_s=20)
    refused, *accepted = slack.requests[1:]
    assert refused.status == 413
    assert all(r.status == 200 for r in accepted)
    assert f"mark-{unique}" in accepted[-1].body.decode()
    named = [re.findall(rf"big-{unique}-\d+", r.body.decode()) for r in accepted]
    assert sorted(n for names in named for n in names) == sorted(f"big-{unique}-{i}" for i in range(10))
    assert all(len(names) <= 5 for names in named)
    assert not await notify.fetch("SELECT 1 FROM dead_letters WHERE org_id = $1 AND fingerprint LIKE 'big-%'", org)


async def _named(receiver: Receiver, text: str) -> bool:
    return any(text in r.body.decode() for r in receiver.requests)


async def test_resolved_notice_waits_for_its_firing_notice(notify: Notify, org: str, unique: str) -> None:
    async with running_webhook_receiver() as receiver:
        await notify.subscribe(org, hook(f"{receiver.url}/order"))
        receiver.script("/order", Answer(503, body="later"), Answer(503, body="later"))
        firing = sample_alert(org, f"ord-{unique}")
        await notify.alerts(firing)
        await receiver.wait_for(2)
        await notify.alerts(sample_alert(org, f"ord-{unique}", status=AlertStatus.RESOLVED, ends_at=firing.starts_at))
        await receiver.wait_for(5, timeout_s=20)
        # the marker: another alert to the same subscriber, queued after the resolved notice arrived, so that a
        # further firing retry or a second resolved notice already queued would reach the receiver before it
        await notify.alerts(sample_alert(org, f"ord-mark-{unique}"))
        await arrived(receiver, f"ord-mark-{unique}")
    received = alerts_received(receiver)
    assert received[-1]["fingerprint"] == f"ord-mark-{unique}"
    statuses = [a["status"] for a in received[:-1]]
    assert statuses == ["firing", "firing", "firing", "resolved"], "retries of firing first, then one resolved"


async def test_a_resolved_notice_is_held_while_its_firing_notice_is_dead_lettered_and_follows_the_redrive(
    notify: Notify, org: str, unique: str
) -> None:
    async with running_webhook_receiver() as receiver:
        saved = await notify.subscribe(org, hook(f"{receiver.url}/held"))
        receiver.script("/held", Answer(404, body="hook not set up yet"))
        firing = sample_alert(org, f"held-{unique}")
        await notify.alerts(firing)
        await receiver.wait_for(2)

        async def states() -> dict[str, str]:
            rows = await notify.fetch(
                "SELECT status, state FROM notifications WHERE subscriber_id = $1 AND fingerprint = $2",
                saved["id"],
                f"held-{unique}",
            )
            return {r["status"]: r["state"] for r in rows}

        await eventually(lambda: _has(states, {"firing": "dead"}), timeout_s=10)
        await notify.alerts(sample_alert(org, f"held-{unique}", status=AlertStatus.RESOLVED, ends_at=firing.starts_at))
        await eventually(lambda: _has(states, {"firing": "dead", "resolved": "pending"}), timeout_s=10)
        # the marker: another alert to the same subscriber, queued after the resolved notice, so due a grouping
        # window after it; it arrives while the resolved notice, due earlier, is still held
        await notify.alerts(sample_alert(org, f"held-mark-{unique}"))
        await arrived(receiver, f"held-mark-{unique}")
        assert [a["fingerprint"] for a in alerts_received(receiver)] == [f"held-{unique}", f"held-mark-{unique}"], (
            "no resolved notice before the firing one reached the subscriber"
        )
        assert await states() == {"firing": "dead", "resolved": "pending"}

        async with notify.client() as client:
            listed = await client.get("/v1/dead-letters", headers=token("vendor", "admin"), params={"org_id": org})
            [letter] = [x for x in listed.json()["dead_letters"] if x["subscriber_id"] == saved["id"]]
            redrive = await client.post(f"/v1/dead-letters/{letter['id']}/redrive", headers=token("vendor", "admin"))
        assert redrive.status_code == 202
        await receiver.wait_for(5, timeout_s=15)
    statuses = [a["status"] for a in alerts_received(receiver) if a["fingerprint"] == f"held-{unique}"]
    assert statuses == ["firing", "firing", "resolved"]
    assert [r.status for r in receiver.requests[1:]] == [404, 200, 200, 200]


async def _has(states: Callable[[], Awaitable[dict[str, str]]], wanted: dict[str, str]) -> bool:
    return await states() == wanted


async def test_resolved_alone_is_not_sent_to_a_subscriber_that_never_got_the_firing(
    notify: Notify, org: str, unique: str
) -> None:
    async with running_webhook_receiver() as receiver:
        await notify.subscribe(org, hook(f"{receiver.url}/r"))
        now = datetime.now(UTC)
        await notify.alerts(
            sample_alert(
                org, f"lonely-{unique}", status=AlertStatus.RESOLVED, starts_at=now - timedelta(hours=1), ends_at=now
            ),
            sample_alert(org, f"marker-{unique}"),  # after it in the same partition: queued after, due no earlier
        )
        await arrived(receiver, f"marker-{unique}")
    assert [a["fingerprint"] for a in alerts_received(receiver)] == [f"marker-{unique}"]


async def test_an_alert_still_firing_is_sent_again_after_the_repeat_interval_and_once_resolved(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, unique: str
) -> None:
    service = await start_notify(
        kafka_bootstrap, database_url, tmp_path, REPEAT_INTERVAL_S="1.5", REPEAT_CHECK_INTERVAL_S="0.2"
    )
    org = f"rep-{unique}"
    try:
        await on_plan(service.url, kafka_bootstrap, org, "enterprise")
        async with running_webhook_receiver() as receiver:
            await service.subscribe(org, hook(f"{receiver.url}/rep"))
            firing = sample_alert(org, f"rep-{unique}")
            await service.alerts(firing)
            await receiver.wait_for(3, timeout_s=15)
            times = [r.at for r in receiver.requests[1:3]]
            await service.alerts(
                sample_alert(org, f"rep-{unique}", status=AlertStatus.RESOLVED, ends_at=firing.starts_at)
            )
            await receiver.wait_for(4, timeout_s=15)
            # the marker: another alert to the same subscriber, sent once the resolved notice arrived, and waited for
            # until its own repeat arrives: a repeat interval after its first notice, which went out after the last
            # firing notice of rep-; a repeat of rep- (or a second resolved notice) would be due before, so here
            await service.alerts(sample_alert(org, f"rep-mark-{unique}"))
            await arrived(receiver, f"rep-mark-{unique}", times=2)
        statuses = [a["status"] for a in alerts_received(receiver) if a["fingerprint"] == f"rep-{unique}"]
        assert statuses[:2] == ["firing", "firing"]
        assert statuses[-1] == "resolved"
        assert statuses.count("resolved") == 1
        assert times[1] - times[0] >= 1.5
        rounds = await service.fetch(
            "SELECT round FROM notifications WHERE status = 'firing' AND fingerprint = $1 ORDER BY round",
            f"rep-{unique}",
        )
        assert [r["round"] for r in rounds][:2] == [0, 1]
    finally:
        service.service.stop()
