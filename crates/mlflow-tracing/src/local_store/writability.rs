//! Whether a store can be written, in plain words: the database file, its directory
//! (SQLite writes its journal beside the file), and the free space on that disk.

use std::path::{Path, PathBuf};

use super::StoreError;

/// Below this much free space, the disk counts as full.
const MIN_FREE_BYTES: u64 = 1024 * 1024;

/// What stops `path` from being written, if anything.
pub(super) fn problem(path: &Path) -> Option<String> {
    if path.exists()
        && let Err(err) = std::fs::OpenOptions::new().append(true).open(path)
    {
        return Some(format!("{} cannot be written ({err})", path.display()));
    }
    let dir = existing_dir(path)?;
    let probe = dir.join(format!(".mlflow-tracing-probe-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(err) => {
            return Some(format!(
                "cannot create files in the directory {} ({err}); SQLite needs to, for the \
                 database and its journal",
                dir.display()
            ));
        }
    }
    free_bytes(&dir).and_then(|free| full_disk(&dir, free))
}

/// The database's directory, or its nearest existing ancestor when it does not exist yet.
fn existing_dir(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        })
        .find(|d| d.is_dir())
        .map(Path::to_owned)
}

/// The problem of a disk with `free` bytes left, if it is full.
fn full_disk(dir: &Path, free: u64) -> Option<String> {
    (free < MIN_FREE_BYTES).then(|| {
        format!(
            "the disk holding {} is full ({free} bytes free)",
            dir.display()
        )
    })
}

#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stat` points to writable memory of
    // the right type; statvfs fills it when it returns 0.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it initialised `stat`.
    let stat = unsafe { stat.assume_init() };
    // The field types differ between platforms (u32 on some, u64 on others).
    #[allow(clippy::unnecessary_cast)]
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// A failure to open `path` for writing, explained by what stops it being written when
/// that can be found.
pub(super) fn explain(path: &Path, err: rusqlite::Error) -> StoreError {
    match problem(path) {
        Some(problem) => StoreError::NotWritable {
            path: path.to_owned(),
            problem,
        },
        None => super::sqlite_err(format!("opening {}", path.display()))(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_place_has_no_problem() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(problem(&dir.path().join("new/sub/mlflow.db")), None);
        let db = dir.path().join("mlflow.db");
        std::fs::write(&db, b"").unwrap();
        assert_eq!(problem(&db), None);
    }

    #[test]
    fn a_directory_nothing_can_be_created_in_is_named() {
        // /proc refuses new files, even to root.
        let problem = problem(Path::new("/proc/mlflow-tracing-test/mlflow.db")).unwrap();
        assert!(
            problem.starts_with("cannot create files in the directory /proc"),
            "{problem}"
        );
    }

    #[test]
    fn a_full_disk_is_named() {
        assert_eq!(
            full_disk(Path::new("/data"), 4096).as_deref(),
            Some("the disk holding /data is full (4096 bytes free)")
        );
        assert_eq!(full_disk(Path::new("/data"), 10 * MIN_FREE_BYTES), None);
        let here = free_bytes(Path::new(".")).unwrap();
        assert!(here > 0);
    }
}
