"""What every assistant use case needs: the pool, the knowledge (index and how far it has caught up), the
composer, the per-organisation rate limit, where article links point, the clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from assistant_service.domain.index import KnowledgeIndex
from assistant_service.domain.ratelimit import OrgRateLimiter
from assistant_service.handlers.compose import Assistant
from care_schemas.envelope import utcnow

Clock = Callable[[], datetime]


@dataclass
class Knowledge:
    """This instance's search index and the last article revision applied to it."""

    index: KnowledgeIndex
    revision: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one catch-up at a time, so changes apply in order


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    knowledge: Knowledge
    assistant: Assistant
    limiter: OrgRateLimiter
    docs_base_url: str
    clock: Clock = utcnow
