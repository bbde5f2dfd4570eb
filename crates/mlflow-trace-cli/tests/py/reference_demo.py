"""The demo's two traces written by the MLflow Python SDK, for comparison with the Rust
demo. Run in an empty directory with nothing configured: writes ./mlflow.db.
Prints the two trace ids."""

import mlflow
from mlflow.entities import SpanType
from mlflow.tracing.constant import SpanAttributeKey

with mlflow.start_span(name="foo") as span:
    span.set_inputs({"a": 1})
    span.set_outputs({"b": 2})
print(mlflow.get_last_active_trace_id())

with mlflow.start_span(name="chain", span_type=SpanType.CHAIN) as parent:
    parent.set_inputs({"question": "What is MLflow?"})
    parent.set_attributes({
        "custom.str": "hello", "custom.int": 7, "custom.float": 0.5, "custom.bool": True,
        "custom.list": [1, 2, 3], "custom.dict": {"k": "v"},
    })
    mlflow.update_current_trace(
        tags={"env": "golden", "team": "anchors"}, metadata={"app.version": "1.2.3"},
        session_id="session-1", user="user-1",
    )
    with mlflow.start_span(name="llm", span_type=SpanType.LLM) as llm:
        llm.set_inputs({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "What is MLflow?"},
            ],
            "temperature": 0.0,
        })
        llm.set_outputs({
            "id": "chatcmpl-123", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "MLflow is an open source MLOps platform."},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
        })
        llm.set_attribute(SpanAttributeKey.CHAT_USAGE, {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19})
    try:
        with mlflow.start_span(name="failing_tool", span_type=SpanType.TOOL) as tool:
            tool.set_inputs({"query": "boom"})
            raise ValueError("tool failed")
    except ValueError:
        pass
    parent.set_outputs({"answer": "MLflow is an open source MLOps platform."})
mlflow.flush_trace_async_logging()
print(mlflow.get_last_active_trace_id())
