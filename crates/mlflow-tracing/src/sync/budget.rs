//! The memory bound of the export pipeline.
//!
//! Every finished span takes a [`Ticket`] for its estimated size before it is queued. The
//! ticket travels with the span through trace assembly into the completed trace and is
//! released when the last destination is done with it, so the bound covers everything the
//! pipeline holds, wherever it is. Nothing is preallocated: memory is used only by what is
//! actually queued.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What one entry of a map or list (a key-value, an event) costs beyond its strings:
/// the structure around them and the allocator's overhead.
pub(crate) const ENTRY_OVERHEAD: usize = 48;

#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicUsize,
    max: usize,
}

impl Budget {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Budget {
            used: AtomicUsize::new(0),
            max,
        })
    }

    /// Reserves `bytes`, or returns `None` when that would exceed the bound.
    pub(crate) fn try_acquire(self: &Arc<Self>, bytes: usize) -> Option<Ticket> {
        let mut current = self.used.load(Ordering::Relaxed);
        loop {
            let next = current.checked_add(bytes)?;
            if next > self.max {
                return None;
            }
            match self.used.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(Ticket {
                        budget: Some(self.clone()),
                        bytes,
                    });
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Reserves `bytes` even past the bound: for small, bounded amounts derived from
    /// data already reserved (a finished trace's previews), so that memory is counted and
    /// later spans make room for it.
    pub(crate) fn force_acquire(self: &Arc<Self>, bytes: usize) -> Ticket {
        self.used.fetch_add(bytes, Ordering::Relaxed);
        Ticket {
            budget: Some(self.clone()),
            bytes,
        }
    }

    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }
}

/// Reserved queue memory, given back when dropped.
#[derive(Debug, Default)]
pub(crate) struct Ticket {
    budget: Option<Arc<Budget>>,
    bytes: usize,
}

impl Ticket {
    /// The bytes reserved.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Takes over `other`'s reservation.
    pub(crate) fn merge(&mut self, mut other: Ticket) {
        if self.budget.is_none() {
            self.budget = other.budget.take();
        } else {
            other.budget = None;
        }
        self.bytes += std::mem::take(&mut other.bytes);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.used.fetch_sub(self.bytes, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_release_and_bound() {
        let budget = Budget::new(100);
        let a = budget.try_acquire(60).expect("fits");
        assert!(budget.try_acquire(50).is_none());
        let mut b = budget.try_acquire(40).expect("fits exactly");
        assert_eq!(budget.used(), 100);
        b.merge(a);
        assert_eq!(budget.used(), 100);
        drop(b);
        assert_eq!(budget.used(), 0);
        assert!(budget.try_acquire(usize::MAX).is_none());
    }
}
