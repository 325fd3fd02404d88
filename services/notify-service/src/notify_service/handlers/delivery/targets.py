"""Decrypted subscriber targets and their shared rate limits, cached in memory (dropped on `NOTIFY
subscribers_changed`, and after TTL_S in any case). A target's Retry-After pause is read from Postgres when its
subscriber is loaded, so a restarted instance (or the next owner of its partition) honours it too."""

from __future__ import annotations

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
    """Subscriber id -> Target (None when deleted or suspended); target key -> Limits."""

    def __init__(self, pool: asyncpg.Pool, box: SecretBox, settings: Settings) -> None:
        self._pool, self._box, self._settings = pool, box, settings
        self._cache: dict[str, tuple[float, Target | None]] = {}
        self._limits: dict[str, Limits] = {}

    async def get(self, subscriber_id: str) -> Target | None:
        hit = self._cache.get(subscriber_id)
        if hit is not None and time.monotonic() - hit[0] < TTL_S:
            return hit[1]
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
        self._cache[subscriber_id] = (time.monotonic(), target)
        return target

    def forget(self, subscriber_id: str) -> None:
        """Drop the cached copy (the subscriber changed, was suspended, resumed or deleted)."""
        self._cache.pop(subscriber_id, None)

    def limits(self, target: Target) -> Limits:
        key = target.key or target_label(target.channel, target.config)
        found = self._limits.get(key)
        if found is None:
            found = self._limits[key] = REGISTRY[target.channel].limits(self._settings)
        return found
