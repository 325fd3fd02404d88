"""The articles shipped with the package (`kb/<language>/*.md`)."""

from __future__ import annotations

from importlib.resources import files

from assistant_service.domain.articles import Article, ArticleError, parse_markdown


def shipped_articles() -> list[Article]:
    """Every shipped article; a broken file stops start-up with its name."""
    out: list[Article] = []
    root = files("assistant_service") / "kb"
    for folder in sorted(root.iterdir(), key=lambda p: p.name):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            if not path.name.endswith(".md"):
                continue
            try:
                article = parse_markdown(path.read_text(encoding="utf-8"))
            except ArticleError as exc:
                raise ArticleError(f"kb/{folder.name}/{path.name}: {exc}") from exc
            if article.language.value != folder.name or f"{article.id}.md" != path.name:
                raise ArticleError(f"kb/{folder.name}/{path.name}: id or language does not match the file's place")
            out.append(article)
    return out
