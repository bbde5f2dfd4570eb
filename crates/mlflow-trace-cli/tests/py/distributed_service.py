"""A Python service instrumented with MLflow 3.17.2 as MLflow documents it: each request
continues the caller's trace from its W3C headers
(`set_tracing_context_from_http_request_headers`), its spans are logged to the store at
MLFLOW_TRACKING_URI. POST /double {"x": n} answers {"doubled": 2n}; with
{"x": n, "call": URL} it also calls URL (a Rust service) with the headers of its own span
(`get_tracing_context_headers_for_http_request`). GET /health answers 200.
Usage: distributed_service.py PORT"""

import json
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mlflow
from mlflow.entities import SpanType
from mlflow.tracing import (
    get_tracing_context_headers_for_http_request,
    set_tracing_context_from_http_request_headers,
)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.answer(200, {"status": "ok"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with set_tracing_context_from_http_request_headers(dict(self.headers)):
            with mlflow.start_span("py-handler", span_type=SpanType.TOOL) as span:
                span.set_inputs(body)
                with mlflow.start_span("py-compute") as child:
                    child.set_inputs({"x": body["x"]})
                    doubled = body["x"] * 2
                    child.set_outputs(doubled)
                answer = {"doubled": doubled}
                if "call" in body:
                    headers = get_tracing_context_headers_for_http_request()
                    request = urllib.request.Request(
                        body["call"],
                        data=json.dumps({"x": doubled}).encode(),
                        headers={**headers, "Content-Type": "application/json"},
                        method="POST",
                    )
                    answer["onward"] = json.loads(urllib.request.urlopen(request).read())
                span.set_outputs(answer)
        self.answer(200, answer)

    def answer(self, status, value):
        out = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print("ready", flush=True)
server.serve_forever()
