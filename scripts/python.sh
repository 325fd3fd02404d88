#!/usr/bin/env bash
# Prints the interpreter `make install` builds the project's environment on: Debian's CPython 3.11, compiled with
# profile-guided and link-time optimisation, installed from Debian's packages when missing. A CPython compiled from
# source without those options (pyenv's default, this machine's `python3`) spends about a tenth more CPU in every
# service (docs/decisions.md, "the services run on an optimised build of CPython"). CARE_PYTHON names another one;
# with neither (no Debian package manager, or not root), prints nothing and uv chooses.
set -euo pipefail
if [[ -n "${CARE_PYTHON:-}" ]]; then
  echo "$CARE_PYTHON"
  exit 0
fi
PYTHON=/usr/bin/python3.11
if [[ ! -x "$PYTHON" ]] && ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
  echo "python: Debian's python3.11 missing, installing it ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3.11 >&2
fi
if [[ -x "$PYTHON" ]]; then
  echo "$PYTHON"
else
  echo "python: $PYTHON not available; uv chooses the interpreter (about a tenth more CPU if it was built without optimisation)" >&2
fi
