#!/usr/bin/env bash
# Show whether Kafka and Postgres are running.
# Exit 0 when both are up, 3 when either is down.
# Usage: bash infra/status.sh
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

rc=0
bash "$INFRA_SRC/kafka.sh" status || rc=3
bash "$INFRA_SRC/postgres.sh" status || rc=3
if ((rc == 0)) && [[ -f "$INFRA_ENV_FILE" ]]; then
  log "env file: $INFRA_ENV_FILE"
fi
exit "$rc"
