// SPDX-License-Identifier: LGPL-2.1-or-later
//! libvirt-power: host CPU frequency, cpufreq governors, intel_pstate and
//! RAPL power limits, with every write validated, read back, rolled back on
//! failure and journaled for restore; energy and per-process CPU telemetry;
//! an attribution engine that splits measured energy among VMs; simulated
//! hosts; and a C ABI for libvirt.
//!
//! The sysfs root is given to constructors ([`sysfs::SysfsRoot::new`]) or
//! taken from `LIBVIRT_POWER_SYSFS_ROOT` ([`sysfs::SysfsRoot::from_env`]);
//! the procfs root likewise ([`procfs::ProcfsRoot::new`], `/proc` by
//! default).

pub mod accounting;
pub mod attribution;
pub mod cpufreq;
pub mod cpulist;
pub mod energy;
pub mod error;
pub mod ffi;
pub mod host;
pub mod idle;
pub mod journal;
pub mod perf;
pub mod procfs;
pub mod rapl;
pub mod sim;
pub mod sysfs;
pub mod topology;
pub mod units;
pub mod weights;

#[cfg(test)]
pub(crate) mod testutil;

pub use cpulist::CpuSelection;
pub use error::{Error, Result};
pub use host::{Host, RestoreScope, SetOptions, SetReport, Snapshot};
pub use sysfs::SysfsRoot;
