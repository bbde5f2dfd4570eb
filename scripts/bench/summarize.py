#!/usr/bin/env python3
"""Summarises scripts/bench-compare.sh's results.jsonl: the median of each figure per
configuration, delivery (min-max over runs), and the ratios the performance targets are
stated in (docs/performance.md)."""
import json
import statistics
import sys

LABELS = {
    "otel_discard": "raw Rust OTel 0.33 → discarding exporter",
    "otel_http": "raw Rust OTel → OTLP/HTTP, default queue",
    "otel_http_lossless": "raw Rust OTel → OTLP/HTTP, lossless queue",
    "rust_discard": "this SDK → discarding `TraceExporter`",
    "rust_http": "this SDK → OTLP/HTTP",
    "rust_grpc": "this SDK → OTLP/gRPC",
    "rust_store": "this SDK → `./mlflow.db` (default)",
    "py_http": "MLflow Python 3.17.2 → OTLP/HTTP",
    "py_store": "MLflow Python → default SQLite store",
}


def main(path):
    runs = {}
    for line in open(path):
        r = json.loads(line)
        runs.setdefault(r["config"], []).append(r)
    med = {c: {k: statistics.median(r[k] for r in rs)
               for k in ("us_per_span", "wall_us_per_span", "cpu_us_per_span", "peak_rss_mb")}
           for c, rs in runs.items()}
    print("| system → destination | caller µs/span | wall incl. flush µs/span | CPU µs/span "
          "| peak RSS MiB | delivered | runs |")
    print("|---|---|---|---|---|---|---|")
    for c in LABELS:
        if c not in runs:
            continue
        m, rs = med[c], runs[c]
        shares = [100.0 * r["delivered"] / r["spans"] for r in rs]
        lo, hi = min(shares), max(shares)
        delivered = f"{lo:.0f} %" if round(lo) == round(hi) else f"{lo:.0f}–{hi:.0f} %"
        print(f"| {LABELS[c]} | {m['us_per_span']:.2f} | {m['wall_us_per_span']:.2f} "
              f"| {m['cpu_us_per_span']:.2f} | {m['peak_rss_mb']:.0f} | {delivered} | {len(rs)} |")

    def ratio(what, a, b, key):
        if a in med and b in med and med[b][key] > 0:
            print(f"- {what}: {med[a][key] / med[b][key]:.2f}× "
                  f"({med[a][key]:.2f} / {med[b][key]:.2f} µs/span)")

    print()
    print("Ratios of medians (same run):")
    ratio("caller, this SDK / raw OTel, OTLP/HTTP (lossless queue)", "rust_http", "otel_http_lossless", "us_per_span")
    ratio("caller, this SDK / raw OTel, OTLP/HTTP (default queue)", "rust_http", "otel_http", "us_per_span")
    ratio("caller, this SDK / raw OTel, discarding", "rust_discard", "otel_discard", "us_per_span")
    ratio("caller, MLflow Python / this SDK, OTLP/HTTP", "py_http", "rust_http", "us_per_span")
    ratio("wall incl. flush, MLflow Python / this SDK, default store", "py_store", "rust_store", "wall_us_per_span")
    ratio("CPU, this SDK's store / its OTLP/HTTP", "rust_store", "rust_http", "cpu_us_per_span")
    if "rust_store" in med:
        print(f"- this SDK's store: {1e6 / med['rust_store']['wall_us_per_span']:,.0f} spans/s "
              "(wall incl. flush)")


if __name__ == "__main__":
    main(sys.argv[1])
