"""Logs N traces (a root span and a child, with inputs and outputs) with MLflow's Python
SDK to the tracking server at MLFLOW_TRACKING_URI, in experiment MLFLOW_EXPERIMENT_NAME,
and prints how long it took until all were exported, as JSON. Usage: throughput.py N"""

import json
import sys
import time

import mlflow

n = int(sys.argv[1])
# The experiment is looked up (and the version asked) before the clock starts, as the
# Rust side does it once per pipeline too.
with mlflow.start_span(name="warm-up"):
    pass
mlflow.flush_trace_async_logging()

start = time.perf_counter()
for i in range(n):
    with mlflow.start_span(name="request") as root:
        root.set_inputs({"i": i, "question": "What is MLflow?"})
        with mlflow.start_span(name="step", span_type="TOOL") as child:
            child.set_inputs({"query": i})
            child.set_outputs({"hits": [1, 2, 3]})
        root.set_outputs({"answer": "MLflow is an open source MLOps platform."})
mlflow.flush_trace_async_logging()
elapsed = time.perf_counter() - start
print(json.dumps({"traces": n, "seconds": elapsed}))
