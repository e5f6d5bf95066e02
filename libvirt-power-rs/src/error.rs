// SPDX-License-Identifier: LGPL-2.1-or-later
//! Errors of the library.
//!
//! Every variant that comes from a file carries its path. Kernel errno
//! values that mean something specific for power knobs get a variant of
//! their own, so callers (libvirt, virsh) can say *why* a write failed:
//! `EINVAL` (the kernel rejected the value), `EACCES` (a RAPL zone locked by
//! the firmware), `EPERM`, `EAGAIN` (driver not registered), `EBUSY`, and a
//! missing file (the host does not support the knob).

use std::fmt;
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
    Perf(#[from] PerfError),
    /// A change failed and putting back what had been written failed too.
    #[error("{cause}; rolling back also failed for: {failures}")]
    RollbackFailed {
        /// The error that triggered the rollback.
        cause: Box<Error>,
        /// The files that could not be restored, with their errors.
        failures: String,
    },
}

/// What a perf counter was opened on, for error reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PerfTarget {
    /// One thread `tid` of process `pid` (any CPU).
    Thread {
        /// Process id (thread group id).
        pid: i32,
        /// Thread id.
        tid: i32,
    },
    /// All tasks on one CPU.
    Cpu {
        /// CPU number.
        cpu: u32,
    },
}

impl fmt::Display for PerfTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PerfTarget::Thread { pid, tid } => write!(f, "pid {pid} tid {tid}"),
            PerfTarget::Cpu { cpu } => write!(f, "cpu {cpu}"),
        }
    }
}

/// Errors of the perf counters ([`crate::perf`]): kept here, at the bottom
/// of the module graph, so that [`Error`] can wrap them without the error
/// module depending on the perf module.
#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    /// The host cannot count this event: `perf_event_open` returned `ENOENT`,
    /// `EOPNOTSUPP` or `ENODEV` (no such PMU or event on this host; for a
    /// CPU-bound event `ENODEV` can also mean the CPU is offline).
    #[error("perf event {event} is not supported on this host ({target}): {source}")]
    NotSupported {
        /// Event name, e.g. `cycles` or `power/energy-pkg/`.
        event: String,
        /// What the counter was opened on.
        target: PerfTarget,
        /// The kernel's error.
        source: io::Error,
    },
    /// `perf_event_open` returned `EACCES` or `EPERM` (needs `CAP_PERFMON` or a
    /// lower `kernel.perf_event_paranoid`).
    #[error(
        "permission denied for perf event {event} ({target}); \
         needs CAP_PERFMON or a lower kernel.perf_event_paranoid: {source}"
    )]
    Permission {
        /// Event name.
        event: String,
        /// What the counter was opened on.
        target: PerfTarget,
        /// The kernel's error.
        source: io::Error,
    },
    /// The process has exited: `/proc/<pid>/task` is absent or every thread
    /// was gone (`ESRCH`) when its counter was opened.
    #[error("process {pid} is gone: {source}")]
    ProcessGone {
        /// Process id.
        pid: i32,
        /// `ENOENT` from `/proc` or `ESRCH` from `perf_event_open`.
        source: io::Error,
    },
    /// Any other error opening or reading a perf counter.
    #[error("perf event {event} ({target}): {source}")]
    Io {
        /// Event name.
        event: String,
        /// What the counter was opened on.
        target: PerfTarget,
        /// The underlying error.
        source: io::Error,
    },
    /// Reading a file or directory under `/proc` or sysfs failed.
    #[error("{}: {source}", path.display())]
    File {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A sysfs file has content this module cannot interpret.
    #[error("{}: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A pid that does not name one process (zero or negative).
    #[error("invalid pid {pid}: expected a positive process id")]
    InvalidPid {
        /// The rejected value.
        pid: i32,
    },
    /// A CPU number the kernel interface cannot express (above `i32::MAX`).
    #[error("invalid cpu number {cpu}")]
    InvalidCpu {
        /// The rejected value.
        cpu: u32,
    },
    /// [`crate::perf::PowerPmu::open`] was asked for an event the PMU does not list.
    #[error("the power PMU has no event named {event:?}")]
    UnknownEvent {
        /// The requested name.
        event: String,
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
