"""Repository hygiene a reviewer would otherwise check by hand: what production code may import, which
dependencies are really used, and that migrations never destroy data."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "schemas": ROOT / "schemas",
    "carekit": ROOT / "libs" / "carekit",
    "plan-service": ROOT / "services" / "plan-service",
    "ticket-service": ROOT / "services" / "ticket-service",
    "notify-service": ROOT / "services" / "notify-service",
    "assistant-service": ROOT / "services" / "assistant-service",
    "carectl": ROOT / "tools" / "carectl",
    "console": ROOT / "services" / "console",
}
# Test support and the test-only HTTP client never reach production code (aiohttp is the one HTTP client there).
TEST_ONLY = {"pytest", "pytest_asyncio", "carekit_testing", "httpx", "testcontainers", "hypothesis"}
IMPORT_NAME = {
    "pyjwt": "jwt",
    "prometheus-client": "prometheus_client",
    "pydantic-settings": "pydantic_settings",
    "pystemmer": "Stemmer",
    "python-frontmatter": "frontmatter",
    "google-re2": "re2",
    "python-dateutil": "dateutil",
}
# Time-zone data that zoneinfo reads, the form parser FastAPI's Form() uses, and the event loop and HTTP parser
# uvicorn loads by the names carekit.serve gives it: nothing imports them by name.
NOT_IMPORTED = {"tzdata", "python-multipart", "uvloop", "httptools"}
DESTRUCTIVE = re.compile(
    r"\b(TRUNCATE|DELETE\s+FROM|DROP\s+(?!INDEX|CONSTRAINT|DEFAULT|NOT\s+NULL|TRIGGER)\w+)", re.IGNORECASE
)


def _imports(src: Path) -> set[str]:
    found: set[str] = set()
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_production_code_imports_no_test_support(package: str) -> None:
    leaked = _imports(PACKAGES[package] / "src") & TEST_ONLY
    assert not leaked, f"{package} imports test-only packages: {sorted(leaked)}"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_declared_dependency_is_imported(package: str) -> None:
    declared = tomllib.loads((PACKAGES[package] / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[\[<>=~! ]", d, maxsplit=1)[0].lower() for d in declared}
    used = _imports(PACKAGES[package] / "src")
    unused = sorted(n for n in names - NOT_IMPORTED if IMPORT_NAME.get(n, n.replace("-", "_")) not in used)
    assert not unused, f"{package} declares dependencies nothing imports: {unused}"


def test_the_dev_group_names_only_packages_in_use() -> None:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    assert not [d for d in dev if d.startswith("httpx2")], "httpx2 is not used (tests use httpx with ASGITransport)"


def _sql_without_comments(path: Path) -> str:
    text = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines())


MIGRATIONS = sorted(
    [*ROOT.glob("services/*/migrations/*.sql"), *ROOT.glob("libs/carekit/src/carekit/migrations/*.sql")]
)


@pytest.mark.parametrize("migration", MIGRATIONS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_migrations_never_drop_truncate_or_delete(migration: Path) -> None:
    found = DESTRUCTIVE.findall(_sql_without_comments(migration))
    assert not found, f"{migration.name} has destructive statements {found}: add, never destroy (docs/skeleton.md)"


def test_the_destructive_check_catches_what_it_is_for() -> None:
    for bad in (
        "DROP TABLE x",
        "drop table if exists x cascade",
        "TRUNCATE x",
        "DELETE FROM x",
        "ALTER TABLE x DROP COLUMN y",
    ):
        assert DESTRUCTIVE.search(bad), bad
    for fine in (
        "REFERENCES t (id) ON DELETE CASCADE",
        "DROP INDEX IF EXISTS i",
        "ALTER TABLE x ALTER c DROP NOT NULL",
    ):
        assert not DESTRUCTIVE.search(fine), fine
