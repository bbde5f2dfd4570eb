//! Assessments on a tracking server: `CreateAssessment`
//! (`POST /api/3.0/mlflow/traces/<trace id>/assessments`) with the JSON the Python
//! client's `Assessment.to_proto()` makes, and the assessments `GetTrace` returns with a
//! trace's info.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::protocol::{parse_timestamp_ms, path, query_value};
use super::read::{ServerReader, with_client};
use crate::error::ServerError;
use crate::json;
use crate::model::assessment::{
    Assessment, AssessmentError, AssessmentKind, AssessmentSource, NewAssessment,
};
use crate::model::size_stats::timestamp_json;

/// The JSON of `Assessment.to_proto()` for a new assessment created at `now_ms`.
pub(super) fn assessment_json(trace_id: &str, new: &NewAssessment, now_ms: i64) -> Value {
    let mut a = Map::new();
    a.insert("assessment_name".into(), new.name.clone().into());
    a.insert("trace_id".into(), trace_id.into());
    a.insert(
        "source".into(),
        json!({"source_type": new.source.source_type, "source_id": new.source.source_id}),
    );
    a.insert("create_time".into(), timestamp_json(now_ms).into());
    a.insert("last_update_time".into(), timestamp_json(now_ms).into());
    if let Some(span_id) = &new.span_id {
        a.insert("span_id".into(), span_id.clone().into());
    }
    if let Some(rationale) = &new.rationale {
        a.insert("rationale".into(), rationale.clone().into());
    }
    match new.kind {
        AssessmentKind::Feedback => {
            let mut feedback = Map::new();
            feedback.insert("value".into(), new.value.clone());
            if let Some(error) = &new.error {
                feedback.insert("error".into(), error.to_json());
            }
            a.insert("feedback".into(), Value::Object(feedback));
        }
        AssessmentKind::Expectation => {
            // Python sends lists and maps as JSON text, other values as they are.
            let expectation = match &new.value {
                v @ (Value::Array(_) | Value::Object(_)) => json!({"serialized_value": {
                    "serialization_format": "JSON_FORMAT",
                    "value": json::dumps(v),
                }}),
                v => json!({"value": v}),
            };
            a.insert("expectation".into(), expectation);
        }
    }
    if !new.metadata.is_empty() {
        a.insert("metadata".into(), json!(new.metadata));
    }
    json!({"assessment": Value::Object(a)})
}

/// An assessment from the server's JSON (`Assessment` message).
pub(super) fn assessment_from_json(v: &Value) -> Option<Assessment> {
    let (kind, value, error) = if let Some(feedback) = v.get("feedback") {
        (
            AssessmentKind::Feedback,
            feedback.get("value").cloned().unwrap_or(Value::Null),
            feedback.get("error").and_then(AssessmentError::from_json),
        )
    } else {
        let expectation = v.get("expectation")?;
        let value = match expectation.get("serialized_value") {
            Some(serialized) => serialized["value"]
                .as_str()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or(Value::Null),
            None => expectation.get("value").cloned().unwrap_or(Value::Null),
        };
        (AssessmentKind::Expectation, value, None)
    };
    let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let time = |key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .and_then(parse_timestamp_ms)
            .unwrap_or_default()
    };
    let metadata: IndexMap<String, String> = v
        .get("metadata")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Assessment {
        assessment_id: text("assessment_id")?,
        trace_id: text("trace_id").unwrap_or_default(),
        new: NewAssessment {
            kind,
            name: text("assessment_name")?,
            value,
            error,
            source: AssessmentSource {
                source_type: v["source"]["source_type"]
                    .as_str()
                    .unwrap_or("CODE")
                    .to_owned(),
                source_id: v["source"]["source_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            },
            rationale: text("rationale"),
            metadata,
            span_id: text("span_id").filter(|s| !s.is_empty()),
        },
        create_time_ms: time("create_time"),
        last_update_time_ms: time("last_update_time"),
        valid: v.get("valid").and_then(Value::as_bool).unwrap_or(true),
        overrides: text("overrides"),
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl ServerReader {
    /// `CreateAssessment`: logs an assessment of `trace_id`; the server's copy is returned.
    pub(crate) fn log_assessment(
        &self,
        trace_id: &str,
        new: &NewAssessment,
    ) -> Result<Assessment, ServerError> {
        with_client(&self.connection, |client| {
            let body = assessment_json(trace_id, new, now_ms());
            let target = format!(
                "{}/{}/{}",
                path::TRACES,
                query_value(trace_id),
                path::ASSESSMENTS
            );
            let answer = client.post(&target, &body)?;
            assessment_from_json(&answer["assessment"]).ok_or_else(|| {
                ServerError::new(
                    format!(
                        "the server's answer to CreateAssessment for {trace_id} has no assessment"
                    ),
                    None,
                    None,
                    false,
                )
            })
        })
    }

    /// The assessments of `trace_id`, as `GetTrace` returns them with its info.
    pub(crate) fn assessments(&self, trace_id: &str) -> Result<Vec<Assessment>, ServerError> {
        with_client(&self.connection, |client| {
            let query = format!("{}?trace_id={}", path::GET_TRACE, query_value(trace_id));
            let answer = client.get(&query)?;
            Ok(answer["trace"]["trace_info"]["assessments"]
                .as_array()
                .map(|all| all.iter().filter_map(assessment_from_json).collect())
                .unwrap_or_default())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Expectation, Feedback};

    #[test]
    fn the_json_is_what_the_python_client_sends_and_reads_back() {
        let feedback = Feedback::new("correct", true)
            .rationale("because")
            .metadata("k", "v")
            .span_id("e3ea4aef9d547db3");
        let body = assessment_json("tr-1", &feedback.0, 1_796_043_074_187);
        assert_eq!(
            body,
            json!({"assessment": {
                "assessment_name": "correct", "trace_id": "tr-1",
                "source": {"source_type": "CODE", "source_id": "default"},
                "create_time": "2026-11-30T12:51:14.187Z", "last_update_time": "2026-11-30T12:51:14.187Z",
                "span_id": "e3ea4aef9d547db3", "rationale": "because",
                "feedback": {"value": true}, "metadata": {"k": "v"}
            }})
        );
        let mut stored = body["assessment"].clone();
        stored["assessment_id"] = "a-1".into();
        let back = assessment_from_json(&stored).unwrap();
        assert_eq!(back.new, feedback.0);
        assert_eq!(back.create_time_ms(), 1_796_043_074_187);
        let expectation = Expectation::new("expected", json!({"answer": "x"}));
        let body = assessment_json("tr-1", &expectation.0, 0);
        assert_eq!(
            body["assessment"]["expectation"],
            json!({"serialized_value": {"serialization_format": "JSON_FORMAT", "value": "{\"answer\": \"x\"}"}})
        );
        let mut stored = body["assessment"].clone();
        stored["assessment_id"] = "a-2".into();
        assert_eq!(
            assessment_from_json(&stored).unwrap().value(),
            &json!({"answer": "x"})
        );
    }
}
