#!/usr/bin/env bash
# Starts plan-, ticket-, notify- and assistant-service and the web console in the background (idempotent), then
# runs the demo.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
set -a
# shellcheck disable=SC1091
. .cache/infra/infra.env
set +a
any_running() { for e in "${SERVICES[@]}"; do pid_alive "$RUN_DIR/${e%%:*}.pid" && return 0; done; return 1; }
# A development key says so (dev-...): the console's /dev-login is refused with any other (console/README.md).
if [[ ! -f "$RUN_DIR/jwt_secret" ]] || { ! grep -q '^dev-' "$RUN_DIR/jwt_secret" && ! any_running; }; then
  python3 -c 'import secrets; print("dev-" + secrets.token_urlsafe(48))' > "$RUN_DIR/jwt_secret"
fi
export JWT_SECRET; JWT_SECRET="$(cat "$RUN_DIR/jwt_secret")"
if [[ ! -f "$RUN_DIR/console_secret_key" ]]; then
  python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "$RUN_DIR/console_secret_key"
fi
export CONSOLE_SECRET_KEY; CONSOLE_SECRET_KEY="$(cat "$RUN_DIR/console_secret_key")"
dev_login=0; [[ "$JWT_SECRET" == dev-* ]] && dev_login=1
# notify-service encrypts subscriber secrets with a Fernet key; the demo's receiver is on 127.0.0.1
if [[ ! -f "$RUN_DIR/notify_secret_key" ]]; then
  python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())' > "$RUN_DIR/notify_secret_key"
fi
export NOTIFY_SECRET_KEY; NOTIFY_SECRET_KEY="$(cat "$RUN_DIR/notify_secret_key")"
export NOTIFY_URL_ALLOWLIST="${NOTIFY_URL_ALLOWLIST:-127.0.0.1}"
base="${DATABASE_URL%/*}"
# Links the services send (tickets in chat confirmations and TAM e-mails) open in the console.
export PUBLIC_BASE_URL="$CONSOLE_URL"
export CONSOLE_URL  # notify-service's notices link to the console's pages too
for entry in "${SERVICES[@]}"; do
  name="${entry%%:*}"; port="${entry##*:}"
  pidfile="$RUN_DIR/$name.pid"
  if pid_alive "$pidfile"; then
    echo "$(label_of "$name") already running (pid $(cat "$pidfile")) on http://127.0.0.1:$port"
    continue
  fi
  DATABASE_URL="$base/$name" HTTP_PORT="$port" CONSOLE_DEV_LOGIN="$dev_login" \
    setsid nohup uv run --frozen python -m "$(module_of "$name")" >"$RUN_DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  echo "started $(label_of "$name") (pid $!) on http://127.0.0.1:$port, log $RUN_DIR/$name.log"
done
for entry in "${SERVICES[@]}"; do
  name="${entry%%:*}"; port="${entry##*:}"
  for _ in $(seq 1 360); do  # up to 3 minutes each: five Python processes start at once on a loaded machine
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
    if ! pid_alive "$RUN_DIR/$name.pid"; then
      echo "$(label_of "$name") exited; last lines of its log:" >&2; tail -n 30 "$RUN_DIR/$name.log" >&2; exit 1
    fi
    sleep 0.5
  done
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "$(label_of "$name") not ready; see $RUN_DIR/$name.log" >&2; exit 1; }
  if [[ "$name" == console ]]; then
    echo "console ready: $CONSOLE_URL"
  else
    echo "$name-service ready: http://127.0.0.1:$port (docs at /docs)"
  fi
done
CONSOLE_URL="$CONSOLE_URL" CONSOLE_DEV_LOGIN="$dev_login" uv run --frozen python scripts/demo.py
