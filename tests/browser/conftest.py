"""The console in a real browser: Debian's Chromium driven by Playwright, over plan-, ticket- and notify-service and
the console as processes on the real Kafka and Postgres. One browser and one set of processes per test session.

Chromium comes from the project's make target (`make browser`: Debian's `chromium`); Playwright cannot download
browsers here. A missing Chromium fails the tests (it never skips them), saying how to install it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe as AxeCore
from playwright.async_api import Browser, Page, async_playwright

from carekit.kafka import ensure_topics
from carekit_testing import TEST_JWT_SECRET, ServiceProcess, bearer, commit_group_at_end, create_database, eventually
from tests.fakes.webhook_server import webhook_receiver
from tests.receivers import Receiver, notify_env, serve, skip_history, smtp_server
from tests.service_env import service_env

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As root Chromium needs --no-sandbox; the rest keep a closed network quiet (no update or sync calls).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
CONSOLE_SECRET_KEY = "console-test-key-0123456789-abcdefghijkl"
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS_DIR") or ROOT / ".cache" / "screenshots")


@dataclass
class Stack:
    plan: ServiceProcess
    ticket: ServiceProcess
    notify: ServiceProcess
    console: ServiceProcess
    receiver: Receiver
    browser: Browser
    mail: list[EmailMessage] = field(default_factory=list)  # what the SMTP server took
    refuse: set[str] = field(default_factory=set)  # addresses it refuses (550) for now

    @property
    def url(self) -> str:
        return self.console.url

    async def page(
        self, org: str, role: str, name: str = "alice", *, phone: bool = False, javascript: bool = True
    ) -> Page:
        """A new browser session (its own cookies) signed in through /dev-login as `name`, `role` of `org`."""
        context = await self.browser.new_context(
            base_url=self.url,
            viewport=PHONE if phone else DESKTOP,
            java_script_enabled=javascript,
        )
        context.set_default_timeout(15_000)
        page = await context.new_page()
        await page.goto("/dev-login")
        await page.fill("#org", org)
        await page.select_option("#role", role)
        await page.fill("#name", name)
        await page.click("button[type=submit]")
        await page.wait_for_load_state()
        return page

    async def api(self, service: str, method: str, path: str, org: str, role: str, **kwargs: Any) -> httpx.Response:
        """A direct API call as an upstream system or a set-up step would make it (never to check the console)."""
        base = {"plan": self.plan, "ticket": self.ticket, "notify": self.notify}[service].url
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            return await client.request(method, path, headers=bearer(TEST_JWT_SECRET, org, role), **kwargs)

    async def on_plan(self, org: str, plan: str) -> None:
        """Move `org` to `plan` through plan-service and wait until ticket- and notify-service have applied it."""
        answer = await self.api("plan", "POST", f"/v1/orgs/{org}/plan/changes", org, "org_owner", json={"plan": plan})
        if answer.status_code == 202:  # Premium: sales approves
            request_id = answer.json()["sales_request"]["id"]
            answer = await self.api("plan", "POST", f"/v1/sales-requests/{request_id}/approve", "vendor", "sales")
        assert answer.status_code == 200, answer.text
        version = answer.json()["plan"]["version"]

        await eventually(lambda: self.projected(org, version), timeout_s=30, interval_s=0.2)

    async def projected(self, org: str, version: int) -> bool:
        """Both consumers hold this version of the organisation's plan (read from their own databases)."""
        for service in (self.ticket, self.notify):
            conn = await asyncpg.connect(service.env["DATABASE_URL"])
            try:
                seen = await conn.fetchval("SELECT version FROM plan_projection WHERE org_id = $1", org)
            finally:
                await conn.close()
            if seen is None or seen < version:
                return False
        return True


def chromium_path() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not found:
        pytest.fail(
            f"no Chromium at {CHROMIUM}: run `make browser` (apt-get install chromium); the browser tests never skip",
            pytrace=False,
        )
    return found


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def stack(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """The three services and the console as processes, a webhook receiver, and one Chromium."""
    executable = chromium_path()
    logs = tmp_path_factory.mktemp("console-browser")
    suffix = uuid.uuid4().hex[:8]
    await ensure_topics(kafka_bootstrap)
    console_env: dict[str, str] = {}
    console = ServiceProcess("console", console_env)
    public = {"PUBLIC_BASE_URL": console.url}
    dbs = {
        m: await create_database(database_url, m.split("_")[0])
        for m in ("plan_service", "ticket_service", "notify_service")
    }
    plan = ServiceProcess(
        "plan_service",
        service_env(
            "plan_service", kafka=kafka_bootstrap, database_url=dbs["plan_service"], group_prefix=f"plan-b{suffix}"
        ),
    )
    ticket_prefix = f"ticket-b{suffix}"
    await commit_group_at_end(kafka_bootstrap, f"{ticket_prefix}.plans")
    ticket = ServiceProcess(
        "ticket_service",
        service_env(
            "ticket_service", kafka=kafka_bootstrap, database_url=dbs["ticket_service"], group_prefix=ticket_prefix
        )
        | public
        | {"BREACH_SCAN_INTERVAL_S": "2"},
    )
    mail: list[EmailMessage] = []
    refuse: set[str] = set()
    smtp = smtp_server(mail, refuse)
    notify_prefix = f"notify-b{suffix}"
    await skip_history(kafka_bootstrap, notify_prefix)
    notify = ServiceProcess(
        "notify_service",
        notify_env(
            kafka_bootstrap,
            dbs["notify_service"],
            notify_prefix,
            GROUPING_WINDOW_S="0.2",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(smtp.port),
            CONSOLE_URL=console.url,
        )
        | public,
    )
    console_env |= {
        "JWT_SECRET": TEST_JWT_SECRET,
        "CONSOLE_SECRET_KEY": CONSOLE_SECRET_KEY,
        "CONSOLE_DEV_LOGIN": "1",
        "PLAN_URL": plan.url,
        "TICKET_URL": ticket.url,
        "NOTIFY_URL": notify.url,
        "PUBLIC_BASE_URL": console.url,
    }
    processes = [plan, ticket, notify, console]
    async with serve(webhook_receiver()) as receiver, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        await asyncio.to_thread(smtp.start)
        try:
            for process in processes:
                process.start(logs)
            # generous: four Python processes starting at once on two cores shared with other test runs
            await asyncio.gather(*(process.wait_ready(timeout_s=180) for process in processes))
            yield Stack(plan, ticket, notify, console, receiver, browser, mail, refuse)
        finally:
            await browser.close()
            for process in processes:
                process.stop()
            await asyncio.to_thread(smtp.stop)  # after notify-service: nothing holds a connection to it any more


@pytest.fixture
def org(unique: str) -> str:
    return f"org-{unique}"


SERIOUS = ("serious", "critical")


async def check_accessibility(page: Page) -> None:
    """axe-core over the page: no serious or critical violation (WCAG 2.x A and AA rules and best practices).

    axe-core's script is the one the PyPI package axe-playwright-python ships (a dev dependency, installed by uv)."""
    result = await AxeCore().run(page, options={"resultTypes": ["violations"]})
    assert result.response.get("testEngine", {}).get("name") == "axe-core", "axe-core did not run"
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result.response["violations"]
        if v.get("impact") in SERIOUS
    ]
    assert not bad, f"{page.url}: " + "; ".join(bad)


async def screenshot(page: Page, name: str) -> None:
    """The page as a person sees it, for the README (CONSOLE_SCREENSHOTS_DIR=docs/screenshots to refresh those)."""
    await asyncio.to_thread(SCREENSHOTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
