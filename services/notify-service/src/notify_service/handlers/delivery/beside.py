"""This process's dispatcher beside a dispatcher process of the same machine (`NOTIFY_ROLE=all` with
`DELIVERY_HANDOFF_SOCKET`): the two share the delivery partitions as any two instances do (adapters/leases.py), and
the intake inserts each notice it may send at once as being sent by whichever of them holds its partition, then hands
it to that one: in memory to its own, over the socket to the other (adapters/handoff.py). The process then uses a
core for its API, its intake and a fifth of the delivery (`DELIVERY_SHARE`, 0.2 by default), and the dispatcher
process another for the rest, with no claim in Postgres between them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from notify_service.adapters.queue import Claimed, Handing
from notify_service.handlers.delivery.dispatcher import Dispatcher, Hands


class Beside:
    """`Hands` for the intake: this process's dispatcher (`own`) and one in another process (`other`)."""

    def __init__(self, own: Dispatcher, other: Hands) -> None:
        self.own, self.other = own, other

    def handing(self) -> list[Handing]:
        return self.own.handing() + self.other.handing()

    def hand(self, rows: Sequence[Claimed]) -> list[Claimed]:
        """Each row to the dispatcher it was inserted for; returns those it will not send, for `release`."""
        mine, theirs = self._split(rows)
        left = self.own.hand(mine) if mine else []
        return left + self.other.hand(theirs) if theirs else left

    async def release(self, rows: Sequence[Claimed]) -> None:
        """Queue again rows that will not be sent, each as the dispatcher it was inserted for."""
        mine, theirs = self._split(rows)
        await asyncio.gather(*(d.release(r) for d, r in ((self.own, mine), (self.other, theirs)) if r))

    def _split(self, rows: Sequence[Claimed]) -> tuple[list[Claimed], list[Claimed]]:
        mine = [r for r in rows if r.by == self.own.me]
        return mine, [r for r in rows if r.by != self.own.me] if len(mine) < len(rows) else []
