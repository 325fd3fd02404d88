"""`care-schemas export` writes JSON Schema for every event and each service's AsyncAPI document;
`--check` fails when the committed copies are stale."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from care_schemas import asyncapi
from care_schemas.topics import ADAPTERS

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "jsonschema"
ASYNCAPI_DIR = Path(__file__).resolve().parents[2] / "asyncapi"


def rendered() -> dict[str, str]:
    """File name -> JSON Schema text, one file per topic union."""
    out: dict[str, str] = {}
    for topic, adapter in ADAPTERS.items():
        schema: dict[str, Any] = adapter.json_schema(mode="serialization")
        schema["$id"] = f"urn:connected-care:schema:{topic}"
        schema["title"] = f"Events on {topic}"
        out[f"{topic}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def stale(directory: Path, expected: dict[str, str] | None = None, pattern: str = "*.schema.json") -> list[str]:
    """Names of committed files that differ from what the models render (or are missing or extra)."""
    expected = rendered() if expected is None else expected
    present = {p.name for p in directory.glob(pattern)} if directory.exists() else set()
    diffs = [
        name
        for name, text in expected.items()
        if not (directory / name).exists() or (directory / name).read_text(encoding="utf-8") != text
    ]
    return sorted(diffs + sorted(present - expected.keys()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="care-schemas", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write JSON Schema for every event")
    export.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    export.add_argument("--asyncapi-dir", type=Path, default=ASYNCAPI_DIR)
    export.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    args = parser.parse_args(argv)
    if args.check:
        diffs = stale(args.dir) + stale(args.asyncapi_dir, asyncapi.rendered(), "*.asyncapi.json")
        if diffs:
            print("JSON Schema / AsyncAPI is stale, run `make schemas`: " + ", ".join(diffs), file=sys.stderr)
            return 1
        print(f"JSON Schema in {args.dir} and AsyncAPI in {args.asyncapi_dir} match the models")
        return 0
    _write(args.dir, rendered(), "*.schema.json")
    _write(args.asyncapi_dir, asyncapi.rendered(), "*.asyncapi.json")
    return 0


def _write(directory: Path, files: dict[str, str], pattern: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(pattern):
        if old.name not in files:
            old.unlink()
    for name, text in files.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
