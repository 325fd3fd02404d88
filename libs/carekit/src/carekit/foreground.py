"""Work a caller waits for, and work nobody waits for, taking turns on a shared database.

On a machine of few cores, two statements that run at once in Postgres each take longer than alone. In
notify-service an HTTP request waits for its store to answer, while the recorder writes the answers of deliveries
that are done: when no sender waits for that write to send more, it lets the requests under way finish first. At
5,000 alerts pushed a request at a time, the two ran side by side in Postgres on almost every request (bench/README.md,
"The recorder lets the intake go first"). The wait is bounded, so a long request delays those writes by no more than
that; it is not pacing: with no request under way it costs nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Foreground:
    """The requests under way in this process whose callers wait for them (`under_way`), for work that nobody waits
    for to let them finish first (`finish`)."""

    def __init__(self) -> None:
        self._under_way: set[asyncio.Future[None]] = set()

    @contextlib.contextmanager
    def under_way(self) -> Iterator[None]:
        """Around a request's work, from its first step to its store's end."""
        done = asyncio.get_running_loop().create_future()
        self._under_way.add(done)
        try:
            yield
        finally:
            self._under_way.discard(done)
            done.set_result(None)

    @property
    def busy(self) -> bool:
        """Whether a request is under way now."""
        return bool(self._under_way)

    async def finish(self, most_s: float) -> None:
        """Wait until the requests under way now are over (not those that start meanwhile), at most `most_s`."""
        if self._under_way:
            await asyncio.wait(set(self._under_way), timeout=most_s)
