"""The Python side of the parity tests (real_parity.rs): the same input through MLflow's
Python SDK 3.17.2, into its own store (MLFLOW_TRACKING_URI), or reading a store written
by the Rust SDK through MLflow's Python client. Usage: parity.py COMMAND [ARGS]; prints
JSON (or trace ids, one a line)."""

import json
import sys
import time

import mlflow
from mlflow.entities import AssessmentSource


def search(queries_json):
    """Each query {"filter", "order_by", "max_results"} → the trace ids found, in order."""
    out = []
    for q in json.loads(queries_json):
        try:
            traces = mlflow.search_traces(
                locations=q.get("experiment_ids") or ["0"],
                filter_string=q.get("filter"),
                order_by=q.get("order_by") or None,
                max_results=q.get("max_results"),
                return_type="list",
            )
            out.append([t.info.trace_id for t in traces])
        except Exception as e:  # a refused filter: the test compares refusals too
            out.append({"error": type(e).__name__})
    print(json.dumps(out))


def assessment_dict(a):
    value = a.feedback.value if a.feedback is not None else a.expectation.value
    error = None
    if a.feedback is not None and a.feedback.error is not None:
        error = {"error_code": a.feedback.error.error_code, "error_message": a.feedback.error.error_message}
    return {
        "assessment_id": a.assessment_id,
        "name": a.name,
        "kind": "feedback" if a.feedback is not None else "expectation",
        "value": value,
        "error": error,
        "source_type": a.source.source_type,
        "source_id": a.source.source_id,
        "rationale": a.rationale,
        "metadata": a.metadata,
        "span_id": a.span_id,
        "valid": a.valid,
    }


def assessments(trace_id):
    trace = mlflow.get_trace(trace_id)
    print(json.dumps([assessment_dict(a) for a in trace.info.assessments]))


def get(trace_id):
    """The trace as the Python client reads it."""
    trace = mlflow.get_trace(trace_id)
    info = trace.info
    print(json.dumps({
        "state": info.state.value,
        "tags": {k: v for k, v in info.tags.items()},
        "metadata": dict(info.trace_metadata),
        "request_preview": info.request_preview,
        "spans": [{
            "name": s.name,
            "status": str(s.status.status_code.value if hasattr(s.status.status_code, "value") else s.status.status_code),
            "inputs": s.inputs,
            "outputs": s.outputs,
            "attributes": {k: v for k, v in s.attributes.items() if k != "mlflow.traceRequestId"},
            "events": [{"name": e.name, "attributes": {k: v for k, v in e.attributes.items() if k != "exception.stacktrace"}} for e in s.events],
        } for s in trace.data.spans],
    }, default=str))


def write_assessments():
    """A trace and four assessments, as the Rust test logs them."""
    with mlflow.start_span("root") as root:
        root.set_inputs({"q": "hi"})
        with mlflow.start_span("child") as child:
            pass
    mlflow.flush_trace_async_logging()
    tid = root.trace_id
    mlflow.log_feedback(trace_id=tid, name="correct", value=True, rationale="because")
    mlflow.log_feedback(trace_id=tid, name="score", value=0.5,
                        source=AssessmentSource(source_type="LLM_JUDGE", source_id="gpt"),
                        metadata={"k": "v"}, span_id=child.span_id)
    mlflow.log_expectation(trace_id=tid, name="expected", value={"answer": "x"})
    mlflow.log_feedback(trace_id=tid, name="err", error=ValueError("boom"))
    print(tid)


def timeout():
    """A stuck trace with MLFLOW_TRACE_TIMEOUT_SECONDS=1 (set by the caller)."""
    root = mlflow.start_span_no_context("agent", inputs={"q": 1})
    mlflow.start_span_no_context("tool", parent_span=root)
    mlflow.start_span_no_context("done", parent_span=root).end()
    time.sleep(3.5)
    mlflow.flush_trace_async_logging()
    print(root.trace_id)


def context():
    """Traces in mlflow.tracing.context(...), in a run, with an active model
    (MLFLOW_ACTIVE_MODEL_ID, set by the caller)."""
    with mlflow.tracing.context(session_id="session-1", user="user-1",
                                metadata={"app": "outer", "keep": "yes"}, tags={"project": "p"}):
        with mlflow.tracing.context(metadata={"app": "inner"}):
            with mlflow.start_span("scoped"):
                pass
    with mlflow.start_run() as run:
        with mlflow.start_span("in_run"):
            pass
    with mlflow.tracing.context(enabled=False):
        with mlflow.start_span("off"):
            pass
    mlflow.tracing.disable()
    with mlflow.start_span("disabled"):
        pass
    mlflow.tracing.enable()
    mlflow.flush_trace_async_logging()
    print(run.info.run_id)


def mask(span):
    if span.inputs is not None:
        span.set_inputs(json.loads(json.dumps(span.inputs).replace("ada@example.com", "[EMAIL]")))
    if span.outputs is not None:
        span.set_outputs(json.loads(json.dumps(span.outputs).replace("ada@example.com", "[EMAIL]")))
    if "api_key" in span.attributes:
        span.set_attribute("api_key", "[REDACTED]")


def hooks():
    """A trace recorded through a masking span processor."""
    mlflow.tracing.configure(span_processors=[mask])
    with mlflow.start_span("agent") as root:
        root.set_inputs({"from": "ada@example.com", "text": "hello"})
        with mlflow.start_span("llm", span_type="LLM") as llm:
            llm.set_attribute("api_key", "sk-secret")
            llm.set_inputs({"to": "ada@example.com"})
            llm.set_outputs("sent to ada@example.com")
        root.set_outputs({"ok": True})
    mlflow.flush_trace_async_logging()
    print(root.trace_id)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    globals()[command](*args)
