"""Knowledge-base articles and the passages (sections) retrieval works on."""

from __future__ import annotations

import re
from dataclasses import dataclass

import frontmatter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant_service.domain.text import Language

MAX_BODY_CHARS = 20_000  # ten times the longest shipped article; every change re-indexes its language
_ID = r"^[a-z0-9][a-z0-9-]{0,79}$"
_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$", re.MULTILINE)


class ArticleError(ValueError):
    """An article that cannot be stored as given (the message names the field)."""


class Article(BaseModel):
    """One article in one language; `(language, id)` is its key, so a translation shares the id."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=_ID)
    language: Language
    title: str = Field(min_length=1, max_length=200)
    url: str = Field(pattern=r"^/[\w\-./#]*$", max_length=300)
    tags: tuple[str, ...] = ()
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t.strip() for t in tags if t.strip())

    @property
    def key(self) -> tuple[Language, str]:
        return (self.language, self.id)


@dataclass(frozen=True, slots=True)
class Passage:
    """A section of an article: what is scored, quoted and cited."""

    article_id: str
    language: Language
    title: str
    heading: str
    url: str
    text: str
    tags: tuple[str, ...]

    @property
    def searchable(self) -> str:
        """Title, heading and tags are part of what a passage matches on."""
        return "\n".join([self.title, self.heading, " ".join(self.tags), self.text])


def _tags(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return tuple(t.strip() for t in raw.split(","))
    if isinstance(raw, list | tuple):
        return tuple(str(t) for t in raw)
    raise ArticleError("front matter: tags must be a list")


def default_url(article_id: str, language: str) -> str:
    """Where an article without its own `url` is published: /docs/support/<id> (/zh/docs/support/<id>)."""
    return f"/docs/support/{article_id}" if language == "en" else f"/{language}/docs/support/{article_id}"


def parse_markdown(source: str, *, url_required: bool = True) -> Article:
    """An article from Markdown with front matter (id, title, language, tags, url; `url` may be left out when
    `url_required` is false: it defaults to /docs/support/<id>)."""
    try:
        post = frontmatter.loads(source)
    except Exception as exc:  # the YAML parser raises several unrelated types
        raise ArticleError(f"front matter: {exc}") from exc
    meta = dict(post.metadata)
    if not url_required and "url" not in meta and "id" in meta and "language" in meta:
        meta["url"] = default_url(str(meta["id"]), str(meta["language"]))
    missing = [k for k in ("id", "title", "language", "url") if k not in meta]
    if missing:
        raise ArticleError(f"front matter: missing {', '.join(missing)}")
    try:
        return Article.model_validate(
            {
                "id": str(meta["id"]),
                "title": str(meta["title"]),
                "language": str(meta["language"]),
                "url": str(meta["url"]),
                "tags": _tags(meta.get("tags")),
                "body": post.content,
            }
        )
    except ValidationError as exc:
        raise ArticleError(describe(exc)) from exc


def describe(exc: ValidationError) -> str:
    """`field: what is wrong` for each problem, e.g. `language: Input should be 'en' or 'zh'`."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'article'}: {e['msg']}" for e in exc.errors())


def _slug(heading: str) -> str:
    slug = re.sub(r"[^\w\u3400-\u9fff]+", "-", heading.lower()).strip("-")
    return slug or "section"


def passages(article: Article) -> list[Passage]:
    """The article's intro and each `##` section as passages (a `#` title line in the body is dropped)."""
    body = re.sub(r"\A\s*#\s+[^\n]*\n", "", article.body)
    marks = list(_HEADING.finditer(body))
    out: list[Passage] = []

    def add(heading: str, anchor: str, text: str) -> None:
        text = text.strip()
        if text:
            url = f"{article.url}#{anchor}" if anchor else article.url
            out.append(Passage(article.id, article.language, article.title, heading, url, text, article.tags))

    add("", "", body[: marks[0].start()] if marks else body)
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        add(mark.group(1), _slug(mark.group(1)), body[mark.end() : end])
    return out
