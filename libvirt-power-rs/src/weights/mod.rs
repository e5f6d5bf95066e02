// SPDX-License-Identifier: LGPL-2.1-or-later
//! Where the accountant's weights come from: a [`WeightSource`] opens one
//! [`DomainWeight`] per domain and reports the host's own busy weight, both
//! cumulative and split by package ([`PackageWeights`]).
//!
//! - [`packages`]: which package each CPU is in ([`CpuPackages`]) and the
//!   host's busy CPU time per package from `/proc/stat`;
//! - [`placement`]: where a process's threads ran
//!   ([`ThreadPlacement`]: per-thread run time from `schedstat`, charged to
//!   the package of the CPU the thread is on);
//! - [`perf`]: the source the daemon uses ([`PerfSource`]): a domain's
//!   total from its perf counters ([`crate::perf::ProcessCounter`]), split
//!   by its threads' placement; the host's weight from `/proc/stat` (CPU
//!   time) or system-wide cycles per CPU ([`crate::perf::SystemCycles`]).
//!
//! The accountant takes any source, so a test can hand it one that
//! behaves like a cycles PMU on a machine without one; the C ABI only
//! ever builds a [`PerfSource`], so nothing simulated reaches libvirt's
//! stats labelled `cycles`.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::Result;
use crate::perf::WeightKind;

pub mod packages;
pub mod perf;
pub mod placement;

pub use packages::CpuPackages;
pub use perf::PerfSource;
pub use placement::ThreadPlacement;

/// Cumulative weights per package: `Some(p)` for package `p`, `None` for
/// weight whose package is unknown (it then counts for every package zone,
/// see [`crate::attribution`]).
pub type PackageWeights = BTreeMap<Option<u32>, u64>;

/// The weight of one domain, cumulative since it was opened.
pub trait DomainWeight: Send + fmt::Debug {
    /// Reads the cumulative weight per package since the domain was
    /// opened; never smaller than an earlier reading for the same key.
    /// `packages` maps the CPUs its threads ran on to packages.
    fn read(&mut self, packages: &CpuPackages) -> Result<PackageWeights>;
    /// The raw cumulative value of its counters at the last reading (work
    /// done before it was opened included), for display.
    fn value(&self) -> u64;
    /// perf file descriptors held.
    fn fd_count(&self) -> usize;
}

/// A provider of domain and host weights of one [`WeightKind`].
pub trait WeightSource: Send + fmt::Debug {
    /// What the weights count.
    fn kind(&self) -> WeightKind;
    /// Starts counting the process `pid` (a domain's QEMU, all threads).
    fn open(&mut self, pid: i32) -> Result<Box<dyn DomainWeight>>;
    /// The host's cumulative busy weight per package (domains included),
    /// the denominator of the active energy's split, or `None` if unknown.
    /// `busy_ns` is the busy CPU time per package from `/proc/stat`, which
    /// the accountant reads anyway (a CPU-time source returns it).
    fn host(
        &mut self,
        packages: &CpuPackages,
        busy_ns: &PackageWeights,
    ) -> Result<Option<PackageWeights>>;
    /// perf file descriptors held by the source itself (not its domains).
    fn fd_count(&self) -> usize {
        0
    }
}

/// Sum of all packages' weights (saturating).
pub fn total(weights: &PackageWeights) -> u64 {
    weights.values().fold(0u64, |a, &b| a.saturating_add(b))
}
