"""Helpers for ticket-service's tests: a movable clock, the app in-process, plan events, a topic reader."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from care_schemas.events.ticket import TicketEvent, ticket_event_adapter
from care_schemas.topics import TICKET_EVENTS
from carekit.testing import FakeClock, TopicReader, bearer, plan_changed, serve_in_process
from carekit.testing import InProcess as KitInProcess
from ticket_service.app import create_app
from ticket_service.config import Settings
from ticket_service.handlers import Clock, Deps

__all__ = ["FakeClock", "InProcess", "TicketTopicReader", "bearer", "in_process", "plan_changed"]


@dataclass
class InProcess(KitInProcess):
    """ticket-service running in this process, with its handlers' dependencies at hand."""

    @property
    def deps(self) -> Deps:
        deps: Deps = self.app.state.deps
        return deps


@contextlib.asynccontextmanager
async def in_process(settings: Settings, clock: Clock | None = None) -> AsyncIterator[InProcess]:
    """ticket-service with its lifespan (pool, migrations, consumers, relay, scheduler) and an HTTP client."""
    async with serve_in_process(create_app(settings, clock)) as running:
        yield InProcess(app=running.app, client=running.client)


class TicketTopicReader(TopicReader[TicketEvent]):
    """What is published on ticket.events.v1 after `start()`."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, TICKET_EVENTS, ticket_event_adapter)
