//! Completion of a flush or shutdown that several threads take part in.
//!
//! Each participant holds a [`BarrierPart`] and completes it (with any export errors it
//! saw) once it has handled everything queued before the flush. A part that is dropped
//! without being completed — its thread died, or the message carrying it was dropped —
//! completes itself with an error saying so, so a waiter is never left hanging. Waiting
//! works both blocking (with a deadline) and as a future (with a deadline too).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct State {
    remaining: usize,
    errors: Vec<String>,
    /// The async waiter gave up waiting (its deadline passed).
    expired: bool,
    waker: Option<Waker>,
}

/// A flush barrier: complete once every [`BarrierPart`] made from it is.
#[derive(Debug, Default)]
pub(crate) struct Barrier {
    state: Mutex<State>,
    done: Condvar,
}

impl Barrier {
    /// A barrier with no parts yet. Make every part before handing any out.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Barrier::default())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the counts stay consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new part, named by `who` in the error reported if it is dropped uncompleted.
    pub(crate) fn part(self: &Arc<Self>, who: impl Into<String>) -> BarrierPart {
        self.lock().remaining += 1;
        BarrierPart {
            barrier: Some(self.clone()),
            who: who.into(),
        }
    }

    fn complete_part(&self, errors: Vec<String>) {
        let waker = {
            let mut state = self.lock();
            for error in errors {
                if !state.errors.contains(&error) {
                    state.errors.push(error);
                }
            }
            state.remaining = state.remaining.saturating_sub(1);
            if state.remaining > 0 {
                return;
            }
            state.waker.take()
        };
        self.done.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Waits until every part is done or `timeout` passes; `None` on timeout.
    pub(crate) fn wait(&self, timeout: Duration) -> Option<Vec<String>> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.remaining > 0 {
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        Some(std::mem::take(&mut state.errors))
    }

    /// A future that completes when every part is done (`Some(errors)`), or `None` once
    /// `timeout` has passed. The deadline is kept by a helper thread, so the future needs
    /// no timer from the runtime that polls it.
    pub(crate) fn wait_async(self: Arc<Self>, timeout: Duration) -> BarrierFuture {
        let watcher = self.clone();
        let spawned = std::thread::Builder::new()
            .name("mlflow-tracing-flush-deadline".to_owned())
            .spawn(move || {
                if watcher.wait(timeout).is_none() {
                    let waker = {
                        let mut state = watcher.lock();
                        state.expired = true;
                        state.waker.take()
                    };
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                }
            });
        if spawned.is_err() {
            // No thread for the deadline: give up at once rather than risk waiting forever.
            self.lock().expired = true;
        }
        BarrierFuture { barrier: self }
    }
}

/// One participant's share of a [`Barrier`]; completes itself (with an error) if dropped.
#[derive(Debug)]
#[must_use = "a barrier part must be completed, or its waiter gets an error"]
pub(crate) struct BarrierPart {
    barrier: Option<Arc<Barrier>>,
    who: String,
}

impl BarrierPart {
    /// Reports this part as done, with the errors it ran into.
    pub(crate) fn complete(mut self, errors: Vec<String>) {
        if let Some(barrier) = self.barrier.take() {
            barrier.complete_part(errors);
        }
    }
}

impl Drop for BarrierPart {
    fn drop(&mut self) {
        if let Some(barrier) = self.barrier.take() {
            barrier.complete_part(vec![format!(
                "{}: stopped before finishing (its thread has exited)",
                self.who
            )]);
        }
    }
}

/// See [`Barrier::wait_async`].
#[derive(Debug)]
#[must_use = "futures do nothing unless `.await`ed or polled"]
pub(crate) struct BarrierFuture {
    barrier: Arc<Barrier>,
}

impl Future for BarrierFuture {
    type Output = Option<Vec<String>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.barrier.lock();
        if state.remaining == 0 {
            return Poll::Ready(Some(std::mem::take(&mut state.errors)));
        }
        if state.expired {
            return Poll::Ready(None);
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_after_every_part() {
        let barrier = Barrier::new();
        let (a, b) = (barrier.part("a"), barrier.part("b"));
        let t = std::thread::spawn(move || {
            a.complete(vec!["first".into()]);
            b.complete(vec![]);
        });
        assert_eq!(
            barrier.wait(Duration::from_secs(5)),
            Some(vec!["first".to_owned()])
        );
        t.join().unwrap();
    }

    #[test]
    fn times_out() {
        let barrier = Barrier::new();
        let _part = barrier.part("slow");
        assert_eq!(barrier.wait(Duration::from_millis(10)), None);
    }

    #[test]
    fn a_dropped_part_completes_with_an_error() {
        let barrier = Barrier::new();
        let part = barrier.part("worker for X");
        std::thread::spawn(move || drop(part)).join().unwrap();
        let errors = barrier.wait(Duration::from_secs(5)).expect("completed");
        assert_eq!(
            errors,
            ["worker for X: stopped before finishing (its thread has exited)"]
        );
    }

    #[test]
    fn the_async_wait_has_a_deadline() {
        let barrier = Barrier::new();
        let part = barrier.part("never");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let start = Instant::now();
        let result = rt.block_on(barrier.clone().wait_async(Duration::from_millis(50)));
        assert_eq!(result, None);
        assert!(start.elapsed() < Duration::from_secs(5));
        part.complete(Vec::new());
        let done = rt.block_on(barrier.wait_async(Duration::from_secs(5)));
        assert_eq!(done, Some(Vec::new()));
    }
}
