#!/usr/bin/env bash
# Shared by scripts/up.sh, down.sh, status.sh: where the running services keep their pid files and logs.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${CARE_RUN_DIR:-$ROOT/.cache/run}"
SERVICES=(plan:8081 ticket:8082 notify:8083 assistant:8084 console:8080)
CONSOLE_URL="http://127.0.0.1:8080"
mkdir -p "$RUN_DIR"

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# The Python module a name runs: the services are <name>_service, the web console is `console`.
module_of() { if [[ "$1" == console ]]; then echo console; else echo "${1}_service"; fi; }
label_of() { if [[ "$1" == console ]]; then echo console; else echo "$1-service"; fi; }
