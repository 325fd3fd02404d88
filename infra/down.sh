#!/usr/bin/env bash
# Stop Kafka and Postgres started by infra/up.sh (cached data is kept).
# Usage: bash infra/down.sh
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

rc=0
bash "$INFRA_SRC/kafka.sh" stop || rc=1
bash "$INFRA_SRC/postgres.sh" stop || rc=1
exit "$rc"
