//! The default memory bound of the export queues, from the memory the process may use.
//!
//! A burst of spans is held while the destinations drain it: the more the bound allows,
//! the larger the burst delivered whole. The default is a sixteenth of the memory the
//! process may use — its cgroup's limit when it runs in a container with one, else the
//! machine's memory — between [`FLOOR`] and [`CEILING`]; where neither can be read,
//! [`FALLBACK`]. Nothing is reserved up front: the bound only caps what a burst may hold.

use std::path::Path;

const MIB: u64 = 1024 * 1024;
/// The smallest default bound.
pub(crate) const FLOOR: u64 = 64 * MIB;
/// The largest default bound.
pub(crate) const CEILING: u64 = 1024 * MIB;
/// The default bound where the process's memory cannot be read.
pub(crate) const FALLBACK: u64 = 512 * MIB;
/// The share of the process's memory the default bound is.
const SHARE: u64 = 16;

/// The default bound on this machine, read from `/proc/meminfo` and the cgroup's limit.
pub(crate) fn default_queue_bytes() -> u64 {
    let read = |path: &str| std::fs::read_to_string(Path::new(path)).ok();
    let physical = read("/proc/meminfo").and_then(|text| mem_total(&text));
    // cgroup v2, then v1; "max" (v2) and v1's huge "unlimited" number are no limit.
    let cgroup = read("/sys/fs/cgroup/memory.max")
        .or_else(|| read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
        .and_then(|text| text.trim().parse::<u64>().ok())
        .filter(|&limit| limit < (1 << 60));
    queue_bytes_for(physical, cgroup)
}

/// The default bound for a machine with `physical` bytes of memory and a cgroup limit
/// of `cgroup` bytes (either unknown).
pub(crate) fn queue_bytes_for(physical: Option<u64>, cgroup: Option<u64>) -> u64 {
    let usable = match (physical, cgroup) {
        (Some(p), Some(c)) => p.min(c),
        (Some(m), None) | (None, Some(m)) => m,
        (None, None) => return FALLBACK,
    };
    (usable / SHARE).clamp(FLOOR, CEILING)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line.split_whitespace().skip(1);
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => value.checked_mul(1024),
        None => Some(value),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * MIB;

    #[test]
    fn a_sixteenth_of_the_memory_between_floor_and_ceiling() {
        assert_eq!(queue_bytes_for(Some(8 * GIB), None), 512 * MIB);
        assert_eq!(queue_bytes_for(Some(4 * GIB), None), 256 * MIB);
        assert_eq!(queue_bytes_for(Some(64 * GIB), None), CEILING);
        assert_eq!(queue_bytes_for(Some(512 * MIB), None), FLOOR);
    }

    #[test]
    fn a_container_limit_below_the_machine_wins() {
        assert_eq!(queue_bytes_for(Some(64 * GIB), Some(2 * GIB)), 128 * MIB);
        assert_eq!(queue_bytes_for(Some(2 * GIB), Some(64 * GIB)), 128 * MIB);
        assert_eq!(queue_bytes_for(None, Some(4 * GIB)), 256 * MIB);
    }

    #[test]
    fn unknown_memory_falls_back() {
        assert_eq!(queue_bytes_for(None, None), FALLBACK);
    }

    #[test]
    fn meminfo_is_read_in_kib() {
        let text = "MemTotal:       24554600 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total(text), Some(24_554_600 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(mem_total("MemTotal: lots kB\n"), None);
    }

    #[test]
    fn this_machine_gets_a_bound_within_the_limits() {
        let bytes = default_queue_bytes();
        assert!((FLOOR..=CEILING).contains(&bytes), "{bytes}");
    }
}
