//! Assessments in the local store, as MLflow's `SqlAlchemyStore.create_assessment` writes
//! them (one `assessments` row: the value as `json.dumps`, the experiment and the trace's
//! timestamp copied from `trace_info`, the numeric aggregate), and read back.

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;

use super::{BUSY_TIMEOUT, LocalStore, StoreError, now_ms, retry_locked, sqlite_err};
use crate::json;
use crate::model::assessment::{
    Assessment, AssessmentError, AssessmentKind, AssessmentSource, NewAssessment, new_assessment_id,
};

/// MLflow's `assessment_aggregate`: the value as a number for aggregation, and whether
/// it is a genuine number (booleans and yes/no count as 1/0 without being numeric).
fn aggregate(value: &Value) -> (Option<f64>, bool) {
    match value {
        Value::Bool(b) => (Some(if *b { 1.0 } else { 0.0 }), false),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() => (Some(f), true),
            _ => (None, false),
        },
        Value::String(s) => match s.trim().to_lowercase().as_str() {
            "yes" => (Some(1.0), false),
            "no" => (Some(0.0), false),
            _ => (None, false),
        },
        _ => (None, false),
    }
}

const COLUMNS: &str = "assessment_id, trace_id, name, assessment_type, value, error, \
     created_timestamp, last_updated_timestamp, source_type, source_id, span_id, rationale, \
     overrides, valid, assessment_metadata";

impl LocalStore {
    /// Logs an assessment of `trace_id` as MLflow's SQL store does; the stored assessment
    /// is returned. Waits for another process's lock like the writer does.
    pub(crate) fn log_assessment(
        &self,
        trace_id: &str,
        new: &NewAssessment,
    ) -> Result<Assessment, StoreError> {
        if new.name.is_empty() {
            return Err(StoreError::InvalidSearch {
                message: "an assessment needs a name (got an empty one)".to_owned(),
            });
        }
        let mut conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite_err(format!("opening {}", self.path.display())))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite_err("setting the busy timeout"))?;
        let id = new_assessment_id();
        let now = now_ms();
        let (aggregate_value, is_numeric) = aggregate(&new.value);
        let metadata = (!new.metadata.is_empty()).then(|| json::dumps(&new.metadata));
        let error = new.error.as_ref().map(|e| json::dumps(&e.to_json()));
        let written = retry_locked(|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let trace: Option<(i64, i64)> = tx
                .query_row(
                    "SELECT experiment_id, timestamp_ms FROM trace_info WHERE request_id = ?1",
                    [trace_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((experiment_id, timestamp_ms)) = trace else {
                return Ok(false);
            };
            tx.execute(
                &format!(
                    "INSERT INTO assessments ({COLUMNS}, run_id, experiment_id, \
                     trace_timestamp_ms, aggregate_value, is_numeric_value) VALUES (?1, ?2, ?3, \
                     ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11, NULL, 1, ?12, NULL, ?13, ?14, ?15, ?16)"
                ),
                params![
                    id,
                    trace_id,
                    new.name,
                    new.kind.as_str(),
                    json::dumps(&new.value),
                    error,
                    now,
                    new.source.source_type,
                    new.source.source_id,
                    new.span_id,
                    new.rationale,
                    metadata,
                    experiment_id,
                    timestamp_ms,
                    aggregate_value,
                    is_numeric,
                ],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .map_err(sqlite_err(format!("logging an assessment of {trace_id}")))?;
        if !written {
            return Err(StoreError::NoSuchTrace {
                trace_id: trace_id.to_owned(),
            });
        }
        Ok(Assessment {
            assessment_id: id,
            trace_id: trace_id.to_owned(),
            new: new.clone(),
            create_time_ms: now,
            last_update_time_ms: now,
            valid: true,
            overrides: None,
        })
    }

    /// The assessments of `trace_id`, oldest first.
    pub fn assessments(&self, trace_id: &str) -> Result<Vec<Assessment>, StoreError> {
        let context = || format!("reading the assessments of {trace_id}");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM assessments WHERE trace_id = ?1 \
                 AND assessment_type IN ('feedback', 'expectation') \
                 ORDER BY created_timestamp, assessment_id"
            ))
            .map_err(sqlite_err(context()))?;
        let rows = stmt
            .query_map([trace_id], |r| {
                let kind = match r.get::<_, String>(3)?.as_str() {
                    "expectation" => AssessmentKind::Expectation,
                    _ => AssessmentKind::Feedback,
                };
                let parse = |text: Option<String>| {
                    text.and_then(|t| serde_json::from_str::<Value>(&t).ok())
                };
                let metadata = parse(r.get(14)?)
                    .and_then(|v| v.as_object().cloned())
                    .map(|m| {
                        m.into_iter()
                            .map(|(k, v)| match v {
                                Value::String(s) => (k, s),
                                other => (k, json::dumps(&other)),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(Assessment {
                    assessment_id: r.get(0)?,
                    trace_id: r.get(1)?,
                    new: NewAssessment {
                        kind,
                        name: r.get(2)?,
                        value: parse(r.get(4)?).unwrap_or(Value::Null),
                        error: parse(r.get(5)?).and_then(|e| AssessmentError::from_json(&e)),
                        source: AssessmentSource {
                            source_type: r.get(8)?,
                            source_id: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                        },
                        span_id: r.get(10)?,
                        rationale: r.get(11)?,
                        metadata,
                    },
                    create_time_ms: r.get(6)?,
                    last_update_time_ms: r.get(7)?,
                    overrides: r.get(12)?,
                    valid: r.get(13)?,
                })
            })
            .map_err(sqlite_err(context()))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(sqlite_err(context()))
    }
}

#[cfg(test)]
mod tests {
    use super::aggregate;
    use serde_json::json;

    #[test]
    fn aggregates_as_mlflow() {
        assert_eq!(aggregate(&json!(true)), (Some(1.0), false));
        assert_eq!(aggregate(&json!(0.5)), (Some(0.5), true));
        assert_eq!(aggregate(&json!(3)), (Some(3.0), true));
        assert_eq!(aggregate(&json!(" Yes ")), (Some(1.0), false));
        assert_eq!(aggregate(&json!("maybe")), (None, false));
        assert_eq!(aggregate(&json!({"a": 1})), (None, false));
    }
}
