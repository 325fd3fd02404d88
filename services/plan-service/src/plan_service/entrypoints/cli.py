"""`plan-service-legacy-import FILE`: seed organisations on legacy plans, through the same handler as the endpoint."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

from care_schemas.envelope import utcnow
from care_schemas.events.plan import Actor
from carekit.db import create_pool, migrate
from carekit.refusals import Refused
from plan_service import handlers
from plan_service.app import MIGRATIONS
from plan_service.entrypoints.http import LegacyImportItem

EXAMPLE = '[{"org_id": "org-1", "legacy_plan": "legacy_enterprise", "since": "2023-04-01T00:00:00Z"}]'
IMPORT: TypeAdapter[list[LegacyImportItem]] = TypeAdapter(Annotated[list[LegacyImportItem], Field(min_length=1)])


async def run(database_url: str, items: list[LegacyImportItem], actor: Actor) -> dict[str, list[str]]:
    pool = await create_pool(database_url)
    try:
        await migrate(pool, MIGRATIONS)
        return await handlers.legacy_import(pool, [(i.org_id, i.legacy_plan, i.since) for i in items], actor, utcnow())
    finally:
        await pool.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a name
        return "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="plan-service-legacy-import",
        description="Seed organisations on legacy plans, all or nothing (as POST /v1/admin/legacy-import). "
        "The events go to plan-service's outbox; a running plan-service publishes them.",
    )
    parser.add_argument("file", help=f"a JSON array such as {EXAMPLE}; '-' reads standard input")
    parser.add_argument("--actor", default=f"cli:{_user()}", help="who imported, recorded as an admin")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="default: $DATABASE_URL")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("set DATABASE_URL or pass --database-url")
    try:
        raw = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
        items = IMPORT.validate_json(raw)
    except OSError as exc:
        parser.exit(2, f"cannot read {args.file}: {exc.strerror}\n")
    except ValidationError as exc:
        problems = [f"  {'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()[:20]]
        header = f"{args.file} is not a valid import; fix and retry (expected {EXAMPLE}):"
        parser.exit(2, "\n".join([header, *problems]) + "\n")
    try:
        result = asyncio.run(run(args.database_url, items, Actor(sub=args.actor, role="admin")))
    except Refused as exc:
        parser.exit(1, f"refused: {exc.message}\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
