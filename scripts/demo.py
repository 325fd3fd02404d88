"""Show the whole system working, through each service's HTTP API as a customer would use it:

1. an owner moves a new organisation from Basic to Enterprise in plan-service (with `carectl plans change`);
2. ticket-service and notify-service learn of it from plan.events.v1 (nobody calls them);
3. the owner opens a technical S1 ticket (refused on Basic) and gets its response target;
4. the owner registers a webhook subscriber (refused on Basic); saving sends a dry-run test message;
5. an alert goes in through notify-service's HTTP intake and a local receiver prints what it got;
6. the owner asks assistant-service a question (AI chat, included in Enterprise) and gets the answer with its
   sources (in Slack or Lark the same answer is posted into the thread by notify-service);
7. the web console's links: sign in as that organisation's owner and open the ticket.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from aiohttp import web

from carekit.identity import mint

RECEIVER_PORT = int(os.environ.get("DEMO_RECEIVER_PORT", "18099"))
PLAN = os.environ.get("PLAN_URL", "http://127.0.0.1:8081")
TICKET = os.environ.get("TICKET_URL", "http://127.0.0.1:8082")
NOTIFY = os.environ.get("NOTIFY_URL", "http://127.0.0.1:8083")
CONSOLE = os.environ.get("CONSOLE_URL", "http://127.0.0.1:8080")
ASSISTANT = os.environ.get("ASSISTANT_URL", "http://127.0.0.1:8084")
QUESTION = "How do I send our alerts to PagerDuty?"


async def until_allowed(call: Callable[[], Awaitable[httpx.Response]], what: str) -> httpx.Response:
    """Repeat a call refused for the plan (403) until the service has applied the plan event (3 min at most: a
    service whose consumer group starts behind reads the topic's earlier events first), saying that it waits."""
    answer = await call()
    for attempt in range(1, 721):
        if answer.status_code != 403:
            break
        if attempt % 40 == 0:
            print(f"   ... {what}: waiting for the service to apply the plan change ({attempt // 4} s)", flush=True)
        await asyncio.sleep(0.25)
        answer = await call()
    if answer.status_code >= 300:
        raise SystemExit(f"{what} refused: {answer.status_code} {answer.text}")
    return answer


async def main() -> int:
    got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        await got.put(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", RECEIVER_PORT).start()
    org = f"demo-{uuid.uuid4().hex[:6]}"
    secret = os.environ["JWT_SECRET"]
    owner = {"Authorization": f"Bearer {mint(secret, sub='demo-owner', org=org, role='org_owner')}"}
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            # step 1 through the operators' command line (carectl), as a power user would
            token = owner["Authorization"].removeprefix("Bearer ")
            command = [sys.executable, "-m", "carectl", "--json", "plans", "change", org, "enterprise"]
            env = {**os.environ, "CARECTL_TOKEN": token, "CARECTL_PLAN_URL": PLAN}
            changed = await asyncio.to_thread(
                subprocess.run, command, env=env, capture_output=True, text=True, check=False
            )
            if changed.returncode != 0:
                print(f"carectl plans change failed ({changed.returncode}): {changed.stderr}", file=sys.stderr)
                return 1
            plan = json.loads(changed.stdout)["plan"]
            print(f"1. carectl plans change {org} enterprise: now on {plan['name']} (version {plan['version']})")

            ticket = {
                "summary": "Cluster latency above 200 ms",
                "severity": "S1",
                "kind": "technical",
                "description": "P99 latency doubled after the upgrade",
                "cluster_id": "cluster-1",
            }
            opened = (
                await until_allowed(
                    lambda: http.post(f"{TICKET}/v1/tickets", headers=owner, json=ticket), "technical ticket"
                )
            ).json()
            print(
                f"2. ticket-service applied the plan; 3. opened {opened['id']} ({opened['kind']} "
                f"{opened['severity']}), first response due {opened['response_due_at']}"
            )

            hook = {
                "type": "webhook",
                "name": "demo-hook",
                "project_id": "proj-1",
                "config": {"url": f"http://127.0.0.1:{RECEIVER_PORT}/hook"},
            }
            saved = (
                await until_allowed(
                    lambda: http.post(f"{NOTIFY}/v1/subscribers", headers=owner, json=hook), "webhook subscriber"
                )
            ).json()
            async with asyncio.timeout(10):
                test = await got.get()
            print(
                f"4. notify-service applied the plan; subscriber {saved['id']} saved (shown masked: "
                f"{saved['config']}) after its test message arrived with dryRun={test.get('dryRun')}"
            )

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
            accepted = await http.post(f"{NOTIFY}/v1/alerts", headers=owner, json=alert)
            print(f"5. POST {NOTIFY}/v1/alerts -> {accepted.status_code}; waiting for the webhook ...")
        try:
            async with asyncio.timeout(30):
                body = await got.get()
        except TimeoutError:
            print("no webhook call within 30 s; see .cache/run/notify.log", file=sys.stderr)
            return 1
    finally:
        await runner.cleanup()
    print("the receiver got (Alertmanager webhook v4 JSON):")
    print(json.dumps(body, indent=2))
    answered = await ask(owner)
    print(f"7. the web console: {CONSOLE}")
    if os.environ.get("CONSOLE_DEV_LOGIN") == "1":
        print(f"   sign in at {CONSOLE}/dev-login as organisation {org}, role org_owner (or any other role);")
        print(f"   the ticket's link signs you in the same way first: {CONSOLE}/dev-login?next=/tickets/{opened['id']}")
    else:
        print(f"   sign in at {CONSOLE}/login with: uv run care-token --org {org} --role org_owner")
    print(f"   the ticket's link, as chat confirmations and TAM e-mails carry it: {opened['link']}")
    return answered


async def ask(owner: dict[str, str]) -> int:
    """Step 6: one question to the assistant, once it has applied the plan (403 until then)."""
    async with httpx.AsyncClient(timeout=30) as http:
        answer = (
            await until_allowed(
                lambda: http.post(f"{ASSISTANT}/v1/assistant/ask", headers=owner, json={"question": QUESTION}),
                "question to the assistant",
            )
        ).json()
    print(f"6. POST {ASSISTANT}/v1/assistant/ask {QUESTION!r} -> confidence {answer['confidence']}:")
    print(answer["answer"])
    print("sources:")
    for source in answer["sources"]:
        print(f"  - {source['title']}: {source['url']}")
    return 0 if answer["could_help"] else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
