#!/usr/bin/env bash
# Runs every check and every test. On a fresh machine it first installs what the tests
# need (Python venvs with MLflow, Phoenix and rotel; VictoriaMetrics; cargo-hack,
# cargo-deny and, once a release is tagged, cargo-semver-checks; the declared minimum
# Rust), cached between runs.
#
#   scripts/test.sh            everything
#   scripts/test.sh -- ARGS    extra arguments for `cargo test` (e.g. a test name filter)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/provision.sh

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-always}"
extra=()
if [ "${1:-}" = "--" ]; then shift; extra=("$@"); fi

step() { log "== $*"; }

# Fail fast: formatting and lints need nothing installed.
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "provisioning (MLflow, MLflow's server with auth and PostgreSQL, Arize Phoenix, rotel, VictoriaMetrics, cargo-hack, cargo-deny, Rust $(msrv); cached after the first run)"
mkdir -p "$MLFLOW_TRACING_CACHE"
# The installs run side by side: they mostly wait on the network.
ensure_mlflow_venv > "$MLFLOW_TRACING_CACHE/.mlflow.path" &
mlflow_job=$!
ensure_mlflow_server_venv > "$MLFLOW_TRACING_CACHE/.mlflow-server.path" &
mlflow_server_job=$!
ensure_bench_venv > "$MLFLOW_TRACING_CACHE/.bench.path" &
bench_job=$!
ensure_postgresql > "$MLFLOW_TRACING_CACHE/.postgresql.path" &
postgresql_job=$!
ensure_phoenix > "$MLFLOW_TRACING_CACHE/.phoenix.path" &
phoenix_job=$!
ensure_rotel > "$MLFLOW_TRACING_CACHE/.rotel.path" &
rotel_job=$!
ensure_victoria_metrics > "$MLFLOW_TRACING_CACHE/.victoria-metrics.path" &
victoria_metrics_job=$!
ensure_msrv_toolchain &
msrv_job=$!
ensure_cargo_hack > "$MLFLOW_TRACING_CACHE/.cargo-hack.path"
ensure_cargo_deny > "$MLFLOW_TRACING_CACHE/.cargo-deny.path"
# One `wait` per line: under `set -e` a failed install stops the script here.
wait "$mlflow_job"
wait "$mlflow_server_job"
wait "$bench_job"
wait "$postgresql_job"
wait "$phoenix_job"
wait "$rotel_job"
wait "$victoria_metrics_job"
wait "$msrv_job"
MLFLOW_TRACING_TEST_PYTHON=$(cat "$MLFLOW_TRACING_CACHE/.mlflow.path")
MLFLOW_TRACING_TEST_PHOENIX=$(cat "$MLFLOW_TRACING_CACHE/.phoenix.path")
MLFLOW_TRACING_TEST_ROTEL=$(cat "$MLFLOW_TRACING_CACHE/.rotel.path")
MLFLOW_TRACING_TEST_VICTORIA_METRICS=$(cat "$MLFLOW_TRACING_CACHE/.victoria-metrics.path")
CARGO_HACK=$(cat "$MLFLOW_TRACING_CACHE/.cargo-hack.path")
CARGO_DENY=$(cat "$MLFLOW_TRACING_CACHE/.cargo-deny.path")
MLFLOW_TRACING_TEST_SERVER_PYTHON=$(cat "$MLFLOW_TRACING_CACHE/.mlflow-server.path")
MLFLOW_TRACING_BENCH_PYTHON=$(cat "$MLFLOW_TRACING_CACHE/.bench.path")
MLFLOW_TRACING_TEST_PG_BIN=$(cat "$MLFLOW_TRACING_CACHE/.postgresql.path")
export MLFLOW_TRACING_TEST_PYTHON MLFLOW_TRACING_TEST_PHOENIX MLFLOW_TRACING_TEST_ROTEL
export MLFLOW_TRACING_TEST_VICTORIA_METRICS
export MLFLOW_TRACING_TEST_SERVER_PYTHON MLFLOW_TRACING_TEST_PG_BIN MLFLOW_TRACING_BENCH_PYTHON
log "MLflow $("$MLFLOW_TRACING_TEST_PYTHON" -c 'import mlflow; print(mlflow.__version__)'), Phoenix $PHOENIX_VERSION, rotel $ROTEL_VERSION, VictoriaMetrics $VICTORIA_METRICS_VERSION, $("$CARGO_HACK" hack --version)"

step "cargo deny check licenses bans sources (deny.toml; advisories need GitHub, unreachable here)"
"$CARGO_DENY" deny check licenses bans sources

step "cargo hack clippy --each-feature -D warnings (the library with each feature alone)"
"$CARGO_HACK" hack clippy -p mlflow-tracing --each-feature --locked -- -D warnings

step "cargo +$(msrv) check: the declared rust-version builds the workspace"
# Without examples/rig-agent: rig-core 0.44 needs Rust 1.95, which that unpublished example
# declares as its own rust-version; the crates it shows are all checked here.
CARGO_TARGET_DIR=target/msrv cargo "+$(msrv_toolchain)" check --workspace --all-features --locked \
  --exclude rig-agent-example

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked

step "cargo package: the published crates build from what would be uploaded"
cargo package -p mlflow-tracing-macros -p mlflow-tracing -p mlflow-trace-cli --locked --allow-dirty

# The public API against the last release (a `v*` tag), as crates.io would hold it.
if release=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then
  step "cargo semver-checks against $release"
  CARGO_SEMVER_CHECKS=$(ensure_cargo_semver_checks)
  "$CARGO_SEMVER_CHECKS" semver-checks -p mlflow-tracing -p mlflow-tracing-macros --baseline-rev "$release"
else
  step "cargo semver-checks: no release tag (v*) yet, so no published API to compare with; the first release tag turns this check on"
fi

step "cargo test"
cargo test --workspace --all-features --locked "${extra[@]}"

step "all checks passed"
