// SPDX-License-Identifier: LGPL-2.1-or-later
//! Errors of the library.
//!
//! Every variant that comes from a file carries its path. Kernel errno
//! values that mean something specific for power knobs get a variant of
//! their own, so callers (libvirt, virsh) can say *why* a write failed:
//! `EINVAL` (the kernel rejected the value), `EACCES` (a RAPL zone locked by
//! the firmware), `EPERM`, `EAGAIN` (driver not registered), `EBUSY`, and a
//! missing file (the host does not support the knob).

use std::io;
use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong while reading or changing host power state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file that carries this knob does not exist: the host (its driver
    /// or its kernel) does not offer it.
    #[error("{path}: not supported on this host (no such file)")]
    Unsupported {
        /// The file that was looked for.
        path: PathBuf,
    },
    /// The kernel answered `EINVAL` to a write.
    #[error("{path}: the kernel rejected '{value}' (EINVAL)")]
    KernelRejected {
        /// The file written.
        path: PathBuf,
        /// The value written.
        value: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The kernel answered `EACCES`: for RAPL, the zone is locked by the
    /// firmware (BIOS lock bit); elsewhere, access is denied.
    #[error(
        "{path}: access denied (EACCES); a RAPL zone answers this when the firmware has locked its limits"
    )]
    Locked {
        /// The file written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The kernel answered `EPERM` (e.g. `no_turbo` when the firmware has
    /// disabled turbo, or the caller lacks privileges).
    #[error("{path}: operation not permitted (EPERM)")]
    NotPermitted {
        /// The file accessed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The kernel answered `EAGAIN`, e.g. intel_pstate global files while the
    /// driver is unregistered.
    #[error("{path}: not available right now, the driver is not registered (EAGAIN)")]
    TryAgain {
        /// The file accessed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The kernel answered `EBUSY`.
    #[error("{path}: device or resource busy (EBUSY)")]
    Busy {
        /// The file accessed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Any other I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The file accessed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file held something the library cannot parse.
    #[error("{path}: cannot parse '{content}': {reason}")]
    Parse {
        /// The file read.
        path: PathBuf,
        /// What it held (trimmed, shortened).
        content: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A caller-supplied value is out of range or malformed. The message
    /// names the bad value and what is accepted.
    #[error("invalid {what} '{value}': {expected}")]
    InvalidArgument {
        /// Which argument.
        what: String,
        /// The value given (shortened if very long).
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// The request is well formed but not possible in the host's current
    /// state (e.g. an exact frequency while the governor is not
    /// `userspace`).
    #[error("{0}")]
    InvalidState(String),
    /// A written value did not read back and the difference is not a
    /// documented kernel clamp.
    #[error("{path}: wrote '{written}' but it reads back '{read_back}'")]
    NotApplied {
        /// The file written.
        path: PathBuf,
        /// The value written.
        written: String,
        /// What the file holds afterwards.
        read_back: String,
    },
    /// The original-state journal could not be read or written.
    #[error("state journal {path}: {reason}")]
    Journal {
        /// The journal file or directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Counting a process's CPU work failed.
    #[error(transparent)]
    Perf(#[from] crate::perf::PerfError),
    /// A change failed and putting back what had been written failed too.
    #[error("{cause}; rolling back also failed for: {failures}")]
    RollbackFailed {
        /// The error that triggered the rollback.
        cause: Box<Error>,
        /// The files that could not be restored, with their errors.
        failures: String,
    },
}

impl Error {
    /// Classifies an I/O error on `path`, keeping the errno values that
    /// matter for power knobs apart. `value` is what was being written, if
    /// anything.
    pub fn from_io(path: PathBuf, value: Option<&str>, source: io::Error) -> Error {
        match source.raw_os_error() {
            Some(libc::ENOENT) => Error::Unsupported { path },
            Some(libc::EINVAL) => Error::KernelRejected {
                path,
                value: value.unwrap_or_default().to_owned(),
                source,
            },
            Some(libc::EACCES) => Error::Locked { path, source },
            Some(libc::EPERM) => Error::NotPermitted { path, source },
            Some(libc::EAGAIN) => Error::TryAgain { path, source },
            Some(libc::EBUSY) => Error::Busy { path, source },
            _ => Error::Io { path, source },
        }
    }

    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(
        what: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Error {
        Error::InvalidArgument {
            what: what.into(),
            value: shorten(&value.into()),
            expected: expected.into(),
        }
    }
}

/// Cuts a user-supplied string for an error message: an overlong string is
/// shown by its start and its length, never whole.
pub fn shorten(s: &str) -> String {
    const MAX_CHARS: usize = 64;
    if s.chars().count() <= MAX_CHARS {
        return s.escape_debug().to_string();
    }
    let head: String = s.chars().take(MAX_CHARS).collect();
    format!("{}... ({} bytes)", head.escape_debug(), s.len())
}
