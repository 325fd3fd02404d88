"""Decrypted subscriber targets and their shared rate limits, cached in memory (dropped on `NOTIFY
subscribers_changed`, and after TTL_S in any case). A target's Retry-After pause is read from Postgres when its
subscriber is loaded, so a restarted instance (or the next owner of its partition) honours it too."""

from __future__ import annotations

import asyncio
import functools
import time

import asyncpg

from notify_service.adapters import queue, subscribers
from notify_service.adapters.channels import REGISTRY
from notify_service.adapters.channels.base import Target
from notify_service.adapters.secrets import SecretBox
from notify_service.config import Settings
from notify_service.domain.ratelimit import Limits
from notify_service.domain.subscribers import target_label

TTL_S = 30.0


class Targets:
    """Subscriber id -> Target (None when deleted or suspended); target key -> Limits. A subscriber is loaded once
    however many of its senders ask at the same time (they start together when its rows arrive): each load is two
    reads and a decryption, and four at a time for each of a burst's targets were a tenth of a 5,000-alert run."""

    def __init__(self, pool: asyncpg.Pool, box: SecretBox, settings: Settings) -> None:
        self._pool, self._box, self._settings = pool, box, settings
        self._cache: dict[str, tuple[float, Target | None]] = {}
        self._loading: dict[str, asyncio.Future[Target | None]] = {}
        self._limits: dict[str, Limits] = {}

    def fresh(self, subscriber_id: str) -> tuple[Target | None] | None:
        """The cached target, inside a tuple (a target may be None: deleted or suspended); None when it must be
        loaded (`get`)."""
        hit = self._cache.get(subscriber_id)
        if hit is not None and time.monotonic() - hit[0] < TTL_S:
            return (hit[1],)
        return None

    async def get(self, subscriber_id: str) -> Target | None:
        found = self.fresh(subscriber_id)
        if found is not None:
            return found[0]
        loading = self._loading.get(subscriber_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load(subscriber_id))
            self._loading[subscriber_id] = loading
            loading.add_done_callback(functools.partial(self._loaded, subscriber_id))
        return await asyncio.shield(loading)  # a sender stopped while waiting does not stop the others' load

    def _loaded(self, subscriber_id: str, loading: asyncio.Future[Target | None]) -> None:
        if self._loading.get(subscriber_id) is loading:
            del self._loading[subscriber_id]
            if not loading.cancelled() and loading.exception() is None:
                self._cache[subscriber_id] = (time.monotonic(), loading.result())
        elif not loading.cancelled():
            loading.exception()  # forgotten while loading: its answer may predate the change, and is not kept

    async def _load(self, subscriber_id: str) -> Target | None:
        s = await subscribers.get(self._pool, self._box, None, subscriber_id)
        target = None
        if s is not None and s.state == "active":
            target = Target(
                s.id,
                s.org_id,
                s.name,
                s.type,
                s.config,
                s.secrets,
                group_by=tuple(s.group_by) if s.group_by is not None else None,
                max_alerts=s.max_alerts,
                key=s.target_key,
            )
            left = (await queue.pauses(self._pool, [target.key])).get(target.key)
            if left:
                self.limits(target).pause(left)
        return target

    def forget(self, subscriber_id: str) -> None:
        """Drop the cached copy (the subscriber changed, was suspended, resumed or deleted); a load under way is
        not kept either."""
        self._cache.pop(subscriber_id, None)
        self._loading.pop(subscriber_id, None)

    def limits(self, target: Target) -> Limits:
        key = target.key or target_label(target.channel, target.config)
        found = self._limits.get(key)
        if found is None:
            found = self._limits[key] = REGISTRY[target.channel].limits(self._settings)
        return found
