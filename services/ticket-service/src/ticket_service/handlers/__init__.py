"""Use cases: load, decide, commit (state and its events in one transaction), one module per area."""

from ticket_service.handlers import assistant
from ticket_service.handlers.bindings import apply_plan_to_bindings, create_binding, set_holidays
from ticket_service.handlers.breaches import scan_breaches
from ticket_service.handlers.chat import binding_at, chat_reply, deliver_chat_replies, once, ticket_for_thread
from ticket_service.handlers.deps import Clock, Deps
from ticket_service.handlers.tickets import (
    add_comment,
    change_severity,
    change_status,
    list_tickets,
    open_ticket,
    read_ticket,
)

__all__ = [
    "Clock",
    "Deps",
    "add_comment",
    "apply_plan_to_bindings",
    "assistant",
    "binding_at",
    "change_severity",
    "change_status",
    "chat_reply",
    "create_binding",
    "deliver_chat_replies",
    "list_tickets",
    "once",
    "open_ticket",
    "read_ticket",
    "scan_breaches",
    "set_holidays",
    "ticket_for_thread",
]
