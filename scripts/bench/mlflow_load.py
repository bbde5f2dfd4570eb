#!/usr/bin/env python3
"""The burst of `mlflow-trace load` through MLflow's Python SDK (the baseline of
scripts/bench-compare.sh).

N traces of D nested spans (root -> child -> grandchild ...), each span with
set_inputs({"x": i, "level": l}) (padded with "pad" to about --input-bytes) and
set_outputs({"y": i + 1, "level": l}), to whatever destination the environment selects
(MLFLOW_TRACKING_URI, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, ...), after a warm-up that is
flushed and not measured; then a flush. Prints the report `mlflow-trace load --json`
prints, as one JSON object: spans, wall_s, us_per_span (the recording loop),
wall_us_per_span (flush included), cpu_us_per_span (all threads), peak_rss_mb. What was
delivered is counted by the caller (rows in the database, spans at the receiver).
"""
import argparse
import json
import os
import time

NAMES = ["root", "child", "grandchild", "descendant"]


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=6667)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--input-bytes", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    import mlflow

    pad = None if args.input_bytes is None else "x" * max(args.input_bytes - 24, 0)

    def nest(i, level):
        if level == args.depth:
            return
        with mlflow.start_span(name=NAMES[min(level, 3)]) as span:
            inputs = {"x": i, "level": level}
            if pad is not None:
                inputs["pad"] = pad
            span.set_inputs(inputs)
            nest(i, level + 1)
            span.set_outputs({"y": i + 1, "level": level})

    otlp = bool(os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))

    def flush():
        if otlp:
            mlflow.tracing.get_bridged_tracer_provider().force_flush()
        else:
            mlflow.flush_trace_async_logging()

    for i in range(args.warmup):
        nest(i, 0)
    flush()

    spans = args.traces * args.depth
    cpu0 = os.times()
    t0 = time.perf_counter()
    for i in range(args.traces):
        nest(i, 0)
    t1 = time.perf_counter()
    flush()
    t2 = time.perf_counter()
    cpu1 = os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    print(json.dumps({
        "spans": spans,
        "traces": args.traces,
        "depth": args.depth,
        "threads": 1,
        "wall_s": t2 - t0,
        "us_per_span": (t1 - t0) / spans * 1e6,
        "wall_us_per_span": (t2 - t0) / spans * 1e6,
        "cpu_us_per_span": cpu / spans * 1e6,
        "peak_rss_mb": peak_rss_mb(),
        "destination": "OTLP/HTTP" if otlp else "MLflow SQLite store",
    }), flush=True)


if __name__ == "__main__":
    main()
