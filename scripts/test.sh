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

step "provisioning test backends"
MLFLOW_TRACING_TEST_PYTHON=$(ensure_mlflow_venv)
export MLFLOW_TRACING_TEST_PYTHON
log "MLflow: $("$MLFLOW_TRACING_TEST_PYTHON" -c 'import mlflow; print(mlflow.__version__)') ($MLFLOW_TRACING_TEST_PYTHON)"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked

step "cargo test"
cargo test --workspace --all-features --locked "${extra[@]}"

step "all checks passed"
