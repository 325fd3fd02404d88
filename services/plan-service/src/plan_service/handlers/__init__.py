"""Use cases: load (and lock), decide with the domain rules, commit with the event; one module per area."""

from plan_service.handlers.plans import (
    Clock,
    approve,
    change_plan,
    commit_change,
    decline,
    legacy_import,
    plan_view,
    sales_requests,
    set_timezone,
    start_trial,
    support_page_view,
)
from plan_service.handlers.plans import assign_tam as assign_tam

__all__ = [
    "Clock",
    "approve",
    "assign_tam",
    "change_plan",
    "commit_change",
    "decline",
    "legacy_import",
    "plan_view",
    "sales_requests",
    "set_timezone",
    "start_trial",
    "support_page_view",
]
