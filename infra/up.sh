#!/usr/bin/env bash
# Start Kafka and Postgres (in parallel), then print the connection settings
# and write them to <CARE_INFRA_DIR>/infra.env.
# Usage: bash infra/up.sh
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

t0="$(now_ms)"
mkdir -p "$CARE_INFRA_DIR"

# Both starts run concurrently; each line is prefixed with its service name.
# pipefail makes each pipeline's status the script's, not sed's.
bash "$INFRA_SRC/kafka.sh" start 2>&1 | sed -u 's/^/[kafka]    /' &
kafka_job=$!
bash "$INFRA_SRC/postgres.sh" start 2>&1 | sed -u 's/^/[postgres] /' &
pg_job=$!

rc=0
wait "$kafka_job" || { rc=1; err "Kafka failed to start (see above)"; }
wait "$pg_job" || { rc=1; err "Postgres failed to start (see above)"; }
((rc == 0)) || exit "$rc"

tmp="$INFRA_ENV_FILE.tmp.$$"
cat >"$tmp" <<ENV
KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP
DATABASE_URL=$PG_DATABASE_URL
ENV
mv -f "$tmp" "$INFRA_ENV_FILE"

dt=$(($(now_ms) - t0))
log ""
log "Infra up in $((dt / 1000)).$((dt % 1000 / 100))s. Connection settings (also in $INFRA_ENV_FILE):"
cat "$INFRA_ENV_FILE"
log ""
log "To export them into your shell:  set -a; . $INFRA_ENV_FILE; set +a"
