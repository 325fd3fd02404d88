"""Slack inside the process: signed events and interactions, against a local Slack Web API."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from ticket_harness import ENGINEER, Service, bind, ticket_seen, tickets_of

from care_schemas.catalogue import PlanCode
from care_schemas.events.ticket import ImMode, TicketCommented, TicketOpened, TicketStatusChanged
from carekit_testing import TEST_JWT_SECRET, TicketTopicReader, bearer, eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
FORM = {
    "summary": "Changefeed lag above 600 s",
    "severity": "S2",
    "kind": "technical",
    "cluster_id": "cl-7",
    "description": "since the upgrade",
    "reporter_email": "ops@customer.example",
}


def mention(channel: str, user: str = "UCUSTOMER") -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    return {"type": "app_mention", "user": user, "text": "<@UBOT> help", "ts": ts, "channel": channel, "event_ts": ts}


def reply(channel: str, thread_ts: str, text: str, **extra: Any) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    return {"type": "message", "user": "UCUSTOMER", "text": text, "ts": ts, "thread_ts": thread_ts} | {
        "channel": channel,
        "channel_type": "channel",
        **extra,
    }


async def show_button(service: Service, channel: str, event_id: str = "") -> tuple[Any, dict[str, Any]]:
    """Mention the bot in `channel`; return the 'Raise request' message it posted in the mention's thread, and the
    mention."""
    slack = service.slack
    posts = len(slack.of("chat.postMessage"))
    event = mention(channel)
    answer = await slack.post_event(service.client, "", event, event_id or f"Ev{uuid.uuid4().hex[:10]}")
    assert answer.status_code == 200
    button = (await slack.wait_for("chat.postMessage", posts + 1))[-1]
    assert button.payload["thread_ts"] == event["ts"]
    return button, event


async def open_form(service: Service, channel: str, event_id: str = "") -> tuple[Any, dict[str, Any]]:
    """Mention -> 'Raise request' button; return the form's modal and the mention."""
    slack = service.slack
    button, event = await show_button(service, channel, event_id)
    views = len(slack.of("views.open"))
    assert (await slack.post_interaction(service.client, "", slack.click(button, channel))).status_code == 200
    modal = (await slack.wait_for("views.open", views + 1))[-1]
    return modal, event


async def raise_ticket(service: Service, channel: str, form: dict[str, str] = FORM) -> tuple[httpx.Response, str]:
    """Mention -> 'Raise request' button -> form -> Create; return the submission's answer and the thread ts."""
    modal, event = await open_form(service, channel)
    return await service.slack.post_interaction(service.client, "", service.slack.submit(modal, form)), event["ts"]


async def ticket_in_thread(service: Service, org: str, plan: PlanCode) -> tuple[str, dict[str, Any], str]:
    """Bind a channel for the org on `plan` and raise a ticket from it; return the channel, the ticket, its thread."""
    channel = await bind(service, org, plan)
    await raise_ticket(service, channel)
    [ticket] = await tickets_of(service, org)
    return channel, ticket, ticket["im_thread"]["thread_ts"]


async def test_slack_url_verification_echoes_the_challenge(service: Service) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "x", "challenge": challenge, "type": "url_verification"}).encode()
    answer = await service.client.post("/slack/events", content=body, headers=service.slack.sign(body))
    assert answer.json() == {"challenge": challenge}


async def test_bad_or_stale_slack_signature_is_refused_and_changes_nothing(service: Service, unique: str) -> None:
    channel = await bind(service, f"org-{unique}", PlanCode.ENTERPRISE)
    slack = service.slack
    body = slack.event_body(mention(channel), f"Ev{unique}")
    forged = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64}
    stale = slack.sign(body, timestamp=int(time.time()) - 301)
    posts = len(slack.of("chat.postMessage"))
    not_a_time = {"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": "v0=" + "0" * 64}
    for headers in (forged, stale, {}, not_a_time):
        answer = await service.client.post("/slack/events", content=body, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["detail"] == "invalid or stale Slack signature"
    tampered = await service.client.post(
        "/slack/events", content=body.replace(b"help", b"hack"), headers=slack.sign(body)
    )
    assert tampered.status_code == 401
    assert await service.count("SELECT count(*) FROM processed_events WHERE event_id = $1", f"Ev{unique}") == 0
    assert len(slack.of("chat.postMessage")) == posts


async def test_mention_is_answered_once_with_a_button_even_when_slack_retries(service: Service, unique: str) -> None:
    channel = await bind(service, f"org-{unique}", PlanCode.ENTERPRISE)
    slack = service.slack
    posts = len(slack.of("chat.postMessage"))
    event = mention(channel)
    for retry in (None, 1, 2):
        answer = await slack.post_event(service.client, "", event, f"Ev{unique}", retry_num=retry)
        assert answer.status_code == 200
    [post] = (await slack.wait_for("chat.postMessage", posts + 1))[posts:]
    assert post.payload["channel"] == channel
    assert post.payload["thread_ts"] == event["ts"]
    button = post.payload["blocks"][1]["elements"][0]
    assert button["text"]["text"] == "Raise request"
    unbound = mention("CUNBOUND")
    await slack.post_event(service.client, "", unbound, f"Ev{unique}-unbound")
    assert len(slack.of("chat.postMessage")) == posts + 1


async def test_form_submission_opens_the_ticket_and_confirms_in_the_thread_once(
    service: Service, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    channel = await bind(service, org, PlanCode.ENTERPRISE)
    slack = service.slack
    answer, thread = await raise_ticket(service, channel)
    assert answer.status_code == 200
    assert answer.content == b""  # an empty 200 closes the modal
    [ticket] = await tickets_of(service, org)
    assert ticket["channel"] == "slack"
    assert ticket["reporter_email"] == "ops@customer.example"
    assert ticket["im_thread"]["thread_ts"] == thread
    confirmations = [
        c for c in await slack.wait_for("chat.postMessage", 2) if ticket["link"] in c.payload.get("text", "")
    ]
    assert [(c.payload["channel"], c.payload["thread_ts"]) for c in confirmations] == [(channel, thread)]
    [opened] = await ticket_topic.events(ticket["id"], 1)
    assert isinstance(opened, TicketOpened)
    assert opened.data.im_thread is not None
    assert opened.data.im_thread.channel == channel

    modal = slack.of("views.open")[-1]
    fields = [b["block_id"] for b in modal.payload["view"]["blocks"]]
    assert fields == ["summary", "severity", "kind", "cluster_id", "description", "reporter_email"]


async def test_the_same_form_submission_delivered_twice_opens_one_ticket_and_one_per_thread(
    service: Service, unique: str
) -> None:
    org = f"org-{unique}"
    channel = await bind(service, org, PlanCode.ENTERPRISE)
    slack, client = service.slack, service.client
    posts = len(slack.of("chat.postMessage"))
    modal, _ = await open_form(service, channel, f"Ev{unique}")
    submission = slack.submit(modal, FORM)
    for _ in range(2):
        answer = await slack.post_interaction(client, "", submission)
        assert answer.status_code == 200
        assert answer.content == b""
    [ticket] = await tickets_of(service, org)
    confirmations = await slack.wait_for("chat.postMessage", posts + 2)
    assert [c.payload["text"] for c in confirmations].count(
        f"Ticket {ticket['id']} opened: {FORM['summary']}\n{ticket['link']}"
    ) == 1
    submission["view"]["id"] += "-another-form"  # a second form raised from the same thread
    second = await slack.post_interaction(client, "", submission)
    assert ticket["id"] in second.json()["errors"]["summary"]
    assert len(await tickets_of(service, org)) == 1


async def test_form_errors_are_shown_in_the_modal_and_open_nothing(service: Service, unique: str) -> None:
    org = f"org-{unique}"
    channel = await bind(service, org, PlanCode.ENTERPRISE)
    bad_email, _ = await raise_ticket(service, channel, FORM | {"reporter_email": "not-an-email"})
    assert bad_email.json()["response_action"] == "errors"
    assert "reporter_email" in bad_email.json()["errors"]
    billing_s1, _ = await raise_ticket(service, channel, FORM | {"kind": "billing", "severity": "S1"})
    assert "S2, S3 or S4" in billing_s1.json()["errors"]["kind"]
    assert await tickets_of(service, org) == []


async def test_premium_thread_reply_becomes_one_public_comment_even_when_retried(
    service: Service, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    channel, ticket, thread = await ticket_in_thread(service, org, PlanCode.PREMIUM)
    slack = service.slack
    message = reply(channel, thread, "it is still lagging")
    for retry in (None, 1):
        await slack.post_event(service.client, "", message, f"Ev{unique}", retry_num=retry)
    await slack.post_event(service.client, "", message | {"type": "message"}, f"Ev{unique}-again")
    bot = reply(channel, thread, "Ticket opened", bot_id="B1", user="UBOT")
    await slack.post_event(service.client, "", bot, f"Ev{unique}-bot")

    seen = await ticket_seen(service, ticket["id"])
    assert [(c["body"], c["author_kind"]) for c in seen["comments"]] == [("it is still lagging", "customer")]
    assert seen["comments"][0]["origin"]["message_id"] == message["ts"]

    await service.client.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "Fixed."}, headers=ENGINEER)
    events = [e for e in await ticket_topic.events(ticket["id"], 3) if isinstance(e, TicketCommented)]
    customer, engineer = events
    assert customer.data.origin is not None
    assert customer.data.origin.message_id == message["ts"]
    assert engineer.data.origin is None
    assert engineer.data.im_thread is not None
    assert (engineer.data.im_thread.channel, engineer.data.im_thread.thread_ts) == (channel, thread)
    assert engineer.data.im_mode is ImMode.TWO_WAY


async def test_enterprise_thread_replies_are_not_synced_but_updates_go_to_the_thread(
    service: Service, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    channel, ticket, thread = await ticket_in_thread(service, org, PlanCode.ENTERPRISE)
    await service.slack.post_event(service.client, "", reply(channel, thread, "hello?"), f"Ev{unique}")
    await service.client.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "Looking."}, headers=ENGINEER)
    seen = await ticket_seen(service, ticket["id"])
    assert [c["body"] for c in seen["comments"]] == ["Looking."]
    [_, commented, *_] = await ticket_topic.events(ticket["id"], 2)
    assert isinstance(commented, TicketCommented)
    assert commented.data.im_mode is ImMode.UPDATES
    assert commented.data.im_thread is not None
    assert commented.data.im_thread.thread_ts == thread


async def test_updates_of_a_ticket_raised_elsewhere_go_to_the_bound_channel(
    service: Service, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    channel = await bind(service, org, PlanCode.ENTERPRISE)
    token = bearer(TEST_JWT_SECRET, org, "member")
    body = {"summary": "slow queries", "severity": "S3", "kind": "technical"}
    tid = (await service.client.post("/v1/tickets", json=body, headers=token)).json()["id"]
    await service.client.post(f"/v1/tickets/{tid}/comments", json={"body": "Try this."}, headers=ENGINEER)
    await service.client.post(
        f"/v1/tickets/{tid}/comments", json={"body": "secret", "visibility": "internal"}, headers=ENGINEER
    )
    commented = [e for e in await ticket_topic.events(tid, 4) if isinstance(e, TicketCommented)]
    public, internal = commented
    assert public.data.im_thread is not None
    assert (public.data.im_thread.channel, public.data.im_thread.thread_ts) == (channel, None)
    assert internal.data.im_thread is None
    assert internal.data.body is None


async def test_a_mention_slack_rejects_is_answered_when_slack_retries_the_event(service: Service, unique: str) -> None:
    channel = await bind(service, f"org-{unique}", PlanCode.ENTERPRISE)
    slack = service.slack
    posts = len(slack.of("chat.postMessage"))
    event = mention(channel)
    slack.answers.append((429, {"Retry-After": "1"}))
    first = await slack.post_event(service.client, "", event, f"Ev{unique}")
    assert first.status_code == 502
    assert "ratelimited" in first.json()["detail"]
    retried = await slack.post_event(service.client, "", event, f"Ev{unique}", retry_num=1)
    assert retried.status_code == 200
    assert len((await slack.wait_for("chat.postMessage", posts + 1))[posts:]) == 1


async def test_resolving_a_chat_ticket_tells_its_thread_with_the_latest_comment(
    service: Service, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    channel, ticket, thread = await ticket_in_thread(service, org, PlanCode.ENTERPRISE)
    posts = len(service.slack.of("chat.postMessage"))
    await service.slack.post_event(service.client, "", mention(channel) | {"thread_ts": thread}, f"Ev{unique}")
    tid = ticket["id"]
    await service.client.post(f"/v1/tickets/{tid}/comments", json={"body": "Upgrade to 8.5.1."}, headers=ENGINEER)
    resolved = await service.client.post(f"/v1/tickets/{tid}/status", json={"status": "resolved"}, headers=ENGINEER)
    assert resolved.status_code == 200
    changes = [e for e in await ticket_topic.events(tid, 4) if isinstance(e, TicketStatusChanged)]
    assert [(e.data.previous_status.value, e.data.status.value) for e in changes] == [
        ("open", "in_progress"),
        ("in_progress", "resolved"),
    ]
    last = changes[-1].data
    assert last.latest_public_comment == "Upgrade to 8.5.1."
    assert last.im_thread is not None
    assert (last.im_thread.channel, last.im_thread.thread_ts, last.im_mode) == (channel, thread, ImMode.UPDATES)
    assert len(service.slack.of("chat.postMessage")) == posts  # a mention inside a ticket thread offers no button


async def test_two_forms_submitted_at_once_from_one_thread_open_one_ticket(service: Service, unique: str) -> None:
    org = f"org-{unique}"
    channel = await bind(service, org, PlanCode.ENTERPRISE)
    slack, client = service.slack, service.client
    button, _ = await show_button(service, channel, f"Ev{unique}")
    views = len(slack.of("views.open"))
    for _ in range(2):
        await slack.post_interaction(client, "", slack.click(button, channel))
    modals = (await slack.wait_for("views.open", views + 2))[-2:]
    answers = await asyncio.gather(*(slack.post_interaction(client, "", slack.submit(m, FORM)) for m in modals))
    assert sorted(a.status_code for a in answers) == [200, 200]
    assert sorted(a.content == b"" for a in answers) == [False, True]  # one closes, one shows why not
    assert len(await tickets_of(service, org)) == 1


async def test_signed_payloads_of_the_wrong_shape_are_answered_without_an_error_and_change_nothing(
    service: Service, unique: str
) -> None:
    org = f"org-{unique}"
    channel = await bind(service, org, PlanCode.PREMIUM)
    slack, client = service.slack, service.client
    posts, views = len(slack.of("chat.postMessage")), len(slack.of("views.open"))
    team = {"id": slack.team_id}
    meta = json.dumps({"team": slack.team_id, "channel": channel, "thread_ts": "1.1"})
    events: list[dict[str, Any]] = [
        {"type": "event_callback", "team_id": slack.team_id, "event_id": f"Ev{unique}a", "event": ["app_mention"]},
        {"type": "event_callback", "team_id": slack.team_id, "event_id": f"Ev{unique}b", "event": "app_mention"},
        {"type": "event_callback", "team_id": {"id": 1}, "event_id": f"Ev{unique}c", "event": mention(channel)},
        {"type": "event_callback", "team_id": slack.team_id, "event_id": f"Ev{unique}d", "event": mention(channel)}
        | {"event": mention(channel) | {"ts": 5, "user": ["U1"]}},
    ]
    for doc in events:
        body = json.dumps(doc).encode()
        answer = await client.post("/slack/events", content=body, headers=slack.sign(body))
        assert answer.status_code == 200, answer.text
    payloads: list[dict[str, Any]] = [
        {"type": "block_actions", "team": "T", "channel": {"id": channel}, "trigger_id": "t", "actions": []},
        {"type": "block_actions", "team": team, "channel": {"id": channel}, "trigger_id": "t", "actions": ["x"]},
        {"type": "block_actions", "team": team, "channel": channel, "trigger_id": "t", "actions": [{"value": 1}]},
        {"type": "view_submission", "team": team, "view": "raise_request_form"},
        {"type": "view_submission", "team": team, "view": {"callback_id": "raise_request_form", "private_metadata": 5}},
        {
            "type": "view_submission",
            "team": team,
            "user": "U1",
            "view": {"id": "V1", "callback_id": "raise_request_form", "private_metadata": meta, "state": "full"},
        },
    ]
    for payload in payloads:
        answer = await slack.post_interaction(client, "", payload)
        assert answer.status_code in (200, 400), answer.text
    assert await service.count("SELECT count(*) FROM tickets WHERE org_id = $1", org) == 0
    assert await service.count("SELECT count(*) FROM processed_events WHERE event_id LIKE $1", f"Ev{unique}%") == 0
    assert (len(slack.of("chat.postMessage")), len(slack.of("views.open"))) == (posts, views)


async def test_a_confirmation_slack_refuses_is_retried_and_reaches_the_thread_once(
    service: Service, unique: str
) -> None:
    org = f"org-{unique}"
    channel = await bind(service, org, PlanCode.ENTERPRISE)
    slack, client = service.slack, service.client
    modal, event = await open_form(service, channel, f"Ev{unique}")
    slack.answers.append((429, {"Retry-After": "1"}))  # Slack refuses the confirmation once
    answer = await slack.post_interaction(client, "", slack.submit(modal, FORM))
    assert answer.status_code == 200
    [ticket] = await tickets_of(service, org)

    async def refused_once() -> bool:
        sql = "SELECT count(*) FROM chat_replies WHERE ticket_id = $1 AND attempts = 1"
        return await service.count(sql, ticket["id"]) == 1

    await eventually(refused_once, timeout_s=10)
    assert not [c for c in slack.of("chat.postMessage") if ticket["link"] in c.payload.get("text", "")]
    service.clock.advance(timedelta(seconds=3))  # past the first backoff: the delivery loop sends it

    async def confirmed() -> list[Any]:
        return [c for c in slack.of("chat.postMessage") if ticket["link"] in c.payload.get("text", "")]

    [confirmation] = await eventually(confirmed, timeout_s=10)
    assert (confirmation.payload["channel"], confirmation.payload["thread_ts"]) == (channel, event["ts"])
    assert await service.count("SELECT count(*) FROM chat_replies WHERE ticket_id = $1", ticket["id"]) == 0
    # a marker: another ticket's confirmation, refused once too, is sent by a later pass of the delivery loop
    marker = await confirmed_after_one_refusal(service, f"mk-{unique}")
    assert marker["link"] != ticket["link"]
    assert len(await confirmed()) == 1


async def confirmed_after_one_refusal(service: Service, org: str) -> dict[str, Any]:
    """Raise a ticket from a new Slack channel of `org` whose confirmation Slack refuses once; return the ticket once
    the delivery loop's retry has posted its confirmation."""
    slack = service.slack
    channel = await bind(service, org, PlanCode.ENTERPRISE)
    modal, _ = await open_form(service, channel)
    slack.answers.append((429, {"Retry-After": "1"}))
    assert (await slack.post_interaction(service.client, "", slack.submit(modal, FORM))).status_code == 200
    [ticket] = await tickets_of(service, org)

    async def refused_once() -> bool:
        sql = "SELECT count(*) FROM chat_replies WHERE ticket_id = $1 AND attempts = 1"
        return await service.count(sql, ticket["id"]) == 1

    await eventually(refused_once, timeout_s=10)
    service.clock.advance(timedelta(seconds=3))

    async def confirmed() -> bool:
        return any(ticket["link"] in c.payload.get("text", "") for c in slack.of("chat.postMessage"))

    await eventually(confirmed, timeout_s=10)
    return ticket


async def test_an_enterprise_reply_in_a_tickets_thread_is_answered_once_a_day_naming_the_plan_with_two_way_sync(
    service: Service, unique: str
) -> None:
    org = f"org-{unique}"
    channel, ticket, thread = await ticket_in_thread(service, org, PlanCode.ENTERPRISE)
    slack = service.slack
    for n in range(3):
        event = reply(channel, thread, f"any news {n}?")
        await slack.post_event(service.client, "", event, f"Ev{unique}-{n}", retry_num=1 if n == 2 else None)
    # a marker: a second Enterprise thread's reply is answered after anything queued for the first thread
    other_org = f"org2-{unique}"
    other_channel, _, other_thread = await ticket_in_thread(service, other_org, PlanCode.ENTERPRISE)
    await slack.post_event(service.client, "", reply(other_channel, other_thread, "?"), f"Ev2{unique}")

    def answers(where: str) -> list[Any]:
        texts = [c for c in slack.of("chat.postMessage") if c.payload.get("channel") == where]
        return [c for c in texts if "do not reach support" in c.payload.get("text", "")]

    async def marker() -> list[Any]:
        return answers(other_channel)

    await eventually(marker, timeout_s=15)
    [answer] = answers(channel)
    assert answer.payload["thread_ts"] == thread
    text = answer.payload["text"]
    assert "on the Enterprise plan" in text
    assert "comes with the Premium plan" in text
    assert ticket["link"] in text
    seen = await ticket_seen(service, ticket["id"])
    assert seen["comments"] == []


async def test_replies_in_a_closed_tickets_thread_are_not_added_and_the_thread_is_told_once(
    service: Service, unique: str
) -> None:
    channel, ticket, thread = await closed_ticket_in_thread(service, f"org-{unique}")
    slack = service.slack
    for n in range(2):
        await slack.post_event(service.client, "", reply(channel, thread, f"still broken {n}"), f"Ev{unique}-{n}")

    async def notices() -> list[Any]:
        return [c for c in slack.of("chat.postMessage") if "is closed" in c.payload.get("text", "")]

    [notice] = await eventually(notices, timeout_s=10)
    assert (notice.payload["channel"], notice.payload["thread_ts"]) == (channel, thread)
    assert ticket["link"] in notice.payload["text"]
    seen = await ticket_seen(service, ticket["id"])
    assert (seen["status"], seen["comments"]) == ("closed", [])
    # a marker: a reply in another closed ticket's thread is told after anything queued for the first thread
    other_channel, _, other_thread = await closed_ticket_in_thread(service, f"org2-{unique}")
    await slack.post_event(service.client, "", reply(other_channel, other_thread, "?"), f"Ev2{unique}")

    async def marker() -> list[Any]:
        return [c for c in await notices() if c.payload["channel"] == other_channel]

    await eventually(marker, timeout_s=10)
    assert [c.payload["channel"] for c in await notices()].count(channel) == 1


async def closed_ticket_in_thread(service: Service, org: str) -> tuple[str, dict[str, Any], str]:
    """A Premium ticket raised in a Slack thread and moved to closed; the channel, the ticket and its thread."""
    channel, ticket, thread = await ticket_in_thread(service, org, PlanCode.PREMIUM)
    for status in ("in_progress", "resolved", "closed"):
        moved = await service.client.post(
            f"/v1/tickets/{ticket['id']}/status", json={"status": status}, headers=ENGINEER
        )
        assert moved.status_code == 200
    return channel, ticket, thread


async def test_replies_also_sent_to_the_channel_or_with_files_are_comments_but_edits_are_not(
    service: Service, unique: str
) -> None:
    org = f"org-{unique}"
    channel, ticket, thread = await ticket_in_thread(service, org, PlanCode.PREMIUM)
    slack = service.slack
    broadcast = reply(channel, thread, "also posted to the channel", subtype="thread_broadcast")
    files = reply(channel, thread, "logs attached", subtype="file_share", files=[{"id": "F1", "name": "tikv.log"}])
    edited = reply(channel, thread, "edited text", subtype="message_changed")
    for n, event in enumerate((broadcast, files, edited)):
        assert (await slack.post_event(service.client, "", event, f"Ev{unique}-{n}")).status_code == 200
    seen = await ticket_seen(service, ticket["id"])
    assert sorted(c["body"] for c in seen["comments"]) == [  # same instant on the test clock: order by body
        "also posted to the channel",
        "logs attached\n[attached in Slack: tikv.log]",
    ]


async def test_the_raise_button_of_a_channel_suspended_since_says_so_instead_of_opening_the_form(
    service: Service, unique: str
) -> None:
    org = f"org-{unique}"
    channel = await bind(service, org, PlanCode.ENTERPRISE)
    slack = service.slack
    button, _ = await show_button(service, channel, f"Ev{unique}")
    views = len(slack.of("views.open"))
    await service.set_plan(org, PlanCode.DEVELOPER, 2)
    assert (await slack.post_interaction(service.client, "", slack.click(button, channel))).status_code == 200
    [opened] = (await slack.wait_for("views.open", views + 1))[views:]
    view = opened.payload["view"]
    assert "submit" not in view
    assert "suspended" in view["blocks"][0]["text"]["text"]
