// SPDX-License-Identifier: LGPL-2.1-or-later
//! The host: state snapshots, checked setters with rollback, and restore
//! from the original-state journal.
//!
//! Every setter works in three phases:
//!
//! 1. **validate** against the hardware's own limits (cpuinfo min/max, the
//!    available governor and EPP lists, the RAPL register field), reading
//!    only the files the change needs; nothing is written if anything is
//!    wrong;
//! 2. **journal** the original value of every knob about to change for the
//!    first time (see [`crate::journal`]);
//! 3. **write** each file once, read it back, report a silent kernel clamp,
//!    and on any failure put back what was already written, in reverse
//!    order, so a multi-CPU or multi-field change is all-or-nothing.
//!
//! The files of this module, one job each:
//!
//! - `types`: options, reports, knob classes and restore scopes;
//! - `snapshot`: what the host looks like at one moment;
//! - `txn`: the transaction engine every setter and restore goes through;
//! - `cpufreq_setters`: governor, frequency, limits, EPP, turbo, perf pct;
//! - `rapl_setters`: RAPL power limits and zone enable;
//! - `restore`: putting journaled originals back (under one hold of the
//!   locks; what cannot be put back now stays journaled and is named).

use std::path::PathBuf;
use std::sync::Mutex;

use crate::error::Result;
use crate::journal::Journal;
use crate::sysfs::SysfsRoot;

mod cpufreq_setters;
mod rapl_setters;
mod restore;
mod snapshot;
mod txn;
mod types;

pub use snapshot::{Snapshot, SnapshotParts};
pub use types::{Change, Knob, RestoreScope, SetOptions, SetReport};

/// A host, reached through a sysfs root, with an optional journal.
///
/// A `Host` is `Send + Sync`; changes are serialised by an internal lock
/// (and between processes by the journal's `flock`).
#[derive(Debug)]
pub struct Host {
    sysfs: SysfsRoot,
    journal: Option<Journal>,
    txn: Mutex<()>,
}

impl Host {
    /// A host at `sysfs`, journaling originals in `state_dir` if given. A
    /// simulated tree answers an inactive policy's files with `EBUSY`, as
    /// the kernel does (`sim::tree::gate`; a real `/sys` is unchanged).
    pub fn new(sysfs: SysfsRoot, state_dir: Option<PathBuf>) -> Result<Host> {
        let sysfs = crate::sim::tree::gate(sysfs);
        let journal = match state_dir {
            Some(dir) => Some(Journal::open(dir, sysfs.root())?),
            None => None,
        };
        Ok(Host {
            sysfs,
            journal,
            txn: Mutex::new(()),
        })
    }

    /// The sysfs tree.
    pub fn sysfs(&self) -> &SysfsRoot {
        &self.sysfs
    }

    /// The journal, if any.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }
}
