#!/usr/bin/env bash
# Installs Debian's Chromium for the console's browser tests when it is missing. Playwright (a Python dev
# dependency) drives it through executable_path: Playwright's own browser download cannot work on these machines.
set -euo pipefail
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ -x "$CHROMIUM" ]]; then
  exit 0
fi
if ((EUID != 0)); then
  echo "Chromium is missing at $CHROMIUM; install it: sudo apt-get update && sudo apt-get install -y chromium" >&2
  exit 1
fi
echo "browser: Chromium missing, installing Debian's 'chromium' package ..."
DEBIAN_FRONTEND=noninteractive apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
[[ -x "$CHROMIUM" ]] || { echo "browser: chromium installed but $CHROMIUM is not there" >&2; exit 1; }
"$CHROMIUM" --version
