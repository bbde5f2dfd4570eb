//! Small synchronisation primitives shared by the pipeline's threads: the memory
//! [`Budget`] whose [`Ticket`]s travel with queued data, the flush [`Barrier`] that travels
//! behind it, and relaxed [`Counter`]s.

mod barrier;
mod budget;

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use barrier::{Barrier, BarrierPart};
pub(crate) use budget::{Budget, ENTRY_OVERHEAD, Ticket};

/// A monotonic event counter, read without synchronisation (statistics only).
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn inc(&self) {
        self.add(1);
    }

    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
