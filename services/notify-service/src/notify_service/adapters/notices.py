"""Notices: the contacts projection, sending a queued notice (multipart e-mail, Slack, Lark) and its line in the
organisation's delivery log."""

from __future__ import annotations

import asyncpg

from care_schemas.events.plan import OrgContactsChanged
from carekit.chat import ChatFailure
from carekit.chat.lark import post_from_text
from carekit.faults import storable
from notify_service.adapters.channels.email import send_mail
from notify_service.adapters.channels.im import ChatBots
from notify_service.adapters.im_queue import ImMessage
from notify_service.config import Settings
from notify_service.domain.classify import Outcome, Verdict
from notify_service.domain.notices import Contacts

KINDS = frozenset({"notice_email", "notice_slack", "notice_lark"})
VENDOR = "_vendor"  # im_messages.org_id of notices to the sales team: in no customer's delivery log


async def apply_contacts(conn: asyncpg.Connection, event: OrgContactsChanged) -> bool:
    """Keep the organisation's contacts if this version is newer than the one stored (order-tolerant)."""
    d = event.data
    row = await conn.fetchrow(
        """
        INSERT INTO org_contacts (org_id, version, owner_email, technical_email, chat, unsubscribed, event_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (org_id) DO UPDATE SET version = EXCLUDED.version, owner_email = EXCLUDED.owner_email,
            technical_email = EXCLUDED.technical_email, chat = EXCLUDED.chat, unsubscribed = EXCLUDED.unsubscribed,
            event_id = EXCLUDED.event_id, updated_at = now()
        WHERE org_contacts.version < EXCLUDED.version
        RETURNING org_id
        """,
        d.org_id,
        d.version,
        d.owner_email,
        d.technical_email,
        d.chat.model_dump() if d.chat else None,
        [k.value for k in d.unsubscribed],
        event.id,
    )
    return row is not None


async def contacts_of(conn: asyncpg.Connection, org_id: str) -> Contacts:
    """The organisation's contacts as last heard of; none when it never set any (and nobody made a change)."""
    row = await conn.fetchrow(
        "SELECT owner_email, technical_email, chat, unsubscribed FROM org_contacts WHERE org_id = $1", org_id
    )
    if row is None:
        return Contacts()
    return Contacts(row["owner_email"], row["technical_email"], row["chat"], frozenset(row["unsubscribed"]))


async def send(settings: Settings, bots: ChatBots, message: ImMessage) -> Outcome:
    """Send one queued notice: e-mail as text and HTML, or a post in the Slack channel or Lark group."""
    body, target = message.body, message.target
    if message.kind == "notice_email":
        to = ", ".join(target["to"])
        return await send_mail(settings, to, body["subject"], body["text"], html=body.get("html"))
    try:
        if message.kind == "notice_slack":
            if bots.slack is None:
                return Outcome(Verdict.PERMANENT, "SLACK_BOT_TOKEN is not set")
            await bots.slack.post(target["channel"], None, body["text"])
        else:
            if bots.lark is None:
                return Outcome(Verdict.PERMANENT, "LARK_APP_ID / LARK_APP_SECRET are not set")
            await bots.lark.send(target["channel"], "post", post_from_text(body["title"], body["text"]))
    except ChatFailure as exc:
        return Outcome(Verdict.RETRY if exc.retryable else Verdict.PERMANENT, exc.message, exc.status)
    return Outcome(Verdict.OK, "posted", 200)


def recipient(message: ImMessage) -> str:
    if message.kind == "notice_email":
        return ", ".join(message.target.get("to", []))
    return f"{message.kind.removeprefix('notice_')}:{message.target.get('channel', '')}"


async def log_attempt(
    conn: asyncpg.Connection, message: ImMessage, org_id: str, state: str, outcome: Outcome, latency_ms: float
) -> None:
    """The notice's attempt in the organisation's delivery log (`outcome` delivered, retry or dead)."""
    if org_id == VENDOR:
        return
    await conn.execute(
        "INSERT INTO delivery_attempts (org_id, subscriber_id, channel, notification_ids, fingerprints, attempt,"
        " outcome, http_status, detail, latency_ms, message_id, notice, recipient)"
        " VALUES ($1, NULL, $2, '{}', '{}', $3, $4, $5, $6, $7, $8, $9, $10)",
        org_id,
        message.kind.removeprefix("notice_"),
        message.attempts + 1,
        {"pending": "retry"}.get(state, state),
        outcome.status,
        storable(outcome.reason)[:4000],
        latency_ms,
        message.id,
        message.body.get("notice"),
        recipient(message),
    )


async def log_unaddressed(conn: asyncpg.Connection, org_id: str, notice: str) -> None:
    """A notice nobody could be told of (no address set, no default yet) is in the delivery log, saying why."""
    await conn.execute(
        "INSERT INTO delivery_attempts (org_id, subscriber_id, channel, notification_ids, fingerprints, attempt,"
        " outcome, http_status, detail, latency_ms, notice) VALUES ($1, NULL, 'email', '{}', '{}', 0, 'skipped',"
        " NULL, $2, 0, $3)",
        org_id,
        "no contact address: set one with PUT /v1/orgs/{org}/contacts on plan-service",
        notice,
    )
