//! Trace ids that grow with time: the first 48 bits are the milliseconds since the Unix
//! epoch, the other 80 random.
//!
//! MLflow keys every table of a trace by its id (`tr-` + the id in hex), in B-tree indexes
//! that a database such as the local store updates for every row. With random ids each new
//! trace lands on a random page of each of those indexes, so a batch of traces dirties
//! (and rewrites) nearly every page of them, and writing gets slower as the database
//! grows. Ids that grow with time land at the end of the indexes: a batch dirties a few
//! pages whatever the size of the database.
//!
//! The ids stay valid W3C trace ids: the rightmost 7 bytes are random (what W3C Trace
//! Context Level 2 asks of a random trace id), and the lower 64 bits, which
//! `TraceIdRatioBased` samples on, are all random. Unique across processes and machines
//! as random ids are: 80 random bits per millisecond. Span ids are random, as before.
//!
//! A new trace's id is drawn before its root span is built ([`new_root_id`]), so that the
//! sampling decision, which depends only on the id, is taken before anything is allocated
//! for a trace that is sampled out; the id is then handed to OpenTelemetry's span builder
//! through [`Primed`], which the generator takes it from.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

/// OpenTelemetry's random ids with the time in the leading 48 bits of trace ids.
#[derive(Debug, Default)]
pub(crate) struct TimeOrderedIds {
    random: RandomIdGenerator,
}

thread_local! {
    /// The id the next trace started on this thread takes (see [`Primed`]).
    static PRIMED: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// A new trace id, for a root span about to be built.
pub(crate) fn new_root_id() -> TraceId {
    with_time(RandomIdGenerator::default().new_trace_id(), unix_ms())
}

/// Whether OpenTelemetry's `TraceIdRatioBased(ratio)` samples the trace `id` (its
/// `sample_based_on_probability`, which looks at the id alone).
pub(crate) fn ratio_samples(ratio: f64, id: TraceId) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    let bytes = id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    (u64::from_be_bytes(low) >> 1) < bound
}

/// While alive, the next trace id this thread's generator hands out is `id`; whatever
/// happens in between, it is cleared when dropped.
pub(crate) struct Primed(());

impl Primed {
    pub(crate) fn new(id: TraceId) -> Primed {
        PRIMED.with(|p| p.set(Some(id)));
        Primed(())
    }
}

impl Drop for Primed {
    fn drop(&mut self) {
        PRIMED.with(|p| p.set(None));
    }
}

impl IdGenerator for TimeOrderedIds {
    fn new_trace_id(&self) -> TraceId {
        match PRIMED.with(Cell::take) {
            Some(id) => id,
            None => with_time(self.random.new_trace_id(), unix_ms()),
        }
    }

    fn new_span_id(&self) -> SpanId {
        self.random.new_span_id()
    }
}

/// `random` with its first 6 bytes replaced by `ms` (the lower 48 bits of it).
fn with_time(random: TraceId, ms: u64) -> TraceId {
    let mut bytes = random.to_bytes();
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    TraceId::from_bytes(bytes)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_start_with_the_time_and_end_random() {
        let ids = TimeOrderedIds::default();
        let before = unix_ms();
        let a = ids.new_trace_id().to_bytes();
        let b = ids.new_trace_id().to_bytes();
        let after = unix_ms();
        let mut ms = [0u8; 8];
        ms[2..].copy_from_slice(&a[..6]);
        let ms = u64::from_be_bytes(ms);
        assert!(
            (before..=after).contains(&ms),
            "{before} <= {ms} <= {after}"
        );
        assert_ne!(a[6..], b[6..], "the lower 80 bits are random");
        assert_ne!(TraceId::from_bytes(a), TraceId::INVALID);
    }

    #[test]
    fn a_primed_id_is_taken_once() {
        let ids = TimeOrderedIds::default();
        let id = new_root_id();
        {
            let _primed = Primed::new(id);
            assert_eq!(ids.new_trace_id(), id);
            assert_ne!(ids.new_trace_id(), id);
        }
        let _unused = Primed::new(id);
        drop(_unused);
        assert_ne!(ids.new_trace_id(), id, "cleared when dropped");
    }

    #[test]
    fn the_ratio_decision_is_opentelemetrys() {
        use opentelemetry::trace::SpanKind;
        use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample as _};
        for ratio in [0.0, 0.1, 0.5, 0.9, 1.0] {
            let sampler = Sampler::TraceIdRatioBased(ratio);
            for _ in 0..2000 {
                let id = new_root_id();
                let otel = sampler.should_sample(
                    Some(&opentelemetry::Context::new()),
                    id,
                    "s",
                    &SpanKind::Internal,
                    &[],
                    &[],
                );
                let theirs = otel.decision == SamplingDecision::RecordAndSample;
                assert_eq!(ratio_samples(ratio, id), theirs, "ratio {ratio}, id {id}");
            }
        }
    }

    #[test]
    fn later_traces_sort_after_earlier_ones() {
        let random = RandomIdGenerator::default();
        let early = with_time(random.new_trace_id(), 1_700_000_000_000);
        let late = with_time(random.new_trace_id(), 1_700_000_000_001);
        assert!(format!("{early}") < format!("{late}"));
    }
}
