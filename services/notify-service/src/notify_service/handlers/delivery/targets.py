"""Decrypted subscriber targets and their shared rate limits, cached briefly in memory."""

from __future__ import annotations

import time

import asyncpg

from notify_service.adapters import subscribers
from notify_service.adapters.channels import REGISTRY
from notify_service.adapters.channels.base import Target
from notify_service.adapters.secrets import SecretBox
from notify_service.config import Settings
from notify_service.domain.ratelimit import Limits
from notify_service.domain.subscribers import target_label

TTL_S = 5.0


class Targets:
    """Subscriber id -> Target (None when deleted or suspended); target label -> Limits."""

    def __init__(self, pool: asyncpg.Pool, box: SecretBox, settings: Settings) -> None:
        self._pool, self._box, self._settings = pool, box, settings
        self._cache: dict[str, tuple[float, Target | None]] = {}
        self._limits: dict[str, Limits] = {}

    async def get(self, subscriber_id: str) -> Target | None:
        hit = self._cache.get(subscriber_id)
        if hit is not None and time.monotonic() - hit[0] < TTL_S:
            return hit[1]
        s = await subscribers.get(self._pool, self._box, None, subscriber_id)
        target = (
            Target(s.id, s.org_id, s.name, s.type, s.config, s.secrets)
            if s is not None and s.state == "active"
            else None
        )
        self._cache[subscriber_id] = (time.monotonic(), target)
        return target

    def forget(self, subscriber_id: str) -> None:
        """Drop the cached copy (the subscriber changed, was suspended, resumed or deleted)."""
        self._cache.pop(subscriber_id, None)

    def limits(self, target: Target) -> Limits:
        label = target_label(target.channel, target.config)
        found = self._limits.get(label)
        if found is None:
            found = self._limits[label] = REGISTRY[target.channel].limits(self._settings)
        return found
