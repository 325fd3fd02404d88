"""The topic catalogue: names, keys, partitions and the events each carries."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from care_schemas.envelope import Frozen
from care_schemas.events.action import ActionEvent, action_event_adapter
from care_schemas.events.alert import AlertEvent, alert_event_adapter
from care_schemas.events.chat import ChatEvent, chat_event_adapter
from care_schemas.events.deadletter import DeadLetterEvent, deadletter_event_adapter
from care_schemas.events.plan import PlanEvent, plan_event_adapter
from care_schemas.events.ticket import TicketEvent, ticket_event_adapter

MAX_MESSAGE_BYTES = 1_000_000
"""Largest record a topic takes: under the broker's default `message.max.bytes` (1 MiB + overhead) and the
producer's `max.request.size` (1 MiB), so an event that passes this check is never refused by Kafka."""


class Topic(Frozen):
    name: str
    key: str
    partitions: int
    retention_ms: int = 7 * 24 * 3600 * 1000
    max_message_bytes: int = MAX_MESSAGE_BYTES


PLAN_EVENTS = Topic(name="plan.events.v1", key="org id", partitions=3, retention_ms=-1)
TICKET_EVENTS = Topic(name="ticket.events.v1", key="ticket id", partitions=3)
ALERT_EVENTS = Topic(name="alert.events.v1", key="org id", partitions=6)
NOTIFY_DEADLETTER = Topic(name="notify.deadletter.v1", key="subscriber id", partitions=3, retention_ms=-1)
CHAT_EVENTS = Topic(
    name="chat.events.v1", key="conversation id (platform + workspace + channel + thread)", partitions=6
)
ALERT_ACTIONS = Topic(name="alert.actions.v1", key="org id", partitions=3)

ALL_TOPICS: tuple[Topic, ...] = (
    PLAN_EVENTS,
    TICKET_EVENTS,
    ALERT_EVENTS,
    NOTIFY_DEADLETTER,
    CHAT_EVENTS,
    ALERT_ACTIONS,
)

ADAPTERS: dict[str, TypeAdapter[Any]] = {
    PLAN_EVENTS.name: plan_event_adapter,
    TICKET_EVENTS.name: ticket_event_adapter,
    ALERT_EVENTS.name: alert_event_adapter,
    NOTIFY_DEADLETTER.name: deadletter_event_adapter,
    CHAT_EVENTS.name: chat_event_adapter,
    ALERT_ACTIONS.name: action_event_adapter,
}

# The event union of each topic, as a type (typed publishers and subscribers declare it).
EVENT_TYPES: dict[str, Any] = {
    PLAN_EVENTS.name: PlanEvent,
    TICKET_EVENTS.name: TicketEvent,
    ALERT_EVENTS.name: AlertEvent,
    NOTIFY_DEADLETTER.name: DeadLetterEvent,
    CHAT_EVENTS.name: ChatEvent,
    ALERT_ACTIONS.name: ActionEvent,
}
