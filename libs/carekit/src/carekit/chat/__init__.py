"""The one Slack client and the one Lark client every service uses to talk to a chat platform (aiohttp).

Both raise `ChatFailure` saying whether a retry can help (429, 5xx, a network error, an expired token, a
platform rate limit) or not (any other refusal), so ticket-service can answer 502 for the platform to retry
and notify-service can retry with backoff or give up, each by the same classification.
"""

from __future__ import annotations

from carekit.refusals import UpstreamFailed


class ChatFailure(UpstreamFailed):
    """A chat platform refused a call or could not be reached; `retryable` says whether trying again can help."""

    def __init__(
        self, message: str, *, retryable: bool, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable, self.status, self.retry_after_s = retryable, status, retry_after_s


def retryable_status(status: int) -> bool:
    """429 and 5xx are worth another try; any other refusal is not."""
    return status == 429 or status >= 500


def retry_after(value: str | None) -> float | None:
    """A `Retry-After` header in seconds (the platforms send seconds), or None when absent or unreadable."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
