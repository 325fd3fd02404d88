# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts
# Shared helpers for infra/*.sh. Source it; do not execute it.
#
# Sets: INFRA_SRC (this folder), REPO_ROOT, CARE_INFRA_DIR, KAFKA_PORT,
#       KAFKA_CONTROLLER_PORT, PG_PORT, and the connection strings
#       KAFKA_BOOTSTRAP / PG_DATABASE_URL.

INFRA_SRC="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "$INFRA_SRC/.." && pwd -P)"

: "${CARE_INFRA_DIR:=$REPO_ROOT/.cache/infra}"
: "${KAFKA_PORT:=9092}"
: "${KAFKA_CONTROLLER_PORT:=9093}"
: "${PG_PORT:=54329}"
export CARE_INFRA_DIR KAFKA_PORT KAFKA_CONTROLLER_PORT PG_PORT

KAFKA_BOOTSTRAP="127.0.0.1:${KAFKA_PORT}"
PG_DATABASE_URL="postgresql://care:care@127.0.0.1:${PG_PORT}/care"
INFRA_ENV_FILE="$CARE_INFRA_DIR/infra.env"

log() { printf '%s\n' "$*"; }
err() { printf 'ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }

# now_ms: milliseconds since the epoch (bash 5 has EPOCHREALTIME).
now_ms() {
  local t="${EPOCHREALTIME/[.,]/}"
  printf '%s\n' "$((t / 1000))"
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid_alive PID: true when PID is a running (non-zombie) process.
pid_alive() {
  local pid="$1" state
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  state="$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
  [[ "$state" != "Z" ]]
}

# read_pidfile FILE: print the pid stored in FILE (empty when missing).
read_pidfile() {
  [[ -f "$1" ]] || return 0
  tr -dc '0-9' <"$1"
}

# with_lock NAME: take an exclusive lock (fd 9) so concurrent start/stop calls
# for the same service serialise. Children that outlive the script must be
# started with `9>&-` so they do not keep the lock.
with_lock() {
  mkdir -p "$CARE_INFRA_DIR"
  exec 9>"$CARE_INFRA_DIR/.$1.lock"
  if ! flock -w 300 9; then
    die "could not lock $CARE_INFRA_DIR/.$1.lock"
  fi
}

# tail_log FILE [N]: print the last N (default 40) lines of FILE to stderr.
tail_log() {
  local f="$1" n="${2:-40}"
  if [[ -s "$f" ]]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2
    printf -- '-----\n' >&2
  fi
}
