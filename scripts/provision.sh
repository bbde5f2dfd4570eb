# Provisions what the tests need, from the package registries. Source it, then call the
# functions. Everything is cached under $MLFLOW_TRACING_CACHE (default
# ~/.cache/mlflow-tracing-rs) and reused while the pinned versions match.
#
#   ensure_mlflow_venv   -> a Python venv with mlflow==$MLFLOW_VERSION; prints its python
#   ensure_bench_venv    -> mlflow==$MLFLOW_VERSION with OpenTelemetry's OTLP/HTTP exporter,
#                           for scripts/bench-compare.sh; prints its python
#   ensure_victoria_metrics -> VictoriaMetrics from Debian; prints its binary
#   ensure_mlflow_server_venv -> a venv for running MLflow servers: mlflow[auth] (basic
#                           auth) and psycopg2-binary (PostgreSQL); prints its python
#   ensure_postgresql    -> Debian's PostgreSQL (apt-get, as root); prints its bin directory

MLFLOW_VERSION="${MLFLOW_VERSION:-3.17.2}"
MLFLOW_TRACING_CACHE="${MLFLOW_TRACING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-tracing-rs}"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# A Python >= 3.10 to create venvs with.
find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.12 python3.11 python3.10 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  echo "no Python >= 3.10 with the venv module found (set PYTHON=...)" >&2
  return 1
}

# make_venv DIR PACKAGE... : (re)creates DIR with the packages unless a marker says they
# are already installed there.
make_venv() {
  local dir="$1"; shift
  local marker="$dir/.installed" want="$*"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ] && [ -x "$dir/bin/python" ]; then
    return 0
  fi
  local python; python=$(find_python)
  log "installing $want into $dir (first run only; about a minute)"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade pip >&2
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
  echo "$want" > "$marker"
}

ensure_mlflow_venv() {
  local dir="$MLFLOW_TRACING_CACHE/venv-mlflow-$MLFLOW_VERSION"
  make_venv "$dir" "mlflow==$MLFLOW_VERSION"
  echo "$dir/bin/python"
}

# The Python SDK of scripts/bench-compare.sh: MLflow exports OTLP/HTTP with
# OpenTelemetry's exporter, which `mlflow` alone does not install (the version of the SDK
# MLflow brings).
ensure_bench_venv() {
  local dir="$MLFLOW_TRACING_CACHE/venv-bench-mlflow-$MLFLOW_VERSION"
  make_venv "$dir" "mlflow==$MLFLOW_VERSION" "opentelemetry-exporter-otlp-proto-http==1.45.2"
  echo "$dir/bin/python"
}

# The MLflow servers of the tracking-server tests: basic auth needs mlflow[auth]
# (Flask-WTF), a PostgreSQL backend store needs psycopg2.
ensure_mlflow_server_venv() {
  local dir="$MLFLOW_TRACING_CACHE/venv-mlflow-server-$MLFLOW_VERSION"
  make_venv "$dir" "mlflow[auth]==$MLFLOW_VERSION" "psycopg2-binary"
  echo "$dir/bin/python"
}

# PostgreSQL's server programs (initdb, pg_ctl, postgres) from Debian's package; the tests
# initialise and start their own cluster on a free loopback port.
ensure_postgresql() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "PostgreSQL is not installed and installing it needs root: apt-get install -y postgresql" >&2
      return 1
    fi
    log "installing PostgreSQL (apt-get install postgresql; first run only)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  fi
  [ -x "$bin/initdb" ] || { echo "initdb not found under /usr/lib/postgresql" >&2; return 1; }
  echo "$bin"
}

PHOENIX_VERSION="${PHOENIX_VERSION:-20.26.1}"
ROTEL_VERSION="${ROTEL_VERSION:-0.0.1a15}"

# Arize Phoenix (an OTLP trace backend, gRPC and HTTP); prints its `phoenix` command.
ensure_phoenix() {
  local dir="$MLFLOW_TRACING_CACHE/venv-phoenix-$PHOENIX_VERSION"
  make_venv "$dir" "arize-phoenix==$PHOENIX_VERSION"
  echo "$dir/bin/phoenix"
}

# The rotel OpenTelemetry collector (a Rust binary shipped in a PyPI wheel); prints the
# path of `rotel-agent`.
ensure_rotel() {
  local dir="$MLFLOW_TRACING_CACHE/venv-rotel-$ROTEL_VERSION"
  make_venv "$dir" "rotel==$ROTEL_VERSION"
  local agent
  agent=$(ls "$dir"/lib/python3*/site-packages/rotel/rotel-agent 2>/dev/null | head -1)
  [ -x "$agent" ] || { echo "rotel-agent not found in $dir" >&2; return 1; }
  echo "$agent"
}

VICTORIA_METRICS_VERSION="${VICTORIA_METRICS_VERSION:-1.112.0+ds1-2}"
VICTORIA_METRICS_SUITE="${VICTORIA_METRICS_SUITE:-trixie}"

# VictoriaMetrics (a Prometheus-compatible store with an OTLP/HTTP metrics receiver and
# the PromQL query API), Debian's package; prints the path of its binary. Bookworm's
# package (1.79) predates the OTLP receiver (1.92), so the package comes from
# $VICTORIA_METRICS_SUITE: `apt-get download` with a private package list under the
# cache (nothing is installed on the system, no root needed), then extracted there.
# Only when missing.
ensure_victoria_metrics() {
  local root="$MLFLOW_TRACING_CACHE/victoria-metrics-$VICTORIA_METRICS_VERSION"
  local bin="$root/usr/bin/victoria-metrics"
  if [ ! -x "$bin" ]; then
    log "downloading Debian's victoria-metrics $VICTORIA_METRICS_VERSION into $root (first run only)"
    local apt="$MLFLOW_TRACING_CACHE/apt-$VICTORIA_METRICS_SUITE"
    mkdir -p "$apt"/lists/partial "$apt"/cache/archives/partial "$apt"/debs
    echo "deb http://deb.debian.org/debian $VICTORIA_METRICS_SUITE main" > "$apt/sources.list"
    local options=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
                   -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
                   -o APT::Sandbox::User="$(id -un)")
    apt-get "${options[@]}" -qq update >&2
    rm -f "$apt"/debs/victoria-metrics_*.deb
    (cd "$apt/debs" && apt-get "${options[@]}" -qq download "victoria-metrics=$VICTORIA_METRICS_VERSION" >&2)
    rm -rf "$root.partial"
    dpkg-deb -x "$apt"/debs/victoria-metrics_*.deb "$root.partial"
    mv "$root.partial" "$root"
  fi
  "$bin" -version >/dev/null 2>&1 || { echo "$bin does not run" >&2; return 1; }
  echo "$bin"
}

CARGO_HACK_VERSION="${CARGO_HACK_VERSION:-0.6.46}"
CARGO_DENY_VERSION="${CARGO_DENY_VERSION:-0.20.2}"
CARGO_SEMVER_CHECKS_VERSION="${CARGO_SEMVER_CHECKS_VERSION:-0.51.0}"

# ensure_cargo_tool CRATE VERSION SUBCOMMAND: a cargo subcommand built from crates.io into
# the cache (once per version); prints the path of its binary.
ensure_cargo_tool() {
  local crate="$1" version="$2" subcommand="$3"
  local root="$MLFLOW_TRACING_CACHE/cargo-tools"
  local bin="$root/bin/$crate"
  if [ ! -x "$bin" ] || [ "$("$bin" "$subcommand" --version 2>/dev/null)" != "$crate $version" ]; then
    log "installing $crate $version into $root (first run only; a few minutes)"
    cargo install "$crate" --version "$version" --locked --quiet --root "$root" >&2
  fi
  echo "$bin"
}

# cargo-hack: feature-combination checks.
ensure_cargo_hack() { ensure_cargo_tool cargo-hack "$CARGO_HACK_VERSION" hack; }

# cargo-deny: licenses, bans and sources of every dependency.
ensure_cargo_deny() { ensure_cargo_tool cargo-deny "$CARGO_DENY_VERSION" deny; }

# cargo-semver-checks: the public API against the last release.
ensure_cargo_semver_checks() {
  ensure_cargo_tool cargo-semver-checks "$CARGO_SEMVER_CHECKS_VERSION" semver-checks
}

# The rust-version the workspace declares (its minimum supported Rust).
msrv() {
  sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml | head -1
}

# The rustup toolchain of the declared minimum Rust (`1.89` → `1.89.0`).
msrv_toolchain() {
  local version; version=$(msrv)
  case "$version" in *.*.*) echo "$version" ;; *) echo "$version.0" ;; esac
}

# The declared minimum Rust, installed with rustup (minimal profile) when missing.
ensure_msrv_toolchain() {
  [ -n "$(msrv)" ] || { echo "no rust-version in Cargo.toml" >&2; return 1; }
  local version; version=$(msrv_toolchain)
  if ! rustup run "$version" rustc --version >/dev/null 2>&1; then
    log "installing Rust $version with rustup (minimal profile)"
    rustup toolchain install "$version" --profile minimal >&2
  fi
}
