//! Baselines for `scripts/bench-compare.sh`, which runs the same burst through
//! mlflow-tracing (`mlflow-trace load`), raw OpenTelemetry (`otel-load`, this crate) and
//! MLflow's Python SDK, to the default local store and to a loopback OTLP receiver
//! (`otlp-sink`, this crate). `docs/performance.md` has the results and how to run it.
//!
//! Not published: a benchmark harness, never a dependency.

use std::time::Duration;

/// User + system CPU time of the whole process (all threads).
pub fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: `usage` points to writable memory of the right type; getrusage fills it when
    // it returns 0.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return Duration::ZERO;
    }
    // SAFETY: getrusage returned 0, so it initialised `usage`.
    let usage = unsafe { usage.assume_init() };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The process's peak resident memory, in MiB (Linux; 0 elsewhere).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The padding that makes inputs about `bytes` long.
pub fn padding(bytes: Option<usize>) -> Option<String> {
    bytes.map(|b| "x".repeat(b.saturating_sub(24)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_leaves_room_for_the_rest_of_the_inputs() {
        assert_eq!(padding(Some(100)).unwrap().len(), 76);
        assert_eq!(padding(Some(10)).unwrap().len(), 0);
        assert_eq!(padding(None), None);
    }

    #[test]
    fn cpu_and_memory_are_read() {
        let spin: u64 = (0..2_000_000u64).map(std::hint::black_box).sum();
        assert!(spin > 0);
        assert!(cpu_time() > Duration::ZERO);
        assert!(peak_rss_mb() > 1.0);
    }
}
