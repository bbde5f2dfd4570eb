"""Reads the traces of an experiment (argv[1]) back through MLflow's Python client
(mlflow.search_traces, mlflow.get_trace) from MLFLOW_TRACKING_URI, and prints them as
JSON, by trace name, without what differs by nature between two runs (ids, times, the
program name), with the trace names each of a few searches finds. For
tests/real_parity.rs, which compares the Python SDK's store with mlflow-tracing's."""

import json
import sys

import mlflow

VARYING_METADATA = {"mlflow.source.name", "mlflow.trace.sizeBytes", "mlflow.trace.sizeStats"}

SEARCHES = [
    "span.type = 'CHAT_MODEL'",
    "span.type = 'LLM'",
    "span.name = 'chat gpt-4o-mini'",
    "trace.text ILIKE '%Zürich%'",
    "span.content LIKE '%mlflow.llm.cost%'",
    "span.attributes.mlflow.llm.model LIKE '%gpt-4o%'",
    "metadata.`mlflow.trace.tokenUsage` IS NOT NULL",
    "metadata.`mlflow.trace.cost` IS NOT NULL",
    "metadata.`mlflow.trace.session` = 'conv-42'",
    "metadata.`mlflow.trace.user` = 'user-7'",
]


def span_dict(span, names):
    return {
        "name": span.name,
        "parent": names.get(span.parent_id),
        "span_type": span.span_type,
        "status": str(span.status.status_code),
        "inputs": span.inputs,
        "outputs": span.outputs,
        "llm_cost": span.llm_cost,
        "attributes": {k: v for k, v in span.attributes.items() if k != "mlflow.traceRequestId"},
        "events": [{"name": e.name, "attributes": dict(e.attributes)} for e in span.events],
    }


def trace_dict(trace):
    info = trace.info
    names = {s.span_id: s.name for s in trace.data.spans}
    return {
        "state": info.state.value,
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
        "token_usage": info.token_usage,
        "cost": info.cost,
        "tags": {k: v for k, v in info.tags.items() if k != "mlflow.artifactLocation"},
        "metadata": {
            k: v
            for k, v in info.trace_metadata.items()
            if k not in VARYING_METADATA and not k.startswith("mlflow.source.git.")
        },
        "spans": sorted((span_dict(s, names) for s in trace.data.spans), key=lambda s: s["name"]),
    }


experiment_id = sys.argv[1]
searched = mlflow.search_traces(locations=[experiment_id], return_type="list")
out = {
    "search": {t.info.tags["mlflow.traceName"]: trace_dict(t) for t in searched},
    "get": {
        t.info.tags["mlflow.traceName"]: trace_dict(mlflow.get_trace(t.info.trace_id))
        for t in searched
    },
    "filters": {
        f: sorted(
            t.info.tags["mlflow.traceName"]
            for t in mlflow.search_traces(
                locations=[experiment_id], filter_string=f, return_type="list"
            )
        )
        for f in SEARCHES
    },
}
print(json.dumps(out, sort_keys=True))
