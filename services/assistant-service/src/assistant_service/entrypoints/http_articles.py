"""Staff manage the knowledge base: list, read, create, change and remove articles (searchable within seconds)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import ValidationError

from assistant_service.adapters.articles import StoredArticle
from assistant_service.domain.articles import Article, ArticleError, default_url, describe, parse_markdown, passages
from assistant_service.domain.text import Language
from assistant_service.entrypoints.common import AppDeps
from assistant_service.entrypoints.views import ArticleId, ArticleIn, ArticleOut, ArticlePage, ArticleSummary
from assistant_service.handlers import articles
from carekit.identity import CurrentIdentity, Identity, Role, require
from carekit.problems import responses
from carekit.refusals import Invalid

router = APIRouter(prefix="/v1/assistant/articles", tags=["articles"])
READERS = (Role.SUPPORT_ENGINEER, Role.SALES, Role.ADMIN)
WRITERS = (Role.SUPPORT_ENGINEER, Role.ADMIN)
PathId = Annotated[ArticleId, Path()]
FIELDS = ("id", "language", "title", "body")


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, field=field, errors=[{"field": field, "message": message}])


def to_article(body: ArticleIn, language: Language | None = None, article_id: str | None = None) -> Article:
    """The article a request describes (as fields or as Markdown with front matter); 422 naming the field."""
    if body.markdown is not None:
        given = [f for f in (*FIELDS, "url") if getattr(body, f) is not None] + (["tags"] if body.tags else [])
        if given:
            raise _invalid("body.markdown", f"give the article as markdown or as fields, not both ({', '.join(given)})")
        try:
            article = parse_markdown(body.markdown, url_required=False)
        except ArticleError as exc:
            raise _invalid("body.markdown", f"front matter or body: {exc}") from None
        where = "body.markdown"
    else:
        values = {"id": article_id, "language": language} | body.model_dump(exclude={"markdown"}, exclude_none=True)
        missing = [f for f in FIELDS if values.get(f) is None]
        if missing:
            problems = [{"field": f"body.{f}", "message": "Field required"} for f in missing]
            named = ", ".join("body." + f for f in missing)
            raise Invalid(f"{named}: Field required (send id, language, title and body, or markdown)", errors=problems)
        values.setdefault("url", default_url(values["id"], Language(values["language"]).value))
        try:
            article = Article.model_validate(values)
        except ValidationError as exc:
            raise _invalid("body", describe(exc)) from None
        where = "body"
    for name, expected in (("language", language), ("id", article_id)):
        actual = article.language if name == "language" else article.id
        if expected is not None and actual != expected:
            raise _invalid(f"{where}.{name}", f"is {actual}, but the path names {expected}")
    if not passages(article):
        raise _invalid(f"{where}.body", "has no text outside its headings; an answer needs words to quote")
    return article


def _summary(s: StoredArticle) -> dict[str, object]:
    a = s.article
    return {
        "id": a.id,
        "language": a.language,
        "title": a.title,
        "url": a.url,
        "tags": list(a.tags),
        "origin": s.origin,
        "revision": s.revision,
        "updated_at": s.updated_at,
        "updated_by": s.updated_by,
    }


def _out(s: StoredArticle) -> ArticleOut:
    return ArticleOut.model_validate(_summary(s) | {"body": s.article.body})


def _by(identity: Identity) -> str:
    return f"{identity.role.value}:{identity.sub}"


@router.get("")
async def list_articles(
    identity: CurrentIdentity,
    deps: AppDeps,
    language: Language | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ArticlePage:
    """The knowledge base, by language and id (staff)."""
    require(identity, *READERS)
    found, total = await articles.page(deps, language, limit, offset)
    following = offset + len(found)
    return ArticlePage(
        articles=[ArticleSummary.model_validate(_summary(s)) for s in found],
        total=total,
        next_offset=following if following < total else None,
    )


@router.get("/{language}/{article_id}", responses=responses(404))
async def read_article(language: Language, article_id: PathId, identity: CurrentIdentity, deps: AppDeps) -> ArticleOut:
    require(identity, *READERS)
    return _out(await articles.read(deps, language, article_id))


@router.post("", status_code=201, responses=responses(409))
async def create_article(body: ArticleIn, identity: CurrentIdentity, deps: AppDeps) -> ArticleOut:
    """Add an article (support engineers, admins); searchable at once here and within seconds everywhere."""
    require(identity, *WRITERS)
    return _out(await articles.create(deps, to_article(body), _by(identity)))


@router.put("/{language}/{article_id}", responses=responses(404))
async def replace_article(
    language: Language, article_id: PathId, body: ArticleIn, identity: CurrentIdentity, deps: AppDeps
) -> ArticleOut:
    """Replace an article's title, body, tags (and url); a shipped article changed here stays as changed."""
    require(identity, *WRITERS)
    return _out(await articles.replace(deps, to_article(body, language, article_id), _by(identity)))


@router.delete("/{language}/{article_id}", status_code=204, responses=responses(404))
async def delete_article(language: Language, article_id: PathId, identity: CurrentIdentity, deps: AppDeps) -> Response:
    """Remove an article (a shipped one stays removed after upgrades)."""
    require(identity, *WRITERS)
    await articles.remove(deps, language, article_id, _by(identity))
    return Response(status_code=204)
