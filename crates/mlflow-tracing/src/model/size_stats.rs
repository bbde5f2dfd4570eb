//! MLflow's `mlflow.trace.sizeStats`: the JSON size of each span and of the trace info, as
//! the Python SDK 3.17 computes it (`utils/__init__.py`).

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value};

use super::summary::truncate_chars;
use super::{Span, TraceInfo};
use crate::keys::{self, MAX_CHARS_IN_METADATA};

/// MLflow's `mlflow.trace.sizeStats` value and total size: each span's JSON size, the trace
/// info's JSON size and the separators between spans; percentiles by linear interpolation.
#[cfg_attr(not(feature = "mlflow-server"), allow(dead_code))]
pub(crate) fn size_stats(info: &TraceInfo, spans: &[Span]) -> (Map<String, Value>, usize) {
    size_stats_of(
        info,
        spans.iter().map(Span::mlflow_json_ascii_len).collect(),
    )
}

/// [`size_stats`] with each span's size already known (`Span::mlflow_json_ascii_len`),
/// for a writer that encodes the spans anyway.
#[cfg_attr(not(feature = "local-store"), allow(dead_code))]
pub(crate) fn size_stats_of(
    info: &TraceInfo,
    mut sizes: Vec<usize>,
) -> (Map<String, Value>, usize) {
    let info_size = crate::json::ascii_len(&EmptyTrace(info));
    let total = sizes.iter().sum::<usize>() + info_size + 2 * sizes.len().saturating_sub(1);
    sizes.sort_unstable();
    let mut stats = Map::new();
    stats.insert("total_size_bytes".into(), total.into());
    stats.insert("num_spans".into(), sizes.len().into());
    stats.insert("max".into(), sizes.last().copied().unwrap_or(0).into());
    for (key, p) in [("p25", 0.25), ("p50", 0.5), ("p75", 0.75)] {
        stats.insert(key.into(), (percentile(&sizes, p) as u64).into());
    }
    (stats, total)
}

fn percentile(sorted: &[usize], p: f64) -> f64 {
    let Some(last) = sorted.last() else {
        return 0.0;
    };
    let index = p * (sorted.len() - 1) as f64;
    let lower = index as usize;
    if lower + 1 >= sorted.len() {
        return *last as f64;
    }
    let weight = index - lower as f64;
    sorted[lower] as f64 * (1.0 - weight) + sorted[lower + 1] as f64 * weight
}

/// `Trace(info, TraceData([])).to_json()`: `TraceInfo.to_dict()` of MLflow 3.17 with no
/// spans. Only its length matters; the layout follows `MessageToDict` of the proto.
struct EmptyTrace<'a>(&'a TraceInfo);

impl Serialize for EmptyTrace<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let info = self.0;
        // Keys cut to the limit could collide (Python's dict keeps one of them): that
        // rare case goes through a map; the usual one is written as it is read.
        let collides = |map: &IndexMap<String, String>, limit: usize| {
            map.keys().any(|k| truncate_chars(k, limit).len() < k.len())
        };
        if collides(&info.metadata, MAX_CHARS_IN_METADATA)
            || collides(&info.tags, keys::MAX_CHARS_IN_TAG_KEY)
        {
            return info_as_map(info).serialize(serializer);
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("info", &InfoDict(info))?;
        map.serialize_entry("data", &Single("spans", [(); 0]))?;
        map.end()
    }
}

/// `TraceInfo.to_dict()`, written field by field.
struct InfoDict<'a>(&'a TraceInfo);

impl Serialize for InfoDict<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let info = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("trace_id", &info.trace_id)?;
        if let Some(id) = &info.client_request_id {
            map.serialize_entry("client_request_id", id)?;
        }
        if let Some(experiment_id) = &info.experiment_id {
            map.serialize_entry("trace_location", &Location(experiment_id))?;
        }
        map.serialize_entry("request_time", &timestamp_json(info.request_time_ms))?;
        map.serialize_entry("state", info.state.as_str())?;
        if !info.metadata.is_empty() {
            let metadata = Truncated(&info.metadata, MAX_CHARS_IN_METADATA, MAX_CHARS_IN_METADATA);
            map.serialize_entry("trace_metadata", &metadata)?;
        }
        if !info.tags.is_empty() {
            let tags = Truncated(
                &info.tags,
                keys::MAX_CHARS_IN_TAG_KEY,
                keys::MAX_CHARS_IN_TAG_VALUE,
            );
            map.serialize_entry("tags", &tags)?;
        }
        if let Some(p) = &info.request_preview {
            map.serialize_entry("request_preview", p)?;
        }
        if let Some(p) = &info.response_preview {
            map.serialize_entry("response_preview", p)?;
        }
        if let Some(d) = info.execution_duration_ms {
            map.serialize_entry("execution_duration_ms", &d)?;
        }
        map.end()
    }
}

/// `{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": …}}`.
struct Location<'a>(&'a str);

impl Serialize for Location<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("type", "MLFLOW_EXPERIMENT")?;
        map.serialize_entry("mlflow_experiment", &Single("experiment_id", self.0))?;
        map.end()
    }
}

/// A map of one entry.
struct Single<'a, T>(&'a str, T);

impl<T: Serialize> Serialize for Single<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.0, &self.1)?;
        map.end()
    }
}

/// Keys and values cut to MLflow's limits (in characters).
struct Truncated<'a>(&'a IndexMap<String, String>, usize, usize);

impl Serialize for Truncated<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .iter()
                .map(|(k, v)| (truncate_chars(k, self.1), truncate_chars(v, self.2))),
        )
    }
}

/// The same dict built as a map: keys cut to the limit that collide keep one entry.
fn info_as_map(info: &TraceInfo) -> Value {
    let mut dict = Map::new();
    dict.insert("trace_id".into(), info.trace_id.clone().into());
    if let Some(id) = &info.client_request_id {
        dict.insert("client_request_id".into(), id.clone().into());
    }
    if let Some(experiment_id) = &info.experiment_id {
        dict.insert(
            "trace_location".into(),
            serde_json::json!({
                "type": "MLFLOW_EXPERIMENT",
                "mlflow_experiment": {"experiment_id": experiment_id},
            }),
        );
    }
    dict.insert(
        "request_time".into(),
        timestamp_json(info.request_time_ms).into(),
    );
    dict.insert("state".into(), info.state.as_str().into());
    let cut = |map: &IndexMap<String, String>, key_limit: usize, value_limit: usize| {
        map.iter()
            .map(|(k, v)| {
                (
                    truncate_chars(k, key_limit).to_owned(),
                    Value::from(truncate_chars(v, value_limit)),
                )
            })
            .collect::<Map<String, Value>>()
    };
    if !info.metadata.is_empty() {
        let metadata = cut(&info.metadata, MAX_CHARS_IN_METADATA, MAX_CHARS_IN_METADATA);
        dict.insert("trace_metadata".into(), metadata.into());
    }
    if !info.tags.is_empty() {
        let tags = cut(
            &info.tags,
            keys::MAX_CHARS_IN_TAG_KEY,
            keys::MAX_CHARS_IN_TAG_VALUE,
        );
        dict.insert("tags".into(), tags.into());
    }
    if let Some(p) = &info.request_preview {
        dict.insert("request_preview".into(), p.clone().into());
    }
    if let Some(p) = &info.response_preview {
        dict.insert("response_preview".into(), p.clone().into());
    }
    if let Some(d) = info.execution_duration_ms {
        dict.insert("execution_duration_ms".into(), d.into());
    }
    serde_json::json!({"info": dict, "data": {"spans": []}})
}

/// A protobuf `Timestamp` in JSON form for a millisecond time: RFC 3339 UTC, with `.mmm`
/// only when the milliseconds are not zero.
pub(crate) fn timestamp_json(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (date, time) = civil_from_unix(secs);
    if millis == 0 {
        format!("{date}T{time}Z")
    } else {
        format!("{date}T{time}.{millis:03}Z")
    }
}

/// `(YYYY-MM-DD, HH:MM:SS)` for Unix seconds (proleptic Gregorian, UTC).
pub(crate) fn civil_from_unix(secs: i64) -> (String, String) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::TraceState;

    fn info(metadata: &[(&str, &str)], tags: &[(&str, &str)]) -> TraceInfo {
        TraceInfo {
            trace_id: "tr-2595d2b5032242e48f6a6b461726e3db".into(),
            experiment_id: Some("0".into()),
            request_time_ms: 1795462123628,
            execution_duration_ms: Some(42),
            state: TraceState::Ok,
            request_preview: Some("{\"a\": 1}".into()),
            response_preview: Some("{\"b\": 2}".into()),
            client_request_id: None,
            metadata: metadata
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        }
    }

    #[cfg(any(feature = "local-store", feature = "mlflow-server"))]
    #[test]
    fn size_stats_match_the_python_sdk() {
        // Expected sizes computed with mlflow 3.17.2:
        // len(Trace(info=TraceInfo(...same fields...), data=TraceData([])).to_json()) == 716
        let info = info(
            &[
                ("mlflow.user", "root"),
                (
                    "mlflow.source.name",
                    "research/golden/i_default_destination.py",
                ),
                ("mlflow.source.type", "LOCAL"),
                ("mlflow.source.git.commit", ""),
                ("mlflow.source.git.repoURL", ""),
                ("mlflow.source.git.branch", ""),
                ("mlflow.trace_schema.version", "3"),
                ("mlflow.traceInputs", "{\"a\": 1}"),
                ("mlflow.traceOutputs", "{\"b\": 2}"),
            ],
            &[("mlflow.traceName", "foo")],
        );
        let spans = vec![crate::model::sample_span()];
        let (stats, total) = size_stats(&info, &spans);
        assert_eq!(total, 716 + 492);
        assert_eq!(
            crate::json::dumps(&stats),
            "{\"total_size_bytes\": 1208, \"num_spans\": 1, \"max\": 492, \"p25\": 492, \"p50\": 492, \"p75\": 492}"
        );
    }

    #[cfg(any(feature = "local-store", feature = "mlflow-server"))]
    #[test]
    fn size_stats_truncate_and_escape_like_python() {
        // mlflow 3.17.2: TraceInfo(trace_id="tr-000…01", experiment "12",
        // request_time=1795462123000, execution_duration=3, ERROR, client_request_id="req-1",
        // request_preview="héllo", metadata {"k": "é"*300, "x"*260: "v"},
        // tags {"mlflow.traceName": "naïve", "t": "😀"*5000}) -> 51321 bytes.
        let mut info = info(&[], &[]);
        info.trace_id = "tr-00000000000000000000000000000001".into();
        info.experiment_id = Some("12".into());
        info.request_time_ms = 1795462123000;
        info.execution_duration_ms = Some(3);
        info.state = TraceState::Error;
        info.client_request_id = Some("req-1".into());
        info.request_preview = Some("héllo".into());
        info.response_preview = None;
        info.metadata.insert("k".into(), "é".repeat(300));
        info.metadata.insert("x".repeat(260), "v".into());
        info.tags.insert("mlflow.traceName".into(), "naïve".into());
        info.tags.insert("t".into(), "😀".repeat(5000));
        let (_, total) = size_stats(&info, &[]);
        assert_eq!(total, 51321);
    }

    #[cfg(any(feature = "local-store", feature = "mlflow-server"))]
    #[test]
    fn written_field_by_field_or_as_a_map_the_json_is_the_same() {
        let mut info = info(&[("mlflow.user", "é"), ("k", "v")], &[("t", "😀")]);
        info.client_request_id = Some("req".into());
        assert_eq!(
            crate::json::dumps(&EmptyTrace(&info)),
            crate::json::dumps(&info_as_map(&info))
        );
        // Keys that collide once cut: one entry, as in Python.
        info.metadata
            .insert(format!("{}a", "x".repeat(250)), "1".into());
        info.metadata
            .insert(format!("{}b", "x".repeat(250)), "2".into());
        let json = crate::json::dumps(&EmptyTrace(&info));
        assert_eq!(json.matches(&"x".repeat(250)).count(), 1, "{json}");
    }

    #[cfg(any(feature = "local-store", feature = "mlflow-server"))]
    #[test]
    fn percentiles_interpolate() {
        // The chain trace written by the Python SDK: spans of 717, 1097 and 1162 bytes gave
        // "p25": 907, "p50": 1097, "p75": 1129.
        assert_eq!(percentile(&[717, 1097, 1162], 0.25), 907.0);
        assert_eq!(percentile(&[717, 1097, 1162], 0.5), 1097.0);
        assert_eq!(percentile(&[717, 1097, 1162], 0.75) as u64, 1129);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[cfg(any(feature = "local-store", feature = "mlflow-server"))]
    #[test]
    fn timestamps() {
        assert_eq!(timestamp_json(1795462123628), "2026-11-23T19:28:43.628Z");
        assert_eq!(timestamp_json(1795462123000), "2026-11-23T19:28:43Z");
        assert_eq!(timestamp_json(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp_json(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
