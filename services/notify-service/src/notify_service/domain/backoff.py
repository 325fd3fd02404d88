"""When to try again: exponential backoff with jitter, never before Retry-After, within the retry window."""

from __future__ import annotations

import random


def next_delay_s(
    attempt: int, *, base_s: float, max_s: float, retry_after_s: float | None, rng: random.Random | None = None
) -> float:
    """Delay before attempt `attempt + 1`: base * 2^(attempt-1), capped, jittered to [50%, 100%], >= Retry-After."""
    ceiling = min(max_s, base_s * 2 ** max(0, attempt - 1))
    jittered = ceiling * (0.5 + 0.5 * (rng or random).random())
    return float(max(jittered, retry_after_s or 0.0))


def within_window(elapsed_s: float, delay_s: float, window_s: float) -> bool:
    """True if the next attempt still falls inside the retry window."""
    return elapsed_s + delay_s <= window_s
