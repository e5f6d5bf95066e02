// SPDX-License-Identifier: LGPL-2.1-or-later
//! Simulated hosts: sysfs trees with the kernel's files, contents and
//! units, for tests, demos and libvirt's test driver on machines without
//! cpufreq or RAPL.
//!
//! - [`spec`]: what a host is made of and the presets ([`SimSpec`]).
//! - [`generate`]: writes the tree: plain files and the same symlinks the
//!   kernel has (`cpuN/cpufreq -> ../cpufreq/policyN`, `class/powercap/* ->
//!   devices/virtual/powercap/...`).
//! - [`kernel`]: the kernel's side of a write (what is accepted, clamped,
//!   derived, and the errno otherwise) as one pure function,
//!   [`kernel_write`], with one [`Knob`] classification.
//! - [`tree`]: that kernel on plain files: [`settle`] a tree after plain
//!   writes, and the read/store helpers the tool's FUSE mount
//!   (`virt-power sim mount`) uses to answer each write with it.
//! - [`model`]: the per-package power model ([`PowerModel`]: idle and
//!   dynamic parts) and the drift-free integration of its energy into the
//!   tree's `energy_uj`.
//! - [`watch`]: watched process groups (a guest's QEMU process): their
//!   threads' run time on each real CPU.
//! - [`truth`]: the ground [`Truth`] (idle and dynamic energy per package,
//!   each group's dynamic energy) and its text file.
//! - [`runner`]: the [`Runner`] keeps `energy_uj` (and `scaling_cur_freq`)
//!   moving from the load of the real CPUs mapped to each package and
//!   keeps the truth.
//!
//! Plain files cannot answer a write with an errno. The library validates
//! before it writes, so invalid values never reach them; a firmware lock
//! is marked by a read-only file (`0444`, where the kernel keeps `0644`):
//! the limit files of a locked RAPL zone and a `no_turbo` the firmware has
//! fixed, so that a writer without `CAP_DAC_OVERRIDE` gets `EACCES` from a
//! plain tree, and the mount answers the kernel's `EACCES`/`EPERM`.
//! `energy_uj` is `0400` as since Linux 5.10.

mod generate;
pub mod kernel;
pub mod model;
pub mod runner;
pub mod spec;
pub mod tree;
pub mod truth;
pub mod watch;

pub use generate::generate;
pub use kernel::{FileContext, KernelErrno, Knob, WriteOutcome, kernel_read, kernel_write};
pub use model::{PowerModel, advance};
pub use runner::{Runner, monotonic_ns};
pub use spec::{Driver, PRESETS, SimSpec, ZoneSpec};
pub use tree::settle;
pub use truth::{GroupTruth, PackageTruth, Truth};
