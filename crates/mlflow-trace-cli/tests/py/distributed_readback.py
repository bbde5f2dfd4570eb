"""Reads one trace back through MLflow's Python client from MLFLOW_TRACKING_URI:
mlflow.get_trace, and the trace ids mlflow.search_traces lists in its experiment.
Prints JSON. Usage: distributed_readback.py TRACE_ID"""

import json
import sys

import mlflow

trace = mlflow.get_trace(sys.argv[1])
info = trace.info
listed = mlflow.search_traces(locations=[info.experiment_id], return_type="list")
print(json.dumps({
    "trace_id": info.trace_id,
    "state": info.state.value,
    "request_preview": info.request_preview,
    "tags": dict(info.tags),
    "spans": [
        {
            "name": s.name,
            "span_id": s.span_id,
            "parent_id": s.parent_id,
            "trace_id": s.trace_id,
            "span_type": s.span_type,
            "status": str(s.status.status_code),
            "attributes": {k: v for k, v in s.attributes.items() if not k.startswith("mlflow.")},
        }
        for s in trace.data.spans
    ],
    "listed": [t.info.trace_id for t in listed],
}))
