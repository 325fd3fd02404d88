"""AsyncAPI 3.0 documents: which service sends and receives which events on which topic.

Message payloads point at the generated JSON Schema files, so a new optional field changes only those.
"""

from __future__ import annotations

import json
from typing import Any

from care_schemas.topics import (
    ADAPTERS,
    ALERT_ACTIONS,
    ALERT_EVENTS,
    CHAT_EVENTS,
    NOTIFY_DEADLETTER,
    PLAN_EVENTS,
    TICKET_EVENTS,
    Topic,
)

SERVICES: dict[str, dict[str, Any]] = {
    "plan-service": {
        "description": "Support plans, plan changes, trials, Premium sales approval, TAM, legacy retirement.",
        "send": [PLAN_EVENTS],
        "receive": [],
    },
    "ticket-service": {
        "description": "Tickets, response targets in business hours, breaches, tickets from Slack and Lark.",
        "send": [TICKET_EVENTS, CHAT_EVENTS, ALERT_ACTIONS, NOTIFY_DEADLETTER],
        "receive": [PLAN_EVENTS, CHAT_EVENTS, ALERT_ACTIONS],
    },
    "notify-service": {
        "description": "Alert intake, subscribers by plan tier, reliable delivery to chat channels, ticket updates.",
        "send": [ALERT_EVENTS, ALERT_ACTIONS, NOTIFY_DEADLETTER],
        "receive": [ALERT_EVENTS, PLAN_EVENTS, TICKET_EVENTS, CHAT_EVENTS, ALERT_ACTIONS],
    },
    "assistant-service": {
        "description": "AI chat: answers questions from Slack, Lark and the console from a bilingual knowledge base.",
        "send": [CHAT_EVENTS, NOTIFY_DEADLETTER],
        "receive": [CHAT_EVENTS, PLAN_EVENTS],
    },
}


def _messages(topic: Topic) -> dict[str, str]:
    """Event type -> JSON pointer of its model in the topic's JSON Schema file."""
    mapping: dict[str, str] = ADAPTERS[topic.name].json_schema(mode="serialization")["discriminator"]["mapping"]
    return {event_type: f"../jsonschema/{topic.name}.schema.json{ref}" for event_type, ref in mapping.items()}


def document(service: str) -> dict[str, Any]:
    """The AsyncAPI document of one service."""
    spec = SERVICES[service]
    topics: list[Topic] = list(dict.fromkeys([*spec["send"], *spec["receive"]]))
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in topics:
        refs = _messages(topic)
        channels[topic.name] = {
            "address": topic.name,
            "description": f"key: {topic.key}",
            "messages": {t: {"$ref": f"#/components/messages/{t}"} for t in refs},
            "bindings": {"kafka": {"partitions": topic.partitions, "replicas": 1}},
        }
        for event_type, ref in refs.items():
            messages[event_type] = {
                "name": event_type,
                "title": event_type,
                "contentType": "application/cloudevents+json",
                "summary": "CloudEvents 1.0, structured JSON mode (header content-type: application/cloudevents+json)",
                "payload": {"$ref": ref},
            }
    operations: dict[str, Any] = {}
    for action, key in (("send", "send"), ("receive", "receive")):
        for topic in spec[key]:
            operations[f"{action}-{topic.name}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{topic.name}"},
                "messages": [{"$ref": f"#/channels/{topic.name}/messages/{t}"} for t in _messages(topic)],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": service, "version": "1.0.0", "description": spec["description"]},
        "defaultContentType": "application/cloudevents+json",
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def rendered() -> dict[str, str]:
    """File name -> AsyncAPI document text, one per service."""
    return {f"{s}.asyncapi.json": json.dumps(document(s), indent=2, sort_keys=True) + "\n" for s in SERVICES}
