"""`care-schemas export` writes JSON Schema for every event; `--check` fails when the copy is stale."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from care_schemas.topics import ADAPTERS

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "jsonschema"


def rendered() -> dict[str, str]:
    """File name -> JSON Schema text, one file per topic union."""
    out: dict[str, str] = {}
    for topic, adapter in ADAPTERS.items():
        schema: dict[str, Any] = adapter.json_schema(mode="serialization")
        schema["$id"] = f"urn:connected-care:schema:{topic}"
        schema["title"] = f"Events on {topic}"
        out[f"{topic}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def stale(directory: Path) -> list[str]:
    """Names of committed schema files that differ from the models (or are missing or extra)."""
    expected = rendered()
    present = {p.name for p in directory.glob("*.schema.json")} if directory.exists() else set()
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
    export.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    args = parser.parse_args(argv)
    if args.check:
        diffs = stale(args.dir)
        if diffs:
            print("JSON Schema is stale, run `make schemas`: " + ", ".join(diffs), file=sys.stderr)
            return 1
        print(f"JSON Schema in {args.dir} matches the models")
        return 0
    args.dir.mkdir(parents=True, exist_ok=True)
    for old in args.dir.glob("*.schema.json"):
        old.unlink()
    for name, text in rendered().items():
        (args.dir / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.dir / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
