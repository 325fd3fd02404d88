"""What the web console asks notify-service beyond the subscriber API: send a stored subscriber's test again (the
route carectl uses too), and delivery attempts counted by outcome over time."""

from __future__ import annotations

import pytest

from carekit_testing import eventually
from tests.fakes.webhook_server import running_webhook_receiver
from tests.receivers import Answer, Notify, sample_alert, token

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def test_test_again_sends_a_dry_run_and_names_the_endpoints_refusal(notify: Notify, org: str) -> None:
    async with running_webhook_receiver() as receiver, notify.client() as client:
        hook = {"type": "webhook", "name": "ops", "project_id": "p1", "config": {"url": f"{receiver.url}/hook"}}
        saved = await notify.subscribe(org, hook)
        accepted = await client.post(f"/v1/subscribers/{saved['id']}/test", headers=token(org))
        receiver.script("/hook", Answer(410, body="endpoint retired"))
        refused = await client.post(f"/v1/subscribers/{saved['id']}/test", headers=token(org))
        member = await client.post(f"/v1/subscribers/{saved['id']}/test", headers=token(org, "member"))
        stranger = await client.post(f"/v1/subscribers/{saved['id']}/test", headers=token(f"x-{org}"))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["ok"] is True
    assert [r.json()["dryRun"] for r in receiver.at("/hook")] == [True, True, True]  # save, test, refused test
    assert refused.status_code == 200, refused.text
    assert refused.json()["ok"] is False
    assert refused.json()["endpoint_status"] == 410
    assert "endpoint retired" in refused.json()["endpoint_answer"]
    assert member.status_code == 403
    assert stranger.status_code == 404


async def test_histogram_counts_a_subscribers_attempts_by_outcome_in_the_current_bucket(
    notify: Notify, org: str, unique: str
) -> None:
    async with running_webhook_receiver() as receiver, notify.client() as client:
        hook = {"type": "webhook", "name": "ops", "project_id": "proj-1", "config": {"url": f"{receiver.url}/h"}}
        saved = await notify.subscribe(org, hook)
        receiver.script("/h", Answer(503, body="busy"))
        await notify.alerts(sample_alert(org, f"h-{unique}"))
        await receiver.wait_for(3, path="/h")  # the test message, the 503, the retry that is delivered

        async def counted() -> dict[str, int] | None:
            answer = await client.get(
                "/v1/deliveries/histogram",
                params={"subscriber_id": saved["id"], "hours": 1, "buckets": 12},
                headers=token(org),
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert len(body["buckets"]) == 12
            assert body["bucket_seconds"] == 300
            total: dict[str, int] = {}
            for bucket in body["buckets"]:
                for outcome, n in bucket["counts"].items():
                    total[outcome] = total.get(outcome, 0) + n
            return total if total.get("delivered") else None

        total = await eventually(counted, timeout_s=20)
        other = await client.get("/v1/deliveries/histogram", headers=token(f"x-{org}"))
    assert total == {"retry": 1, "delivered": 1}
    assert all(not b["counts"] for b in other.json()["buckets"])
