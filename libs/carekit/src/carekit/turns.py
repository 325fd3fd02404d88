"""Taking turns on the event loop: a handler that works through a long batch in plain Python (validating, building
events) holds the loop for all of it unless it lets the rest of the process run now and then. In notify-service the
rest is the delivery: a request of 1,000 alerts held the senders for about 11 ms at a stretch, so one process took
alerts in faster than it delivered them, and at 100,000 alerts p99 was 8.1-8.2 s; taking turns every 25 alerts,
0.46-0.55 s, at the same rate or more (bench/README.md, "Taking turns"). This is not pacing: the handler waits for
nothing but its turn, and with nothing else ready a turn costs about a microsecond."""

from __future__ import annotations

import asyncio

EVERY = 25  # items of a batch between turns (50: p99 0.60-0.67 s at 100,000 alerts in one process)


async def take_turns(done: int, every: int = EVERY) -> None:
    """Call before each item with how many are done: every `every` items the loop runs whatever else is ready."""
    if done and not done % every:
        await asyncio.sleep(0)
