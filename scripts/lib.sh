#!/usr/bin/env bash
# Shared by scripts/up.sh, down.sh, status.sh: where the running services keep their pid files and logs.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${CARE_RUN_DIR:-$ROOT/.cache/run}"
SERVICES=(plan:8081 ticket:8082 notify:8083)
mkdir -p "$RUN_DIR"

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
