"""Postgres access for knowledge-base articles: seeding the shipped ones, staff changes, the change feed."""

# ruff: noqa: S608  -- the f-strings only splice the constant column list; every value is a bound parameter.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from assistant_service.domain.articles import Article
from assistant_service.domain.text import Language

CHANNEL = "articles"  # NOTIFY channel: an article changed
COLUMNS = "language, id, title, url, tags, body, origin, revision, updated_at, updated_by, deleted_at"
SHIPPED_BY = "assistant-service (shipped)"
WRITE_LOCK = 7_140_010  # article writers take turns, so revisions commit in the order they were taken


@dataclass(frozen=True)
class StoredArticle:
    article: Article
    origin: str
    revision: int
    updated_at: datetime
    updated_by: str
    deleted: bool


async def lock_writes(conn: asyncpg.Connection) -> None:
    """Take the articles' write lock for the caller's transaction (a reader that saw revision n never misses a
    smaller revision committed later)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)


def _stored(row: asyncpg.Record) -> StoredArticle:
    article = Article.model_construct(  # validated when it was written
        id=row["id"],
        language=Language(row["language"]),
        title=row["title"],
        url=row["url"],
        tags=tuple(row["tags"]),
        body=row["body"],
    )
    return StoredArticle(
        article, row["origin"], row["revision"], row["updated_at"], row["updated_by"], row["deleted_at"] is not None
    )


async def seed(conn: asyncpg.Connection, shipped: Sequence[tuple[Article, str]]) -> int:
    """Insert the shipped articles that are missing, and update those still as shipped by an older release (staff
    edits and removals are kept). `shipped` pairs each article with its file's checksum. Returns the changes."""
    before = await conn.fetchval("SELECT coalesce(max(revision), 0) FROM articles")
    await conn.executemany(
        """
        INSERT INTO articles (language, id, title, url, tags, body, origin, shipped_sha, updated_by)
        VALUES ($1, $2, $3, $4, $5, $6, 'shipped', $7, $8)
        ON CONFLICT (language, id) DO UPDATE SET
            title = EXCLUDED.title, url = EXCLUDED.url, tags = EXCLUDED.tags, body = EXCLUDED.body,
            shipped_sha = EXCLUDED.shipped_sha, updated_by = EXCLUDED.updated_by,
            revision = nextval('article_revisions'), updated_at = now()
        WHERE articles.origin = 'shipped' AND articles.deleted_at IS NULL
          AND articles.shipped_sha IS DISTINCT FROM EXCLUDED.shipped_sha
        """,
        [(a.language.value, a.id, a.title, a.url, list(a.tags), a.body, sha, SHIPPED_BY) for a, sha in shipped],
    )
    changed: int = await conn.fetchval("SELECT count(*) FROM articles WHERE revision > $1", before)
    if changed:
        await conn.execute(f"NOTIFY {CHANNEL}")
    return changed


async def changes_since(conn: asyncpg.Connection | asyncpg.Pool, revision: int) -> list[StoredArticle]:
    """Every article (tombstones included) changed after `revision`, oldest change first."""
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM articles WHERE revision > $1 ORDER BY revision", revision)
    return [_stored(r) for r in rows]


async def get(conn: asyncpg.Connection | asyncpg.Pool, language: Language, article_id: str) -> StoredArticle | None:
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM articles WHERE language = $1 AND id = $2 AND deleted_at IS NULL",
        language.value,
        article_id,
    )
    return _stored(row) if row else None


async def page(
    conn: asyncpg.Connection | asyncpg.Pool, language: Language | None, limit: int, offset: int
) -> tuple[list[StoredArticle], int]:
    """A page of the articles (not removed), by language and id, and how many there are in all."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS}, count(*) OVER () AS total FROM articles"
        " WHERE deleted_at IS NULL AND ($1::text IS NULL OR language = $1) ORDER BY language, id LIMIT $2 OFFSET $3",
        language.value if language else None,
        limit,
        offset,
    )
    total = (
        rows[0]["total"]
        if rows
        else await conn.fetchval(
            "SELECT count(*) FROM articles WHERE deleted_at IS NULL AND ($1::text IS NULL OR language = $1)",
            language.value if language else None,
        )
    )
    return [_stored(r) for r in rows], int(total)


async def create(conn: asyncpg.Connection, article: Article, by: str) -> StoredArticle | None:
    """Store a new article (or bring a removed one back); None when one with its id and language exists."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO articles (language, id, title, url, tags, body, origin, updated_by)
        VALUES ($1, $2, $3, $4, $5, $6, 'staff', $7)
        ON CONFLICT (language, id) DO UPDATE SET
            title = EXCLUDED.title, url = EXCLUDED.url, tags = EXCLUDED.tags, body = EXCLUDED.body,
            origin = 'staff', shipped_sha = NULL, deleted_at = NULL, updated_by = EXCLUDED.updated_by,
            revision = nextval('article_revisions'), updated_at = now()
        WHERE articles.deleted_at IS NOT NULL
        RETURNING {COLUMNS}
        """,
        *_values(article),
        by,
    )
    if row is not None:
        await conn.execute(f"NOTIFY {CHANNEL}")
    return _stored(row) if row else None


async def replace(conn: asyncpg.Connection, article: Article, by: str) -> StoredArticle | None:
    """Replace an existing article; None when there is none."""
    row = await conn.fetchrow(
        f"""
        UPDATE articles SET title = $3, url = $4, tags = $5, body = $6, origin = 'staff', shipped_sha = NULL,
            updated_by = $7, revision = nextval('article_revisions'), updated_at = now()
        WHERE language = $1 AND id = $2 AND deleted_at IS NULL
        RETURNING {COLUMNS}
        """,
        *_values(article),
        by,
    )
    if row is not None:
        await conn.execute(f"NOTIFY {CHANNEL}")
    return _stored(row) if row else None


async def remove(conn: asyncpg.Connection, language: Language, article_id: str, by: str) -> bool:
    """Remove an article (kept as a tombstone so every instance removes it too); False when there is none."""
    row = await conn.fetchrow(
        "UPDATE articles SET deleted_at = now(), updated_by = $3, revision = nextval('article_revisions'),"
        " updated_at = now() WHERE language = $1 AND id = $2 AND deleted_at IS NULL RETURNING revision",
        language.value,
        article_id,
        by,
    )
    if row is not None:
        await conn.execute(f"NOTIFY {CHANNEL}")
    return row is not None


def _values(article: Article) -> tuple[object, ...]:
    a = article
    return (a.language.value, a.id, a.title, a.url, list(a.tags), a.body)
