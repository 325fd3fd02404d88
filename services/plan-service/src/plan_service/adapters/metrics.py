"""plan-service's own metrics (the kit's outbox, consumer and HTTP metrics come with the skeleton)."""

from __future__ import annotations

from prometheus_client import Counter

PLAN_CHANGES = Counter(
    "plan_changes", "Plan changes written with their event (reason: self_service, trial_end, ...)", ["reason", "plan"]
)
RETIREMENT_NOTICES = Counter("plan_retirement_notices", "Legacy retirement warnings written", ["days_before"])
