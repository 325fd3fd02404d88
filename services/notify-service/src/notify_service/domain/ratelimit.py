"""Token buckets: each target is held to its platform's rate."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.stamp = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_s(self) -> float:
        """Seconds until one token is available (0 when one is)."""
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self._refill()
        self.tokens -= 1


@dataclass
class Limits:
    """Several buckets that must all allow a message (Lark: 5/s and 100/min); plus a pause from Retry-After."""

    buckets: Sequence[TokenBucket]
    clock: Callable[[], float] = time.monotonic
    paused_until: float = 0.0

    def wait_s(self) -> float:
        pause = max(0.0, self.paused_until - self.clock())
        return max([pause, *(b.wait_s() for b in self.buckets)])

    def take(self) -> None:
        for bucket in self.buckets:
            bucket.take()

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)
