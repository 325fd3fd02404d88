#!/usr/bin/env bash
# Installs pinned Prometheus tools from their Go modules into one cached bin folder, with the ordinary `go` client
# and its defaults (module proxy, checksum database). Idempotent: a tool already there at its pinned version is
# left alone and the script returns at once, without needing `go`.
#
#   bash scripts/go-tools.sh amtool [alertmanager] [promtool]
#
# Prints the absolute path of each tool asked for on stdout (one a line); progress and errors go to stderr.
# Fails (exit 1) with the reason when `go` is missing or a module cannot be fetched or built.
#   amtool        Alertmanager's CLI (issue 12's e2e test drives notify-service's Alertmanager API with it)
#   alertmanager  the Alertmanager server (bench/bench_vs_alertmanager.py compares notify-service with it).
#                 `go install .../cmd/alertmanager@VERSION` cannot work: the published module has no built web
#                 UI under ui/app/dist, which the binary embeds. So the module's source is fetched with
#                 `go mod download`, copied to a scratch folder, given placeholder UI pages, and built there
#                 (the API, which is all the benchmark uses, is unaffected). Nothing of it is kept but the binary.
#   promtool      Prometheus' rule and config checker (optional; a larger build)
# Folder: $CARE_TOOLS_DIR (default .cache/tools in the repository)/bin.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${CARE_TOOLS_DIR:-$ROOT/.cache/tools}"
BIN="$TOOLS_DIR/bin"
ALERTMANAGER_VERSION="v0.35.0"
PROMETHEUS_VERSION="v0.316.0" # the Go module of Prometheus 3.16.0
AM_MODULE="github.com/prometheus/alertmanager"
PROM_MODULE="github.com/prometheus/prometheus"

say() { echo "go-tools: $*" >&2; }
die() {
  say "$*"
  exit 1
}

usage() {
  sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

find_go() {
  if command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    echo /usr/local/go/bin/go
  else
    die "the go command is not installed (not on PATH, not in /usr/local/go/bin); install Go 1.26 or newer"
  fi
}

# tool -> "module version package"
spec() {
  case "$1" in
    amtool) echo "$AM_MODULE $ALERTMANAGER_VERSION cmd/amtool" ;;
    alertmanager) echo "$AM_MODULE $ALERTMANAGER_VERSION cmd/alertmanager" ;;
    promtool) echo "$PROM_MODULE $PROMETHEUS_VERSION cmd/promtool" ;;
    *) die "unknown tool '$1' (known: amtool, alertmanager, promtool)" ;;
  esac
}

# The version the prometheus/common version package reports (`tool --version`), as the projects' releases set it.
version_flags() {
  local module="$1" version="$2" shown="${2#v}" minor patch
  if [[ "$module" == "$PROM_MODULE" ]]; then # module v0.316.0 is Prometheus 3.16.0
    IFS=. read -r _ minor patch <<<"$shown"
    shown="3.$((minor - 300)).$patch"
  fi
  echo "-X github.com/prometheus/common/version.Version=$shown -X github.com/prometheus/common/version.Branch=$version"
}

installed() { # tool version-string
  [[ -x "$BIN/$1" ]] && "$BIN/$1" --version 2>&1 | head -n 1 | grep -qF "version $2 "
}

shown_version() { # tool -> the version its --version prints
  local module version pkg
  read -r module version pkg <<<"$(spec "$1")"
  version_flags "$module" "$version" | sed -E 's/.*version\.Version=([^ ]+).*/\1/'
}

install_tool() {
  local tool="$1" module version pkg go shown started
  read -r module version pkg <<<"$(spec "$tool")"
  shown="$(shown_version "$tool")"
  if installed "$tool" "$shown"; then
    echo "$BIN/$tool"
    return 0
  fi
  go="$(find_go)"
  mkdir -p "$BIN"
  started=$SECONDS
  say "building $tool $version from $module (first time only; a few minutes on 2 cores) ..."
  local log="$TOOLS_DIR/$tool.build.log"
  if [[ "$tool" == "alertmanager" ]]; then
    build_from_source "$go" "$module" "$version" "$pkg" "$log"
  else
    # -trimpath: no local paths in the binary; netgo: the pure-Go resolver, as the projects' own releases
    if ! GOBIN="$BIN" GOFLAGS="" GOWORK=off "$go" install -trimpath -tags netgo \
      -ldflags "$(version_flags "$module" "$version")" "$module/$pkg@$version" >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      die "could not install $module/$pkg@$version (full log: $log); is the Go module proxy reachable?"
    fi
  fi
  installed "$tool" "$shown" || die "$BIN/$tool was built but does not report version $shown (log: $log)"
  say "$tool $shown ready in $((SECONDS - started)) s: $BIN/$tool ($(du -h "$BIN/$tool" | cut -f1))"
  echo "$BIN/$tool"
}

build_from_source() {
  local go="$1" module="$2" version="$3" pkg="$4" log="$5" json dir scratch ui
  if ! json="$(GOFLAGS="" "$go" mod download -json "$module@$version" 2>&1)"; then
    echo "$json" >"$log"
    echo "$json" | tail -n 20 >&2
    die "could not fetch $module@$version with 'go mod download'; is the Go module proxy reachable?"
  fi
  dir="$(echo "$json" | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')"
  [[ -n "$dir" && -f "$dir/go.mod" ]] || die "'go mod download' gave no source folder for $module@$version: $json"
  mkdir -p "$TOOLS_DIR/src"
  scratch="$(mktemp -d "$TOOLS_DIR/src/${module##*/}-$version.XXXXXX")"
  cp -R "$dir/." "$scratch/"
  chmod -R u+w "$scratch" # the module cache is read-only
  for ui in elm mantine; do # what ui/web.go embeds: app/dist/{elm,mantine}
    mkdir -p "$scratch/ui/app/dist/$ui"
    printf '<!doctype html><title>Alertmanager</title><p>web UI not built (API only)</p>\n' \
      >"$scratch/ui/app/dist/$ui/index.html"
  done
  if ! (cd "$scratch" && GOFLAGS="" GOWORK=off "$go" build -trimpath -buildvcs=false -tags netgo \
    -ldflags "$(version_flags "$module" "$version")" -o "$BIN/.${pkg##*/}.new" "./$pkg") >"$log" 2>&1; then
    rm -rf "$scratch"
    tail -n 20 "$log" >&2
    die "could not build $module@$version ./$pkg (full log: $log)"
  fi
  rm -rf "$scratch"
  mv -f "$BIN/.${pkg##*/}.new" "$BIN/${pkg##*/}"
}

[[ $# -gt 0 ]] || usage
for tool in "$@"; do
  [[ "$tool" == -h || "$tool" == --help ]] && usage
  spec "$tool" >/dev/null
done
mkdir -p "$TOOLS_DIR"
for tool in "$@"; do
  if installed "$tool" "$(shown_version "$tool")"; then
    echo "$BIN/$tool"
    continue
  fi
  # two runs at once (make test and a benchmark) build a tool once
  (
    flock 9
    install_tool "$tool"
  ) 9>"$TOOLS_DIR/.$tool.lock"
done
