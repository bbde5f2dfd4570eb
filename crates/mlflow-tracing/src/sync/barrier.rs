//! Completion of a flush or shutdown that several workers take part in.
//!
//! Each worker reports its part (with any export errors it saw); the waiter is released
//! when all have reported. Waiting works both blocking (with a deadline) and as a future.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct State {
    remaining: usize,
    errors: Vec<String>,
    waker: Option<Waker>,
}

#[derive(Debug)]
pub(crate) struct Barrier {
    state: Mutex<State>,
    done: Condvar,
}

impl Barrier {
    pub(crate) fn new(parts: usize) -> Arc<Self> {
        Arc::new(Barrier {
            state: Mutex::new(State {
                remaining: parts,
                ..State::default()
            }),
            done: Condvar::new(),
        })
    }

    /// Reports one part as done, with the errors it ran into.
    pub(crate) fn complete_part(&self, errors: Vec<String>) {
        let waker = {
            let Ok(mut state) = self.state.lock() else {
                return;
            };
            state.errors.extend(errors);
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
        let mut state = self.state.lock().ok()?;
        while state.remaining > 0 {
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self.done.wait_timeout(state, left).ok()?.0;
        }
        Some(std::mem::take(&mut state.errors))
    }

    /// A future that completes when every part is done.
    pub(crate) fn wait_async(self: Arc<Self>) -> BarrierFuture {
        BarrierFuture { barrier: self }
    }
}

#[derive(Debug)]
pub(crate) struct BarrierFuture {
    barrier: Arc<Barrier>,
}

impl Future for BarrierFuture {
    type Output = Vec<String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(mut state) = self.barrier.state.lock() else {
            return Poll::Ready(Vec::new());
        };
        if state.remaining == 0 {
            return Poll::Ready(std::mem::take(&mut state.errors));
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
        let barrier = Barrier::new(2);
        let b = barrier.clone();
        let t = std::thread::spawn(move || {
            b.complete_part(vec!["first".into()]);
            b.complete_part(vec![]);
        });
        assert_eq!(
            barrier.wait(Duration::from_secs(5)),
            Some(vec!["first".to_owned()])
        );
        t.join().unwrap();
    }

    #[test]
    fn times_out() {
        let barrier = Barrier::new(1);
        assert_eq!(barrier.wait(Duration::from_millis(10)), None);
    }
}
