"""ticket-service's own metrics (the kit's outbox, consumer and HTTP metrics come with the skeleton)."""

from __future__ import annotations

from prometheus_client import Counter

TICKETS_OPENED = Counter("ticket_opened", "Tickets opened", ["kind", "channel"])
BREACHES = Counter("ticket_response_breaches", "Initial-response targets breached (each ticket once)")
