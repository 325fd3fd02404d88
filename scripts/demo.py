"""Show the system working: a local webhook receiver gets an alert sent through Kafka and notify-service."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime

import asyncpg
from aiohttp import web
from aiokafka import AIOKafkaProducer

from care_schemas.events.alert import Alert, alert_event
from care_schemas.topics import ALERT_EVENTS

RECEIVER_PORT = int(os.environ.get("DEMO_RECEIVER_PORT", "18099"))


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

    org = f"demo-{uuid.uuid4().hex[:6]}"
    notify_db = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/notify"
    conn = await asyncpg.connect(notify_db)
    await conn.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, config) VALUES ($1, $2, 'proj-1', 'webhook', "
        "'demo-hook', $3)",
        f"sub-{org}",
        org,
        json.dumps({"url": f"http://127.0.0.1:{RECEIVER_PORT}/hook"}),
    )
    await conn.close()
    print(f"registered webhook subscriber for {org} -> http://127.0.0.1:{RECEIVER_PORT}/hook")

    alert = Alert(
        fingerprint=f"fp-{org}",
        org_id=org,
        project_id="proj-1",
        cluster_id="cluster-1",
        rule="node_memory_above_70pct_10m",
        severity="critical",
        status="firing",
        starts_at=datetime.now(UTC),
        summary="TiKV node memory above 70% for 10 minutes",
        description="tikv-0 at 83%",
        labels={"instance": "tikv-0"},
    )
    producer = AIOKafkaProducer(bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    await producer.start()
    await producer.send_and_wait(
        ALERT_EVENTS.name, alert_event(alert, source="/demo").to_json_bytes(), key=org.encode()
    )
    await producer.stop()
    print(f"published AlertFiring {alert.fingerprint} to {ALERT_EVENTS.name}; waiting for the webhook ...")
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
