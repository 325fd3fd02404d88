#!/usr/bin/env bash
# Stops the services that scripts/up.sh started, by their own PIDs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
for entry in "${SERVICES[@]}"; do
  name="${entry%%:*}"; pidfile="$RUN_DIR/$name.pid"
  if pid_alive "$pidfile"; then
    pid="$(cat "$pidfile")"
    if [[ -n "${DOWN_REASON:-}" ]]; then echo "$DOWN_REASON"; DOWN_REASON=""; fi
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"; }
    echo "stopped $(label_of "$name") (pid $pid)"
  fi
  rm -f "$pidfile"
done
