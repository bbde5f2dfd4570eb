//! Sending one request with retries: exponential backoff with jitter, honouring the
//! receiver's `Retry-After`, each attempt bounded by the request timeout and all of them by
//! the export timeout.

use std::time::{Duration, Instant};

/// A failed request: what went wrong (no secrets), whether trying again may help, and how
/// long the receiver asked us to wait.
#[derive(Debug)]
pub(super) struct SendError {
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl SendError {
    /// What went wrong, fit to show (no secrets).
    pub(super) fn message(&self) -> &str {
        &self.message
    }

    /// The message, taken.
    pub(super) fn into_message(self) -> String {
        self.message
    }

    pub(super) fn permanent(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    pub(super) fn transient(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        SendError {
            message: message.into(),
            retryable: true,
            retry_after,
        }
    }
}

/// First backoff; doubled after each retry up to `MAX_BACKOFF`, with ±25 % jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const MAX_ATTEMPTS: u32 = 6;

/// How a request is retried: each attempt bounded by `timeout`, all of them by
/// `deadline`.
pub(super) struct Retry {
    timeout: Duration,
    deadline: Instant,
    max_attempts: u32,
}

impl Retry {
    /// Attempts of at most `timeout` each, retried until `export_timeout` from now.
    pub(super) fn new(timeout: Duration, export_timeout: Duration) -> Self {
        Retry {
            timeout,
            deadline: Instant::now() + export_timeout,
            max_attempts: MAX_ATTEMPTS,
        }
    }

    /// One attempt, no retry.
    pub(super) fn once(timeout: Duration) -> Self {
        Retry {
            timeout,
            deadline: Instant::now() + timeout,
            max_attempts: 1,
        }
    }

    /// Runs `attempt` (given its timeout) until it succeeds, fails for good, or the
    /// attempts or the time run out; transient failures wait with exponential backoff and
    /// jitter, or as long as the receiver's `Retry-After` asks.
    pub(super) fn run(
        &self,
        mut attempt: impl FnMut(Duration) -> Result<(), SendError>,
    ) -> Result<(), SendError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 1;
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            let err = match attempt(self.timeout.min(left.max(Duration::from_millis(1)))) {
                Ok(()) => return Ok(()),
                Err(err) => err,
            };
            let wait = err.retry_after.unwrap_or_else(|| jitter(backoff));
            let left = self.deadline.saturating_duration_since(Instant::now());
            if !err.retryable || attempts >= self.max_attempts || wait >= left {
                if attempts == 1 {
                    return Err(err);
                }
                return Err(SendError {
                    message: format!("{} (after {attempts} attempts)", err.message),
                    ..err
                });
            }
            std::thread::sleep(wait);
            backoff = (backoff * 2).min(MAX_BACKOFF);
            attempts += 1;
        }
    }
}

fn jitter(d: Duration) -> Duration {
    // A cheap random factor in [0.75, 1.25) from the clock's nanoseconds.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    d.mul_f64(0.75 + f64::from(nanos % 1000) / 2000.0)
}

/// `Retry-After`: seconds, or an HTTP date.
pub(super) fn parse_retry_after(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate(text)?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn httpdate(text: &str) -> Option<std::time::SystemTime> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts[..] else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == month)? as i64
        + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
    let [h, m, s] = hms[..] else { return None };
    // Days from civil (Howard Hinnant).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + m * 60 + s;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays `results` (then succeeds), counting attempts.
    struct Scripted {
        results: Vec<Result<(), SendError>>,
        calls: u32,
    }

    impl Scripted {
        fn attempt(&mut self) -> Result<(), SendError> {
            self.calls += 1;
            if self.results.is_empty() {
                Ok(())
            } else {
                self.results.remove(0)
            }
        }
    }

    fn retry(deadline_ms: u64) -> Retry {
        Retry {
            timeout: Duration::from_secs(1),
            deadline: Instant::now() + Duration::from_millis(deadline_ms),
            max_attempts: MAX_ATTEMPTS,
        }
    }

    #[test]
    fn transient_failures_are_retried_until_success() {
        let mut t = Scripted {
            results: vec![
                Err(SendError::transient("503", Some(Duration::from_millis(5)))),
                Err(SendError::transient(
                    "unavailable",
                    Some(Duration::from_millis(5)),
                )),
            ],
            calls: 0,
        };
        assert!(retry(5_000).run(|_| t.attempt()).is_ok());
        assert_eq!(t.calls, 3);
    }

    #[test]
    fn permanent_failures_are_not_retried() {
        let mut t = Scripted {
            results: vec![Err(SendError::permanent("HTTP 400"))],
            calls: 0,
        };
        let err = retry(5_000).run(|_| t.attempt()).unwrap_err();
        assert_eq!(err.message, "HTTP 400");
        assert_eq!(t.calls, 1);
    }

    #[test]
    fn retries_stop_at_the_deadline() {
        let mut t = Scripted {
            results: (0..100)
                .map(|_| Err(SendError::transient("503", Some(Duration::from_millis(40)))))
                .collect(),
            calls: 0,
        };
        let start = Instant::now();
        let err = retry(100).run(|_| t.attempt()).unwrap_err();
        assert!(start.elapsed() < Duration::from_millis(500));
        assert!(err.message.contains("attempts"), "{}", err.message);
        assert!(t.calls >= 2 && t.calls <= 4, "{}", t.calls);
    }

    #[test]
    fn retry_after_in_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            httpdate("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(std::time::UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
