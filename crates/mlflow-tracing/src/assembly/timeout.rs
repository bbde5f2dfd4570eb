//! The trace timeout (`MLFLOW_TRACE_TIMEOUT_SECONDS`), as MLflow's `MlflowTraceTimeoutCache`
//! applies it: a trace still open after the timeout has its root span ended with status
//! ERROR and an `exception` event (`MlflowTracingException`, MLflow's message), and is
//! exported. Unlike MLflow, which leaves the other open spans unended (stored without an
//! end time), they are ended with status ERROR too, so the trace is whole and every span
//! has a duration. The buffer TTL still applies after this, as the memory safety net.

use opentelemetry::trace::TraceId;

use super::Assembler;
use crate::report;

/// The exception type MLflow records on a timed-out root span.
pub(super) const TIMEOUT_EXCEPTION_TYPE: &str = "MlflowTracingException";

/// MLflow's `_TRACE_EXPIRATION_MSG`.
pub(super) fn timeout_message(request_id: &str, timeout_secs: u64) -> String {
    format!(
        "Trace {request_id} is timed out after {timeout_secs} seconds. The operation may be \
         stuck or taking too long to complete. To increase the timeout, set the environment \
         variable MLFLOW_TRACE_TIMEOUT_SECONDS to a larger value."
    )
}

impl Assembler {
    /// Ends the open spans of every trace open longer than the timeout. Their spans then
    /// arrive like any ended span, and the trace finishes and is exported as usual.
    pub(super) fn end_timed_out(&mut self) {
        let Some(timeout) = self.settings.trace_timeout else {
            return;
        };
        let expired: Vec<TraceId> = self
            .pending
            .iter()
            .filter(|(_, p)| !p.timed_out && p.created.elapsed() >= timeout)
            .map(|(id, _)| *id)
            .collect();
        for trace_id in expired {
            let Some(pending) = self.pending.get_mut(&trace_id) else {
                continue;
            };
            pending.timed_out = true;
            let shared = pending.shared.clone();
            // MLflow formats the timeout as the integer it read.
            let secs = timeout.as_secs().max(u64::from(timeout.subsec_nanos() > 0));
            let message = timeout_message(&shared.request_id, secs);
            // Every part of the trace this pipeline holds (see `Pending::parts`).
            let parts = std::iter::once(shared.clone()).chain(pending.parts.iter().cloned());
            for part in parts.collect::<Vec<_>>() {
                for span in part.take_open() {
                    let exception = span
                        .is_root()
                        .then_some((TIMEOUT_EXCEPTION_TYPE, message.as_str()));
                    span.end_timed_out(exception);
                }
            }
            self.shared.counters.traces_timed_out.inc();
            report::warn("trace-timed-out", || {
                format!("{message} You can find the aborted trace in the MLflow UI.")
            });
        }
    }
}
