"""One target's claimed rows in memory, waiting to be sent: taking the next message's rows costs the same however
many rows wait (the rows are kept by group; a deque scanned for the first row's group took a pass over the whole
backlog for every message: 5.5 % of a dispatcher's time at 1,000 rows a target, bench/README.md)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence

from notify_service.adapters.queue import Claimed


class Backlog:
    """Rows in the order they were claimed. For a grouping channel the next message is the whole group of the oldest
    row (later rows of that group included); otherwise it is the oldest row alone."""

    def __init__(self, grouping: bool) -> None:
        self.grouping = grouping
        self._groups: dict[str, deque[Claimed]] = {}  # group -> its rows; groups in the order of their oldest row
        self._rows = 0

    def _key(self, row: Claimed) -> str:
        return row.grp if self.grouping else ""  # one queue: first in, first out

    def append(self, row: Claimed) -> None:
        self._groups.setdefault(self._key(row), deque()).append(row)
        self._rows += 1

    def take(self) -> list[Claimed]:
        """The rows of the next message (the backlog must not be empty)."""
        key, rows = next(iter(self._groups.items()))
        if self.grouping:
            del self._groups[key]
            self._rows -= len(rows)
            return list(rows)
        self._rows -= 1
        row = rows.popleft()
        if not rows:
            del self._groups[key]
        return [row]

    def put_back(self, rows: Sequence[Claimed]) -> None:
        """Rows that did not go (the message could not hold them, or a 413): first again, in their order, joined by
        any later rows of their group."""
        if not rows:
            return
        front: dict[str, deque[Claimed]] = {}
        for row in rows:
            front.setdefault(self._key(row), deque()).append(row)
        for key, queue in front.items():
            queue.extend(self._groups.pop(key, ()))
        self._groups = {**front, **self._groups}
        self._rows += len(rows)

    def drop(self, parts: set[int]) -> list[Claimed]:
        """Remove and return the rows of these delivery partitions (handed over to another instance)."""
        dropped: list[Claimed] = []
        kept: list[Claimed] = []
        for row in self:
            (dropped if row.part in parts else kept).append(row)
        if dropped:
            self.clear()
            self.extend(kept)
        return dropped

    def extend(self, rows: Iterable[Claimed]) -> None:
        for row in rows:
            self.append(row)

    def clear(self) -> None:
        self._groups.clear()
        self._rows = 0

    def __len__(self) -> int:
        return self._rows

    def __bool__(self) -> bool:
        return self._rows > 0

    def __iter__(self) -> Iterator[Claimed]:
        for rows in self._groups.values():
            yield from rows
