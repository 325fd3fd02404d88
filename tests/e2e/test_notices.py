"""Notices end to end (issue 13): plan-, ticket- and notify-service as processes on real Kafka and Postgres, a real
SMTP server (aiosmtpd) and a local Slack. Each notice arrives once, after the event that causes it, by e-mail (text
and HTML, with the console link) and in the organisation's chat place where its plan includes chat; an Enterprise
reply in a ticket's thread is answered; a withdrawn request leaves sales' list; a failed TAM e-mail is re-driven."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import pytest_asyncio

from care_schemas.catalogue import PlanCode, Severity
from care_schemas.events.plan import PlanRetirementNotice, PlanRetirementNoticeData, Tam, TrialEnding, TrialEndingData
from care_schemas.events.ticket import TicketChannel, TicketKind, TicketOpened, TicketOpenedData
from care_schemas.topics import PLAN_EVENTS, TICKET_EVENTS
from carekit.identity import mint
from carekit.kafka import ensure_topics
from carekit_testing import TEST_JWT_SECRET, ServiceProcess, commit_group_at_end, create_database, eventually
from tests.fakes.slack_server import FakeSlack, running_slack
from tests.receivers import notify_env, publish, skip_history, smtp_server
from tests.service_env import service_env

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
SIGNING, BOT = "notices-e2e-signing-secret", "xoxb-notices-e2e"
CONSOLE = "https://console.e2e"
SALES_EMAIL, SALES_CHANNEL = "sales@vendor.e2e", "C-SALES-E2E"
REFUSED = "tam-refused@vendor.e2e"


def who(org: str, role: str, email: str | None = None, sub: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(TEST_JWT_SECRET, sub=sub, org=org, role=role, email=email)}"}


SALES = who("vendor", "sales", sub="sam")
ENGINEER = who("vendor", "support_engineer", sub="eng-1")


@dataclass
class Stack:
    plan: httpx.AsyncClient
    ticket: httpx.AsyncClient
    notify: httpx.AsyncClient
    slack: FakeSlack
    mail: list[EmailMessage]
    refuse: set[str]
    kafka: str

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mail if address in str(m["To"])]

    async def mails(self, address: str, count: int, timeout_s: float = 30) -> list[EmailMessage]:
        async def arrived() -> list[EmailMessage]:
            found = self.mails_to(address)
            return found if len(found) >= count else []

        got: list[EmailMessage] = await eventually(arrived, timeout_s=timeout_s, interval_s=0.2)
        return got

    def posts(self, channel: str) -> list[str]:
        return [
            str(c.payload.get("text")) for c in self.slack.of("chat.postMessage") if c.payload["channel"] == channel
        ]

    async def posted(self, channel: str, count: int) -> list[str]:
        async def arrived() -> list[str]:
            found = self.posts(channel)
            return found if len(found) >= count else []

        got: list[str] = await eventually(arrived, timeout_s=30, interval_s=0.2)
        return got


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain text and the HTML alternative of a multipart notice."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None, "a notice is multipart/alternative: text and HTML"
    assert html is not None, "a notice is multipart/alternative: text and HTML"
    return str(text.get_content()), str(html.get_content())


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def stack(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    await ensure_topics(kafka_bootstrap)
    logs = tmp_path_factory.mktemp("notices-e2e")
    mail: list[EmailMessage] = []
    refuse = {REFUSED}
    smtp = smtp_server(mail, refuse)
    smtp.start()
    run = uuid.uuid4().hex[:8]
    async with running_slack(SIGNING, BOT) as slack:
        plan_env = service_env(
            "plan_service",
            kafka=kafka_bootstrap,
            database_url=await create_database(database_url, "plan"),
            group_prefix=f"plan-n-{run}",
        ) | {"PLAN_SCHEDULER_INTERVAL_S": "1"}
        ticket_prefix = f"ticket-n-{run}"
        await commit_group_at_end(kafka_bootstrap, f"{ticket_prefix}.plans")
        ticket_env = service_env(
            "ticket_service",
            kafka=kafka_bootstrap,
            database_url=await create_database(database_url, "ticket"),
            group_prefix=ticket_prefix,
        ) | {
            "PUBLIC_BASE_URL": CONSOLE,
            "SLACK_SIGNING_SECRET": SIGNING,
            "SLACK_BOT_TOKEN": BOT,
            "SLACK_API_URL": slack.api_url,
            "SLACK_BOT_USER_ID": slack.bot_user_id,
        }
        notify_prefix = f"notify-n-{run}"
        await skip_history(kafka_bootstrap, notify_prefix)
        await commit_group_at_end(kafka_bootstrap, f"{notify_prefix}.notices", PLAN_EVENTS)
        await commit_group_at_end(kafka_bootstrap, f"{notify_prefix}.ticket-notices", TICKET_EVENTS)
        notify = notify_env(
            kafka_bootstrap,
            await create_database(database_url, "notify"),
            notify_prefix,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(smtp.port),
            SLACK_API_URL=slack.api_url,
            SLACK_BOT_TOKEN=BOT,
            CONSOLE_URL=CONSOLE,
            SALES_NOTICE_EMAIL=SALES_EMAIL,
            SALES_NOTICE_CHAT=f"slack:{SALES_CHANNEL}",
        )
        services = [
            ServiceProcess("plan_service", plan_env),
            ServiceProcess("ticket_service", ticket_env),
            ServiceProcess("notify_service", notify),
        ]
        for service in services:
            service.start(logs)
        try:
            for service in services:
                await service.wait_ready()
            async with (
                httpx.AsyncClient(base_url=services[0].url, timeout=30) as plan,
                httpx.AsyncClient(base_url=services[1].url, timeout=30) as ticket,
                httpx.AsyncClient(base_url=services[2].url, timeout=30) as notify_http,
            ):
                yield Stack(plan, ticket, notify_http, slack, mail, refuse, kafka_bootstrap)
        finally:
            for service in services:
                service.stop()
            smtp.stop()


async def retried(call: Any, ok: int = 200, timeout_s: float = 30) -> httpx.Response:
    """Repeat a call refused while a service has not yet applied a plan event."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer: httpx.Response = await call()
        if answer.status_code == ok or time.monotonic() > deadline:
            return answer


async def test_premium_request_notices_reach_sales_and_the_owner_once_and_a_withdrawn_one_leaves_the_list(
    stack: Stack, unique: str
) -> None:
    org, alice = f"org-{unique}", f"alice-{unique}@customer.e2e"
    owner = who(org, "org_owner", alice)
    chat = {"platform": "slack", "workspace": stack.slack.team_id, "channel": f"C-{unique}"}
    assert (await stack.plan.put(f"/v1/orgs/{org}/contacts", json={"chat": chat}, headers=owner)).status_code == 200
    assert (
        await stack.plan.post(f"/v1/orgs/{org}/plan/changes", json={"plan": "enterprise"}, headers=owner)
    ).is_success

    first = (await stack.plan.post(f"/v1/orgs/{org}/plan/changes", json={"plan": "premium"}, headers=owner)).json()
    request_id = first["sales_request"]["id"]
    [received] = [m for m in await stack.mails(SALES_EMAIL, 1) if org in str(m["Subject"])][:1]
    text, html = parts(received)
    assert f"{CONSOLE}/staff/sales-requests" in text
    assert alice in text
    assert f'href="{CONSOLE}/staff/sales-requests"' in html
    assert any(org in p for p in await stack.posted(SALES_CHANNEL, 1))

    reason = "please sign the Premium contract first"
    declined = await stack.plan.post(f"/v1/sales-requests/{request_id}/decline", json={"reason": reason}, headers=SALES)
    assert declined.status_code == 200
    [told] = await stack.mails(alice, 1)
    assert "declined" in str(told["Subject"])
    assert f"Reason: {reason}" in parts(told)[0]
    [in_chat] = await stack.posted(f"C-{unique}", 1)  # Enterprise includes chat: the bound channel hears it too
    assert reason in in_chat
    assert f"{CONSOLE}/support" in in_chat

    second = (await stack.plan.post(f"/v1/orgs/{org}/plan/changes", json={"plan": "premium"}, headers=owner)).json()
    second_id = second["sales_request"]["id"]
    withdrawn = await stack.plan.post(f"/v1/orgs/{org}/sales-requests/{second_id}/withdraw", headers=owner)
    assert withdrawn.status_code == 200
    pending = (await stack.plan.get("/v1/sales-requests", params={"status": "pending"}, headers=SALES)).json()
    assert second_id not in [r["id"] for r in pending["sales_requests"]]
    assert (await stack.plan.post(f"/v1/sales-requests/{second_id}/approve", headers=SALES)).status_code == 409

    third = (await stack.plan.post(f"/v1/orgs/{org}/plan/changes", json={"plan": "premium"}, headers=owner)).json()
    approved = await stack.plan.post(f"/v1/sales-requests/{third['sales_request']['id']}/approve", headers=SALES)
    assert approved.status_code == 200
    told_twice = await stack.mails(alice, 2)  # the approval comes after the decline, and nothing else
    assert "approved" in str(told_twice[1]["Subject"])
    to_sales = [m for m in await stack.mails(SALES_EMAIL, 4) if org in str(m["Subject"])]
    assert len(to_sales) == 4  # made, made, withdrawn, made: each once
    assert sum("withdrawn" in str(m["Subject"]) for m in to_sales) == 1
    assert len(stack.mails_to(alice)) == 2


async def test_trial_started_and_ending_notices_reach_the_owner_and_retirement_reaches_both_addresses(
    stack: Stack, unique: str
) -> None:
    org, olga = f"org-{unique}", f"olga-{unique}@customer.e2e"
    owner = who(org, "org_owner", olga)
    started = await stack.plan.post(f"/v1/orgs/{org}/trial", headers=owner)
    assert started.status_code == 200
    ends_at = datetime.fromisoformat(started.json()["plan"]["trial"]["ends_at"])
    [first] = await stack.mails(olga, 1)
    assert "trial has started" in str(first["Subject"])
    ending = TrialEnding.build(
        source="/plan-service",
        subject=org,
        data=TrialEndingData(org_id=org, ends_at=ends_at, returns_to=PlanCode.BASIC, days_before=3),
    )
    await publish(stack.kafka, PLAN_EVENTS.name, org, ending, ending)  # delivered twice: told once
    second = (await stack.mails(olga, 2))[1]
    assert "ends in 3 days" in str(second["Subject"])
    assert f"{CONSOLE}/support" in parts(second)[0]

    legacy, tech = f"legacy-{unique}", f"dba-{unique}@customer.e2e"
    contacts = {"owner_email": f"boss-{unique}@customer.e2e", "technical_email": tech, "unsubscribed": ["trial"]}
    saved = await stack.plan.put(f"/v1/orgs/{legacy}/contacts", json=contacts, headers=who(legacy, "org_owner"))
    assert saved.status_code == 200, saved.text
    warning = PlanRetirementNotice.build(
        source="/plan-service",
        subject=legacy,
        data=PlanRetirementNoticeData(
            org_id=legacy,
            legacy_plan=PlanCode.LEGACY_ENTERPRISE,
            retires_at=datetime(2026, 1, 15, tzinfo=UTC),
            days_before=30,
            target_plan=PlanCode.BASIC,
        ),
    )
    await publish(stack.kafka, PLAN_EVENTS.name, legacy, warning)
    [warned] = await stack.mails(tech, 1)
    assert str(warned["To"]) == f"boss-{unique}@customer.e2e, {tech}"
    assert "retires in 30 days" in str(warned["Subject"])
    # the move itself: imported on a plan that retired already, the scheduler moves it to Basic at its next run
    imported = await stack.plan.post(
        "/v1/admin/legacy-import",
        json=[{"org_id": legacy, "legacy_plan": "legacy_enterprise"}],
        headers=who("v", "admin"),
    )
    assert imported.status_code == 200, imported.text
    moved = (await stack.mails(tech, 2))[1]
    assert "moved from Enterprise (legacy) to Basic" in str(moved["Subject"])


async def test_support_replies_and_status_changes_reach_the_reporter_once_and_the_customers_own_do_not(
    stack: Stack, unique: str
) -> None:
    org, rita = f"org-{unique}", f"rita-{unique}@customer.e2e"
    customer = who(org, "org_owner", rita)
    assert (
        await stack.plan.post(f"/v1/orgs/{org}/plan/changes", json={"plan": "developer"}, headers=customer)
    ).is_success
    body = {"summary": "Slow queries", "severity": "S3", "kind": "technical", "description": "p99 up"}
    opened = await retried(lambda: stack.ticket.post("/v1/tickets", json=body, headers=customer), ok=201)
    assert opened.status_code == 201, opened.text
    ticket = opened.json()
    assert ticket["reporter_email"] == rita  # reported by the caller (token email) when nobody else is named
    path = f"/v1/tickets/{ticket['id']}"
    await stack.ticket.post(f"{path}/comments", json={"body": "me again"}, headers=customer)
    await stack.ticket.post(f"{path}/comments", json={"body": "note", "visibility": "internal"}, headers=ENGINEER)
    reply = await stack.ticket.post(f"{path}/comments", json={"body": "Add an index on k."}, headers=ENGINEER)
    assert reply.status_code == 201
    resolved = await stack.ticket.post(f"{path}/status", json={"status": "resolved"}, headers=ENGINEER)
    assert resolved.status_code == 200
    closed = await stack.ticket.post(f"{path}/status", json={"status": "closed"}, headers=customer)
    assert closed.status_code == 200
    told = await stack.mails(rita, 2)
    text, html = parts(told[0])
    assert "Support replied" in str(told[0]["Subject"])
    assert "Add an index on k." in text
    assert f'href="{CONSOLE}/tickets/{ticket["id"]}"' in html
    assert "is now resolved" in str(told[1]["Subject"])
    # a marker after the customer's own close: support's reply on a second ticket is the third and last mail
    other = (await stack.ticket.post("/v1/tickets", json=body, headers=customer)).json()
    marker = await stack.ticket.post(f"/v1/tickets/{other['id']}/comments", json={"body": "marker"}, headers=ENGINEER)
    assert marker.status_code == 201
    told = await stack.mails(rita, 3)
    assert other["id"] in str(told[2]["Subject"])
    assert len(stack.mails_to(rita)) == 3


async def test_an_enterprise_reply_in_a_tickets_slack_thread_is_answered(stack: Stack, unique: str) -> None:
    org = f"org-{unique}"
    owner = who(org, "org_owner")
    assert (
        await stack.plan.post(f"/v1/orgs/{org}/plan/changes", json={"plan": "enterprise"}, headers=owner)
    ).is_success
    channel = f"CT{unique}".upper()
    place = {"org_id": org, "platform": "slack", "workspace": stack.slack.team_id, "channel": channel}
    bound = await retried(lambda: stack.ticket.post("/v1/im-bindings", json=place, headers=ENGINEER), ok=201)
    assert bound.status_code == 201, bound.text
    slack, url = stack.slack, str(stack.ticket.base_url).rstrip("/")
    ts = f"{time.time():.6f}"
    mention = {"type": "app_mention", "user": "UCUST", "text": "<@UBOT> help", "ts": ts, "channel": channel}
    async with httpx.AsyncClient(timeout=30) as raw:
        await slack.post_event(raw, url, mention, f"Ev{unique}m")
        [button] = [c for c in await slack.wait_for("chat.postMessage", 1) if c.payload["channel"] == channel][:1]
        views = len(slack.of("views.open"))
        await slack.post_interaction(raw, url, slack.click(button, channel))
        modal = (await slack.wait_for("views.open", views + 1))[-1]
        form = {"summary": "TiKV busy", "severity": "S3", "kind": "technical", "description": "since 9"}
        assert (await slack.post_interaction(raw, url, slack.submit(modal, form))).status_code == 200
        reply = {"type": "message", "user": "UCUST", "text": "any news?", "ts": f"{time.time():.6f}"}
        await slack.post_event(raw, url, reply | {"channel": channel, "thread_ts": ts}, f"Ev{unique}r")

    async def answered() -> list[str]:
        return [p for p in stack.posts(channel) if "do not reach support" in p]

    [answer] = await eventually(answered, timeout_s=30)
    assert "Premium" in answer
    assert "/tickets/tkt-" in answer


async def test_a_tam_email_that_failed_for_good_is_listed_for_staff_and_re_driven_once(
    stack: Stack, unique: str
) -> None:
    org = f"org-{unique}"
    tam = Tam(name="Terry", email=REFUSED)
    opened = TicketOpened.build(
        source="/ticket-service",
        subject=f"t-{unique}",
        data=TicketOpenedData(
            ticket_id=f"t-{unique}",
            org_id=org,
            kind=TicketKind.TECHNICAL,
            severity=Severity.S1,
            summary="cluster down",
            channel=TicketChannel.CONSOLE,
            plan=PlanCode.PREMIUM,
            response_due_at=datetime.now(UTC) + timedelta(minutes=30),
            opened_at=datetime.now(UTC),
            link=f"{CONSOLE}/tickets/t-{unique}",
            tam=tam,
        ),
    )
    await publish(stack.kafka, TICKET_EVENTS.name, f"t-{unique}", opened)

    async def dead() -> list[dict[str, Any]]:
        answer = await stack.notify.get("/v1/failed-messages", params={"org_id": org}, headers=ENGINEER)
        found: list[dict[str, Any]] = answer.json()["failed_messages"]
        return [m for m in found if m["state"] == "dead"]

    [failed] = await eventually(dead, timeout_s=30)
    assert (failed["kind"], failed["target"]) == ("tam_email", {"address": REFUSED})
    assert "550" in failed["last_error"]
    owner_view = await stack.notify.get("/v1/failed-messages", headers=who(org, "org_owner"))
    assert owner_view.status_code == 403
    stack.refuse.discard(REFUSED)  # the mailbox is fixed
    redriven = await stack.notify.post(f"/v1/failed-messages/{failed['id']}/redrive", headers=ENGINEER)
    assert (redriven.status_code, redriven.json()) == (202, {"redriven": failed["id"], "was": "dead"})
    [mail] = await stack.mails(REFUSED, 1)
    assert "S1 ticket opened" in str(mail["Subject"])
    again = await stack.notify.post(f"/v1/failed-messages/{failed['id']}/redrive", headers=ENGINEER)
    assert again.status_code == 404
    assert await dead() == []
