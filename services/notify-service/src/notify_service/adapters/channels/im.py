"""Ticket updates to IM through the kit's Slack and Lark clients, each in the platform's own format: Slack
mrkdwn, Lark rich text (`post`) replied in the ticket's thread (`reply_in_thread`) or sent to the group."""

from __future__ import annotations

from typing import Any

from carekit.chat import ChatFailure
from carekit.chat.lark import LarkBot, link, post_content, post_from_text, text
from carekit.chat.slack import SlackWebApi
from notify_service.config import Settings
from notify_service.domain.classify import Outcome, Verdict


def slack_text(body: dict[str, Any]) -> str:
    """Slack mrkdwn: `*summary* <link|ticket>` and the lines."""
    if "ticket_id" not in body:  # queued before updates were platform-neutral
        return str(body.get("text", ""))
    head = f"*{body['summary']}* <{body['link']}|{body['ticket_id']}>{body['headline']}"
    return "\n".join([head, *body["lines"]])


def lark_post(body: dict[str, Any]) -> str:
    """Lark rich text: the summary as title, the ticket as a link, one paragraph per line."""
    if "ticket_id" not in body:
        return post_from_text("Connected Care support", str(body.get("text", "")))
    first = [link(body["ticket_id"], body["link"])] + ([text(body["headline"])] if body["headline"] else [])
    return post_content(body["summary"], [first, *([text(line)] for line in body["lines"])])


def refused(exc: ChatFailure) -> Outcome:
    """A platform's refusal: retry (honouring its Retry-After) or permanent, as the kit's client classified it."""
    verdict = Verdict.RETRY if exc.retryable else Verdict.PERMANENT
    return Outcome(verdict, exc.message, exc.status, exc.retry_after_s)


class ChatBots:
    """The bot identities notify-service posts ticket updates with (unset ones refuse permanently)."""

    def __init__(self, settings: Settings) -> None:
        timeout = settings.delivery_timeout_s
        self.slack = (
            SlackWebApi(settings.slack_bot_token, settings.slack_api_url, timeout_s=timeout)
            if settings.slack_bot_token
            else None
        )
        self.lark = (
            LarkBot(settings.lark_api_url, settings.lark_app_id, settings.lark_app_secret, timeout_s=timeout)
            if settings.lark_app_id and settings.lark_app_secret
            else None
        )

    async def close(self) -> None:
        if self.lark is not None:
            await self.lark.close()

    async def post(self, kind: str, target: dict[str, Any], body: dict[str, Any]) -> Outcome:
        """Post one update; the kit client's failure says retry (429, 5xx, network, rate limit) or permanent."""
        try:
            if kind == "slack_update":
                if self.slack is None:
                    return Outcome(Verdict.PERMANENT, "SLACK_BOT_TOKEN is not set")
                await self.slack.post(target["channel"], target.get("thread_ts"), slack_text(body))
            else:
                if self.lark is None:
                    return Outcome(Verdict.PERMANENT, "LARK_APP_ID / LARK_APP_SECRET are not set")
                if target.get("thread_ts"):
                    await self.lark.reply(target["thread_ts"], "post", lark_post(body))
                else:
                    await self.lark.send(target["channel"], "post", lark_post(body))
        except ChatFailure as exc:
            return refused(exc)
        return Outcome(Verdict.OK, "posted", 200)
