#!/usr/bin/env bash
# Starts plan-, ticket- and notify-service in the background (idempotent), then runs the demo.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
set -a
# shellcheck disable=SC1091
. .cache/infra/infra.env
set +a
if [[ ! -f "$RUN_DIR/jwt_secret" ]]; then
  python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "$RUN_DIR/jwt_secret"
fi
export JWT_SECRET; JWT_SECRET="$(cat "$RUN_DIR/jwt_secret")"
# notify-service encrypts subscriber secrets with a Fernet key; the demo's receiver is on 127.0.0.1
if [[ ! -f "$RUN_DIR/notify_secret_key" ]]; then
  python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())' > "$RUN_DIR/notify_secret_key"
fi
export NOTIFY_SECRET_KEY; NOTIFY_SECRET_KEY="$(cat "$RUN_DIR/notify_secret_key")"
export NOTIFY_URL_ALLOWLIST="${NOTIFY_URL_ALLOWLIST:-127.0.0.1}"
base="${DATABASE_URL%/*}"
for entry in "${SERVICES[@]}"; do
  name="${entry%%:*}"; port="${entry##*:}"
  pidfile="$RUN_DIR/$name.pid"
  if pid_alive "$pidfile"; then
    echo "$name-service already running (pid $(cat "$pidfile")) on http://127.0.0.1:$port"
    continue
  fi
  DATABASE_URL="$base/$name" HTTP_PORT="$port" \
    setsid nohup uv run --frozen python -m "${name}_service" >"$RUN_DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  echo "started $name-service (pid $!) on http://127.0.0.1:$port, log $RUN_DIR/$name.log"
done
for entry in "${SERVICES[@]}"; do
  name="${entry%%:*}"; port="${entry##*:}"
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
    if ! pid_alive "$RUN_DIR/$name.pid"; then
      echo "$name-service exited; last lines of its log:" >&2; tail -n 30 "$RUN_DIR/$name.log" >&2; exit 1
    fi
    sleep 0.5
  done
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "$name-service not ready; see $RUN_DIR/$name.log" >&2; exit 1; }
  echo "$name-service ready: http://127.0.0.1:$port (docs at /docs)"
done
uv run --frozen python scripts/demo.py
