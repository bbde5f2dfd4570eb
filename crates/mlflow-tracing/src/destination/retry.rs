//! Sending one request with retries: exponential backoff with jitter, honouring the
//! receiver's `Retry-After`, each attempt bounded by the request timeout and all of them by
//! the export timeout (OTLP) or by a number of retries on MLflow's schedule (the tracking
//! server).

use std::time::{Duration, Instant};

use super::failure::Failure;

/// A failed request: what went wrong (no secrets), its kind, whether trying again may
/// help, and how long the receiver asked us to wait.
#[derive(Debug)]
pub(super) struct SendError {
    message: String,
    failure: Failure,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl SendError {
    /// What went wrong, fit to show (no secrets).
    #[cfg_attr(
        not(any(feature = "otlp-http", feature = "otlp-grpc")),
        allow(dead_code)
    )]
    pub(super) fn message(&self) -> &str {
        &self.message
    }

    /// The kind of failure.
    #[cfg_attr(
        not(any(feature = "otlp-http", feature = "otlp-grpc")),
        allow(dead_code)
    )]
    pub(super) fn failure(&self) -> Failure {
        self.failure
    }

    /// The message, taken.
    pub(super) fn into_message(self) -> String {
        self.message
    }

    /// A failure that trying again will not mend.
    pub(super) fn permanent(failure: Failure, message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            failure,
            retryable: false,
            retry_after: None,
        }
    }

    /// A failure that may pass: retried after `retry_after` if the receiver said, else
    /// with backoff.
    pub(super) fn transient(
        failure: Failure,
        message: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        SendError {
            message: message.into(),
            failure,
            retryable: true,
            retry_after,
        }
    }
}

/// First backoff; doubled after each retry up to `MAX_BACKOFF`, with ±25 % jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
#[cfg_attr(
    not(any(feature = "otlp-http", feature = "otlp-grpc")),
    allow(dead_code)
)]
const MAX_ATTEMPTS: u32 = 6;
/// The longest wait of MLflow's schedule (urllib3's `DEFAULT_BACKOFF_MAX`).
const MLFLOW_MAX_BACKOFF: Duration = Duration::from_secs(120);

/// How long to wait before a retry.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Backoff {
    /// `FIRST_BACKOFF`, doubled after each retry up to `MAX_BACKOFF`, ±25 % jitter.
    Exponential,
    #[cfg_attr(not(feature = "mlflow-server"), allow(dead_code))]
    /// MLflow's schedule (urllib3's): no wait before the first retry, then `factor` ×
    /// 2^(retry − 1), at most 120 s, plus a random part of up to `jitter` seconds.
    Mlflow { factor: Duration, jitter: f64 },
}

impl Backoff {
    /// The wait before retry number `retry` (1 for the first).
    fn before(self, retry: u32) -> Duration {
        match self {
            Backoff::Exponential => {
                let doubled = FIRST_BACKOFF.saturating_mul(1 << (retry - 1).min(16));
                jitter(doubled.min(MAX_BACKOFF))
            }
            Backoff::Mlflow { factor, jitter } => {
                let base = if retry <= 1 {
                    Duration::ZERO
                } else {
                    factor
                        .saturating_mul(1 << (retry - 1).min(16))
                        .min(MLFLOW_MAX_BACKOFF)
                };
                (base + Duration::from_secs_f64(jitter.max(0.0) * random_fraction()))
                    .min(MLFLOW_MAX_BACKOFF)
            }
        }
    }
}

/// How a request is retried: each attempt bounded by `timeout`, all of them by
/// `deadline` (if any), at most `max_attempts` attempts.
pub(super) struct Retry {
    timeout: Duration,
    deadline: Option<Instant>,
    max_attempts: u32,
    backoff: Backoff,
}

impl Retry {
    /// Attempts of at most `timeout` each, retried until `export_timeout` from now.
    #[cfg_attr(
        not(any(feature = "otlp-http", feature = "otlp-grpc")),
        allow(dead_code)
    )]
    pub(super) fn new(timeout: Duration, export_timeout: Duration) -> Self {
        Retry {
            timeout,
            deadline: Some(Instant::now() + export_timeout),
            max_attempts: MAX_ATTEMPTS,
            backoff: Backoff::Exponential,
        }
    }

    /// One attempt, no retry.
    pub(super) fn once(timeout: Duration) -> Self {
        Retry {
            timeout,
            deadline: Some(Instant::now() + timeout),
            max_attempts: 1,
            backoff: Backoff::Exponential,
        }
    }

    /// MLflow's policy (`MLFLOW_HTTP_REQUEST_*`): attempts of at most `timeout` each, up to
    /// `max_retries` retries waiting as urllib3 does for `backoff_factor` and `jitter`
    /// (seconds), or as long as `Retry-After` asks; no overall deadline.
    #[cfg_attr(not(feature = "mlflow-server"), allow(dead_code))]
    pub(super) fn mlflow(
        timeout: Duration,
        max_retries: u32,
        backoff_factor: Duration,
        jitter: f64,
    ) -> Self {
        Retry {
            timeout,
            deadline: None,
            max_attempts: max_retries.saturating_add(1),
            backoff: Backoff::Mlflow {
                factor: backoff_factor,
                jitter,
            },
        }
    }

    /// Runs `attempt` (given its timeout) until it succeeds, fails for good, or the
    /// attempts or the time run out; transient failures wait with backoff and jitter, or
    /// as long as the receiver's `Retry-After` asks.
    pub(super) fn run<T>(
        &self,
        mut attempt: impl FnMut(Duration) -> Result<T, SendError>,
    ) -> Result<T, SendError> {
        let mut attempts = 1;
        loop {
            let timeout = match self.deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    self.timeout.min(left.max(Duration::from_millis(1)))
                }
                None => self.timeout,
            };
            let err = match attempt(timeout) {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let wait = err
                .retry_after
                .unwrap_or_else(|| self.backoff.before(attempts));
            let past_deadline = self
                .deadline
                .is_some_and(|deadline| wait >= deadline.saturating_duration_since(Instant::now()));
            if !err.retryable || attempts >= self.max_attempts || past_deadline {
                if attempts == 1 {
                    return Err(err);
                }
                return Err(SendError {
                    message: format!("{} (after {attempts} attempts)", err.message),
                    ..err
                });
            }
            std::thread::sleep(wait);
            attempts += 1;
        }
    }
}

fn jitter(d: Duration) -> Duration {
    // A random factor in [0.75, 1.25).
    d.mul_f64(0.75 + random_fraction() / 2.0)
}

/// A cheap random number in [0, 1) from the clock's nanoseconds.
fn random_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

/// `Retry-After`: seconds, or an HTTP date.
#[cfg_attr(
    not(any(feature = "otlp-http", feature = "mlflow-server")),
    allow(dead_code)
)]
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
#[cfg_attr(
    not(any(feature = "otlp-http", feature = "mlflow-server")),
    allow(dead_code)
)]
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
            deadline: Some(Instant::now() + Duration::from_millis(deadline_ms)),
            max_attempts: MAX_ATTEMPTS,
            backoff: Backoff::Exponential,
        }
    }

    #[test]
    fn transient_failures_are_retried_until_success() {
        let mut t = Scripted {
            results: vec![
                Err(SendError::transient(
                    Failure::Other,
                    "503",
                    Some(Duration::from_millis(5)),
                )),
                Err(SendError::transient(
                    Failure::Other,
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
            results: vec![Err(SendError::permanent(Failure::Other, "HTTP 400"))],
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
                .map(|_| {
                    Err(SendError::transient(
                        Failure::Other,
                        "503",
                        Some(Duration::from_millis(40)),
                    ))
                })
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
    fn mlflow_schedule_follows_urllib3() {
        let b = Backoff::Mlflow {
            factor: Duration::from_secs(2),
            jitter: 0.0,
        };
        let waits: Vec<u64> = (1..=8).map(|n| b.before(n).as_secs()).collect();
        assert_eq!(waits, [0, 4, 8, 16, 32, 64, 120, 120]);
        let jittered = Backoff::Mlflow {
            factor: Duration::ZERO,
            jitter: 1.0,
        };
        assert!(jittered.before(3) < Duration::from_secs(1));
        // max_retries counts retries: 2 retries are 3 attempts, and nothing else bounds them.
        let mut t = Scripted {
            results: (0..10)
                .map(|_| Err(SendError::transient(Failure::Other, "503", None)))
                .collect(),
            calls: 0,
        };
        let err = Retry::mlflow(Duration::from_secs(1), 2, Duration::ZERO, 0.0)
            .run(|_| t.attempt())
            .unwrap_err();
        assert_eq!(t.calls, 3);
        assert!(
            err.message.ends_with("(after 3 attempts)"),
            "{}",
            err.message
        );
        let mut ok = Scripted {
            results: vec![Err(SendError::transient(Failure::Other, "refused", None))],
            calls: 0,
        };
        let value = Retry::mlflow(Duration::from_secs(1), 0, Duration::ZERO, 0.0)
            .run(|_| ok.attempt().map(|()| 42));
        assert!(value.is_err(), "no retries with max_retries = 0");
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
