#!/usr/bin/env bash
# Shows whether each service is running and ready.
set -uo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
rc=0
for entry in "${SERVICES[@]}"; do
  name="${entry%%:*}"; port="${entry##*:}"
  if pid_alive "$RUN_DIR/$name.pid" && curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
    echo "$(label_of "$name"): ready on http://127.0.0.1:$port (pid $(cat "$RUN_DIR/$name.pid"))"
  else
    echo "$(label_of "$name"): not running"; rc=3
  fi
done
exit $rc
