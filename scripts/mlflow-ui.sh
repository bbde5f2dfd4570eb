#!/usr/bin/env bash
# Opens a local MLflow database in MLflow's UI (installing MLflow in a cached venv on the
# first run).
#
#   scripts/mlflow-ui.sh [PATH/TO/mlflow.db] [PORT]      (defaults: ./mlflow.db, 5000)
set -euo pipefail
db="$(realpath "${1:-mlflow.db}")"
port="${2:-5000}"
source "$(dirname "$0")/provision.sh"
python=$(ensure_mlflow_venv)
[ -f "$db" ] || { echo "no database at $db: run the demo first" >&2; exit 1; }
log "MLflow UI for $db on http://127.0.0.1:$port (Ctrl-C to stop)"
cd "$(dirname "$db")"
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false MLFLOW_DISABLE_TELEMETRY=true \
  exec "$(dirname "$python")/mlflow" server --host 127.0.0.1 --port "$port" --workers 1 \
    --backend-store-uri "sqlite:///$db"
