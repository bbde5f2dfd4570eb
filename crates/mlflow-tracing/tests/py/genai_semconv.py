"""Runs MLflow 3.17.2's own GenAI semantic-conventions translator
(mlflow.tracing.export.genai_semconv.translator.translate_span_to_genai, as its
OtelSpanProcessor calls it: a span it fails on is sent unchanged) on spans read from stdin
as JSON, and prints what it makes of them.

Input: [{"name", "attributes": [[key, typed]]}], typed = {"s"|"i"|"d"|"b": v} or {"a": [typed]}.
Output: [{"name", "kind", "attributes": [[key, typed]]}]."""

import json
import sys

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind

from mlflow.tracing.export.genai_semconv.translator import translate_span_to_genai


def decode(typed):
    ((kind, value),) = typed.items()
    if kind == "a":
        return tuple(decode(v) for v in value)
    return value


def encode(value):
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": value}
    if isinstance(value, float):
        return {"d": value}
    if isinstance(value, str):
        return {"s": value}
    if isinstance(value, (list, tuple)):
        return {"a": [encode(v) for v in value]}
    return {"other": repr(value)}


out = []
for i, span in enumerate(json.load(sys.stdin)):
    readable = ReadableSpan(
        name=span["name"],
        context=SpanContext(trace_id=1, span_id=i + 1, is_remote=False),
        attributes={k: decode(v) for k, v in span["attributes"]},
        kind=SpanKind.INTERNAL,
    )
    try:
        translated = translate_span_to_genai(readable)
    except Exception:
        translated = readable
    out.append({
        "name": translated.name,
        "kind": translated.kind.name,
        "attributes": [[k, encode(v)] for k, v in translated.attributes.items()],
    })
print(json.dumps(out))
