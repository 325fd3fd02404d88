"""Per-organisation rate limit for questions: a token bucket per organisation, bounded in memory."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a question may be answered now, and if not, after how many seconds to try again."""

    allowed: bool
    retry_after_s: float = 0.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class OrgRateLimiter:
    """`rate_per_s` questions per second per organisation, with bursts up to `burst`.

    Only the `max_orgs` most recently active organisations are remembered: an organisation that was
    forgotten has been idle long enough to have a full bucket again, unless `max_orgs` is set too low.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        *,
        max_orgs: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or max_orgs < 1:
            raise ValueError("rate_per_s must be > 0, burst >= 1 and max_orgs >= 1")
        self.rate = rate_per_s
        self.burst = burst
        self.max_orgs = max_orgs
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, org_id: str) -> Decision:
        """Spend one token of `org_id`'s bucket if it has one."""
        now = self._clock()
        bucket = self._buckets.pop(org_id, None)
        if bucket is None:
            bucket = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + max(0.0, now - bucket.stamp) * self.rate)
        bucket.stamp = now
        self._buckets[org_id] = bucket  # most recent last
        while len(self._buckets) > self.max_orgs:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return Decision(True)
        return Decision(False, (1 - bucket.tokens) / self.rate)
