"""Reads traces back through MLflow's Python client (mlflow.search_traces and
mlflow.get_trace) from the tracking server at MLFLOW_TRACKING_URI, and prints what it
got as JSON, for the Rust tests to check. Usage: readback.py EXPERIMENT_ID"""

import json
import sys

import mlflow


def span_dict(span):
    return {
        "name": span.name,
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "span_type": span.span_type,
        "status": span.status.status_code.value if hasattr(span.status.status_code, "value") else str(span.status.status_code),
        "status_description": span.status.description,
        "inputs": span.inputs,
        "outputs": span.outputs,
        "attributes": {k: v for k, v in span.attributes.items() if not k.startswith("mlflow.")},
        "events": [{"name": e.name, "attributes": dict(e.attributes)} for e in span.events],
    }


def trace_dict(trace):
    info = trace.info
    return {
        "trace_id": info.trace_id,
        "state": info.state.value,
        "request_time": info.request_time,
        "execution_duration": info.execution_duration,
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
        "tags": dict(info.tags),
        "metadata": dict(info.trace_metadata),
        "spans": [span_dict(s) for s in trace.data.spans],
    }


experiment_id = sys.argv[1]
searched = mlflow.search_traces(locations=[experiment_id], return_type="list")
out = {
    "search": [trace_dict(t) for t in searched],
    "get": {t.info.trace_id: trace_dict(mlflow.get_trace(t.info.trace_id)) for t in searched},
}
print(json.dumps(out))
