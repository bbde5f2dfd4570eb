//! Hooks for the crate's own benchmarks (`benches/encode.rs`, feature `__bench`): not
//! part of the API, never stable.

use crate::local_store::write;
use crate::model::Trace;

/// Computes what the local store writes for `trace` (experiment `0`): each span's JSON,
/// the size statistics, the tags and metadata; returns the bytes of text of the rows.
pub fn store_rows(trace: &Trace) -> usize {
    let experiment = crate::local_store::Experiment {
        id: "0".to_owned(),
        artifact_location: "/tmp/mlruns/0".to_owned(),
    };
    write::encode(trace, &experiment, &crate::pricing::Prices::default()).text_bytes()
}

/// The spans of some traces as the OTLP destination holds them.
#[derive(Debug)]
pub struct OtlpBatch(crate::destination::OtlpBenchBatch);

impl OtlpBatch {
    /// The spans of `traces`; `None` if the resource cannot be resolved.
    pub fn new(traces: &[Trace]) -> Option<OtlpBatch> {
        let spans: Vec<_> = traces
            .iter()
            .flat_map(|t| t.spans().iter().cloned())
            .collect();
        crate::destination::OtlpBenchBatch::new(&spans).map(OtlpBatch)
    }

    /// The OTLP/protobuf export request carrying them, as the OTLP destination encodes
    /// it.
    pub fn encode(&self) -> Vec<u8> {
        self.0.encode()
    }
}
