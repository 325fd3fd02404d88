"""carectl commands (Typer): plans, tickets, subscribers, alerts, deliveries, dead letters, development tokens.

Readable tables by default, `--json` for scripts; exit codes in `carectl.client.Exit`; `--install-completion`
installs shell completion.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import aiohttp
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from carectl import tokens
from carectl.client import Api, Exit, Failure
from carectl.config import Config, ConfigError, load

app = typer.Typer(name="carectl", help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
plans = typer.Typer(help="Support plans: show an organisation's plan, change it.", no_args_is_help=True)
tickets = typer.Typer(help="Tickets: list, show, comment.", no_args_is_help=True)
subscribers = typer.Typer(help="Alert subscribers: list, send a test message.", no_args_is_help=True)
alerts = typer.Typer(help="Alerts: send one, resolve one, list the organisation's.", no_args_is_help=True)
deliveries = typer.Typer(help="The delivery log: follow new attempts live.", no_args_is_help=True)
dead_letters = typer.Typer(help="Failed deliveries (staff): list and re-drive.", no_args_is_help=True)
for sub, name in (
    (plans, "plans"),
    (tickets, "tickets"),
    (subscribers, "subscribers"),
    (alerts, "alerts"),
    (deliveries, "deliveries"),
    (dead_letters, "dead-letters"),
):
    app.add_typer(sub, name=name)

out = Console(soft_wrap=True)
err = Console(stderr=True)
TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass
class State:
    config: Config
    json: bool


@app.callback()
def main_options(
    ctx: typer.Context,
    token: Annotated[str | None, typer.Option(help="bearer token (else CARECTL_TOKEN, else the config file)")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="machine-readable JSON instead of tables")] = False,
    plan_url: Annotated[str | None, typer.Option(help="plan-service base URL")] = None,
    ticket_url: Annotated[str | None, typer.Option(help="ticket-service base URL")] = None,
    notify_url: Annotated[str | None, typer.Option(help="notify-service base URL")] = None,
) -> None:
    """carectl talks only to the services' HTTP APIs."""
    try:
        config = load(token, {"plan": plan_url, "ticket": ticket_url, "notify": notify_url})
    except ConfigError as exc:
        err.print(f"carectl: {exc}")
        raise typer.Exit(Exit.USAGE) from None
    ctx.obj = State(config, json_output)


def run(ctx: typer.Context, work: Callable[[Api, State], Awaitable[None]], *, token: bool = True) -> None:
    """Run one command's requests and turn failures into their exit codes."""
    state: State = ctx.obj

    async def go() -> None:
        bearer = state.config.require_token() if token else state.config.token
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            await work(Api(session, state.config.urls, bearer), state)

    try:
        asyncio.run(go())
    except ConfigError as exc:
        err.print(f"carectl: {exc}")
        raise typer.Exit(Exit.USAGE) from None
    except Failure as exc:
        if state.json and exc.body is not None:
            print(json.dumps({"error": exc.body, "status": exc.status}), file=sys.stderr)
        err.print(f"carectl: {exc.message}")
        raise typer.Exit(exc.code) from None
    except KeyboardInterrupt:
        raise typer.Exit(Exit.OK) from None


def emit(state: State, data: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
    """`--json`: the API's answer as JSON; else a table."""
    if state.json:
        print(json.dumps(data, indent=2, default=str))
        return
    table = Table(title=title or None)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


def usage(message: str) -> typer.Exit:
    err.print(f"carectl: {message}")
    return typer.Exit(Exit.USAGE)


# --- plans -------------------------------------------------------------------------------------------------------


@plans.command("show")
def plans_show(ctx: typer.Context, org: str) -> None:
    """An organisation's plan, entitlements, trial, pending request and history."""

    async def work(api: Api, state: State) -> None:
        view = await api.call("plan", "GET", f"/v1/orgs/{org}/plan")
        rows = [
            (h["version"], h["effective_at"], h["previous_plan"], h["plan"], h["reason"], h["actor"]["sub"])
            for h in view["history"]
        ]
        if not state.json:
            out.print(f"[bold]{view['org_id']}[/bold] is on [bold]{view['name']}[/bold] (version {view['version']})")
            pending = view.get("pending_sales_request")
            if pending:
                out.print(f"pending request: {pending['id']} for {pending['plan']}")
        emit(state, view, ("version", "when", "from", "to", "why", "who"), rows, "history")

    run(ctx, work)


@plans.command("change")
def plans_change(
    ctx: typer.Context,
    org: str,
    plan: Annotated[str, typer.Argument(help="basic, developer, enterprise or premium")],
    reason: Annotated[str | None, typer.Option(help="why, kept in the history")] = None,
) -> None:
    """Change the plan (Premium: creates a sales request)."""

    async def work(api: Api, state: State) -> None:
        body = {"plan": plan} | ({"reason": reason} if reason else {})
        answer = await api.call("plan", "POST", f"/v1/orgs/{org}/plan/changes", json_body=body)
        if answer["status"] == "changed":
            row = (answer["status"], answer["plan"]["plan"], answer["plan"]["version"], "")
        else:
            row = (answer["status"], answer["sales_request"]["plan"], "", answer["sales_request"]["id"])
        emit(state, answer, ("status", "plan", "version", "sales request"), [row])

    run(ctx, work)


# --- tickets -----------------------------------------------------------------------------------------------------


@tickets.command("list")
def tickets_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="open, in_progress, waiting_on_customer, resolved, closed")] = None,
    severity: Annotated[str | None, typer.Option(help="S1..S4")] = None,
    org: Annotated[str | None, typer.Option(help="staff: one organisation")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """Tickets, newest first."""

    async def work(api: Api, state: State) -> None:
        params = {"status": status, "severity": severity, "org_id": org, "limit": limit}
        found = await api.call("ticket", "GET", "/v1/tickets", params=params)
        rows = [(t["id"], t["org_id"], t["severity"], t["kind"], t["status"], t["summary"]) for t in found]
        emit(state, found, ("id", "org", "sev", "kind", "status", "summary"), rows)

    run(ctx, work)


@tickets.command("show")
def tickets_show(ctx: typer.Context, ticket_id: str) -> None:
    """One ticket and its comments."""

    async def work(api: Api, state: State) -> None:
        t = await api.call("ticket", "GET", f"/v1/tickets/{ticket_id}")
        if not state.json:
            out.print(f"[bold]{t['id']}[/bold] {t['severity']} {t['kind']} {t['status']}: {t['summary']}")
            out.print(f"org {t['org_id']}, due {t.get('response_due_at')}, {t.get('link')}")
        rows = [(c["created_at"], c["author"], c["visibility"], c["body"]) for c in t.get("comments", [])]
        emit(state, t, ("when", "author", "visibility", "comment"), rows, "comments")

    run(ctx, work)


@tickets.command("comment")
def tickets_comment(
    ctx: typer.Context,
    ticket_id: str,
    body: str,
    internal: Annotated[bool, typer.Option(help="an internal note (support engineers)")] = False,
) -> None:
    """Add a comment (public unless --internal)."""

    async def work(api: Api, state: State) -> None:
        payload = {"body": body, "visibility": "internal" if internal else "public"}
        c = await api.call("ticket", "POST", f"/v1/tickets/{ticket_id}/comments", json_body=payload)
        emit(state, c, ("id", "visibility", "created"), [(c["id"], c["visibility"], c["created_at"])])

    run(ctx, work)


# --- subscribers -------------------------------------------------------------------------------------------------


@subscribers.command("list")
def subscribers_list(ctx: typer.Context, project: Annotated[str | None, typer.Option()] = None) -> None:
    """The organisation's alert subscribers (secrets masked)."""

    async def work(api: Api, state: State) -> None:
        found = await api.call("notify", "GET", "/v1/subscribers", params={"project_id": project})
        rows = [
            (s["id"], s["type"], s["name"], s["project_id"], s["state"], s.get("state_reason"))
            for s in found["subscribers"]
        ]
        emit(state, found, ("id", "type", "name", "project", "state", "why"), rows)

    run(ctx, work)


@subscribers.command("test")
def subscribers_test(ctx: typer.Context, subscriber_id: str) -> None:
    """Send a test message to a saved subscriber; exit 3 when its endpoint does not accept it."""

    async def work(api: Api, state: State) -> None:
        result = await api.call("notify", "POST", f"/v1/subscribers/{subscriber_id}/test")
        emit(
            state,
            result,
            ("ok", "status", "answer"),
            [(result["ok"], result["endpoint_status"], result["endpoint_answer"])],
        )
        if not result["ok"]:
            raise Failure(Exit.REFUSED, f"the endpoint did not accept the test message: {result['endpoint_answer']}")

    run(ctx, work)


# --- alerts ------------------------------------------------------------------------------------------------------


@alerts.command("send")
def alerts_send(
    ctx: typer.Context,
    fingerprint: Annotated[str, typer.Option(help="stable id of the alert")],
    project: Annotated[str, typer.Option(help="project id")],
    rule: Annotated[str, typer.Option(help="rule name")],
    summary: Annotated[str, typer.Option()],
    severity: Annotated[str, typer.Option(help="critical, warning or info")] = "warning",
    cluster: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str, typer.Option()] = "",
    org: Annotated[str | None, typer.Option(help="default: the token's organisation")] = None,
) -> None:
    """Send a firing alert through notify-service's HTTP intake."""

    async def work(api: Api, state: State) -> None:
        org_id = org or tokens.org_of(state.config.require_token())
        alert = {
            "fingerprint": fingerprint,
            "org_id": org_id,
            "project_id": project,
            "cluster_id": cluster,
            "rule": rule,
            "severity": severity,
            "status": "firing",
            "starts_at": datetime.now(UTC).isoformat(),
            "summary": summary,
            "description": description,
            "source": "carectl",
        }
        accepted = await api.call("notify", "POST", "/v1/alerts", json_body=alert)
        emit(state, accepted, ("accepted", "event ids"), [(accepted["accepted"], ", ".join(accepted["event_ids"]))])

    run(ctx, work)


@alerts.command("resolve")
def alerts_resolve(
    ctx: typer.Context,
    fingerprint: str,
    org: Annotated[str | None, typer.Option(help="staff: the organisation")] = None,
) -> None:
    """Resolve a firing alert (as last sent) now."""

    async def work(api: Api, state: State) -> None:
        found = await api.call("notify", "GET", f"/v1/alerts/{fingerprint}", params={"org_id": org})
        alert = dict(found["alert"]) | {"status": "resolved", "ends_at": datetime.now(UTC).isoformat()}
        accepted = await api.call("notify", "POST", "/v1/alerts", json_body=alert)
        emit(state, accepted, ("accepted", "event ids"), [(accepted["accepted"], ", ".join(accepted["event_ids"]))])

    run(ctx, work)


@alerts.command("list")
def alerts_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="firing or resolved")] = None,
    org: Annotated[str | None, typer.Option(help="staff: the organisation")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """The organisation's alerts, most recently changed first."""

    async def work(api: Api, state: State) -> None:
        found = await api.call("notify", "GET", "/v1/alerts", params={"status": status, "org_id": org, "limit": limit})
        rows = [
            (
                a["fingerprint"],
                a["status"],
                a["alert"].get("severity"),
                a["alert"].get("rule"),
                a["updated_at"],
                a["alert"].get("summary"),
            )
            for a in found["alerts"]
        ]
        emit(state, found, ("fingerprint", "status", "severity", "rule", "updated", "summary"), rows)

    run(ctx, work)


# --- deliveries --------------------------------------------------------------------------------------------------


def _delivery_row(d: dict[str, Any]) -> tuple[Any, ...]:
    what = d.get("notice") or ", ".join(d.get("alerts", []))
    target = d.get("recipient") or d.get("subscriber_id")
    return (
        d["id"],
        d["attempted_at"],
        d["channel"],
        target,
        what,
        d["attempt"],
        d["outcome"],
        d["answer"].get("status"),
        d["answer"].get("detail"),
    )


@deliveries.command("tail")
def deliveries_tail(
    ctx: typer.Context,
    count: Annotated[int | None, typer.Option(min=1, help="stop after this many attempts")] = None,
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between polls")] = 1.0,
    history: Annotated[int, typer.Option(min=0, max=1000, help="show the last N attempts first")] = 0,
) -> None:
    """Follow new delivery attempts live (alerts and notices) until interrupted or --count are shown."""

    async def work(api: Api, state: State) -> None:
        latest = await api.call("notify", "GET", "/v1/deliveries", params={"limit": max(history, 1)})
        seen = max((d["id"] for d in latest["deliveries"]), default=0)
        shown = 0

        def show(batch: list[dict[str, Any]]) -> bool:
            nonlocal shown
            for d in sorted(batch, key=lambda d: d["id"]):
                if state.json:
                    print(json.dumps(d), flush=True)
                else:
                    out.print(" | ".join("" if v is None else str(v) for v in _delivery_row(d)))
                shown += 1
                if count is not None and shown >= count:
                    return True
            return False

        if history and show(latest["deliveries"]):
            return
        while True:
            found = await api.call("notify", "GET", "/v1/deliveries", params={"after_id": seen, "limit": 1000})
            batch = found["deliveries"]
            if batch:
                seen = max(d["id"] for d in batch)
                if show(batch):
                    return
            await asyncio.sleep(interval)

    run(ctx, work)


# --- dead letters ------------------------------------------------------------------------------------------------

MESSAGES_HELP = "failed ticket updates, TAM e-mails and notices instead of alert notifications"


@dead_letters.command("list")
def dead_letters_list(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option(help="one organisation")] = None,
    messages: Annotated[bool, typer.Option("--messages", help=MESSAGES_HELP)] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Notifications that failed for good (or, with --messages, failed ticket updates, TAM e-mails, notices)."""

    async def work(api: Api, state: State) -> None:
        if messages:
            found = await api.call("notify", "GET", "/v1/failed-messages", params={"org_id": org, "limit": limit})
            failed = [
                (m["id"], m["org_id"], m["kind"], m["state"], m["attempts"], m["last_error"])
                for m in found["failed_messages"]
            ]
            emit(state, found, ("id", "org", "kind", "state", "attempts", "last error"), failed)
            return
        found = await api.call("notify", "GET", "/v1/dead-letters", params={"org_id": org, "limit": limit})
        rows = [
            (d["id"], d["org_id"], d["channel"], d["subscriber_id"], d["fingerprint"], d["attempts"], d["reason"])
            for d in found["dead_letters"]
        ]
        emit(state, found, ("id", "org", "channel", "subscriber", "alert", "attempts", "reason"), rows)

    run(ctx, work)


@dead_letters.command("redrive")
def dead_letters_redrive(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="dead letter (or failed message) ids")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every one listed (with --org: of that organisation)")] = False,
    org: Annotated[str | None, typer.Option(help="with --all: one organisation")] = None,
    messages: Annotated[bool, typer.Option("--messages", help=MESSAGES_HELP)] = False,
) -> None:
    """Queue failed deliveries again with a fresh retry window; --all shows a progress bar."""
    if bool(ids) == all_:
        raise usage("name dead letter ids, or pass --all (not both)")

    async def work(api: Api, state: State) -> None:
        base = "/v1/failed-messages" if messages else "/v1/dead-letters"
        chosen = list(ids or [])
        if all_:
            found = await api.call("notify", "GET", base, params={"org_id": org, "limit": 1000})
            listed = found["failed_messages"] if messages else found["dead_letters"]
            chosen = [item["id"] for item in listed]
        done: list[int] = []
        failed: list[tuple[int, str]] = []
        with Progress(console=err, transient=True, disable=state.json or not all_) as progress:
            task = progress.add_task("re-driving", total=len(chosen))
            for item in chosen:
                try:
                    await api.call("notify", "POST", f"{base}/{item}/redrive")
                    done.append(item)
                except Failure as exc:
                    if exc.code is Exit.UNAVAILABLE:
                        raise
                    failed.append((item, exc.message))
                progress.advance(task)
        result = {"redriven": done, "failed": [{"id": i, "reason": why} for i, why in failed]}
        rows = [(i, "re-driven") for i in done] + [(i, why) for i, why in failed]
        emit(state, result, ("id", "result"), rows)
        if failed:
            code = Exit.NOT_FOUND if all(" 404" in w or w.startswith("not found") for _, w in failed) else Exit.REFUSED
            raise Failure(code, f"{len(failed)} of {len(chosen)} could not be re-driven")

    run(ctx, work)


# --- tokens ------------------------------------------------------------------------------------------------------


@app.command("token")
def token_command(
    org: Annotated[str, typer.Option(help="the organisation the token acts for")],
    role: Annotated[str, typer.Option(help=", ".join(tokens.ROLES))],
    sub: Annotated[str, typer.Option(help="who")] = "dev-user",
    email: Annotated[str | None, typer.Option(help="the caller's address (the email claim)")] = None,
    ttl: Annotated[int, typer.Option(min=60, help="seconds")] = 8 * 3600,
    secret: Annotated[str | None, typer.Option(envvar="JWT_SECRET", help="signing key (default: $JWT_SECRET)")] = None,
) -> None:
    """Mint a development bearer token (HS256, signed with the services' JWT_SECRET)."""
    if role not in tokens.ROLES:
        raise usage(f"unknown role {role!r}; one of: {', '.join(tokens.ROLES)}")
    if not secret:
        raise usage("set JWT_SECRET or pass --secret")
    print(tokens.mint(secret, sub=sub, org=org, role=role, email=email, ttl_s=ttl))


def main() -> None:
    """Entry point of the `carectl` script."""
    app()
