"""An alert storm for one Slack subscriber arrives as a few grouped messages, at no more than Slack's rate,
and every alert is named in some message."""

from __future__ import annotations

import itertools
import re

import pytest

from tests.fakes.slack_webhook_server import running_slack_webhook
from tests.receivers import Notify, on_plan, sample_alert

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
STORM = 1000


async def test_a_storm_of_1000_alerts_arrives_grouped_at_slack_rate_naming_every_alert(
    notify: Notify, unique: str
) -> None:
    org = f"storm-{unique}"
    await on_plan(notify.url, notify.kafka, org, "enterprise")
    async with running_slack_webhook() as slack:
        await notify.subscribe(
            org,
            {
                "type": "slack",
                "name": "ops",
                "project_id": "proj-1",
                "config": {"webhook_url": f"{slack.url}/services/s"},
            },
        )
        alerts = [
            sample_alert(
                org,
                f"storm-{unique}-{i:04d}",
                rule=f"rule_{i % 7}",
                summary=f"instance tikv-{i} is unhappy",
            )
            for i in range(STORM)
        ]
        for start in range(0, STORM, 250):
            await notify.alerts(*alerts[start : start + 250])

        named: set[str] = set()

        def count() -> int:
            named.clear()
            for r in slack.requests[1:]:
                named.update(re.findall(rf"storm-{unique}-\d{{4}}", r.body.decode()))
            return len(named)

        while count() < STORM:
            await slack.wait_for(len(slack.requests) + 1, timeout_s=30)
        messages = slack.requests[1:]
    print(f"{STORM} alerts arrived in {len(messages)} Slack messages over {messages[-1].at - messages[0].at:.1f}s")
    assert len(messages) <= 8, f"{len(messages)} messages for {STORM} alerts"
    # Slack's 1 message/s, seen at the receiver: arrival times jitter with the machine's load, so the whole run
    # must span at least one second per message after the first, and no two messages come as a burst
    gaps = [b.at - a.at for a, b in itertools.pairwise(messages)]
    assert messages[-1].at - messages[0].at >= len(gaps) - 0.5, f"faster than 1 message/s: {gaps}"
    assert all(g >= 0.5 for g in gaps), f"a burst of messages: {gaps}"
    assert named == {a.fingerprint for a in alerts}
    assert all(r.json()["blocks"][0]["type"] == "header" for r in messages)
    assert any("more" in r.body.decode() for r in messages[:-1]) or len(messages) == 1
