#!/usr/bin/env bash
# Runs every check and every test. On a fresh machine it first installs what the tests
# need (a Python venv with MLflow, cached between runs).
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

step "provisioning test backends (MLflow, Arize Phoenix, rotel; cached after the first run)"
mkdir -p "$MLFLOW_TRACING_CACHE"
# The installs run side by side: they mostly wait on the network.
ensure_mlflow_venv > "$MLFLOW_TRACING_CACHE/.mlflow.path" &
mlflow_job=$!
ensure_phoenix > "$MLFLOW_TRACING_CACHE/.phoenix.path" &
phoenix_job=$!
ensure_rotel > "$MLFLOW_TRACING_CACHE/.rotel.path" &
rotel_job=$!
# One `wait` per line: under `set -e` a failed install stops the script here.
wait "$mlflow_job"
wait "$phoenix_job"
wait "$rotel_job"
MLFLOW_TRACING_TEST_PYTHON=$(cat "$MLFLOW_TRACING_CACHE/.mlflow.path")
MLFLOW_TRACING_TEST_PHOENIX=$(cat "$MLFLOW_TRACING_CACHE/.phoenix.path")
MLFLOW_TRACING_TEST_ROTEL=$(cat "$MLFLOW_TRACING_CACHE/.rotel.path")
export MLFLOW_TRACING_TEST_PYTHON MLFLOW_TRACING_TEST_PHOENIX MLFLOW_TRACING_TEST_ROTEL
log "MLflow $("$MLFLOW_TRACING_TEST_PYTHON" -c 'import mlflow; print(mlflow.__version__)'), Phoenix $PHOENIX_VERSION, rotel $ROTEL_VERSION"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo clippy -D warnings, the library with single features"
for features in "" local-store otlp-http otlp-grpc; do
  cargo clippy -p mlflow-tracing --no-default-features --features "$features" --locked -- -D warnings
done

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked

step "cargo test"
cargo test --workspace --all-features --locked "${extra[@]}"

step "all checks passed"
