"""Show the system working: an Enterprise organisation's owner registers a webhook subscriber through the
notify-service API, an alert is sent through the HTTP intake, and a local receiver prints what it got."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime

import httpx
from aiohttp import web
from aiokafka import AIOKafkaProducer

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.events.plan import Actor, ChangeReason, SupportPlanChanged, SupportPlanChangedData
from care_schemas.topics import PLAN_EVENTS
from carekit.identity import mint

RECEIVER_PORT = int(os.environ.get("DEMO_RECEIVER_PORT", "18099"))
NOTIFY = os.environ.get("NOTIFY_URL", "http://127.0.0.1:8083")


async def put_on_enterprise(org: str) -> None:
    """What plan-service publishes when an organisation moves to Enterprise."""
    enterprise = catalogue().get(PlanCode.ENTERPRISE)
    event = SupportPlanChanged.build(
        source="/demo",
        subject=org,
        data=SupportPlanChangedData(
            org_id=org,
            plan=enterprise.code,
            previous_plan=PlanCode.BASIC,
            reason=ChangeReason.SELF_SERVICE,
            actor=Actor(sub="demo-owner", role="org_owner"),
            version=1,
            effective_at=datetime.now(UTC),
            entitlements=enterprise.entitlements,
        ),
    )
    producer = AIOKafkaProducer(bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(PLAN_EVENTS.name, event.to_json_bytes(), key=org.encode())
    finally:
        await producer.stop()
    print(f"published SupportPlanChanged: {org} is on Enterprise")


async def register_webhook(client: httpx.AsyncClient, owner: dict[str, str], url: str) -> dict[str, object] | None:
    """POST /v1/subscribers until notify-service has seen the plan (403 until then); saving sends a dry run."""
    body = {"type": "webhook", "name": "demo-hook", "project_id": "proj-1", "config": {"url": url}}
    for _ in range(60):
        answer = await client.post("/v1/subscribers", headers=owner, json=body)
        if answer.status_code == 201:
            saved: dict[str, object] = answer.json()
            return saved
        if answer.status_code != 403:
            print(f"subscriber refused: {answer.status_code} {answer.text}", file=sys.stderr)
            return None
        await asyncio.sleep(0.5)
    print("notify-service never saw the Enterprise plan; see .cache/run/notify.log", file=sys.stderr)
    return None


async def main() -> int:
    got: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        await got.put(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", RECEIVER_PORT).start()
    try:
        org = f"demo-{uuid.uuid4().hex[:6]}"
        secret = os.environ["JWT_SECRET"]
        owner = {"Authorization": f"Bearer {mint(secret, sub='demo-owner', org=org, role='org_owner')}"}
        await put_on_enterprise(org)
        async with httpx.AsyncClient(base_url=NOTIFY, timeout=30) as client:
            saved = await register_webhook(client, owner, f"http://127.0.0.1:{RECEIVER_PORT}/hook")
            if saved is None:
                return 1
            test = await asyncio.wait_for(got.get(), 10)
            print(f"registered webhook subscriber {saved['id']} (config shown masked: {saved['config']});")
            print(f"  its test message arrived with dryRun={test.get('dryRun')}")
            alert = {
                "fingerprint": f"fp-{org}",
                "org_id": org,
                "project_id": "proj-1",
                "cluster_id": "cluster-1",
                "rule": "node_memory_above_70pct_10m",
                "severity": "critical",
                "status": "firing",
                "starts_at": datetime.now(UTC).isoformat(),
                "summary": "TiKV node memory above 70% for 10 minutes",
                "description": "tikv-0 at 83%",
                "labels": {"instance": "tikv-0"},
            }
            member = {"Authorization": f"Bearer {mint(secret, sub='demo-pager', org=org, role='member')}"}
            accepted = await client.post("/v1/alerts", headers=member, json=alert)
            print(f"POST {NOTIFY}/v1/alerts -> {accepted.status_code} {accepted.json()}; waiting for the webhook ...")
        try:
            body = await asyncio.wait_for(got.get(), 30)
        except TimeoutError:
            print("no webhook call within 30 s; see .cache/run/notify.log", file=sys.stderr)
            return 1
    finally:
        await runner.cleanup()
    print("the receiver got (Alertmanager webhook v4 JSON):")
    print(json.dumps(body, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
