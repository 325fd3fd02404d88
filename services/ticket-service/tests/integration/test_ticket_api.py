"""The tickets API on real Postgres and Kafka: rules, visibility, response targets, events through the outbox."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ticket_harness import ENGINEER, MONDAY_10_UTC, Service

from care_schemas.catalogue import PlanCode
from care_schemas.events.action import TicketAlertResolved, TicketAlertResolvedData
from care_schemas.events.alert import AlertRef
from care_schemas.events.plan import Tam
from care_schemas.events.ticket import (
    TicketCommented,
    TicketOpened,
    TicketResponseBreached,
    TicketSeverityChanged,
    TicketStatusChanged,
)
from carekit_testing import TEST_JWT_SECRET, TicketTopicReader, bearer
from ticket_service import handlers
from ticket_service.handlers import alert_actions

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
SCHEMA = Path(__file__).resolve().parents[4] / "schemas" / "jsonschema" / "ticket.events.v1.schema.json"


def customer(org: str, sub: str = "alice") -> dict[str, str]:
    return bearer(TEST_JWT_SECRET, org, "org_owner", sub=sub)


def technical(severity: str = "S1", **extra: object) -> dict[str, object]:
    return {
        "summary": "TiKV unreachable",
        "severity": severity,
        "kind": "technical",
        "description": "since 09:40",
    } | extra


async def opened_monday_10(
    service: Service, org: str, severity: str, plan: PlanCode = PlanCode.ENTERPRISE, tam: Tam | None = None
) -> dict[str, Any]:
    """Put the org on `plan`, then open a technical ticket of `severity` at Monday 10:00 UTC as its owner."""
    await service.set_plan(org, plan, 1, tam=tam)
    service.clock.now = MONDAY_10_UTC
    ticket: dict[str, Any] = (
        await service.client.post("/v1/tickets", json=technical(severity), headers=customer(org))
    ).json()
    return ticket


async def test_technical_ticket_gets_a_business_hour_target_in_the_org_zone_and_a_valid_event(
    service: Service, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    await service.set_plan(org, PlanCode.DEVELOPER, 1, timezone="Europe/Berlin")
    service.clock.now = MONDAY_10_UTC  # 11:00 in Berlin
    answer = await service.client.post(
        "/v1/tickets", json=technical(components=["TiKV", "PD"], reporter_email="ops@c.example"), headers=customer(org)
    )
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    assert ticket["response_due_at"] == "2026-03-02T14:00:00Z"  # 4 business hours: 15:00 Berlin
    assert ticket["plan"] == "developer"
    assert ticket["status"] == "open"
    assert ticket["link"] == f"https://support.test/tickets/{ticket['id']}"

    [record] = await ticket_topic.for_key(ticket["id"], 1)
    raw = json.loads(record.value)
    event = TicketOpened.model_validate(raw)
    assert event.data.org_id == org
    assert event.data.response_due_at == datetime(2026, 3, 2, 14, tzinfo=UTC)
    assert event.data.tam is None
    assert raw["type"] in SCHEMA.read_text()


async def test_basic_org_is_refused_a_technical_ticket_with_the_rule_and_nothing_is_written(
    service: Service, unique: str
) -> None:
    org = f"org-{unique}"
    before = await service.count("SELECT count(*) FROM outbox")
    answer = await service.client.post("/v1/tickets", json=technical(), headers=customer(org))
    assert answer.status_code == 403
    assert answer.json()["detail"] == (
        "technical tickets need the Developer plan or higher; this organisation is on Basic"
    )
    billing = await service.client.post(
        "/v1/tickets", json={"summary": "invoice", "severity": "S1", "kind": "billing"}, headers=customer(org)
    )
    assert billing.status_code == 422
    assert "S2, S3 or S4" in billing.json()["detail"]
    assert await service.count("SELECT count(*) FROM tickets WHERE org_id = $1", org) == 0
    assert await service.count("SELECT count(*) FROM tickets WHERE btrim(org_id) = ''") == 0
    assert await service.count("SELECT count(*) FROM outbox") == before
    ok = await service.client.post(
        "/v1/tickets", json={"summary": "invoice", "severity": "S3", "kind": "billing"}, headers=customer(org)
    )
    assert ok.status_code == 201
    assert ok.json()["response_due_at"] is None


async def test_customers_see_only_their_organisation_and_engineers_see_all(service: Service, unique: str) -> None:
    a, b = f"org-a-{unique}", f"org-b-{unique}"
    await service.set_plan(a, PlanCode.DEVELOPER, 1)
    await service.set_plan(b, PlanCode.DEVELOPER, 1)
    ta = (await service.client.post("/v1/tickets", json=technical(), headers=customer(a))).json()
    tb = (await service.client.post("/v1/tickets", json=technical("S3"), headers=customer(b))).json()

    assert (await service.client.get(f"/v1/tickets/{tb['id']}", headers=customer(a))).status_code == 404
    mine = (await service.client.get("/v1/tickets", headers=customer(a))).json()
    assert [t["id"] for t in mine] == [ta["id"]]
    spoof = await service.client.get("/v1/tickets", params={"org_id": b}, headers=customer(a))
    assert [t["id"] for t in spoof.json()] == [ta["id"]]
    both = (await service.client.get("/v1/tickets", params={"severity": "S3", "org_id": b}, headers=ENGINEER)).json()
    assert [t["id"] for t in both] == [tb["id"]]
    assert (await service.client.get(f"/v1/tickets/{tb['id']}", headers=ENGINEER)).status_code == 200
    assert (await service.client.get("/v1/tickets")).status_code == 401


async def test_internal_comments_stay_internal_and_the_first_public_engineer_comment_is_the_response(
    service: Service, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    ticket = await opened_monday_10(service, org, "S2")
    tid = ticket["id"]
    refused = await service.client.post(
        f"/v1/tickets/{tid}/comments", json={"body": "psst", "visibility": "internal"}, headers=customer(org)
    )
    assert refused.status_code == 403
    service.clock.now = MONDAY_10_UTC + timedelta(minutes=5)
    internal = await service.client.post(
        f"/v1/tickets/{tid}/comments", json={"body": "looks like PD leader", "visibility": "internal"}, headers=ENGINEER
    )
    assert internal.status_code == 201
    after_internal = (await service.client.get(f"/v1/tickets/{tid}", headers=customer(org))).json()
    assert after_internal["updated_at"] == ticket["updated_at"], "an internal comment leaves no trace for customers"
    service.clock.now = MONDAY_10_UTC + timedelta(minutes=20)
    public = await service.client.post(f"/v1/tickets/{tid}/comments", json={"body": "We are on it."}, headers=ENGINEER)
    assert public.status_code == 201

    seen = (await service.client.get(f"/v1/tickets/{tid}", headers=customer(org))).json()
    assert [c["body"] for c in seen["comments"]] == ["We are on it."]
    assert seen["first_response_at"] == "2026-03-02T10:20:00Z"
    assert seen["status"] == "in_progress"
    staff = (await service.client.get(f"/v1/tickets/{tid}", headers=ENGINEER)).json()
    assert [c["visibility"] for c in staff["comments"]] == ["internal", "public"]

    events = await ticket_topic.events(tid, 4)
    commented = [e for e in events if isinstance(e, TicketCommented)]
    assert [(e.data.visibility.value, e.data.body) for e in commented] == [
        ("internal", None),
        ("public", "We are on it."),
    ]
    assert any(isinstance(e, TicketStatusChanged) and e.data.status.value == "in_progress" for e in events)


async def test_severity_change_recomputes_the_due_time_from_creation(
    service: Service, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    ticket = await opened_monday_10(service, org, "S3")
    assert ticket["response_due_at"] == "2026-03-02T18:00:00Z"  # 8 business hours from 10:00
    await service.set_plan(org, PlanCode.DEVELOPER, 2)  # the ticket keeps Enterprise's targets (Developer S1: 14:00)
    service.clock.now = MONDAY_10_UTC + timedelta(minutes=30)
    raised = await service.client.post(
        f"/v1/tickets/{ticket['id']}/severity", json={"severity": "S1"}, headers=customer(org)
    )
    assert raised.status_code == 200
    assert raised.json()["response_due_at"] == "2026-03-02T11:00:00Z"  # 1 wall-clock hour from creation
    [_, changed] = await ticket_topic.events(ticket["id"], 2)
    assert isinstance(changed, TicketSeverityChanged)
    assert changed.data.previous_severity.value == "S3"
    assert changed.data.response_due_at == datetime(2026, 3, 2, 11, tzinfo=UTC)
    assert changed.data.tam is None


async def test_raising_a_premium_ticket_to_s1_tells_notify_who_the_tam_is(
    service: Service, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    tam = Tam(name="Ada Lovelace", email="ada@vendor.example")
    ticket = await opened_monday_10(service, org, "S3", PlanCode.PREMIUM, tam)
    raised = await service.client.post(
        f"/v1/tickets/{ticket['id']}/severity", json={"severity": "S1"}, headers=ENGINEER
    )
    assert raised.json()["response_due_at"] == "2026-03-02T10:30:00Z"
    [_, changed] = await ticket_topic.events(ticket["id"], 2)
    assert isinstance(changed, TicketSeverityChanged)
    assert (changed.data.tam, changed.data.summary, changed.data.link) == (tam, ticket["summary"], ticket["link"])


async def test_lifecycle_is_enforced_and_a_closed_ticket_takes_no_comments(service: Service, unique: str) -> None:
    org = f"org-{unique}"
    await service.set_plan(org, PlanCode.DEVELOPER, 1)
    tid = (await service.client.post("/v1/tickets", json=technical(), headers=customer(org))).json()["id"]

    async def move(status: str, who: dict[str, str]) -> int:
        answer = await service.client.post(f"/v1/tickets/{tid}/status", json={"status": status}, headers=who)
        return int(answer.status_code)

    assert await move("closed", ENGINEER) == 409
    assert await move("in_progress", customer(org)) == 403
    assert await move("in_progress", ENGINEER) == 200
    assert await move("resolved", ENGINEER) == 200
    reopen = await service.client.post(
        f"/v1/tickets/{tid}/comments", json={"body": "still broken"}, headers=customer(org)
    )
    assert reopen.status_code == 201
    assert (await service.client.get(f"/v1/tickets/{tid}", headers=customer(org))).json()["status"] == "in_progress"
    assert await move("resolved", ENGINEER) == 200
    assert await move("closed", customer(org)) == 200
    late = await service.client.post(f"/v1/tickets/{tid}/comments", json={"body": "one more"}, headers=customer(org))
    assert late.status_code == 409
    assert "closed" in late.json()["detail"]


async def test_bad_input_gets_a_clear_4xx_and_writes_nothing(service: Service, unique: str) -> None:
    org = f"org-{unique}"
    await service.set_plan(org, PlanCode.DEVELOPER, 1)
    post = service.client.post
    unknown = await post("/v1/tickets", json=technical("S9"), headers=customer(org))
    assert unknown.status_code == 422
    assert "S1" in unknown.text
    long = await post("/v1/tickets", json=technical(summary="x" * 256), headers=customer(org))
    assert long.status_code == 422
    assert "255" in long.text
    components = await post("/v1/tickets", json=technical(components=["c"] * 11), headers=customer(org))
    assert components.status_code == 422
    stranger = await post("/v1/tickets", json=technical(priority="high"), headers=customer(org))
    assert stranger.status_code == 422
    malformed = await post(
        "/v1/tickets", content=b'{"summary": ', headers={**customer(org), "Content-Type": "application/json"}
    )
    assert malformed.status_code == 422
    for nobody in ("", "   "):
        on_behalf = await post("/v1/tickets", json=technical(org_id=nobody), headers=ENGINEER)
        assert on_behalf.status_code == 422, on_behalf.text
        assert [e["field"] for e in on_behalf.json()["errors"]] == ["body.org_id"]
    huge = await post("/v1/tickets", json=technical(description="x" * 300_000), headers=customer(org))
    assert huge.status_code == 413
    assert "256 KiB" in huge.json()["detail"]
    assert await service.count("SELECT count(*) FROM tickets WHERE org_id = $1", org) == 0


async def test_breach_is_emitted_once_after_downtime_even_with_two_scanners(
    service: Service, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    tam = Tam(name="Grace Hopper", email="grace@vendor.example")
    await service.set_plan(org, PlanCode.PREMIUM, 1, tam=tam)
    service.clock.now = MONDAY_10_UTC
    opened = await service.client.post("/v1/tickets", json=technical("S1"), headers=customer(org))
    tid = opened.json()["id"]
    assert opened.json()["response_due_at"] == "2026-03-02T10:30:00Z"
    answered = (await service.client.post("/v1/tickets", json=technical("S1"), headers=customer(org))).json()["id"]
    service.clock.now = MONDAY_10_UTC + timedelta(minutes=10)
    await service.client.post(f"/v1/tickets/{answered}/comments", json={"body": "on it"}, headers=ENGINEER)

    service.clock.now = MONDAY_10_UTC + timedelta(hours=3)  # the scheduler was down when the ticket fell due
    deps = service.app.deps
    other = handlers.Deps(service.app.runtime.pool, deps.public_base_url, service.clock)
    results = await asyncio.gather(*(handlers.scan_breaches(d) for d in [deps, other, deps, other]))
    assert await handlers.scan_breaches(deps) == 0
    breached = [e for e in await ticket_topic.events(tid, 2) if isinstance(e, TicketResponseBreached)]
    assert len(breached) == 1
    assert breached[0].data.tam == tam
    assert breached[0].data.response_due_at == datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    assert await service.count("SELECT count(*) FROM tickets WHERE id = $1 AND breached_at IS NOT NULL", tid) == 1
    assert await service.count("SELECT count(*) FROM tickets WHERE id = $1 AND breached_at IS NULL", answered) == 1
    assert sum(results) >= 1
    seen = (await service.client.get(f"/v1/tickets/{tid}", headers=customer(org))).json()
    assert seen["breached"] is True
    opened_event = (await ticket_topic.events(tid, 1))[0]
    assert isinstance(opened_event, TicketOpened)
    assert opened_event.data.tam == tam


async def test_holidays_push_the_due_time_past_them(service: Service, unique: str) -> None:
    org = f"org-{unique}"
    await service.set_plan(org, PlanCode.DEVELOPER, 1, timezone="America/New_York")
    put = await service.client.put(
        f"/v1/orgs/{org}/holidays", json={"holidays": ["2026-03-03", "2026-03-04"]}, headers=ENGINEER
    )
    assert put.status_code == 200
    assert (
        await service.client.put(f"/v1/orgs/{org}/holidays", json={"holidays": []}, headers=customer(org))
    ).status_code == 403
    service.clock.now = datetime(2026, 3, 2, 21, tzinfo=UTC)  # Mon 16:00 EST
    ticket = (await service.client.post("/v1/tickets", json=technical("S1"), headers=customer(org))).json()
    # 2h Monday, Tue+Wed holidays, 2h Thursday: 11:00 EST
    assert ticket["response_due_at"] == "2026-03-05T16:00:00Z"
    got = await service.client.get(f"/v1/orgs/{org}/holidays", headers=customer(org))
    assert got.json() == {"holidays": ["2026-03-03", "2026-03-04"]}
    long_id = "o" * 129  # org ids are at most 128 characters, as everywhere else
    put = await service.client.put(f"/v1/orgs/{long_id}/holidays", json={"holidays": ["2026-03-03"]}, headers=ENGINEER)
    assert put.status_code == 422
    assert await service.count("SELECT count(*) FROM org_holidays WHERE org_id = $1", long_id) == 0


async def test_text_that_cannot_be_stored_and_absurd_offsets_are_a_clear_422_and_write_nothing(
    service: Service, unique: str
) -> None:
    org = f"org-{unique}"
    await service.set_plan(org, PlanCode.DEVELOPER, 1)
    post, get = service.client.post, service.client.get
    tid = (await post("/v1/tickets", json=technical("S3"), headers=customer(org))).json()["id"]
    nul = await post("/v1/tickets", json=technical(summary="disk\u0000full"), headers=customer(org))
    assert nul.status_code == 422
    [problem] = nul.json()["errors"]
    assert problem == {"field": "body.summary", "message": "must not contain NUL (\\u0000) characters"}
    raw = b'{"body": "lone \\ud800 surrogate"}'
    for answer in (
        await post(f"/v1/tickets/{tid}/comments", json={"body": "a\u0000b"}, headers=customer(org)),
        await post(
            f"/v1/tickets/{tid}/comments", content=raw, headers={**customer(org), "Content-Type": "application/json"}
        ),
        await get("/v1/tickets/tkt-%00", headers=customer(org)),
        await get("/v1/tickets", params={"org_id": "a\u0000"}, headers=ENGINEER),
    ):
        assert answer.status_code == 422, answer.text
    assert (await get("/v1/tickets", params={"offset": 10**20}, headers=customer(org))).status_code == 422
    assert (await get("/v1/tickets", params={"offset": 1_000_000}, headers=customer(org))).json() == []
    assert await service.count("SELECT count(*) FROM tickets WHERE org_id = $1", org) == 1
    assert await service.count("SELECT count(*) FROM comments WHERE ticket_id = $1", tid) == 0


async def test_raising_the_severity_after_an_on_time_answer_does_not_make_a_breach(
    service: Service, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    ticket = await opened_monday_10(service, org, "S4")
    service.clock.now = MONDAY_10_UTC + timedelta(hours=2)  # answered within S4's 24 business hours
    await service.client.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "looking"}, headers=ENGINEER)
    service.clock.now = MONDAY_10_UTC + timedelta(days=1)
    raised = await service.client.post(
        f"/v1/tickets/{ticket['id']}/severity", json={"severity": "S1"}, headers=ENGINEER
    )
    assert raised.json()["severity"] == "S1"
    assert raised.json()["response_due_at"] == ticket["response_due_at"]  # S1 from creation would be 11:00 Monday
    await handlers.scan_breaches(service.app.deps)
    assert await service.count("SELECT count(*) FROM tickets WHERE id = $1 AND breached_at IS NULL", ticket["id"]) == 1


async def test_an_alert_resolving_is_said_once_on_its_ticket_however_many_events_tell_it(
    service: Service, unique: str
) -> None:
    """Two notify-service deployments on the same Kafka each tell the ticket, with events of their own."""
    org = f"org-{unique}"
    tid = (await opened_monday_10(service, org, "S2"))["id"]
    starts = datetime(2026, 3, 2, 9, 40, tzinfo=UTC)

    def told(fingerprint: str, starts_at: datetime) -> TicketAlertResolved:
        return TicketAlertResolved.build(
            source="/notify-service",
            subject=tid,
            data=TicketAlertResolvedData(
                ticket_id=tid,
                alert=AlertRef(org_id=org, fingerprint=fingerprint, starts_at=starts_at),
                rule="disk_full",
                summary="disk is full",
                resolved_at=starts + timedelta(minutes=5),
            ),
        )

    deps = service.app.deps
    said = [await alert_actions.alert_resolved(deps, e) for e in (told("fp-1", starts), told("fp-1", starts))]
    assert said == [True, False]
    assert await alert_actions.alert_resolved(deps, told("fp-1", starts + timedelta(hours=1)))  # it fired again
    seen = (await service.client.get(f"/v1/tickets/{tid}", headers=customer(org))).json()
    assert sum("has resolved" in c["body"] for c in seen["comments"]) == 2
