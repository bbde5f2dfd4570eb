//! Annotating traces through a [`TraceReader`]: `log_feedback` and `log_expectation` (on a
//! trace, or a span of it), and the assessments of a trace, as MLflow's Python client
//! logs and reads them, on a local store or a tracking server.

use super::reader::{Inner, TraceReader};
use crate::error::ReadError;
use crate::model::assessment::NewAssessment;
use crate::model::{Assessment, Expectation, Feedback};

impl TraceReader {
    /// Logs feedback on a trace (or, with [`Feedback::span_id`], one of its spans):
    /// `mlflow.log_feedback`. Returns the stored assessment, with its id.
    ///
    /// ```no_run
    /// use mlflow_tracing::{AssessmentSource, Feedback, Tracing};
    ///
    /// let reader = Tracing::builder().reader()?;
    /// reader.log_feedback(
    ///     "tr-0123456789abcdef0123456789abcdef",
    ///     Feedback::new("correctness", 0.8).source(AssessmentSource::llm_judge("judge-1")),
    /// )?;
    /// # Ok::<(), mlflow_tracing::ReadError>(())
    /// ```
    pub fn log_feedback(
        &self,
        trace_id: &str,
        feedback: Feedback,
    ) -> Result<Assessment, ReadError> {
        self.log(trace_id, &feedback.0)
    }

    /// Logs an expectation (the expected result) on a trace or span:
    /// `mlflow.log_expectation`.
    pub fn log_expectation(
        &self,
        trace_id: &str,
        expectation: Expectation,
    ) -> Result<Assessment, ReadError> {
        self.log(trace_id, &expectation.0)
    }

    /// The assessments of a trace (feedback and expectations), as MLflow's
    /// `trace.info.assessments`.
    pub fn get_assessments(&self, trace_id: &str) -> Result<Vec<Assessment>, ReadError> {
        Ok(match &self.inner {
            #[cfg(feature = "local-store")]
            Inner::Local { store, .. } => store.assessments(trace_id)?,
            Inner::Server(server) => server.assessments(trace_id)?,
        })
    }

    fn log(&self, trace_id: &str, new: &NewAssessment) -> Result<Assessment, ReadError> {
        Ok(match &self.inner {
            #[cfg(feature = "local-store")]
            Inner::Local { store, .. } => store.log_assessment(trace_id, new)?,
            Inner::Server(server) => server.log_assessment(trace_id, new)?,
        })
    }
}
