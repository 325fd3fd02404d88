"""What people do with an alert from its message: Acknowledge (repeats stop for that firing; the message is shown
again with who and when, through the Slack interaction's response_url or Lark's delayed card update with the
callback's token), Open ticket (the alert and the ticket are
linked; when the alert resolves, ticket-service is told so that the ticket says it)."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from care_schemas.events.action import ActionEvent, AlertAcknowledged, ChatMessage
from care_schemas.events.alert import Alert
from care_schemas.events.ticket import ImPlatform, TicketEvent, TicketOpened
from carekit.chat import ChatFailure
from carekit.db import by_key_connection
from carekit.polling import poll_forever
from notify_service.adapters import alert_actions, im_queue, subscribers
from notify_service.adapters.channels import lark, slack
from notify_service.adapters.channels.base import Rendered, SendContext, Target, post_json
from notify_service.adapters.channels.im import refused
from notify_service.adapters.im_queue import ImMessage
from notify_service.adapters.secrets import SecretBox
from notify_service.domain.classify import Outcome, Verdict
from notify_service.domain.ticket_updates import Outgoing

log = logging.getLogger(__name__)
UPDATE = "alert_message_update"
LARK_CARD_UPDATE = "/open-apis/interactive/v1/card/update"


async def take_in_action(pool: asyncpg.Pool, event: ActionEvent) -> None:
    """An acknowledgement is recorded once per firing; its message is queued to be shown again."""
    if not isinstance(event, AlertAcknowledged):
        return  # TicketAlertResolved is ticket-service's
    d = event.data
    # by key whatever the statistics: planned after an ANALYZE that found alerts empty, the look-up of the alert's
    # episode read every organisation's alerts for each acknowledgement (test_notify_scale.py, 200,200 in ten)
    async with by_key_connection(pool) as conn, conn.transaction():
        await alert_actions.acknowledge(conn, event)
        target = _where(d.message)
        if target is not None and d.subscriber_id:
            body = {
                "org_id": d.alert.org_id,
                "subscriber_id": d.subscriber_id,
                "shown": d.shown or [d.alert.fingerprint],
            }
            await im_queue.enqueue(conn, event.id, [Outgoing(UPDATE, d.alert.org_id, target, body)])


def _where(message: ChatMessage | None) -> dict[str, str] | None:
    """How the message can be replaced: Slack's response_url, or Lark's card callback token."""
    if message is None:
        return None
    if message.platform is ImPlatform.SLACK and message.response_url:
        return {"platform": message.platform.value, "response_url": message.response_url}
    if message.platform is ImPlatform.LARK and message.update_token:
        return {"platform": message.platform.value, "update_token": message.update_token}
    return None


async def take_in_ticket(pool: asyncpg.Pool, event: TicketEvent) -> None:
    """A ticket opened from an alert's message links the two."""
    if isinstance(event, TicketOpened) and event.data.alert is not None:
        d = event.data
        await alert_actions.link_ticket(pool, event.data.alert, d.ticket_id, d.link, d.opened_at)


class MessageUpdates:
    """Sends an alert message again, as it now stands, in place of the one the button was pressed in."""

    def __init__(self, pool: asyncpg.Pool, box: SecretBox, ctx: SendContext) -> None:
        self._pool, self._box, self._ctx = pool, box, ctx

    async def send(self, message: ImMessage) -> Outcome:
        body: dict[str, Any] = message.body
        found = await subscribers.get(self._pool, self._box, body["org_id"], body["subscriber_id"])
        if found is None:
            return Outcome(Verdict.PERMANENT, "the subscriber is gone")
        rows = await self._pool.fetch(
            "SELECT alert FROM alerts WHERE org_id = $1 AND fingerprint = ANY($2::text[])",
            body["org_id"],
            body["shown"],
        )
        order = {fp: i for i, fp in enumerate(body["shown"])}
        alerts = sorted((Alert.model_validate(r["alert"]) for r in rows), key=lambda a: order.get(a.fingerprint, 0))
        if not alerts:
            return Outcome(Verdict.PERMANENT, "the alerts of the message are unknown")
        acks, tickets = await alert_actions.acts(self._pool, body["org_id"], body["shown"])
        target = Target(found.id, found.org_id, found.name, found.type, found.config, found.secrets)
        if message.target.get("platform") == ImPlatform.LARK.value:
            return await self._lark(
                message.target["update_token"], lark.render_interactive(alerts, target, acks, tickets)
            )
        rendered = slack.render_interactive(alerts, target, acks, tickets)
        payload = {"replace_original": True, **rendered.payload}
        secrets = [*found.secrets, message.target["response_url"]]
        return await post_json(self._ctx, message.target["response_url"], payload, secrets=secrets)

    async def _lark(self, token: str, rendered: Rendered) -> Outcome:
        """Lark's delayed card update: the callback's token replaces the card for everybody in the chat."""
        if self._ctx.lark is None:
            return Outcome(Verdict.PERMANENT, "LARK_APP_ID / LARK_APP_SECRET are not set")
        try:
            await self._ctx.lark.call(LARK_CARD_UPDATE, {"token": token, "card": rendered.payload["card"]})
        except ChatFailure as exc:
            return refused(exc)
        return Outcome(Verdict.OK, "card updated", 200)


async def run_ticket_links(pool: asyncpg.Pool, interval_s: float) -> None:
    """Forever: tell ticket-service about alerts its tickets were opened from that have resolved."""
    what = "telling tickets of resolved alerts"
    await poll_forever(lambda: alert_actions.tell_resolved(pool), every_s=interval_s, what=what, log=log)
