"""Knowledge-base articles: the shipped ones seeded, staff changes stored, every instance's index following them."""

from __future__ import annotations

import hashlib
import logging

import asyncpg

from assistant_service.adapters import articles as db
from assistant_service.adapters.metrics import ARTICLE_CHANGES
from assistant_service.domain.articles import Article
from assistant_service.domain.text import Language
from assistant_service.handlers.deps import Deps, Knowledge
from carekit.refusals import Conflict, NotFound

log = logging.getLogger(__name__)


def checksum(article: Article) -> str:
    return hashlib.sha256(article.model_dump_json().encode()).hexdigest()


async def seed_shipped(pool: asyncpg.Pool, shipped: list[Article]) -> int:
    """Seed the shipped articles (one instance at a time); return how many were added or updated."""
    async with pool.acquire() as conn, conn.transaction():
        await db.lock_writes(conn)
        changed = await db.seed(conn, [(a, checksum(a)) for a in shipped])
    if changed:
        log.info("knowledge base: %d shipped articles added or updated", changed)
    return changed


async def catch_up(pool: asyncpg.Pool | asyncpg.Connection, knowledge: Knowledge) -> int:
    """Apply to this instance's index every article change it has not seen yet; return how many."""
    async with knowledge.lock:
        changes = await db.changes_since(pool, knowledge.revision)
        if not changes:
            return 0
        latest: dict[tuple[Language, str], db.StoredArticle] = {c.article.key: c for c in changes}  # last one wins
        knowledge.index.apply(
            upserted=[c.article for c in latest.values() if not c.deleted],
            removed=[key for key, c in latest.items() if c.deleted],
        )
        knowledge.revision = changes[-1].revision
        ARTICLE_CHANGES.inc(len(changes))
        return len(changes)


async def page(deps: Deps, language: Language | None, limit: int, offset: int) -> tuple[list[db.StoredArticle], int]:
    return await db.page(deps.pool, language, limit, offset)


async def read(deps: Deps, language: Language, article_id: str) -> db.StoredArticle:
    found = await db.get(deps.pool, language, article_id)
    if found is None:
        raise NotFound(f"no {language.value} article {article_id}")
    return found


async def create(deps: Deps, article: Article, by: str) -> db.StoredArticle:
    """Store a new article; searchable on this instance at once, on the others within seconds."""
    async with deps.pool.acquire() as conn, conn.transaction():
        await db.lock_writes(conn)
        stored = await db.create(conn, article, by)
    if stored is None:
        raise Conflict(
            f"a {article.language.value} article {article.id} exists; change it with "
            f"PUT /v1/assistant/articles/{article.language.value}/{article.id}"
        )
    await catch_up(deps.pool, deps.knowledge)
    return stored


async def replace(deps: Deps, article: Article, by: str) -> db.StoredArticle:
    async with deps.pool.acquire() as conn, conn.transaction():
        await db.lock_writes(conn)
        stored = await db.replace(conn, article, by)
    if stored is None:
        raise NotFound(f"no {article.language.value} article {article.id}; create it with POST /v1/assistant/articles")
    await catch_up(deps.pool, deps.knowledge)
    return stored


async def remove(deps: Deps, language: Language, article_id: str, by: str) -> None:
    async with deps.pool.acquire() as conn, conn.transaction():
        await db.lock_writes(conn)
        removed = await db.remove(conn, language, article_id, by)
    if not removed:
        raise NotFound(f"no {language.value} article {article_id}")
    await catch_up(deps.pool, deps.knowledge)
