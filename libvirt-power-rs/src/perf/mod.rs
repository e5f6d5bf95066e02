// SPDX-License-Identifier: LGPL-2.1-or-later
//! Counters built on `perf_event_open(2)`:
//!
//! - `process`: [`ProcessCounter`] counts the CPU work (cycles or CPU time)
//!   of one process and all its threads, the weight that splits energy
//!   among VMs;
//! - `power`: [`PowerPmu`] describes the RAPL `power` PMU and opens
//!   system-wide [`PowerCounter`]s that report cumulative microjoules, an
//!   energy source for [`crate::rapl::EnergyMeter`] where powercap has none;
//! - `system`: [`SystemCycles`], system-wide cycles per CPU, the host's
//!   weight in cycles mode.
//!
//! Their errors ([`PerfError`], [`PerfTarget`]) live in [`crate::error`] so
//! that the crate's [`crate::error::Error`] can wrap them without a cycle.

use std::io;

mod power;
mod process;
mod system;

pub use crate::error::{PerfError, PerfTarget};
#[cfg(test)]
pub(crate) use power::fixture as power_fixture;
pub use power::{PMU_DIR, PowerCounter, PowerEvent, PowerPmu};
pub use process::{
    OPEN_ATTEMPTS, ProcessCounter, Reading, WeightKind, WeightPreference, host_has_cycles_pmu,
};
pub use system::SystemCycles;

/// How an `io::Error` from `perf_event_open` is reported.
pub(crate) enum ErrClass {
    Gone,
    Permission,
    NotSupported,
    Other,
}

impl ErrClass {
    pub(crate) fn of(e: &io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ESRCH) => ErrClass::Gone,
            Some(libc::EACCES | libc::EPERM) => ErrClass::Permission,
            Some(libc::ENOENT | libc::EOPNOTSUPP | libc::ENODEV) => ErrClass::NotSupported,
            _ => ErrClass::Other,
        }
    }
}

/// Maps an error from opening a counter to a [`PerfError`].
pub(crate) fn open_error(source: io::Error, event: &str, target: PerfTarget) -> PerfError {
    let event = event.to_owned();
    match (ErrClass::of(&source), target) {
        (ErrClass::Gone, PerfTarget::Thread { pid, .. }) => PerfError::ProcessGone { pid, source },
        (ErrClass::Permission, _) => PerfError::Permission {
            event,
            target,
            source,
        },
        (ErrClass::NotSupported, _) => PerfError::NotSupported {
            event,
            target,
            source,
        },
        _ => PerfError::Io {
            event,
            target,
            source,
        },
    }
}

/// Serialises the tests of the perf counters so that counting
/// `/proc/self/fd` and CPU time is not disturbed by other tests of this
/// module.
#[cfg(test)]
pub(crate) fn test_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
