"""Acting on an alert from its Slack message or Lark card, end to end.

Slack: notify-service posts the alert with Acknowledge and Open ticket buttons through an interactive subscriber's
webhook; the presses arrive, signed, at ticket-service's existing /slack/interactivity; Acknowledge makes
notify-service show the message again (through the interaction's response_url) saying who acknowledged it; Open
ticket opens the form pre-filled from the alert, the ticket carries the alert and is confirmed in the message's
thread; when the alert resolves, the ticket gets a comment saying so. A press in a channel not bound to the alert's
organisation is refused with a note.

Lark: the Connected Care Lark app (the same app for both services) posts the alert card with both buttons into an
interactive subscriber's chat; the presses arrive, with the app's verification token, at ticket-service's existing
/lark/card; Acknowledge makes notify-service replace the card (Lark's delayed card update with the callback's token)
saying who acknowledged it; Open ticket shows the member the request card pre-filled from the alert; the ticket
carries the alert, is confirmed in the card's thread and hears of the resolution. A press in a group not bound to the
alert's organisation is refused with a toast."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from care_schemas.events.action import ACK_ACTION, TICKET_ACTION
from care_schemas.topics import ALERT_ACTIONS
from carekit.kafka import ensure_topics
from carekit_testing import (
    TEST_JWT_SECRET,
    ServiceProcess,
    bearer,
    commit_group_at_end,
    create_database,
    eventually,
)
from tests.fakes.lark_server import FakeLark
from tests.fakes.slack_server import FakeSlack, running_slack
from tests.fakes.slack_webhook_server import running_slack_webhook
from tests.receivers import (
    Notify,
    on_plan,
    plan_changed,
    publish,
    sample_alert,
    shared_notify,
)
from tests.service_env import chat_env, service_env

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
SLACK_SECRET = "e2e-alert-buttons-signing-secret"
SLACK_TOKEN = "xoxb-e2e-alert-buttons"
ENGINEER = bearer(TEST_JWT_SECRET, "vendor", "support_engineer", sub="eng-9")


@dataclass
class Ticketing:
    service: ServiceProcess
    http: httpx.AsyncClient
    slack: FakeSlack
    lark: FakeLark

    async def press(self, payload: dict[str, Any]) -> None:
        answer = await self.slack.post_interaction(self.http, self.service.url, payload)
        assert answer.status_code == 200, answer.text


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def ticketing(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Ticketing]:
    await ensure_topics(kafka_bootstrap)
    db = await create_database(database_url, "ticket")
    lark = (await shared_notify(kafka_bootstrap, database_url)).lark_api  # one Lark app: notify's and ticket's
    async with running_slack(SLACK_SECRET, SLACK_TOKEN) as slack:
        prefix = f"ticket-buttons-{uuid.uuid4().hex[:8]}"
        await commit_group_at_end(kafka_bootstrap, f"{prefix}.plans")
        await commit_group_at_end(kafka_bootstrap, f"{prefix}.alert-actions", ALERT_ACTIONS)
        env = service_env("ticket_service", kafka=kafka_bootstrap, database_url=db, group_prefix=prefix)
        env |= chat_env(slack, lark) | {"PUBLIC_BASE_URL": "https://support.e2e"}
        service = ServiceProcess("ticket_service", env)
        service.start(tmp_path_factory.mktemp("ticket-buttons"))
        try:
            await service.wait_ready()
            async with httpx.AsyncClient(base_url=service.url, timeout=10) as http:
                yield Ticketing(service, http, slack, lark)
        finally:
            service.stop()


async def bind(ticketing: Ticketing, org: str, channel: str, platform: str = "slack") -> None:
    workspace = ticketing.slack.team_id if platform == "slack" else ticketing.lark.tenant_key
    place = {"org_id": org, "platform": platform, "workspace": workspace, "channel": channel}

    async def bound() -> bool:
        answer = await ticketing.http.post("/v1/im-bindings", json=place, headers=ENGINEER)
        return answer.status_code == 201

    await eventually(bound, timeout_s=30, interval_s=0.3)


def buttons(message: dict[str, Any], fingerprint: str) -> dict[str, dict[str, Any]]:
    """The buttons under one alert of a posted message, by action id."""
    return {
        e["action_id"]: e
        for b in message["blocks"]
        if b["type"] == "actions" and b["block_id"] == f"alert:{fingerprint}"
        for e in b["elements"]
    }


def click(slack: FakeSlack, button: dict[str, Any], channel: str, ts: str, response_url: str) -> dict[str, Any]:
    """The block_actions payload Slack sends when Ada presses `button` in the message `ts` of `channel`."""
    return {
        "type": "block_actions",
        "team": {"id": slack.team_id, "domain": "test"},
        "user": {"id": "U42", "username": "ada"},
        "channel": {"id": channel, "name": "alerts"},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"trigger-{slack.next_ts()}",
        "response_url": response_url,
        "message": {"ts": ts},
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": "alert",
                "value": button["value"],
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


async def ticket_comments(ticketing: Ticketing, ticket_id: str) -> list[str]:
    answer = await ticketing.http.get(f"/v1/tickets/{ticket_id}", headers=ENGINEER)
    assert answer.status_code == 200, answer.text
    return [c["body"] for c in answer.json()["comments"]]


async def test_acknowledge_and_open_ticket_from_the_slack_message_then_the_ticket_hears_of_the_resolution(
    notify: Notify, ticketing: Ticketing, kafka_bootstrap: str, unique: str
) -> None:
    org, channel, ts = f"btn-{unique}", f"C{unique.upper()}", "1764000000.000777"
    slack = ticketing.slack
    await publish(kafka_bootstrap, "plan.events.v1", org, plan_changed(org, "enterprise", 1))
    await on_plan(notify.url, notify.kafka, org, "enterprise")
    await bind(ticketing, org, channel)
    async with running_slack_webhook() as chat:
        hook = f"{chat.url}/services/T0/B0/{unique}"
        await notify.subscribe(
            org,
            {
                "type": "slack",
                "name": "ops",
                "project_id": "proj-1",
                "config": {"webhook_url": hook, "interactive": True},
            },
        )
        fp = f"disk-{unique}"
        firing = sample_alert(org, fp, starts_at=datetime.now(UTC).replace(microsecond=0), summary="disk is full")
        await notify.alerts(firing)
        [_, posted] = await chat.wait_for(2)
        message = posted.json()
        pressable = buttons(message, fp)
        assert set(pressable) == {ACK_ACTION, TICKET_ACTION}

        # Acknowledge: the message is shown again saying who, and its Acknowledge button is gone
        await ticketing.press(click(slack, pressable[ACK_ACTION], channel, ts, f"{chat.url}/services/respond/ack"))
        [update] = await chat.wait_for(1, path="/services/respond/ack", timeout_s=30)
        shown = update.json()
        assert shown["replace_original"] is True
        said = [e["text"] for b in shown["blocks"] if b["type"] == "context" for e in b["elements"]]
        assert len(said) == 1
        assert said[0].startswith(":white_check_mark: Acknowledged by ada (<@U42>) at ")
        assert set(buttons(shown, fp)) == {TICKET_ACTION}
        rows = await notify.fetch("SELECT acknowledged_by FROM alert_acks WHERE org_id = $1", org)
        assert [r["acknowledged_by"] for r in rows] == ["U42"]

        # Open ticket: the form comes pre-filled from the alert; the ticket carries it and is confirmed in the thread
        views, posts = len(slack.of("views.open")), len(slack.of("chat.postMessage"))
        await ticketing.press(click(slack, pressable[TICKET_ACTION], channel, ts, f"{chat.url}/services/respond/t"))
        modal = (await slack.wait_for("views.open", views + 1))[-1]
        prefilled = {
            b["block_id"]: b["element"]["initial_value"]
            for b in modal.payload["view"]["blocks"]
            if "initial_value" in b["element"]
        }
        assert prefilled["summary"] == "disk is full"
        assert prefilled["cluster_id"] == "cl-1"
        assert fp in prefilled["description"]
        assert "https://console.example/a/1" in prefilled["description"]
        form = prefilled | {"severity": "S2", "kind": "technical", "reporter_email": "ada@customer.example"}
        submitted = await slack.post_interaction(ticketing.http, ticketing.service.url, slack.submit(modal, form))
        assert submitted.status_code == 200, submitted.text
        [ticket] = (await ticketing.http.get("/v1/tickets", params={"org_id": org}, headers=ENGINEER)).json()
        assert (ticket["summary"], ticket["cluster_id"]) == ("disk is full", "cl-1")
        shown_ticket = (await ticketing.http.get(f"/v1/tickets/{ticket['id']}", headers=ENGINEER)).json()
        linked_alert = shown_ticket["alert"]
        assert (linked_alert["org_id"], linked_alert["fingerprint"]) == (org, fp)
        assert datetime.fromisoformat(linked_alert["starts_at"]) == firing.starts_at
        confirmation = (await slack.wait_for("chat.postMessage", posts + 1))[-1]
        assert (confirmation.payload["channel"], confirmation.payload["thread_ts"]) == (channel, ts)
        assert ticket["id"] in confirmation.payload["text"]

        async def linked() -> list[str] | None:
            found = await notify.fetch("SELECT ticket_id FROM alert_tickets WHERE org_id = $1", org)
            return [r["ticket_id"] for r in found] or None

        assert await eventually(linked, timeout_s=30) == [ticket["id"]], "notify-service knows the alert's ticket"

        # the alert resolves: the ticket says so, once
        await notify.alerts(
            sample_alert(org, fp, starts_at=firing.starts_at, status="resolved", ends_at=datetime.now(UTC))
        )

        async def commented() -> list[str] | None:
            said = [c for c in await ticket_comments(ticketing, ticket["id"]) if "has resolved" in c]
            return said or None

        notes = await eventually(commented, timeout_s=40)
        assert len(notes) == 1, await ticket_comments(ticketing, ticket["id"])  # shows what else was said
        note = notes[0]
        assert fp in note
        assert firing.rule in note


async def test_a_press_in_a_channel_not_bound_to_the_alerts_organisation_is_refused_with_a_note(
    ticketing: Ticketing, unique: str
) -> None:
    org, other = f"btn-{unique}", f"Cother{unique.upper()}"
    value = json.dumps(
        {"o": org, "f": "fp-x", "s": "2026-11-26T08:00:00Z", "sub": "sub-x", "m": ["fp-x"], "t": "x", "d": ""}
    )
    posts = len(ticketing.slack.of("chat.postMessage"))
    button = {"action_id": ACK_ACTION, "value": value}
    await ticketing.press(click(ticketing.slack, button, other, "1764000000.000999", "http://127.0.0.1:9/unused"))
    note = (await ticketing.slack.wait_for("chat.postMessage", posts + 1))[-1]
    assert (note.payload["channel"], note.payload["thread_ts"]) == (other, "1764000000.000999")
    assert "only be acted on in a channel bound to its organisation" in note.payload["text"]


# --- Lark -------------------------------------------------------------------------------------------------------


def lark_buttons(lark: FakeLark, card: dict[str, Any], fingerprint: str) -> dict[str, dict[str, Any]]:
    """The callback values of the buttons of one alert on a card, by action."""
    return {v["action"]: v for v in lark.buttons(card) if v.get("f") == fingerprint}


async def lark_press(ticketing: Ticketing, doc: dict[str, Any]) -> dict[str, Any]:
    answer = await ticketing.lark.post(ticketing.http, f"{ticketing.service.url}/lark/card", doc)
    assert answer.status_code == 200, answer.text
    toast: dict[str, Any] = answer.json()["toast"]
    return toast


async def test_acknowledge_and_open_ticket_from_the_lark_card_then_the_ticket_hears_of_the_resolution(
    notify: Notify, ticketing: Ticketing, kafka_bootstrap: str, unique: str
) -> None:
    org, chat, card_id = f"lbtn-{unique}", f"oc_{unique}", f"om_alert_{unique}"
    lark = ticketing.lark  # the Lark both services call as the Connected Care app
    await publish(kafka_bootstrap, "plan.events.v1", org, plan_changed(org, "enterprise", 1))
    await on_plan(notify.url, notify.kafka, org, "enterprise")
    await bind(ticketing, org, chat, "lark")
    subscriber = {
        "type": "lark",
        "name": "ops",
        "project_id": "proj-1",
        "config": {"interactive": True, "chat_id": chat},
    }
    await notify.subscribe(org, subscriber)
    fp = f"disk-{unique}"
    firing = sample_alert(org, fp, starts_at=datetime.now(UTC).replace(microsecond=0), summary="disk is full")
    await notify.alerts(firing)

    async def posted() -> list[dict[str, Any]] | None:
        sent = [c for c in lark.calls if c.path == "/open-apis/im/v1/messages" and c.payload["receive_id"] == chat]
        return [json.loads(c.payload["content"]) for c in sent] if len(sent) >= 2 else None

    [_, card] = await eventually(posted, timeout_s=30)  # the subscriber's test card, then the alert's
    pressable = lark_buttons(lark, card, fp)
    assert set(pressable) == {ACK_ACTION, TICKET_ACTION}

    # Acknowledge: notify-service replaces the card (the callback's token) saying who, without its Acknowledge
    ack = lark.card_action(pressable[ACK_ACTION], "ou_ada", chat_id=chat, message_id=card_id)
    toast = await lark_press(ticketing, ack)
    assert toast["type"] == "success"
    assert toast["content"].startswith("Acknowledged")

    async def updated() -> dict[str, Any] | None:
        found = [c.payload for c in lark.calls if c.path.endswith("/interactive/v1/card/update")]
        return next((p for p in found if p["token"] == ack["event"]["token"]), None)

    shown = (await eventually(updated, timeout_s=30))["card"]
    said = [e["content"] for e in shown["body"]["elements"] if "Acknowledged" in e.get("content", "")]
    assert len(said) == 1
    assert said[0].startswith("✅ Acknowledged by <at id=ou_ada></at> at ")
    assert set(lark_buttons(lark, shown, fp)) == {TICKET_ACTION}
    rows = await notify.fetch("SELECT acknowledged_by FROM alert_acks WHERE org_id = $1", org)
    assert [r["acknowledged_by"] for r in rows] == ["ou_ada"]

    # Open ticket: the request card comes pre-filled from the alert; the ticket carries it, confirmed in the thread
    cards = len([c for c in lark.calls if c.path.endswith("/ephemeral/v1/send")])
    replies = len([c for c in lark.calls if c.path.endswith("/reply")])
    toast = await lark_press(
        ticketing, lark.card_action(pressable[TICKET_ACTION], "ou_ada", chat_id=chat, message_id=card_id)
    )
    assert toast["type"] == "success"
    shown_to = (await lark.wait_for("/ephemeral/v1/send", cards + 1))[-1].payload
    assert (shown_to["chat_id"], shown_to["open_id"]) == (chat, "ou_ada")
    form = shown_to["card"]["body"]["elements"][0]["elements"]
    prefilled = {e["name"]: e["default_value"] for e in form if "default_value" in e}
    assert prefilled["summary"] == "disk is full"
    assert prefilled["cluster_id"] == "cl-1"
    assert fp in prefilled["description"]
    assert "https://console.example/a/1" in prefilled["description"]
    filled = prefilled | {"severity": "S2", "kind": "technical", "reporter_email": "ada@customer.example"}
    toast = await lark_press(ticketing, lark.card_submit(shown_to["card"], filled, "ou_ada"))
    assert toast["type"] == "success", toast
    [ticket] = (await ticketing.http.get("/v1/tickets", params={"org_id": org}, headers=ENGINEER)).json()
    assert (ticket["summary"], ticket["cluster_id"]) == ("disk is full", "cl-1")
    linked_alert = (await ticketing.http.get(f"/v1/tickets/{ticket['id']}", headers=ENGINEER)).json()["alert"]
    assert (linked_alert["org_id"], linked_alert["fingerprint"]) == (org, fp)
    assert datetime.fromisoformat(linked_alert["starts_at"]) == firing.starts_at
    reply = (await lark.wait_for("/reply", replies + 1))[-1]
    assert reply.path == f"/open-apis/im/v1/messages/{card_id}/reply"
    assert ticket["id"] in reply.payload["content"]

    async def linked() -> list[str] | None:
        found = await notify.fetch("SELECT ticket_id FROM alert_tickets WHERE org_id = $1", org)
        return [r["ticket_id"] for r in found] or None

    assert await eventually(linked, timeout_s=30) == [ticket["id"]], "notify-service knows the alert's ticket"

    # the alert resolves: the ticket says so
    await notify.alerts(sample_alert(org, fp, starts_at=firing.starts_at, status="resolved", ends_at=datetime.now(UTC)))

    async def commented() -> list[str] | None:
        said = [c for c in await ticket_comments(ticketing, ticket["id"]) if "has resolved" in c]
        return said or None

    # (not "once": another engineer's notify-service on the shared broker may take in this alert and ticket too)
    notes = await eventually(commented, timeout_s=40)
    assert all(fp in note for note in notes)


async def test_a_lark_press_in_a_group_not_bound_to_the_alerts_organisation_is_refused_with_a_toast(
    ticketing: Ticketing, unique: str
) -> None:
    org, other = f"lbtn-{unique}", f"oc_other_{unique}"
    value = {"action": ACK_ACTION, "o": org, "f": "fp-x", "s": "2026-11-26T08:00:00Z", "sub": "sub-x", "m": ["fp-x"]}
    toast = await lark_press(ticketing, ticketing.lark.card_action(value, chat_id=other, message_id="om_x"))
    assert toast["type"] == "error"
    assert "only be acted on in a group bound to its organisation" in toast["content"]
