#!/usr/bin/env bash
# `make test`'s last step: every test against the running Kafka and Postgres (their settings in the environment).
# The whole output is kept in .cache/test.log; when the run fails, the failures are repeated as the last lines, so
# that a CI log cut to its tail still says what failed.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
log=.cache/test.log
uv run pytest "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  echo
  echo "== make test failed (pytest exit code $rc); the failures, from $log:"
  grep -E '^(FAILED|ERROR) ' "$log" | tail -n 40 || true
  grep -E '^=+ .*(passed|failed|error|no tests ran).* =+$' "$log" | tail -n 1 || true
  case "$rc" in
    1) ;;
    5) echo "pytest collected no tests: that is a failure here" ;;
    *) echo "pytest itself stopped (exit code $rc: interrupted, internal error or usage error); see the lines above the summary" ;;
  esac
fi
exit "$rc"
