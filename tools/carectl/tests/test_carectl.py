"""carectl against plan-, ticket- and notify-service running as processes on real Kafka and Postgres (Typer's
CliRunner, each invocation in a worker thread so the local receiver keeps answering): tables, --json, and the exit
codes scripts rely on (0 ok, 2 usage, 3 refused, 4 not found, 5 unavailable)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from typer.testing import CliRunner, Result

from carectl.app import app
from carectl.client import Exit
from carekit.kafka import ensure_topics
from carekit_testing import TEST_JWT_SECRET, ServiceProcess, commit_group_at_end, create_database, eventually, free_port
from tests.receivers import Answer, Receiver, notify_env, serve, skip_history
from tests.service_env import service_env

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
runner = CliRunner()


@dataclass
class Services:
    env: dict[str, str]
    receiver: Receiver
    plan: str
    notify: str


def invoke(services: Services, args: Sequence[str], token: str | None = None) -> Result:
    env = dict(services.env)
    if token is not None:
        env["CARECTL_TOKEN"] = token
    return runner.invoke(app, list(args), env=env)


async def cli(services: Services, *args: str, token: str | None = None) -> Result:
    """Run carectl in a worker thread (it runs its own event loop), so this loop keeps serving the receiver."""
    return await asyncio.to_thread(invoke, services, args, token)


def mint(org: str, role: str) -> str:
    result = runner.invoke(app, ["token", "--org", org, "--role", role, "--secret", TEST_JWT_SECRET])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def services(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Services]:
    await ensure_topics(kafka_bootstrap)
    logs = tmp_path_factory.mktemp("carectl")
    run = uuid.uuid4().hex[:8]
    await commit_group_at_end(kafka_bootstrap, f"ticket-c-{run}.plans")
    await skip_history(kafka_bootstrap, f"notify-c-{run}")
    procs = [
        ServiceProcess(
            "plan_service",
            service_env(
                "plan_service",
                kafka=kafka_bootstrap,
                database_url=await create_database(database_url, "plan"),
                group_prefix=f"plan-c-{run}",
            ),
        ),
        ServiceProcess(
            "ticket_service",
            service_env(
                "ticket_service",
                kafka=kafka_bootstrap,
                database_url=await create_database(database_url, "ticket"),
                group_prefix=f"ticket-c-{run}",
            ),
        ),
        ServiceProcess(
            "notify_service",
            notify_env(kafka_bootstrap, await create_database(database_url, "notify"), f"notify-c-{run}"),
        ),
    ]
    for proc in procs:
        proc.start(logs)
    async with serve(Receiver()) as receiver:
        try:
            for proc in procs:
                await proc.wait_ready()
            env = {
                "CARECTL_CONFIG": str(logs / "absent.toml"),
                "CARECTL_PLAN_URL": procs[0].url,
                "CARECTL_TICKET_URL": procs[1].url,
                "CARECTL_NOTIFY_URL": procs[2].url,
                "CARECTL_TOKEN": "",
            }
            yield Services(env, receiver, procs[0].url, procs[2].url)
        finally:
            for proc in procs:
                proc.stop()


async def test_plans_change_and_show_as_table_and_json_and_refusals_map_to_exit_codes(
    services: Services, unique: str
) -> None:
    org = f"org-{unique}"
    owner = mint(org, "org_owner")
    changed = await cli(services, "--json", "plans", "change", org, "developer", "--reason", "cli test", token=owner)
    assert changed.exit_code == 0, changed.output
    assert json.loads(changed.stdout)["plan"]["plan"] == "developer"
    shown = await cli(services, "plans", "show", org, token=owner)
    assert shown.exit_code == 0
    assert "Developer" in shown.stdout
    assert "self_service" in shown.stdout
    as_json = json.loads((await cli(services, "--json", "plans", "show", org, token=owner)).stdout)
    assert (as_json["plan"], as_json["version"]) == ("developer", 1)
    other = await cli(services, "plans", "show", f"other-{unique}", token=owner)
    assert (other.exit_code, "not found" in other.stderr) == (Exit.NOT_FOUND, True)
    member = await cli(services, "plans", "change", org, "enterprise", token=mint(org, "member"))
    assert member.exit_code == Exit.REFUSED
    assert "403" in member.stderr
    unknown = await cli(services, "plans", "change", org, "gold", token=owner)
    assert (unknown.exit_code, "unknown plan" in unknown.stderr) == (Exit.REFUSED, True)
    down = await cli(services, "--plan-url", f"http://127.0.0.1:{free_port()}", "plans", "show", org, token=owner)
    assert down.exit_code == Exit.UNAVAILABLE


async def test_tickets_list_show_and_comment(services: Services, unique: str) -> None:
    org = f"org-{unique}"
    owner = mint(org, "org_owner")
    assert (await cli(services, "plans", "change", org, "developer", token=owner)).exit_code == 0
    body = {"summary": "Slow queries", "severity": "S3", "kind": "technical", "description": "p99"}
    headers = {"Authorization": f"Bearer {owner}"}
    async with httpx.AsyncClient(base_url=services.env["CARECTL_TICKET_URL"]) as http:

        async def opened() -> dict[str, Any] | None:
            answer = await http.post("/v1/tickets", json=body, headers=headers)
            return dict(answer.json()) if answer.status_code == 201 else None

        ticket = await eventually(opened, timeout_s=30, interval_s=0.3)
    engineer = mint("vendor", "support_engineer")
    listed = await cli(services, "--json", "tickets", "list", "--org", org, token=engineer)
    assert [t["id"] for t in json.loads(listed.stdout)] == [ticket["id"]]
    commented = await cli(services, "tickets", "comment", ticket["id"], "Add an index", token=engineer)
    assert commented.exit_code == 0, commented.output
    shown = await cli(services, "tickets", "show", ticket["id"], token=owner)
    assert "Add an index" in shown.stdout
    assert (await cli(services, "tickets", "show", "tkt-none", token=owner)).exit_code == Exit.NOT_FOUND


async def test_alerts_send_list_resolve_and_deliveries_tail_and_subscribers_test(
    services: Services, unique: str
) -> None:
    org = f"org-{unique}"
    owner = mint(org, "org_owner")
    assert (await cli(services, "plans", "change", org, "enterprise", token=owner)).exit_code == 0
    hook = {"type": "webhook", "name": "hook", "project_id": "p1", "config": {"url": f"{services.receiver.url}/{org}"}}
    async with httpx.AsyncClient(base_url=services.notify) as http:

        async def saved() -> dict[str, Any] | None:
            answer = await http.post("/v1/subscribers", json=hook, headers={"Authorization": f"Bearer {owner}"})
            return dict(answer.json()) if answer.status_code == 201 else None

        subscriber = await eventually(saved, timeout_s=30, interval_s=0.3)
    listed = await cli(services, "--json", "subscribers", "list", token=owner)
    assert [s["id"] for s in json.loads(listed.stdout)["subscribers"]] == [subscriber["id"]]
    tested = await cli(services, "subscribers", "test", subscriber["id"], token=owner)
    assert tested.exit_code == 0, tested.output
    services.receiver.script(f"/{org}", Answer(410, body="gone"))
    refused = await cli(services, "subscribers", "test", subscriber["id"], token=owner)
    assert (refused.exit_code, "410" in refused.stdout) == (Exit.REFUSED, True)

    sent = await cli(
        services,
        "alerts",
        "send",
        "--fingerprint",
        f"fp-{unique}",
        "--project",
        "p1",
        "--rule",
        "cpu_high",
        "--summary",
        "CPU above 80%",
        "--severity",
        "critical",
        token=owner,
    )
    assert sent.exit_code == 0, sent.output
    tail = await cli(services, "--json", "deliveries", "tail", "--history", "5", "--count", "1", token=owner)
    assert tail.exit_code == 0, tail.output

    async def delivered() -> list[Any]:
        return [r for r in services.receiver.at(f"/{org}") if not r.json().get("dryRun")]

    await eventually(delivered, timeout_s=30)

    async def firing() -> list[Any]:
        found = json.loads((await cli(services, "--json", "alerts", "list", token=owner)).stdout)["alerts"]
        return [a for a in found if a["fingerprint"] == f"fp-{unique}" and a["status"] == "firing"]

    await eventually(firing, timeout_s=30, interval_s=0.5)
    assert (await cli(services, "alerts", "resolve", f"fp-{unique}", token=owner)).exit_code == 0

    async def resolved() -> list[Any]:
        found = json.loads(
            (await cli(services, "--json", "alerts", "list", "--status", "resolved", token=owner)).stdout
        )
        return [a for a in found["alerts"] if a["fingerprint"] == f"fp-{unique}"]

    await eventually(resolved, timeout_s=30, interval_s=0.5)
    tail = await cli(services, "--json", "deliveries", "tail", "--history", "10", "--count", "2", token=owner)
    attempts = [json.loads(line) for line in tail.stdout.splitlines()]
    assert len(attempts) == 2
    assert all(a["subscriber_id"] == subscriber["id"] for a in attempts)
    assert (await cli(services, "alerts", "resolve", "fp-none", token=owner)).exit_code == Exit.NOT_FOUND


async def test_dead_letters_are_listed_and_redriven_all_at_once(services: Services, unique: str) -> None:
    org = f"org-{unique}"
    owner, staff = mint(org, "org_owner"), mint("vendor", "admin")
    assert (await cli(services, "plans", "change", org, "enterprise", token=owner)).exit_code == 0
    path = f"/dead-{unique}"
    hook = {
        "type": "webhook",
        "name": "dead",
        "project_id": "p1",
        "config": {"url": f"{services.receiver.url}{path}"},
        "group_by": ["..."],  # every alert alone: the receiver counts one request per alert
    }
    async with httpx.AsyncClient(base_url=services.notify) as http:

        async def saved() -> bool:
            answer = await http.post("/v1/subscribers", json=hook, headers={"Authorization": f"Bearer {owner}"})
            return answer.status_code == 201

        await eventually(saved, timeout_s=30, interval_s=0.3)
    services.receiver.script(path, Answer(404, body="no such hook"), Answer(404, body="no such hook"))
    for n in range(2):
        args = (
            "alerts",
            "send",
            "--fingerprint",
            f"fp{n}-{unique}",
            "--project",
            "p1",
            "--rule",
            "r",
            "--summary",
            "s",
        )
        assert (await cli(services, *args, token=owner)).exit_code == 0

    async def dead() -> list[Any]:
        result = await cli(services, "--json", "dead-letters", "list", "--org", org, token=staff)
        return list(json.loads(result.stdout)["dead_letters"]) if result.exit_code == 0 else []

    letters = await eventually(lambda: _at_least(dead, 2), timeout_s=40, interval_s=0.5)
    table = await cli(services, "dead-letters", "list", "--org", org, token=staff)
    assert "HTTP 404" in table.stdout
    assert (await cli(services, "dead-letters", "list", token=owner)).exit_code == Exit.REFUSED
    assert (await cli(services, "dead-letters", "redrive", token=staff)).exit_code == Exit.USAGE
    redriven = await cli(services, "--json", "dead-letters", "redrive", "--all", "--org", org, token=staff)
    assert redriven.exit_code == 0, redriven.output
    assert sorted(json.loads(redriven.stdout)["redriven"]) == sorted(d["id"] for d in letters)
    again = await cli(services, "dead-letters", "redrive", str(letters[0]["id"]), token=staff)
    assert again.exit_code == Exit.NOT_FOUND
    await services.receiver.wait_for(1 + 2 + 2, path=path)  # the test, two refused alerts, both again re-driven
    messages = await cli(services, "--json", "dead-letters", "list", "--messages", "--org", org, token=staff)
    assert json.loads(messages.stdout) == {"failed_messages": []}


async def _at_least(check: Any, count: int) -> list[Any]:
    found: list[Any] = await check()
    return found if len(found) >= count else []
