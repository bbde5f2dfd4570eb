"""Records the traces of parity_workload.json with the MLflow Python SDK, into the
store MLFLOW_TRACKING_URI names (a SQLite database), for tests/real_parity.rs to compare
with what mlflow-tracing writes for the same workload. Prints one trace id per line.

Usage: parity_reference.py WORKLOAD_JSON"""

import json
import sys

import mlflow
from mlflow.entities import SpanEvent


def record(node):
    kwargs = {"name": node["name"]}
    if "span_type" in node:
        kwargs["span_type"] = node["span_type"]
    with mlflow.start_span(**kwargs) as span:
        if "inputs" in node:
            span.set_inputs(node["inputs"])
        for key, value in node.get("attributes", {}).items():
            span.set_attribute(key, value)
        for key, value in node.get("raw", {}).items():
            # A plain OpenTelemetry attribute, as other instrumentation sets it.
            span._span.set_attribute(key, value)
        if update := node.get("update"):
            mlflow.update_current_trace(**update)
        for event in node.get("events", []):
            span.add_event(SpanEvent(event["name"], attributes=event["attributes"]))
        for child in node.get("children", []):
            record(child)
        if "outputs" in node:
            span.set_outputs(node["outputs"])


with open(sys.argv[1]) as f:
    workload = json.load(f)
for trace in workload["traces"]:
    record(trace)
    print(mlflow.get_last_active_trace_id())
mlflow.flush_trace_async_logging()
