//! The JSON of MLflow's trace REST API: the `TraceInfoV3` message a trace is logged with
//! (`StartTraceV3`, as the Python SDK's `message_to_json` writes it) and read back from
//! (`SearchTracesV3`, `GetTrace`), protobuf `Timestamp` and `Duration` in their JSON forms.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::keys::{self, MAX_CHARS_IN_METADATA};
use crate::model::TraceInfo;
use crate::model::size_stats::timestamp_json;
use crate::model::summary::truncate_chars;
use crate::types::TraceState;

/// The REST paths.
pub(super) mod path {
    /// `GET`: the server's version, as plain text.
    pub(crate) const VERSION: &str = "/version";
    /// `POST`: OTLP spans of one experiment (`x-mlflow-experiment-id`).
    pub(crate) const OTLP_TRACES: &str = "/v1/traces";
    /// `POST`: `StartTraceV3`, a trace's info.
    pub(crate) const TRACES: &str = "/api/3.0/mlflow/traces";
    /// `POST`: `SearchTracesV3`.
    pub(crate) const SEARCH_TRACES: &str = "/api/3.0/mlflow/traces/search";
    /// `GET ?trace_id=`: `GetTrace`, the info and the spans.
    pub(crate) const GET_TRACE: &str = "/api/3.0/mlflow/traces/get";
    /// `POST <TRACES>/<trace id>/assessments`: `CreateAssessment`.
    pub(crate) const ASSESSMENTS: &str = "assessments";
    /// `GET ?experiment_name=`.
    pub(crate) const EXPERIMENT_BY_NAME: &str = "/api/2.0/mlflow/experiments/get-by-name";
    /// `GET ?experiment_id=`.
    pub(crate) const EXPERIMENT: &str = "/api/2.0/mlflow/experiments/get";
    /// `POST {"name"}`.
    pub(crate) const CREATE_EXPERIMENT: &str = "/api/2.0/mlflow/experiments/create";
    /// `POST`: `SearchExperiments`.
    pub(crate) const SEARCH_EXPERIMENTS: &str = "/api/2.0/mlflow/experiments/search";
    /// `PUT <path>`: the artifacts the server proxies (`mlflow-artifacts:/<path>`).
    pub(crate) const ARTIFACTS: &str = "/api/2.0/mlflow-artifacts/artifacts";
}

/// The `StartTraceV3` body of `info` in experiment `experiment_id`, with `extra` metadata
/// (the size statistics); values truncated as `TraceInfo.to_proto()` truncates them.
pub(super) fn start_trace(
    info: &TraceInfo,
    experiment_id: &str,
    extra: &[(&str, String)],
) -> Value {
    let mut trace_info = Map::new();
    trace_info.insert("trace_id".into(), info.trace_id().into());
    if let Some(id) = info.client_request_id() {
        trace_info.insert("client_request_id".into(), id.into());
    }
    trace_info.insert(
        "trace_location".into(),
        json!({"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}),
    );
    trace_info.insert(
        "request_time".into(),
        timestamp_json(info.request_time_ms()).into(),
    );
    if let Some(ms) = info.execution_duration_ms() {
        trace_info.insert("execution_duration".into(), duration_json(ms).into());
    }
    trace_info.insert("state".into(), info.state().as_str().into());
    let mut metadata = Map::new();
    let pairs = info
        .metadata()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra.iter().map(|(k, v)| (*k, v.as_str())));
    for (key, value) in pairs {
        metadata.insert(
            truncate_chars(key, MAX_CHARS_IN_METADATA).to_owned(),
            truncate_chars(value, MAX_CHARS_IN_METADATA).into(),
        );
    }
    if !metadata.is_empty() {
        trace_info.insert("trace_metadata".into(), metadata.into());
    }
    let tags: Map<String, Value> = info
        .tags()
        .iter()
        .map(|(k, v)| {
            (
                truncate_chars(k, keys::MAX_CHARS_IN_TAG_KEY).to_owned(),
                truncate_chars(v, keys::MAX_CHARS_IN_TAG_VALUE).into(),
            )
        })
        .collect();
    if !tags.is_empty() {
        trace_info.insert("tags".into(), tags.into());
    }
    if let Some(preview) = info.request_preview() {
        trace_info.insert("request_preview".into(), preview.into());
    }
    if let Some(preview) = info.response_preview() {
        trace_info.insert("response_preview".into(), preview.into());
    }
    json!({"trace": {"trace_info": trace_info}})
}

/// A protobuf `Duration` in JSON for milliseconds: `"0.082s"`, `"2s"` (0 or 3 fractional
/// digits, as protobuf writes a whole number of milliseconds).
pub(super) fn duration_json(ms: i64) -> String {
    let (sign, ms) = if ms < 0 { ("-", -ms) } else { ("", ms) };
    match ms % 1000 {
        0 => format!("{sign}{}s", ms / 1000),
        frac => format!("{sign}{}.{frac:03}s", ms / 1000),
    }
}

/// Milliseconds of a protobuf `Duration` in JSON (`"1.532s"`, `"0.000082s"`).
pub(super) fn parse_duration_ms(text: &str) -> Option<i64> {
    let seconds: f64 = text.strip_suffix('s')?.parse().ok()?;
    Some((seconds * 1000.0).round() as i64)
}

/// Milliseconds since the epoch of a protobuf `Timestamp` in JSON (RFC 3339, UTC:
/// `2026-11-23T19:27:20.679Z`, any number of fractional digits).
pub(super) fn parse_timestamp_ms(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut ymd = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut parts = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    let millis: i64 = format!("{fraction:0<3}").get(..3)?.parse().ok()?;
    // Days from civil (Howard Hinnant).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(((days * 86_400 + h * 3600 + m * 60 + s) * 1000) + millis)
}

/// A `TraceInfoV3` as the server sends it back.
pub(super) fn trace_info(value: &Value) -> Option<TraceInfo> {
    let string = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let map = |key: &str| -> IndexMap<String, String> {
        value
            .get(key)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(TraceInfo {
        trace_id: string("trace_id")?,
        experiment_id: value
            .pointer("/trace_location/mlflow_experiment/experiment_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        request_time_ms: value
            .get("request_time")
            .and_then(Value::as_str)
            .and_then(parse_timestamp_ms)
            .unwrap_or(0),
        execution_duration_ms: value
            .get("execution_duration")
            .and_then(Value::as_str)
            .and_then(parse_duration_ms),
        state: string("state")
            .and_then(|s| TraceState::parse(&s))
            .unwrap_or(TraceState::Unspecified),
        request_preview: string("request_preview"),
        response_preview: string("response_preview"),
        client_request_id: string("client_request_id"),
        metadata: map("trace_metadata"),
        tags: map("tags"),
    })
}

/// The number of spans a trace's `mlflow.trace.sizeStats` announces.
pub(super) fn announced_spans(info: &TraceInfo) -> Option<usize> {
    let stats: Value =
        serde_json::from_str(info.metadata().get(keys::metadata::SIZE_STATS)?).ok()?;
    stats
        .get("num_spans")
        .and_then(Value::as_u64)
        .map(|n| n as usize)
}

/// A percent-encoded query parameter value.
pub(super) fn query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_timestamps_in_protobuf_json() {
        assert_eq!(duration_json(82), "0.082s");
        assert_eq!(duration_json(1532), "1.532s");
        assert_eq!(duration_json(2000), "2s");
        assert_eq!(duration_json(0), "0s");
        assert_eq!(parse_duration_ms("0.082s"), Some(82));
        assert_eq!(parse_duration_ms("2s"), Some(2000));
        assert_eq!(parse_duration_ms("soon"), None);
        for ms in [1795462123628, 1795462123000, 0, 951_782_400_000] {
            assert_eq!(parse_timestamp_ms(&timestamp_json(ms)), Some(ms));
        }
        assert_eq!(
            parse_timestamp_ms("2026-11-23T19:27:20.679123Z"),
            Some(1795462040679)
        );
        assert_eq!(parse_timestamp_ms("yesterday"), None);
    }

    #[test]
    fn start_trace_matches_the_python_sdk_capture() {
        // f_dual_simple.rest.jsonl: the StartTraceV3 body of the one-span trace.
        let mut metadata = IndexMap::new();
        for (k, v) in [
            ("mlflow.user", "root"),
            ("mlflow.traceInputs", "{\"a\": 1}"),
            ("mlflow.trace_schema.version", "3"),
        ] {
            metadata.insert(k.to_owned(), v.to_owned());
        }
        let info = TraceInfo {
            trace_id: "tr-db42bdea308ab904fa22031e37d0aca2".into(),
            experiment_id: None,
            request_time_ms: 1795462031216,
            execution_duration_ms: Some(31),
            state: TraceState::Ok,
            request_preview: Some("{\"a\": 1}".into()),
            response_preview: Some("{\"b\": 2}".into()),
            client_request_id: None,
            metadata,
            tags: [("mlflow.traceName".to_owned(), "foo".to_owned())]
                .into_iter()
                .collect(),
        };
        let body = start_trace(&info, "1", &[("mlflow.trace.sizeBytes", "1215".into())]);
        assert_eq!(
            body,
            json!({"trace": {"trace_info": {
                "trace_id": "tr-db42bdea308ab904fa22031e37d0aca2",
                "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "1"}},
                "request_time": "2026-11-23T19:27:11.216Z",
                "execution_duration": "0.031s",
                "state": "OK",
                "trace_metadata": {
                    "mlflow.user": "root",
                    "mlflow.traceInputs": "{\"a\": 1}",
                    "mlflow.trace_schema.version": "3",
                    "mlflow.trace.sizeBytes": "1215"
                },
                "tags": {"mlflow.traceName": "foo"},
                "request_preview": "{\"a\": 1}",
                "response_preview": "{\"b\": 2}"
            }}})
        );
        let back = trace_info(&body["trace"]["trace_info"]).unwrap();
        assert_eq!(back.experiment_id(), Some("1"));
        assert_eq!(back.request_time_ms(), 1795462031216);
        assert_eq!(back.execution_duration_ms(), Some(31));
        assert_eq!(back.name(), Some("foo"));
        assert_eq!(back.metadata()["mlflow.trace.sizeBytes"], "1215");
    }

    #[test]
    fn long_values_are_truncated_as_python_truncates_them() {
        let mut info = trace_info(&json!({"trace_id": "tr-1", "state": "ERROR"})).unwrap();
        info.metadata.insert("k".into(), "é".repeat(300));
        info.tags.insert("t".into(), "x".repeat(5000));
        let body = start_trace(&info, "0", &[]);
        let sent = &body["trace"]["trace_info"];
        assert_eq!(
            sent["trace_metadata"]["k"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            250
        );
        assert_eq!(sent["tags"]["t"].as_str().unwrap().len(), 4096);
        assert_eq!(sent["state"], "ERROR");
        assert_eq!(query_value("my exp/1"), "my+exp%2F1");
    }
}
