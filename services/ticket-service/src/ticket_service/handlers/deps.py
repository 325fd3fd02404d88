"""What every ticket use case needs: the pool, the clock, the chat sender, links, calendars."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfoNotFoundError

import asyncpg

from care_schemas.envelope import utcnow
from care_schemas.events.ticket import (
    ImPlatform,
)
from carekit.chat import ChatFailure
from ticket_service.domain.business_hours import BusinessCalendar

log = logging.getLogger(__name__)
SOURCE = "/ticket-service"
Clock = Callable[[], datetime]
ChatSend = Callable[[ImPlatform, str, str, str], Awaitable[None]]  # platform, channel, thread, text
CHAT_REPLY_ATTEMPTS = 30  # with the backoff below: about two hours of retries
CHAT_REPLY_MAX_BACKOFF_S = 300


async def _no_chat(_platform: ImPlatform, _channel: str, _thread: str, _text: str) -> None:
    raise ChatFailure("chat integration is not configured", retryable=False)


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    public_base_url: str
    clock: Clock = utcnow
    send: ChatSend = _no_chat

    def link(self, ticket_id: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/tickets/{ticket_id}"


def calendar(zone: str, holidays: Sequence[date]) -> BusinessCalendar:
    try:
        return BusinessCalendar.of(zone, holidays)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; business hours fall back to UTC", zone)
        return BusinessCalendar.of("UTC", holidays)
