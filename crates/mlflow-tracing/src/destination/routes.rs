//! [`Routes`]: the workers of a pipeline's sinks, and the fan-out that hands every span to
//! every span sink and every trace to every trace sink.

use std::sync::Arc;
use std::thread::JoinHandle;

use super::worker::WorkerHandle;
use super::{AnySink, SpanItem, TraceItem};
use crate::config::Destination;
use crate::stats::{DestinationStats, Reason, Unit};
use crate::sync::{Barrier, BarrierPart};

/// The running workers of a pipeline's sinks, by kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct Routes {
    spans: Vec<WorkerHandle<SpanItem>>,
    traces: Vec<WorkerHandle<TraceItem>>,
    /// Every destination, in the order the sinks were given.
    destinations: Vec<Destination>,
    /// Where each of those is: (is a span sink, index).
    order: Vec<(bool, usize)>,
    /// Whether some span sink reads trace snapshots.
    snapshots: bool,
}

impl Routes {
    /// Starts a worker thread for each sink.
    pub(crate) fn start(sinks: Vec<AnySink>) -> (Routes, Vec<JoinHandle<()>>) {
        let mut routes = Routes::default();
        let mut threads = Vec::new();
        for sink in sinks {
            routes.destinations.push(sink.destination());
            routes.snapshots |= sink.wants_trace_snapshots();
            let thread = match sink {
                AnySink::Spans(sink) => {
                    let (handle, thread) = WorkerHandle::spawn(sink, Unit::Spans);
                    routes.order.push((true, routes.spans.len()));
                    routes.spans.push(handle);
                    thread
                }
                AnySink::Traces(sink) => {
                    let (handle, thread) = WorkerHandle::spawn(sink, Unit::Traces);
                    routes.order.push((false, routes.traces.len()));
                    routes.traces.push(handle);
                    thread
                }
            };
            threads.extend(thread);
        }
        (routes, threads)
    }

    /// Whether there is no sink at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.traces.is_empty()
    }

    /// Whether some sink takes spans as they end.
    pub(crate) fn wants_spans(&self) -> bool {
        !self.spans.is_empty()
    }

    /// Whether some span sink reads each span's trace snapshot.
    pub(crate) fn wants_trace_snapshots(&self) -> bool {
        self.snapshots
    }

    /// Whether some sink takes finished traces.
    pub(crate) fn wants_traces(&self) -> bool {
        !self.traces.is_empty()
    }

    /// Hands `spans` to every span sink.
    pub(crate) fn send_spans(&self, spans: Vec<SpanItem>) {
        fan_out(&self.spans, spans);
    }

    /// Hands `traces` to every trace sink.
    pub(crate) fn send_traces(&self, traces: Vec<TraceItem>) {
        fan_out(&self.traces, traces);
    }

    /// Counts a span that could not be handed to the span sinks as lost for each.
    pub(crate) fn count_span_lost(&self, reason: Reason) {
        for sink in &self.spans {
            sink.count_lost(reason, 1);
        }
    }

    /// The span sinks' destinations, for messages.
    pub(crate) fn span_destinations(&self) -> impl Iterator<Item = &Destination> {
        self.spans.iter().map(WorkerHandle::destination)
    }

    /// One part of `barrier` per worker, to hand to [`flush`](Routes::flush) or
    /// [`shutdown`](Routes::shutdown).
    pub(crate) fn parts(&self, barrier: &Arc<Barrier>) -> Vec<BarrierPart> {
        self.span_destinations()
            .chain(self.traces.iter().map(WorkerHandle::destination))
            .map(|d| barrier.part(format!("the export thread for {d}")))
            .collect()
    }

    /// Asks every worker to export what it holds, then complete its part.
    pub(crate) fn flush(&self, parts: Vec<BarrierPart>) {
        let mut parts = parts.into_iter();
        self.spans
            .iter()
            .zip(&mut parts)
            .for_each(|(w, p)| w.flush(p));
        self.traces
            .iter()
            .zip(&mut parts)
            .for_each(|(w, p)| w.flush(p));
    }

    /// Asks every worker to export what it holds and stop, then complete its part.
    pub(crate) fn shutdown(&self, parts: Vec<BarrierPart>) {
        let mut parts = parts.into_iter();
        self.spans
            .iter()
            .zip(&mut parts)
            .for_each(|(w, p)| w.shutdown(p));
        self.traces
            .iter()
            .zip(&mut parts)
            .for_each(|(w, p)| w.shutdown(p));
    }

    /// Counts what every worker still holds as abandoned (the process is exiting); the
    /// total.
    pub(crate) fn abandon_queued(&self) -> u64 {
        self.spans
            .iter()
            .map(WorkerHandle::abandon_queued)
            .sum::<u64>()
            + self
                .traces
                .iter()
                .map(WorkerHandle::abandon_queued)
                .sum::<u64>()
    }

    /// Every destination, in the order the sinks were given.
    pub(crate) fn destinations(&self) -> &[Destination] {
        &self.destinations
    }

    /// Each destination's counters, in the order the sinks were given.
    pub(crate) fn stats(&self) -> Vec<DestinationStats> {
        self.order
            .iter()
            .map(|&(span, i)| {
                if span {
                    self.spans[i].stats()
                } else {
                    self.traces[i].stats()
                }
            })
            .collect()
    }
}

/// Sends `items` to each worker: shared `Arc`s, so one clone of the list per extra worker.
fn fan_out<T: Clone + Send + 'static>(workers: &[WorkerHandle<T>], items: Vec<T>) {
    let Some((last, others)) = workers.split_last() else {
        return;
    };
    for worker in others {
        worker.send(items.clone());
    }
    last.send(items);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::destination::EndedSpan;
    use crate::destination::collect::Collected;
    use crate::model::sample_span;

    #[test]
    fn every_span_sink_gets_every_span_and_stats_keep_the_order() {
        let (first, second, traces) = (
            Collected::default(),
            Collected::default(),
            Collected::default(),
        );
        let (routes, _threads) = Routes::start(vec![
            first.span_sink("first"),
            traces.trace_sink("traces"),
            second.span_sink("second"),
        ]);
        assert!(routes.wants_spans() && routes.wants_traces());
        let spans: Vec<SpanItem> = (0..3)
            .map(|_| {
                Arc::new(EndedSpan::new(
                    sample_span(),
                    Default::default(),
                    Default::default(),
                ))
            })
            .collect();
        routes.send_spans(spans);
        routes.count_span_lost(Reason::OverMemoryBound);
        let barrier = Barrier::new();
        routes.flush(routes.parts(&barrier));
        assert_eq!(barrier.wait(Duration::from_secs(5)), Some(Vec::new()));
        assert_eq!(first.names(), ["foo", "foo", "foo"]);
        assert_eq!(second.names(), ["foo", "foo", "foo"]);
        assert!(traces.names().is_empty());
        let stats = routes.stats();
        let names: Vec<String> = stats.iter().map(|s| s.destination.to_string()).collect();
        assert_eq!(names, ["first", "traces", "second"]);
        assert_eq!((stats[0].exported, stats[0].failed), (3, 1));
        assert_eq!((stats[2].exported, stats[2].failed), (3, 1));
        assert_eq!((stats[1].unit, stats[1].exported), (Unit::Traces, 0));
    }
}
