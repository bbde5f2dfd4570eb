"""A Python client instrumented with MLflow 3.17.2: a trace whose "py-call" span calls
URL (a Rust service) with its W3C headers (`get_tracing_context_headers_for_http_request`),
logged to the store at MLFLOW_TRACKING_URI. Prints {"trace_id", "call_span_id", "answer"}.
Usage: distributed_client.py URL"""

import json
import sys
import urllib.request

import mlflow
from mlflow.entities import SpanType
from mlflow.tracing import get_tracing_context_headers_for_http_request

url = sys.argv[1]
with mlflow.start_span("py-agent", span_type=SpanType.AGENT) as root:
    root.set_inputs({"question": "double 21"})
    mlflow.update_current_trace(tags={"caller": "python"})
    with mlflow.start_span("py-call") as call:
        headers = get_tracing_context_headers_for_http_request()
        request = urllib.request.Request(
            url,
            data=json.dumps({"x": 21}).encode(),
            headers={**headers, "Content-Type": "application/json"},
            method="POST",
        )
        answer = json.loads(urllib.request.urlopen(request).read())
        call.set_outputs(answer)
    root.set_outputs(answer)
mlflow.flush_trace_async_logging(terminate=True)
print(json.dumps({"trace_id": root.trace_id, "call_span_id": call.span_id, "answer": answer}))
