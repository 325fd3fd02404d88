"""Use cases: intake (alerts, plan changes, ticket events), subscribers; the delivery pipeline in `delivery/`."""

from notify_service.domain.subscribers import Draft
from notify_service.handlers.chat_answers import take_in_chat_event
from notify_service.handlers.intake import (
    AlertIntake,
    accept_alertmanager,
    accept_alerts,
    on_plan_change,
    take_in_alerts,
    take_in_ticket_event,
)
from notify_service.handlers.subscribers import create_subscriber, send_test, update_subscriber

__all__ = [
    "AlertIntake",
    "Draft",
    "accept_alertmanager",
    "accept_alerts",
    "create_subscriber",
    "on_plan_change",
    "send_test",
    "take_in_alerts",
    "take_in_chat_event",
    "take_in_ticket_event",
    "update_subscriber",
]
