#!/usr/bin/env bash
# The same burst through this SDK, raw Rust OpenTelemetry and MLflow's Python SDK, to the
# default local store and to a loopback OTLP receiver: runs interleaved, medians printed
# as a table with ratios (docs/performance.md has the results and the machine).
#
#   scripts/bench-compare.sh [--traces N] [--depth D] [--input-bytes B] [--runs R]
#                            [--warmup W] [--only NAME,NAME] [--no-nodelay] [--out DIR]
#
# Defaults: 6,667 traces × 3 spans (20,001 spans), 5 runs, 200 warm-up traces. Each run
# is a fresh process in an empty directory with a clean environment. Configurations:
#   rust_discard     this SDK → a TraceExporter that drops every trace
#   otel_discard     raw OpenTelemetry 0.33 (BatchSpanProcessor) → an exporter that drops
#   otel_http        raw OpenTelemetry → OTLP/HTTP (opentelemetry-otlp), default queue
#   otel_http_lossless   the same with OTEL_BSP_MAX_QUEUE_SIZE=1000000
#   rust_http        this SDK → OTLP/HTTP
#   rust_grpc        this SDK → OTLP/gRPC
#   rust_store       this SDK → ./mlflow.db (the default)
#   py_http          MLflow 3.17.2 Python → OTLP/HTTP
#   py_store         MLflow 3.17.2 Python → ./mlflow.db (the default)
# Delivered spans are counted where they land: by the receiver, or in the database.
#
# Needs: cargo (builds the release binaries; set BENCH_BIN_DIR to use built ones) and a
# Python >= 3.10 (a venv with MLflow is provisioned and cached, see scripts/provision.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/provision.sh

traces=6667 depth=3 runs=5 warmup=200 input_bytes="" only="" nodelay="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --traces) traces="$2"; shift 2 ;;
    --depth) depth="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --input-bytes) input_bytes="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --no-nodelay) nodelay="--no-nodelay"; shift ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

all="rust_discard otel_discard otel_http otel_http_lossless rust_http rust_grpc rust_store py_http py_store"
configs="${only//,/ }"
configs="${configs:-$all}"
for c in $configs; do
  case " $all " in *" $c "*) ;; *) echo "unknown configuration $c (one of: $all)" >&2; exit 2 ;; esac
done

if [ -z "${BENCH_BIN_DIR:-}" ]; then
  log "building the release binaries"
  cargo build --release --locked -p mlflow-trace-cli -p mlflow-tracing-bench >&2
  BENCH_BIN_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"
fi
for bin in mlflow-trace otel-load otlp-sink; do
  [ -x "$BENCH_BIN_DIR/$bin" ] || { echo "$BENCH_BIN_DIR/$bin is missing" >&2; exit 1; }
done
case " $configs " in
  *" py_"*) BENCH_PYTHON="${MLFLOW_TRACING_BENCH_PYTHON:-$(ensure_bench_venv)}" ;;
  *) BENCH_PYTHON="" ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-compare.XXXXXX")
out="${out:-$work}"
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_port=$(free_port) grpc_port=$(free_port)
"$BENCH_BIN_DIR/otlp-sink" --http-port "$http_port" --grpc-port "$grpc_port" \
  --count-file "$work/received" $nodelay &
sink=$!
trap 'kill "$sink" 2>/dev/null; rm -rf "$work/run"' EXIT
for _ in $(seq 100); do [ -s "$work/received" ] && break; sleep 0.05; done
[ -s "$work/received" ] || { echo "the OTLP receiver did not start" >&2; exit 1; }

received() { cat "$work/received"; }
# The receiver's count once it stops moving (the last request may still be decoded).
settled() {
  local last now=-1 same=0
  while [ "$same" -lt 5 ]; do
    last=$now; now=$(received)
    if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; fi
    sleep 0.05
  done
  echo "$now"
}
stored_spans() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from spans").fetchone()[0])' "$1"; }

load_args=(--traces "$traces" --depth "$depth" --warmup "$warmup")
[ -n "$input_bytes" ] && load_args+=(--input-bytes "$input_bytes")
http_env=(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:$http_port/v1/traces" OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf)
grpc_env=(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:$grpc_port" OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc)

# run_one CONFIG RUN: one fresh process; appends its report, with what was delivered.
run_one() {
  local config="$1" run="$2" dir="$work/run" before after delivered report
  rm -rf "$dir"; mkdir -p "$dir"
  local env_=(PATH=/usr/bin:/bin HOME="$dir" MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true OTEL_SERVICE_NAME=bench)
  local cmd
  case "$config" in
    rust_discard) cmd=("$BENCH_BIN_DIR/mlflow-trace" load --json --discard "${load_args[@]}") ;;
    otel_discard) cmd=("$BENCH_BIN_DIR/otel-load" --json --exporter discard "${load_args[@]}") ;;
    otel_http) env_+=("${http_env[@]}"); cmd=("$BENCH_BIN_DIR/otel-load" --json "${load_args[@]}") ;;
    otel_http_lossless) env_+=("${http_env[@]}" OTEL_BSP_MAX_QUEUE_SIZE=1000000)
      cmd=("$BENCH_BIN_DIR/otel-load" --json "${load_args[@]}") ;;
    rust_http) env_+=("${http_env[@]}"); cmd=("$BENCH_BIN_DIR/mlflow-trace" load --json "${load_args[@]}") ;;
    rust_grpc) env_+=("${grpc_env[@]}"); cmd=("$BENCH_BIN_DIR/mlflow-trace" load --json "${load_args[@]}") ;;
    rust_store) cmd=("$BENCH_BIN_DIR/mlflow-trace" load --json "${load_args[@]}") ;;
    py_http) env_+=("${http_env[@]}"); cmd=("$BENCH_PYTHON" "$PWD/scripts/bench/mlflow_load.py" "${load_args[@]}") ;;
    py_store) cmd=("$BENCH_PYTHON" "$PWD/scripts/bench/mlflow_load.py" "${load_args[@]}") ;;
  esac
  before=$(settled)
  report=$(cd "$dir" && env -i "${env_[@]}" "${cmd[@]}" 2>"$dir/stderr" | tail -n 1) || {
    echo "$config failed:" >&2; cat "$dir/stderr" >&2; exit 1; }
  case "$config" in
    *_http*|*_grpc) after=$(settled); delivered=$((after - before - warmup * depth)) ;;
    *_store) delivered=$(( $(stored_spans "$dir/mlflow.db") - warmup * depth )) ;;
    *) delivered=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["exported"])' "$report") ;;
  esac
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(config=sys.argv[2], run=int(sys.argv[3]), delivered=int(sys.argv[4])); print(json.dumps(r))' \
    "$report" "$config" "$run" "$delivered" >> "$results"
  log "run $run $config: $(tail -n 1 "$results" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("caller %.2f µs/span, wall %.2f µs/span, delivered %d of %d" % (r["us_per_span"], r["wall_us_per_span"], r["delivered"], r["spans"]))')"
}

log "$(nproc) cores, $(uname -sr), $traces traces × $depth spans, $runs run(s) each, interleaved; results in $results"
for run in $(seq "$runs"); do
  for config in $configs; do run_one "$config" "$run"; done
done
python3 scripts/bench/summarize.py "$results"
