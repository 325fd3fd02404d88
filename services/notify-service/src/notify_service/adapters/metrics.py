"""Prometheus metrics (served by carekit.web on /metrics from the default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECEIVED = Counter("notify_alerts_received_total", "Alert events taken in", ["source"])
DEFERRED = Counter(
    "notify_alerts_deferred_total",
    "Alerts the HTTP intake could not store at once and published to alert.events.v1 for the Kafka intake",
)
HANDOFF = Counter(
    "notify_handoff_rows_total",
    "Notifications an API process passed to the dispatcher process at DELIVERY_HANDOFF_SOCKET (handed), or queued"
    " again for claims because the connection broke before the dispatcher took them (requeued)",
    ["outcome"],
)
HANDOFF_CONNECTED = Gauge(
    "notify_handoff_connected", "1 while this API process is connected to the dispatcher at DELIVERY_HANDOFF_SOCKET"
)
HANDOFF_PARTITIONS = Gauge(
    "notify_handoff_partitions",
    "Delivery partitions whose notifications the dispatcher at DELIVERY_HANDOFF_SOCKET takes from this API process at"
    " once (0: none, or it holds as many rows as it may)",
)
QUEUED = Counter("notify_notifications_queued_total", "Notifications queued for subscribers")
DELIVERED = Counter("notify_notifications_delivered_total", "Notifications delivered", ["channel"])
RETRIED = Counter(
    "notify_notifications_retried_total", "Notifications scheduled for another attempt", ["channel", "reason"]
)
PURGED = Counter(
    "notify_deleted_subscriber_notifications_purged_total", "Notifications of deleted subscribers purged after them"
)
DEAD = Counter("notify_notifications_dead_lettered_total", "Notifications dead-lettered", ["channel", "reason"])
MESSAGES = Counter(
    "notify_messages_sent_total", "Messages sent (one may carry several notifications)", ["channel", "outcome"]
)
LATENCY = Histogram(
    "notify_delivery_latency_seconds",
    "Time from a notification being due to its delivery",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
SEND_SECONDS = Histogram("notify_send_seconds", "Duration of one send to an endpoint", ["channel"])
IM_SENT = Counter("notify_ticket_updates_total", "Ticket updates and TAM emails", ["kind", "outcome"])


def reason_label(reason: str) -> str:
    """A low-cardinality label from a reason: `HTTP 429`, `timeout`, `network error`..."""
    head = reason.split(":", 1)[0].strip()
    return head[:40] or "unknown"


class ChannelMetrics:
    """One channel's metric children, looked up once (a label lookup per send costs more than the count)."""

    def __init__(self, channel: str) -> None:
        self.delivered = DELIVERED.labels(channel)
        self.latency = LATENCY.labels(channel)
        self.send_seconds = SEND_SECONDS.labels(channel)
        self.messages = {o: MESSAGES.labels(channel, o) for o in ("delivered", "retry", "dead", "cancelled")}


_BOUND: dict[str, ChannelMetrics] = {}


def of_channel(channel: str) -> ChannelMetrics:
    found = _BOUND.get(channel)
    if found is None:
        found = _BOUND[channel] = ChannelMetrics(channel)
    return found
