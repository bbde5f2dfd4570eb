//! Trace metadata describing where a trace came from: user, program, git checkout.
//!
//! Resolved once per process, like MLflow's `resolve_env_metadata`: `mlflow.user`,
//! `mlflow.source.name` (the program, `argv[0]`), `mlflow.source.type` (`LOCAL`) and the
//! `mlflow.source.git.*` keys of the working directory's git checkout (empty strings when
//! there is none, as the Python SDK writes them).

use std::path::{Path, PathBuf};

use super::{Env, env};
use crate::keys::metadata;

/// The environment metadata, in MLflow's order.
pub(crate) fn resolve(env: &Env, cwd: &Path) -> Vec<(&'static str, String)> {
    let git = GitInfo::discover(cwd);
    vec![
        (metadata::USER, user(env)),
        (metadata::SOURCE_NAME, source_name()),
        (metadata::SOURCE_TYPE, "LOCAL".to_owned()),
        (metadata::GIT_COMMIT, git.commit),
        (metadata::GIT_REPO_URL, git.repo_url),
        (metadata::GIT_BRANCH, git.branch),
    ]
}

/// `MLFLOW_TRACKING_USERNAME`, else the login name the way Python's `getpass.getuser()`
/// finds it (`LOGNAME`, `USER`, `LNAME`, `USERNAME`, then the password database).
fn user(env: &Env) -> String {
    if let Some(user) = env.get(env::MLFLOW_TRACKING_USERNAME) {
        return user;
    }
    for var in ["LOGNAME", "USER", "LNAME", "USERNAME"] {
        if let Some(user) = env.get(var) {
            return user;
        }
    }
    os_user().unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(unix)]
fn os_user() -> Option<String> {
    // SAFETY: getpwuid_r writes into the buffers we own; the returned name points into `buf`
    // and is copied before `buf` goes out of scope.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            libc::getuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr(pwd.pw_name)
            .to_str()
            .ok()
            .map(str::to_owned)
    }
}

#[cfg(not(unix))]
fn os_user() -> Option<String> {
    None
}

/// `argv[0]`, or `"<console>"` when it is empty (as MLflow does).
fn source_name() -> String {
    std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "<console>".to_owned())
}

/// Git commit, branch and remote of a checkout, read from `.git` without running git.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct GitInfo {
    pub(crate) commit: String,
    pub(crate) branch: String,
    pub(crate) repo_url: String,
}

impl GitInfo {
    /// Looks for a checkout at `dir` or above it.
    pub(crate) fn discover(dir: &Path) -> GitInfo {
        let Some(git_dir) = dir.ancestors().find_map(git_dir_at) else {
            return GitInfo::default();
        };
        let common = common_dir(&git_dir);
        let head = read_trimmed(&git_dir.join("HEAD")).unwrap_or_default();
        let (branch, commit) = match head.strip_prefix("ref: ") {
            Some(reference) => {
                let branch = reference
                    .strip_prefix("refs/heads/")
                    .unwrap_or(reference)
                    .to_owned();
                (branch, resolve_ref(&common, reference).unwrap_or_default())
            }
            None => (String::new(), head),
        };
        GitInfo {
            commit,
            branch,
            repo_url: remote_url(&common).unwrap_or_default(),
        }
    }
}

fn git_dir_at(dir: &Path) -> Option<PathBuf> {
    let candidate = dir.join(".git");
    if candidate.is_dir() {
        return Some(candidate);
    }
    // A worktree or submodule: `.git` is a file `gitdir: <path>`.
    let text = read_trimmed(&candidate)?;
    let target = PathBuf::from(text.strip_prefix("gitdir: ")?);
    Some(if target.is_absolute() {
        target
    } else {
        dir.join(target)
    })
}

fn common_dir(git_dir: &Path) -> PathBuf {
    match read_trimmed(&git_dir.join("commondir")) {
        Some(common) => git_dir.join(common),
        None => git_dir.to_owned(),
    }
}

fn resolve_ref(git_dir: &Path, reference: &str) -> Option<String> {
    if let Some(commit) = read_trimmed(&git_dir.join(reference)) {
        return Some(commit);
    }
    let packed = std::fs::read_to_string(git_dir.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (commit, name) = line.split_once(' ')?;
        (name == reference).then(|| commit.to_owned())
    })
}

fn remote_url(git_dir: &Path) -> Option<String> {
    let config = std::fs::read_to_string(git_dir.join("config")).ok()?;
    let mut in_origin = false;
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_origin = line == "[remote \"origin\"]";
        } else if in_origin
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "url"
        {
            return Some(strip_credentials(value.trim()));
        }
    }
    None
}

/// Removes `user:password@` from a URL, as MLflow does before recording it.
fn strip_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('/') {
            Some((authority, path)) => {
                let host = authority
                    .rsplit_once('@')
                    .map_or(authority, |(_, host)| host);
                format!("{scheme}://{host}/{path}")
            }
            None => {
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                format!("{scheme}://{host}")
            }
        },
        None => url.to_owned(),
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_checkout_without_git() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(git.join("refs/heads/main"), "0123456789abcdef\n").unwrap();
        std::fs::write(
            git.join("config"),
            "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://me:secret@example.com/org/repo.git\n",
        )
        .unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(
            GitInfo::discover(&nested),
            GitInfo {
                commit: "0123456789abcdef".into(),
                branch: "main".into(),
                repo_url: "https://example.com/org/repo.git".into(),
            }
        );
    }

    #[test]
    fn packed_refs_and_detached_heads() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        std::fs::create_dir_all(&git).unwrap();
        std::fs::write(git.join("HEAD"), "ref: refs/heads/dev\n").unwrap();
        std::fs::write(
            git.join("packed-refs"),
            "# pack-refs\nabc123 refs/heads/dev\n",
        )
        .unwrap();
        let info = GitInfo::discover(dir.path());
        assert_eq!(
            (info.commit.as_str(), info.branch.as_str()),
            ("abc123", "dev")
        );
        std::fs::write(git.join("HEAD"), "fedcba\n").unwrap();
        let info = GitInfo::discover(dir.path());
        assert_eq!((info.commit.as_str(), info.branch.as_str()), ("fedcba", ""));
    }

    #[test]
    fn no_checkout_gives_empty_strings() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(GitInfo::discover(dir.path()), GitInfo::default());
    }

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(strip_credentials("https://u:p@h/x"), "https://h/x");
        assert_eq!(
            strip_credentials("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
        assert_eq!(strip_credentials("ssh://git@h"), "ssh://h");
    }

    #[test]
    fn user_prefers_the_tracking_username() {
        let env = Env::from_fn(|k| match k {
            "MLFLOW_TRACKING_USERNAME" => Some("alice".into()),
            "USER" => Some("bob".into()),
            _ => None,
        });
        assert_eq!(user(&env), "alice");
        let env = Env::from_fn(|k| (k == "USER").then(|| "bob".into()));
        assert_eq!(user(&env), "bob");
    }
}
